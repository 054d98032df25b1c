//! Training triplets in Parquet: `query` (the anchor) and `positive` (utf8, required), `negative`
//! (utf8; a file without it holds (query, positive) pairs, whose negatives are the rest of the
//! batch), and optional `query_id`, `positive_id`, `negative_id`, `label` (utf8 or integer).
//!
//! Reading checks every row and reports every problem at once (file, 0-based row, column), so a
//! user fixes a file in one pass rather than one error per run.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::{read_string_columns, ColumnRequest, CorpusError, Result};

/// One training example: an anchor text, a text relevant to it and (in triplets, not pairs) one
/// that is not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Triplet {
    pub query: String,
    pub positive: String,
    pub negative: Option<String>,
    pub query_id: Option<String>,
    pub positive_id: Option<String>,
    pub negative_id: Option<String>,
    /// Class label of the anchor and positive (for proxy losses and label-based mining).
    pub label: Option<String>,
}

/// The required text columns, in file order.
pub const REQUIRED: [&str; 2] = ["query", "positive"];
/// The optional columns; `negative` is a text column (never empty when present).
pub const OPTIONAL: [&str; 5] = [
    "negative",
    "query_id",
    "positive_id",
    "negative_id",
    "label",
];

/// Most problems listed in one error message.
const MAX_LISTED: usize = 20;

/// Reads and validates a triplets file. Nulls or empty strings in a required column, and nulls in
/// an optional column that is present, are problems; an empty file is an error too.
pub fn read_triplets(path: &Path) -> Result<Vec<Triplet>> {
    let requests: Vec<ColumnRequest> = REQUIRED
        .iter()
        .map(|&name| ColumnRequest {
            name,
            required: true,
        })
        .chain(OPTIONAL.iter().map(|&name| ColumnRequest {
            name,
            required: false,
        }))
        .collect();
    let cols = read_string_columns(path, &requests)?;
    let rows = cols[0].as_ref().map_or(0, Vec::len);
    if rows == 0 {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
            what: "triplets",
        });
    }
    let mut problems = Vec::new();
    let mut total = 0usize;
    let mut note = |row: usize, column: &str, what: &str| {
        total += 1;
        if problems.len() < MAX_LISTED {
            problems.push(format!("row {row}, column `{column}`: {what}"));
        }
    };
    let names: Vec<&str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
    for row in 0..rows {
        for (c, name) in names.iter().enumerate() {
            let Some(col) = &cols[c] else { continue };
            match &col[row] {
                None => note(row, name, "null"),
                Some(s) if c <= REQUIRED.len() && s.trim().is_empty() => {
                    note(row, name, "empty string")
                }
                Some(_) => {}
            }
        }
    }
    if total > 0 {
        return Err(CorpusError::InvalidRows {
            path: path.to_path_buf(),
            total,
            problems,
        });
    }
    let take = |c: usize, row: usize| cols[c].as_ref().and_then(|v| v[row].clone());
    Ok((0..rows)
        .map(|row| Triplet {
            query: take(0, row).expect("checked"),
            positive: take(1, row).expect("checked"),
            negative: take(2, row),
            query_id: take(3, row),
            positive_id: take(4, row),
            negative_id: take(5, row),
            label: take(6, row),
        })
        .collect())
}

/// Writes triplets atomically. Optional columns are written when at least one triplet has them
/// (all triplets must then have them, as [`read_triplets`] requires).
pub fn write_triplets(path: &Path, triplets: &[Triplet]) -> Result<()> {
    let optional: [fn(&Triplet) -> Option<&str>; 5] = [
        |t| t.negative.as_deref(),
        |t| t.query_id.as_deref(),
        |t| t.positive_id.as_deref(),
        |t| t.negative_id.as_deref(),
        |t| t.label.as_deref(),
    ];
    let mut fields = Vec::new();
    let mut columns: Vec<Arc<dyn Array>> = Vec::new();
    let required: [fn(&Triplet) -> &str; 2] = [|t| &t.query, |t| &t.positive];
    for (name, get) in REQUIRED.iter().zip(required) {
        fields.push(Field::new(*name, DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter_values(
            triplets.iter().map(get),
        )));
    }
    for (name, get) in OPTIONAL.iter().zip(optional) {
        if triplets.iter().all(|t| get(t).is_none()) {
            continue;
        }
        if let Some(row) = triplets.iter().position(|t| get(t).is_none()) {
            return Err(CorpusError::NullValue {
                path: path.to_path_buf(),
                row,
                column: name.to_string(),
            });
        }
        fields.push(Field::new(*name, DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter(
            triplets.iter().map(|t| get(t)),
        )));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|source| {
        CorpusError::Arrow {
            path: path.to_path_buf(),
            source,
        }
    })?;
    crate::atomic::write_file(path, |w| {
        let pq = |source| CorpusError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = ArrowWriter::try_new(w, Arc::clone(&schema), None).map_err(pq)?;
        writer.write(&batch).map_err(pq)?;
        writer.close().map_err(pq)?;
        Ok(())
    })
}
