//! `trine.Index`: build, open and search an index folder, the one `trine index` writes.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use trine_corpus::{read_corpus, CorpusOptions};
use trine_encoder::{Encoder, EncoderOptions};
use trine_index::quantized::{QuantizedSettings, VectorFormat};
use trine_index::{Aggregate, AnnPolicy, ChunkSettings, Fusion, Index, Mode};
use trine_pipeline::{build_index, BuildSpec, Search, Silent};

use crate::encoder::{load, PyEncoder};
use crate::error::{choice, engine};

/// An index folder: BM25 beside the documents' vectors; dense and hybrid search need the model
/// it was built with.
#[pyclass(name = "Index", module = "trine", frozen)]
pub struct PyIndex {
    inner: Index,
    encoder: Option<Arc<Encoder>>,
    path: PathBuf,
}

/// An `Encoder`, or a model folder's path loaded with the default settings.
pub(crate) fn model_arg(model: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<Encoder>>> {
    let Some(m) = model else { return Ok(None) };
    if let Ok(enc) = m.cast::<PyEncoder>() {
        return Ok(Some(enc.get().inner.clone()));
    }
    let path: PathBuf = m.extract().map_err(|_| {
        PyValueError::new_err("model must be a trine.Encoder or a model folder's path")
    })?;
    Ok(Some(load(path, EncoderOptions::default())?))
}

pub(crate) fn mode(name: &str) -> PyResult<Mode> {
    match name {
        "lexical" => Ok(Mode::Lexical),
        "dense" => Ok(Mode::Dense),
        "hybrid" => Ok(Mode::Hybrid),
        other => Err(choice("mode", other, &["lexical", "dense", "hybrid"])),
    }
}

pub(crate) fn fusion(name: Option<&str>, alpha: f32, rrf_k: f32) -> PyResult<Option<Fusion>> {
    Ok(match name {
        None => None,
        Some("rrf") => Some(Fusion::Rrf { k: rrf_k }),
        Some("convex") => Some(Fusion::Convex { alpha }),
        Some("zscore") => Some(Fusion::Zscore { alpha }),
        Some(other) => return Err(choice("fusion", other, &["rrf", "convex", "zscore"])),
    })
}

fn quantized(vectors: &str, rescore: usize) -> PyResult<Option<QuantizedSettings>> {
    let format = match vectors {
        "f32" => return Ok(None),
        "int8" => VectorFormat::Int8,
        "binary" => VectorFormat::Binary,
        other => return Err(choice("vectors", other, &["f32", "int8", "binary"])),
    };
    if rescore == 0 {
        return Err(PyValueError::new_err("rescore must be at least 1"));
    }
    Ok(Some(QuantizedSettings { format, rescore }))
}

fn chunking(
    tokens: Option<usize>,
    overlap: usize,
    aggregate: &str,
) -> PyResult<Option<ChunkSettings>> {
    let aggregate = match aggregate {
        "max" => Aggregate::Max,
        "mean" => Aggregate::Mean,
        other => return Err(choice("chunk_aggregate", other, &["max", "mean"])),
    };
    Ok(tokens.map(|tokens| ChunkSettings {
        tokens,
        overlap,
        aggregate,
    }))
}

fn ann(policy: &str) -> PyResult<AnnPolicy> {
    match policy {
        "auto" => Ok(AnnPolicy::Auto),
        "always" => Ok(AnnPolicy::Always),
        "never" => Ok(AnnPolicy::Never),
        other => Err(choice("ann", other, &["auto", "always", "never"])),
    }
}

#[pymethods]
impl PyIndex {
    /// Embeds `corpus` (a BEIR folder, JSONL, Parquet or text file) with `model` (an Encoder or
    /// a model folder) and writes an index to `path`, as `trine index build` does: `force`
    /// replaces an index there, `chunk_tokens` splits documents, `vectors` keeps an int8 or
    /// binary copy for a first pass rescored in f32, `ann` decides the HNSW graph.
    #[staticmethod]
    #[pyo3(signature = (path, corpus, model, *, force = false, embeddings = None, chunk_tokens = None, chunk_overlap = 32, chunk_aggregate = "max", vectors = "f32", rescore = 100, ann = "auto"))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        path: PathBuf,
        corpus: PathBuf,
        model: &Bound<'_, PyAny>,
        force: bool,
        embeddings: Option<PathBuf>,
        chunk_tokens: Option<usize>,
        chunk_overlap: usize,
        chunk_aggregate: &str,
        vectors: &str,
        rescore: usize,
        ann: &str,
    ) -> PyResult<Self> {
        let encoder = model_arg(Some(model))?.expect("a model was given");
        let spec = BuildSpec {
            force,
            embeddings,
            chunking: chunking(chunk_tokens, chunk_overlap, chunk_aggregate)?,
            ann: self::ann(ann)?,
            ann_settings: Default::default(),
            quantized: quantized(vectors, rescore)?,
        };
        let inner = py.detach(|| {
            let docs = read_corpus(&corpus, &CorpusOptions::default()).map_err(engine)?;
            let _lock =
                trine_index::WriterLock::acquire(&path, trine_index::Wait::No).map_err(engine)?;
            build_index(&path, &docs, &encoder, &spec, &Silent).map_err(engine)
        })?;
        Ok(PyIndex {
            inner,
            encoder: Some(encoder),
            path,
        })
    }

    /// Opens the index in `path`; give `model` (the one it was built with) for dense and
    /// hybrid search.
    #[staticmethod]
    #[pyo3(signature = (path, model = None))]
    fn open(py: Python<'_>, path: PathBuf, model: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let encoder = model_arg(model)?;
        let inner = py.detach(|| Index::open(&path)).map_err(engine)?;
        if let Some(enc) = &encoder {
            let info = trine_pipeline::model_info(enc).map_err(engine)?;
            inner.check_model(&info).map_err(engine)?;
        }
        Ok(PyIndex {
            inner,
            encoder,
            path,
        })
    }

    /// The `k` best documents for `query` in `mode` (lexical, dense or hybrid), as dicts with
    /// id, title, score and each retriever's score and rank; `fusion` (rrf, convex, zscore)
    /// replaces the index's stored fusion for hybrid search.
    #[pyo3(signature = (query, mode = "hybrid", k = 10, *, fusion = None, alpha = 0.5, rrf_k = 60.0, candidates = 100, topic = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        mode: &str,
        k: usize,
        fusion: Option<&str>,
        alpha: f32,
        rrf_k: f32,
        candidates: usize,
        topic: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let search = Search {
            mode: self::mode(mode)?,
            k,
            candidates,
            fusion: self::fusion(fusion, alpha, rrf_k)?,
            topic,
            facets: false,
        };
        let (results, vector) = py
            .detach(|| trine_pipeline::search(&self.inner, self.encoder.as_deref(), query, &search))
            .map_err(engine)?;
        let q = (!vector.is_empty()).then(|| trine_index::dense::unit(&vector));
        results
            .hits
            .iter()
            .map(|h| {
                let d = self.inner.document(h.row);
                let hit = PyDict::new(py);
                hit.set_item("id", &d.id)?;
                hit.set_item("title", &d.title)?;
                hit.set_item("score", h.score)?;
                hit.set_item("lexical_score", h.lexical_score)?;
                hit.set_item("lexical_rank", h.lexical_rank)?;
                hit.set_item(
                    "dense_score",
                    (search.mode != Mode::Lexical).then_some(h.dense_score),
                )?;
                hit.set_item("dense_rank", h.dense_rank)?;
                if let Some(c) = q.as_ref().and_then(|q| self.inner.best_chunk(q, h.row)) {
                    hit.set_item("chunk", c.chunk)?;
                }
                Ok(hit)
            })
            .collect()
    }

    /// This index's BM25 statistics for the terms of `query` as JSON: one shard's share, summed
    /// over all shards by `trine._trine.sum_stats` (the first round of a sharded search).
    fn lexical_stats(&self, py: Python<'_>, query: &str) -> PyResult<String> {
        let stats = py
            .detach(|| self.inner.lexical_stats(query))
            .map_err(engine)?;
        Ok(serde_json::to_string(&stats).expect("stats serialise"))
    }

    /// This shard's best `n` candidates of each retriever `mode` uses, as JSON: BM25 scored with
    /// the corpus's `stats` (JSON from `sum_stats`), dense by `vector` (the query's embedding,
    /// needed for dense and hybrid). `trine._trine.merge_shards` joins the shards' answers.
    #[pyo3(signature = (query, mode, n, stats, vector = None))]
    fn candidates(
        &self,
        py: Python<'_>,
        query: &str,
        mode: &str,
        n: usize,
        stats: &str,
        vector: Option<numpy::PyReadonlyArray1<'_, f32>>,
    ) -> PyResult<String> {
        let mode = self::mode(mode)?;
        let stats: trine_index::LexicalStats = serde_json::from_str(stats)
            .map_err(|e| PyValueError::new_err(format!("stats: {e}")))?;
        let vector: Vec<f32> = match (mode, vector) {
            (Mode::Lexical, _) => Vec::new(),
            (_, Some(v)) => v.as_slice()?.to_vec(),
            (_, None) => return Err(PyValueError::new_err("dense and hybrid search need vector")),
        };
        let c = py
            .detach(|| self.inner.candidates(mode, query, &vector, n, &stats))
            .map_err(engine)?;
        Ok(serde_json::to_string(&c).expect("candidates serialise"))
    }

    /// The fingerprint of the model the index was built with.
    #[getter]
    fn model_fingerprint(&self) -> String {
        self.inner.manifest().model.fingerprint.clone()
    }

    /// The number of documents.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The index folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Index({:?}, documents={})",
            self.path.display().to_string(),
            self.inner.len()
        )
    }
}
