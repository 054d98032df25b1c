//! `trine.Encoder`: texts in, a NumPy matrix out.

use std::path::PathBuf;
use std::sync::Arc;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use trine_encoder::{Encoder, EncoderOptions, Precision};

use crate::error::{choice, engine};

/// A sentence-transformers model folder loaded for inference.
#[pyclass(name = "Encoder", module = "trine", frozen)]
pub struct PyEncoder {
    pub(crate) inner: Arc<Encoder>,
}

/// The number format a `dtype` names.
pub fn precision(dtype: &str) -> PyResult<Precision> {
    match dtype {
        "f32" | "float32" => Ok(Precision::F32),
        "bf16" | "bfloat16" => Ok(Precision::Bf16),
        "int8" => Ok(Precision::Int8),
        other => Err(choice("dtype", other, &["f32", "bf16", "int8"])),
    }
}

/// Loads a model folder with the encoder's default settings otherwise.
pub fn load(path: PathBuf, options: EncoderOptions) -> PyResult<Arc<Encoder>> {
    Encoder::load(&path, options)
        .map(Arc::new)
        .map_err(|e| engine(Loading(path, e)))
}

/// `loading model PATH: ...`, as the CLI says it.
#[derive(Debug)]
struct Loading(PathBuf, trine_encoder::EncoderError);

impl std::fmt::Display for Loading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "loading model {}", self.0.display())
    }
}

impl std::error::Error for Loading {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.1)
    }
}

#[pymethods]
impl PyEncoder {
    /// Loads `path` (a sentence-transformers folder); `dtype` is f32 (the reference), bf16 or
    /// int8; `max_batch_tokens` batches by a token budget instead of a count;
    /// `truncate_dim` keeps the first dimensions of a Matryoshka model.
    #[new]
    #[pyo3(signature = (path, dtype = "f32", batch_size = 32, max_batch_tokens = None, truncate_dim = None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        dtype: &str,
        batch_size: usize,
        max_batch_tokens: Option<usize>,
        truncate_dim: Option<usize>,
    ) -> PyResult<Self> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        let options = EncoderOptions {
            batch_size,
            max_batch_tokens,
            precision: precision(dtype)?,
            truncate_dim,
            ..Default::default()
        };
        let inner = py.detach(|| load(path, options))?;
        Ok(PyEncoder { inner })
    }

    /// The vectors' dimension.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// The model's name (its folder's).
    #[getter]
    fn name(&self) -> String {
        self.inner.folder().name.clone()
    }

    /// The prompts the folder defines, by name.
    #[getter]
    fn prompts(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.folder().prompts.clone()
    }

    /// Embeds `texts` (a list of strings, or one string for one vector) as sentence-transformers'
    /// `encode` does: with `prompt` if given, else the folder's prompt `prompt_name`, else its
    /// default prompt. Returns a float32 array of shape (len(texts), dim), or (dim,) for one
    /// string; the engine's buffer becomes the array without a copy.
    #[pyo3(signature = (texts, prompt_name = None, prompt = None, batch_size = None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        prompt_name: Option<&str>,
        prompt: Option<&str>,
        batch_size: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let single = texts.is_instance_of::<PyString>();
        let texts: Vec<String> = if single {
            vec![texts.extract()?]
        } else {
            texts
                .extract()
                .map_err(|_| PyValueError::new_err("texts must be a string or a list of strings"))?
        };
        if batch_size == Some(0) {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        let enc = &self.inner;
        let prompt: Option<String> = match (prompt, prompt_name) {
            (Some(p), _) => Some(p.to_string()),
            (None, Some(name)) => Some(enc.folder().prompt(name).map_err(engine)?.to_string()),
            (None, None) => enc.default_prompt().map(str::to_string),
        };
        let batch = batch_size.unwrap_or(enc.options().batch_size);
        let values = py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            enc.encode_batched(&refs, prompt.as_deref(), batch, &mut |_| {})
        });
        let values = values.map_err(engine)?;
        let flat = PyArray1::from_vec(py, values);
        if single {
            return Ok(flat.into_any());
        }
        Ok(flat.reshape([texts.len(), enc.dim()])?.into_any())
    }

    /// Embeds one query as search does: with the model's query prompt, if it has one.
    fn encode_query<'py>(
        &self,
        py: Python<'py>,
        text: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let values = py
            .detach(|| {
                self.inner
                    .encode_as(&[text], trine_encoder::Role::Query, &mut |_| {})
            })
            .map_err(engine)?;
        Ok(PyArray1::from_vec(py, values))
    }

    /// The fingerprint of the model's weights and tokenizer (what indexes and embeddings
    /// files record, and are checked against).
    #[getter]
    fn fingerprint(&self) -> PyResult<String> {
        Ok(self.inner.fingerprint().map_err(engine)?.to_string())
    }

    fn __repr__(&self) -> String {
        format!(
            "Encoder({:?}, dim={}, dtype={:?})",
            self.inner.folder().dir.display().to_string(),
            self.inner.dim(),
            self.inner.options().precision
        )
    }
}
