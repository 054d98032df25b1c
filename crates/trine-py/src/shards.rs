//! The pieces `trine.ray` runs on its workers: one Parquet row group embedded into one
//! embeddings file, one shard of an index set built, and a sharded search's two rounds joined
//! (BM25 statistics summed, candidates merged and fused).

use std::path::PathBuf;

use numpy::PyArrayMethods;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use trine_corpus::{read_row_group, row_groups as groups_of, JsonFields};
use trine_index::shards::{merge, Candidates, LexicalStats};
use trine_pipeline::shards::{build_shard as build_one, write_shard_set};
use trine_pipeline::{document_embeddings, BuildSpec, Silent};

use crate::error::engine;
use crate::index::{fusion, mode, model_arg};

/// The ids and vectors of an embeddings file (`trine embed`'s, or one of `trine.ray.embed`'s),
/// as a list and a float32 array of shape (n, dim).
#[pyfunction]
pub fn read_embeddings<'py>(
    py: Python<'py>,
    path: PathBuf,
) -> PyResult<(Vec<String>, Bound<'py, PyAny>)> {
    let emb = py
        .detach(|| trine_corpus::embeddings::read(&path))
        .map_err(engine)?;
    let (n, dim) = (emb.len(), emb.dim);
    let values = numpy::PyArray1::from_vec(py, emb.values).reshape([n, dim])?;
    Ok((emb.ids, values.into_any()))
}

/// The number of rows in each row group of the Parquet file at `path`.
#[pyfunction]
pub fn row_groups(py: Python<'_>, path: PathBuf) -> PyResult<Vec<usize>> {
    py.detach(|| groups_of(&path)).map_err(engine)
}

/// Embeds row group `group` of the Parquet corpus `corpus` (columns `id_field`, `title_field`,
/// `text_field`) with `model` and writes the vectors to `out` as `trine embed` writes them
/// (atomically: the file is whole or absent). A file already there from the same model for
/// the same documents is kept. Returns the number of documents.
#[pyfunction]
#[pyo3(signature = (model, corpus, group, out, *, id_field = "_id", title_field = "title", text_field = "text"))]
#[allow(clippy::too_many_arguments)]
pub fn embed_row_group(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    corpus: PathBuf,
    group: usize,
    out: PathBuf,
    id_field: &str,
    title_field: &str,
    text_field: &str,
) -> PyResult<usize> {
    let encoder = model_arg(Some(model))?.expect("a model was given");
    let fields = JsonFields {
        id: id_field.into(),
        title: title_field.into(),
        text: text_field.into(),
    };
    py.detach(|| {
        let docs = read_row_group(&corpus, &fields, group).map_err(engine)?;
        document_embeddings(&encoder, &docs, Some(out.as_path()), &Silent).map_err(engine)?;
        Ok(docs.len())
    })
}

/// Builds shard `shard` of `shards` of the corpus at `corpus` into `out/shard-NNN`, with
/// vectors from `embeddings` (a file or a folder of them, matched by id) or embedded here.
#[pyfunction]
#[pyo3(signature = (out, corpus, model, shard, shards, *, embeddings = None, force = false))]
#[allow(clippy::too_many_arguments)]
pub fn build_shard(
    py: Python<'_>,
    out: PathBuf,
    corpus: PathBuf,
    model: &Bound<'_, PyAny>,
    shard: usize,
    shards: usize,
    embeddings: Option<PathBuf>,
    force: bool,
) -> PyResult<usize> {
    let encoder = model_arg(Some(model))?.expect("a model was given");
    let spec = BuildSpec {
        force,
        embeddings,
        ..Default::default()
    };
    py.detach(|| {
        let docs = trine_corpus::read_corpus(&corpus, &Default::default()).map_err(engine)?;
        let index =
            build_one(&out, &docs, &encoder, &spec, shard, shards, &Silent).map_err(engine)?;
        Ok(index.len())
    })
}

/// Writes `out/shards.json` once all `shards` shards are built; returns the shards' sizes.
#[pyfunction]
pub fn finish_shards(
    py: Python<'_>,
    out: PathBuf,
    model: &Bound<'_, PyAny>,
    shards: usize,
) -> PyResult<Vec<usize>> {
    let encoder = model_arg(Some(model))?.expect("a model was given");
    let set = py
        .detach(|| write_shard_set(&out, &encoder, shards))
        .map_err(engine)?;
    Ok(set.shards.iter().map(|s| s.documents).collect())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// The shards' BM25 statistics (JSON, from `Index.lexical_stats`) summed into the corpus's.
#[pyfunction]
pub fn sum_stats(stats: Vec<String>) -> PyResult<String> {
    let parsed = stats
        .iter()
        .map(|s| parse::<LexicalStats>("stats", s))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(serde_json::to_string(&LexicalStats::sum(&parsed)).expect("stats serialise"))
}

/// The `k` best hits of the whole corpus from every shard's candidates (JSON, from
/// `Index.candidates`), each retriever's lists merged and cut to `candidates`, then fused.
#[pyfunction]
#[pyo3(signature = (shards, mode, k, *, candidates = 100, fusion = None, alpha = 0.5, rrf_k = 60.0))]
#[allow(clippy::too_many_arguments)]
pub fn merge_shards<'py>(
    py: Python<'py>,
    shards: Vec<String>,
    mode: &str,
    k: usize,
    candidates: usize,
    fusion: Option<&str>,
    alpha: f32,
    rrf_k: f32,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let parsed = shards
        .iter()
        .map(|s| parse::<Candidates>("candidates", s))
        .collect::<PyResult<Vec<_>>>()?;
    let fusion = self::fusion(fusion, alpha, rrf_k)?.unwrap_or_default();
    let hits = merge(&parsed, self::mode(mode)?, k, candidates.max(k), fusion).map_err(engine)?;
    hits.iter()
        .map(|h| {
            let d = PyDict::new(py);
            d.set_item("id", &h.id)?;
            d.set_item("title", &h.title)?;
            d.set_item("score", h.score)?;
            d.set_item("shard", h.shard)?;
            d.set_item("lexical_score", h.lexical_score)?;
            d.set_item("lexical_rank", h.lexical_rank)?;
            d.set_item("dense_score", h.dense_score)?;
            d.set_item("dense_rank", h.dense_rank)?;
            Ok(d)
        })
        .collect()
}
