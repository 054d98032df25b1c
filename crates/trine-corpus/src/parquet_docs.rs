//! Reading documents (and other string tables) from Parquet files.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::jsonl::JsonFields;
use crate::{CorpusError, Document, Result};

/// A column to read as strings: `required` ones must exist, optional ones come back as `None`.
#[derive(Debug, Clone)]
pub struct ColumnRequest<'a> {
    pub name: &'a str,
    pub required: bool,
}

/// String columns read from a Parquet file; `columns[i]` answers `requests[i]`.
/// Values are `None` where the cell is null.
pub type StringColumns = Vec<Option<Vec<Option<String>>>>;

/// Reads the requested columns of a Parquet file as strings (utf8, large utf8, utf8 view, or integer
/// columns, which are printed). A missing required column is an error listing the columns the file has.
pub fn read_string_columns(path: &Path, requests: &[ColumnRequest<'_>]) -> Result<StringColumns> {
    read_columns_in(path, requests, None)
}

/// The number of rows in each row group of a Parquet file: the shards a distributed job reads
/// one at a time ([`read_row_group`]).
pub fn row_groups(path: &Path) -> Result<Vec<usize>> {
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| CorpusError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as usize)
        .collect())
}

/// The documents of row group `group` of a Parquet corpus, as [`crate::read_corpus`] reads
/// them from the whole file (ids from the file's row numbers where there is no id column).
pub fn read_row_group(path: &Path, fields: &JsonFields, group: usize) -> Result<Vec<Document>> {
    read_documents_in(path, fields, Some(group))
}

/// [`read_string_columns`] over the whole file, or over one row group of it.
fn read_columns_in(
    path: &Path,
    requests: &[ColumnRequest<'_>],
    group: Option<usize>,
) -> Result<StringColumns> {
    let pq = |source| CorpusError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    if let Some(g) = group {
        let groups = builder.metadata().num_row_groups();
        if g >= groups {
            return Err(CorpusError::RowGroup {
                path: path.to_path_buf(),
                group: g,
                groups,
            });
        }
        builder = builder.with_row_groups(vec![g]);
    }
    let schema = Arc::clone(builder.schema());
    let available: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();

    let mut indices = Vec::with_capacity(requests.len());
    for req in requests {
        let idx = available.iter().position(|n| n == req.name);
        if idx.is_none() && req.required {
            return Err(CorpusError::MissingColumn {
                path: path.to_path_buf(),
                column: req.name.to_string(),
                available,
            });
        }
        if let Some(i) = idx {
            let dt = schema.field(i).data_type();
            if !readable_as_string(dt) {
                return Err(CorpusError::ColumnType {
                    path: path.to_path_buf(),
                    column: req.name.to_string(),
                    found: dt.to_string(),
                    expected: "a string (utf8) column",
                });
            }
        }
        indices.push(idx);
    }
    let leaf_roots: Vec<usize> = indices.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), leaf_roots);
    let reader = builder.with_projection(mask).build().map_err(pq)?;

    let mut out: StringColumns = indices.iter().map(|i| i.map(|_| Vec::new())).collect();
    for batch in reader {
        let batch = batch.map_err(|source| CorpusError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        for (req, slot) in requests.iter().zip(out.iter_mut()) {
            let Some(values) = slot else { continue };
            let col = batch.column_by_name(req.name).expect("projected column");
            let col = arrow::compute::cast(col, &DataType::Utf8).map_err(|source| {
                CorpusError::Arrow {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            let strings = col.as_string::<i32>();
            values.extend(
                (0..strings.len())
                    .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string())),
            );
        }
    }
    Ok(out)
}

fn readable_as_string(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || dt.is_integer()
}

/// Reads documents from Parquet: the text column is required and must not be null; a missing id
/// column makes ids from the 0-based row number; a missing title column means empty titles.
pub(crate) fn read_documents(path: &Path, fields: &JsonFields) -> Result<Vec<Document>> {
    read_documents_in(path, fields, None)
}

fn read_documents_in(
    path: &Path,
    fields: &JsonFields,
    group: Option<usize>,
) -> Result<Vec<Document>> {
    // Rows before the group: ids and error rows count from the file's first row.
    let first = match group {
        Some(g) => row_groups(path)?.iter().take(g).sum(),
        None => 0,
    };
    let requests = [
        ColumnRequest {
            name: &fields.id,
            required: false,
        },
        ColumnRequest {
            name: &fields.title,
            required: false,
        },
        ColumnRequest {
            name: &fields.text,
            required: true,
        },
    ];
    let mut cols = read_columns_in(path, &requests, group)?;
    let texts = cols[2].take().expect("required column");
    let ids = cols[0].take();
    let titles = cols[1].take();
    let mut docs = Vec::with_capacity(texts.len());
    for (i, text) in texts.into_iter().enumerate() {
        let row = first + i;
        let text = text.ok_or_else(|| CorpusError::NullValue {
            path: path.to_path_buf(),
            row,
            column: fields.text.clone(),
        })?;
        let id = match &ids {
            Some(ids) => ids[i].clone().ok_or_else(|| CorpusError::NullValue {
                path: path.to_path_buf(),
                row,
                column: fields.id.clone(),
            })?,
            None => row.to_string(),
        };
        let title = titles
            .as_ref()
            .and_then(|t| t[i].clone())
            .unwrap_or_default();
        docs.push(Document { id, title, text });
    }
    Ok(docs)
}

/// Writes documents as Parquet (`id`, `title`, `text`, all utf8) straight to `path`. Callers
/// that need atomicity write into a folder that is not live yet, or use [`crate::atomic`].
pub fn write_documents(path: &Path, docs: &[Document]) -> Result<()> {
    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    let pq = |source| CorpusError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let file = File::create(path).map_err(|e| CorpusError::io(path, e))?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), None).map_err(pq)?;
    for chunk in docs.chunks(8192) {
        let col = |f: fn(&Document) -> &str| {
            Arc::new(StringArray::from_iter_values(chunk.iter().map(f))) as Arc<dyn Array>
        };
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![col(|d| &d.id), col(|d| &d.title), col(|d| &d.text)],
        )
        .map_err(|source| CorpusError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        writer.write(&batch).map_err(pq)?;
    }
    let file = writer.into_inner().map_err(pq)?;
    file.sync_all().map_err(|e| CorpusError::io(path, e))
}
