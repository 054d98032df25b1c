//! Cluster assignments as Parquet: `id` (utf8), `cluster` (int64, −1 for noise), `score`
//! (float32, cosine similarity to the cluster's centroid).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::{atomic, CorpusError, Result};

/// One row per document.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignments {
    pub ids: Vec<String>,
    pub clusters: Vec<i64>,
    pub scores: Vec<f32>,
}

/// Writes assignments atomically.
pub fn write(path: &Path, a: &Assignments) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("cluster", DataType::Int64, false),
        Field::new("score", DataType::Float32, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values(a.ids.iter())),
            Arc::new(Int64Array::from(a.clusters.clone())),
            Arc::new(Float32Array::from(a.scores.clone())),
        ],
    )
    .map_err(|source| CorpusError::Arrow {
        path: path.to_path_buf(),
        source,
    })?;
    atomic::write_file(path, |w| {
        let pq = |source| CorpusError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = ArrowWriter::try_new(w, schema, None).map_err(pq)?;
        writer.write(&batch).map_err(pq)?;
        writer.close().map_err(pq)?;
        Ok(())
    })
}

/// Reads assignments written by [`write`].
pub fn read(path: &Path) -> Result<Assignments> {
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let pq = |source| CorpusError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    let mut out = Assignments {
        ids: Vec::new(),
        clusters: Vec::new(),
        scores: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(|source| CorpusError::Arrow {
            path: path.to_path_buf(),
            source,
        })?;
        let ids = batch.column(0).as_string::<i32>();
        out.ids
            .extend(ids.iter().map(|s| s.unwrap_or_default().to_string()));
        out.clusters
            .extend(batch.column(1).as_primitive::<Int64Type>().values().iter());
        out.scores.extend(
            batch
                .column(2)
                .as_primitive::<Float32Type>()
                .values()
                .iter(),
        );
    }
    Ok(out)
}
