//! The embeddings file: Parquet with `id` (utf8) and `embedding` (FixedSizeList<Float32, dim>), the
//! model name and dimension in the file's key-value metadata.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{atomic, CorpusError, Result};

/// Metadata key holding the model name.
pub const META_MODEL: &str = "trine.model";
/// Metadata key holding the fingerprint of the model's weights and tokenizer.
pub const META_FINGERPRINT: &str = "trine.model_fingerprint";
/// Metadata key holding the embedding dimension.
pub const META_DIM: &str = "trine.dim";

/// Row-major embeddings with their ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub ids: Vec<String>,
    pub dim: usize,
    /// `ids.len() * dim` values, row `i` at `[i*dim .. (i+1)*dim]`.
    pub values: Vec<f32>,
    /// Model name recorded with the vectors.
    pub model: String,
    /// Fingerprint of the model's weights and tokenizer (empty when unknown).
    pub fingerprint: String,
}

impl Embeddings {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Writes embeddings atomically (temporary file, then rename).
pub fn write(path: &Path, emb: &Embeddings) -> Result<()> {
    assert_eq!(
        emb.values.len(),
        emb.ids.len() * emb.dim,
        "values/ids mismatch"
    );
    let arrow_err = |source| CorpusError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let metadata = HashMap::from([
        (META_MODEL.to_string(), emb.model.clone()),
        (META_DIM.to_string(), emb.dim.to_string()),
        (META_FINGERPRINT.to_string(), emb.fingerprint.clone()),
    ]);
    let schema = Arc::new(
        Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new(
                "embedding",
                DataType::FixedSizeList(Arc::clone(&item), emb.dim as i32),
                false,
            ),
        ])
        .with_metadata(metadata),
    );
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    atomic::write_file(path, |w| {
        let pq = |source| CorpusError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = ArrowWriter::try_new(w, Arc::clone(&schema), Some(props)).map_err(pq)?;
        const CHUNK: usize = 8192;
        for start in (0..emb.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(emb.len());
            let ids = StringArray::from_iter_values(emb.ids[start..end].iter());
            let values = Float32Array::from(emb.values[start * emb.dim..end * emb.dim].to_vec());
            let list = FixedSizeListArray::try_new(
                Arc::clone(&item),
                emb.dim as i32,
                Arc::new(values),
                None,
            )
            .map_err(arrow_err)?;
            let batch =
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(ids), Arc::new(list)])
                    .map_err(arrow_err)?;
            writer.write(&batch).map_err(pq)?;
        }
        writer.close().map_err(pq)?;
        Ok(())
    })
}

/// Reads an embeddings file written by [`write`] (or any Parquet with the same two columns).
pub fn read(path: &Path) -> Result<Embeddings> {
    let pq = |source| CorpusError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    let schema = Arc::clone(builder.schema());
    let available: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    for col in ["id", "embedding"] {
        if schema.field_with_name(col).is_err() {
            return Err(CorpusError::MissingColumn {
                path: path.to_path_buf(),
                column: col.to_string(),
                available,
            });
        }
    }
    let fixed = match schema.field_with_name("embedding").unwrap().data_type() {
        DataType::FixedSizeList(f, n) if f.data_type() == &DataType::Float32 => Some(*n as usize),
        DataType::List(f) if f.data_type() == &DataType::Float32 => None,
        other => {
            return Err(CorpusError::ColumnType {
                path: path.to_path_buf(),
                column: "embedding".into(),
                found: other.to_string(),
                expected: "FixedSizeList<Float32> or List<Float32>",
            })
        }
    };
    let meta = |key: &str| schema.metadata().get(key).cloned().unwrap_or_default();
    let (model, fingerprint) = (meta(META_MODEL), meta(META_FINGERPRINT));
    let mut out = Embeddings {
        ids: Vec::new(),
        dim: fixed.unwrap_or(0),
        values: Vec::new(),
        model,
        fingerprint,
    };
    for batch in builder.build().map_err(pq)? {
        let batch = batch.map_err(|source| CorpusError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        // Ids may be utf8, large utf8, utf8 view or integers (as polars and pandas write them).
        let ids = arrow::compute::cast(batch.column_by_name("id").unwrap(), &DataType::Utf8)
            .map_err(|source| CorpusError::ColumnType {
                path: path.to_path_buf(),
                column: "id".into(),
                found: format!(
                    "{} ({source})",
                    batch.column_by_name("id").unwrap().data_type()
                ),
                expected: "a string or integer column",
            })?;
        let ids = ids.as_string::<i32>();
        let column = batch.column_by_name("embedding").unwrap();
        for row in 0..batch.num_rows() {
            if ids.is_null(row) || column.is_null(row) {
                return Err(CorpusError::NullValue {
                    path: path.to_path_buf(),
                    row: out.ids.len(),
                    column: if ids.is_null(row) { "id" } else { "embedding" }.into(),
                });
            }
            out.ids.push(ids.value(row).to_string());
        }
        if let Some(dim) = fixed {
            let list = column.as_fixed_size_list();
            let vals = list.values().as_primitive::<Float32Type>();
            let offset = list.offset() * dim;
            out.values
                .extend_from_slice(&vals.values()[offset..offset + batch.num_rows() * dim]);
            continue;
        }
        // Variable-length lists (as pandas or LanceDB may write): every row must be as wide as
        // the first.
        let list = column.as_list::<i32>();
        let first_row = out.ids.len() - batch.num_rows();
        for row in 0..batch.num_rows() {
            let v = list.value(row);
            let v = v.as_primitive::<Float32Type>();
            if out.dim == 0 {
                out.dim = v.len();
            }
            if v.len() != out.dim || v.is_empty() {
                return Err(CorpusError::BadValue {
                    path: path.to_path_buf(),
                    row: first_row + row,
                    column: "embedding".into(),
                    message: format!(
                        "id `{}` has a vector of {} values, earlier rows have {}",
                        out.ids[first_row + row],
                        v.len(),
                        out.dim
                    ),
                });
            }
            out.values.extend_from_slice(v.values());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_ids_values_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let emb = Embeddings {
            ids: vec!["a".into(), "b".into(), "c".into()],
            dim: 2,
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5],
            model: "m".into(),
            fingerprint: "abc".into(),
        };
        write(&p, &emb).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back, emb);
        assert_eq!(back.row(2), &[5.0, -6.5]);
    }
}
