//! What every request shares: the live index, the encoder and its batching queue, limits and
//! metrics.
//!
//! The index is an `Arc` swapped when a new generation goes live (a write here, or a watcher
//! that polls `CURRENT` for writes made elsewhere): a request keeps the generation it started on
//! to the end, and the index's reader lease keeps that generation's files until it lets go.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use tokio::sync::Semaphore;
use trine_encoder::Encoder;
use trine_index::{DenseMethod, Index};

use crate::batcher::Batcher;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Bounds on what one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Largest `k` for a search.
    pub max_k: usize,
    /// Largest candidate list for hybrid fusion.
    pub max_candidates: usize,
    /// Longest query or input text, in characters.
    pub max_text_chars: usize,
    /// Most texts in one embeddings request (413 beyond).
    pub max_batch: usize,
    /// Time a request may take, waiting for the encoder included (408 beyond).
    pub timeout: Duration,
    /// Requests encoding at the same time; the rest wait their turn.
    pub concurrent_encodes: usize,
    /// Dynamic batching: queries and embedding requests wait in one queue and the encoder's next
    /// batch takes up to this many texts (a larger request is a batch of its own). `None`
    /// encodes each request on its own (the default: on 2 CPU cores batching did not pay, see
    /// the README).
    pub max_batch_texts: Option<usize>,
    /// Most documents in one `POST /documents` (413 beyond).
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_k: 100,
            max_candidates: 1000,
            max_text_chars: 8192,
            max_batch: 64,
            timeout: Duration::from_secs(30),
            concurrent_encodes: 2,
            max_batch_texts: None,
            max_documents: 1000,
        }
    }
}

/// How dense search runs, kept across generations.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseSettings {
    /// Exact scan even when the index has an ANN graph.
    pub exact: bool,
    /// ANN search expansion, when the index has a graph.
    pub ef: Option<usize>,
}

/// Shared server state.
pub struct AppState {
    root: PathBuf,
    index: RwLock<Arc<Index>>,
    pub encoder: Arc<Encoder>,
    batcher: Option<Batcher>,
    pub limits: Limits,
    pub metrics: Metrics,
    dense: DenseSettings,
    write_token: Option<String>,
    writes: tokio::sync::Mutex<()>,
    encodes: Semaphore,
}

impl AppState {
    /// State over an open index and the model that built it, with the encoder's batching thread
    /// started when `max_batch_texts` asks for one (errors: it is 0, or the thread could not be
    /// made); writes are off until a token is set.
    pub fn new(index: Index, encoder: Encoder, limits: Limits) -> std::io::Result<AppState> {
        let metrics = Metrics::new(index.len(), index.size_bytes());
        let encodes = Semaphore::new(limits.concurrent_encodes.max(1));
        let encoder = Arc::new(encoder);
        let batcher = match limits.max_batch_texts {
            Some(max) => Some(Batcher::start(
                Arc::clone(&encoder),
                max,
                metrics.batch_sizes(),
            )?),
            None => None,
        };
        Ok(AppState {
            root: index.root().to_path_buf(),
            index: RwLock::new(Arc::new(index)),
            encoder,
            batcher,
            limits,
            metrics,
            dense: DenseSettings::default(),
            write_token: None,
            writes: tokio::sync::Mutex::new(()),
            encodes,
        })
    }

    /// Allows writes (`POST /documents`, deletes) to requests bearing `token`.
    pub fn with_write_token(mut self, token: Option<String>) -> AppState {
        self.write_token = token.filter(|t| !t.is_empty());
        self
    }

    /// Applies `dense` to the index now and to every generation loaded later.
    pub fn with_dense(self, dense: DenseSettings) -> Result<AppState, trine_index::IndexError> {
        let mut index = Index::open(&self.root)?;
        configure(&mut index, dense)?;
        let state = AppState { dense, ..self };
        state.install(index);
        Ok(state)
    }

    /// The generation requests start on now.
    pub fn index(&self) -> Arc<Index> {
        Arc::clone(&self.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn install(&self, index: Index) {
        self.metrics.set_documents(index.len(), index.size_bytes());
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
    }

    /// Loads the live generation if it is newer than the one served (blocking: call it off
    /// the async workers). Returns whether it changed.
    pub fn reload(&self) -> Result<bool, trine_index::IndexError> {
        let live = Index::live_generation(&self.root)?;
        if live == self.index().manifest().generation {
            return Ok(false);
        }
        let mut index = Index::open(&self.root)?;
        configure(&mut index, self.dense)?;
        self.install(index);
        Ok(true)
    }

    /// Polls `CURRENT` every `every` and loads new generations, until the runtime stops.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let state = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let s = Arc::clone(&state);
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.reload()).await {
                    eprintln!(
                        "{}: cannot load the new generation: {e}",
                        state.root.display()
                    );
                }
            }
        });
    }

    /// Runs `f` on the index on a blocking thread, so a long search never holds an async worker
    /// and the request time limit can fire.
    pub async fn with_index<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Index) -> Result<T, ApiError> + Send + 'static,
    {
        let index = self.index();
        tokio::task::spawn_blocking(move || f(&index))
            .await
            .map_err(|e| ApiError::internal(format!("search task failed: {e}")))?
    }

    /// Runs a write under the server's write lock on a blocking thread, then serves its result.
    /// (Callers check [`AppState::authorize`] first, before any work.)
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&std::path::Path, &Index) -> Result<(Index, T), ApiError> + Send + 'static,
    {
        let _turn = self.writes.lock().await;
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let current = state.index();
            let (mut index, out) = f(&state.root, &current)?;
            drop(current);
            configure(&mut index, state.dense)?;
            state.install(index);
            Ok(out)
        })
        .await
        .map_err(|e| ApiError::internal(format!("write task failed: {e}")))?
    }

    /// Fails unless writes are on and `headers` bear the write token (403 / 401).
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.write_token else {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                message:
                    "writes are off: start the server with --write-token (or TRINE_WRITE_TOKEN)"
                        .into(),
            });
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: "a write needs the header `Authorization: Bearer <write token>`".into(),
            });
        }
        Ok(())
    }

    /// Embeds texts with the prompt `role` takes: in the encoder's next batch when batching is
    /// on, else on a blocking thread, at most `concurrent_encodes` requests at a time. Returns
    /// the vectors (row-major) and the token count of each text.
    pub async fn encode(
        self: &std::sync::Arc<Self>,
        texts: Vec<String>,
        role: trine_encoder::Role,
    ) -> Result<(Vec<f32>, Vec<usize>), ApiError> {
        let prompt = self.encoder.prompt_for(role).map(str::to_string);
        self.encode_prompted(texts, prompt).await
    }

    /// [`AppState::encode`] with each text prefixed by `prompt` (a prompt the request named).
    pub async fn encode_prompted(
        self: &std::sync::Arc<Self>,
        texts: Vec<String>,
        prompt: Option<String>,
    ) -> Result<(Vec<f32>, Vec<usize>), ApiError> {
        if let Some(batcher) = &self.batcher {
            return batcher
                .encode(texts, prompt)
                .await
                .map_err(ApiError::internal);
        }
        self.encoding(move |state| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            crate::batcher::encode_texts(&state.encoder, &refs, prompt.as_deref())
                .map_err(ApiError::internal)
        })
        .await
    }

    /// Embeds documents' full texts for the index: one vector each, or one per chunk with
    /// their map when the index splits documents (`chunking`, from its manifest).
    pub async fn encode_documents(
        self: &std::sync::Arc<Self>,
        texts: Vec<String>,
        chunking: Option<trine_index::ChunkSettings>,
    ) -> Result<(Vec<f32>, Option<trine_index::ChunkMap>), ApiError> {
        let Some(settings) = chunking else {
            let (vectors, _) = self.encode(texts, trine_encoder::Role::Document).await?;
            return Ok((vectors, None));
        };
        self.encoding(move |state| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let chunking = trine_encoder::Chunking {
                tokens: settings.tokens,
                overlap: settings.overlap,
            };
            let chunked = state
                .encoder
                .encode_chunked(&refs, trine_encoder::Role::Document, chunking, &mut |_| {})
                .map_err(|e| ApiError::internal(format!("encoding failed: {e}")))?;
            let map = trine_index::ChunkMap::new(&chunked.spans)
                .map_err(|e| ApiError::internal(format!("chunking failed: {e}")))?;
            Ok((chunked.vectors, Some(map)))
        })
        .await
    }

    /// Runs `f` on a blocking thread, holding one of the `concurrent_encodes` permits.
    async fn encoding<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = self
            .encodes
            .acquire()
            .await
            .map_err(|_| ApiError::internal("server is shutting down"))?;
        let state = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&state))
            .await
            .map_err(|e| ApiError::internal(format!("encoder task failed: {e}")))?
    }
}

fn configure(index: &mut Index, dense: DenseSettings) -> Result<(), trine_index::IndexError> {
    if dense.exact {
        index.set_dense_method(DenseMethod::Exact)?;
    }
    if let (Some(ef), true) = (dense.ef, index.ann().is_some()) {
        index.set_ann_expansion(ef);
    }
    Ok(())
}
