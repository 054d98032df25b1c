//! What every request shares: the index, the encoder, limits and metrics.

use std::time::Duration;

use tokio::sync::Semaphore;
use trine_encoder::Encoder;
use trine_index::Index;

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
        }
    }
}

/// Shared server state.
pub struct AppState {
    pub index: Index,
    pub encoder: Encoder,
    pub limits: Limits,
    pub metrics: Metrics,
    encodes: Semaphore,
}

impl AppState {
    /// State over an open index and the model that built it.
    pub fn new(index: Index, encoder: Encoder, limits: Limits) -> AppState {
        let metrics = Metrics::new(index.len(), index.size_bytes());
        let encodes = Semaphore::new(limits.concurrent_encodes.max(1));
        AppState {
            index,
            encoder,
            limits,
            metrics,
            encodes,
        }
    }

    /// Embeds texts on a blocking thread, at most `concurrent_encodes` requests at a time.
    /// Returns the vectors (row-major) and the token count of each text.
    pub async fn encode(
        self: &std::sync::Arc<Self>,
        texts: Vec<String>,
    ) -> Result<(Vec<f32>, Vec<usize>), ApiError> {
        let _permit = self
            .encodes
            .acquire()
            .await
            .map_err(|_| ApiError::internal("server is shutting down"))?;
        let state = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = state
                .encoder
                .encode(&refs, &mut |_| {})
                .map_err(|e| ApiError::internal(format!("encoding failed: {e}")))?;
            let tokens = state
                .encoder
                .token_counts(&refs)
                .map_err(|e| ApiError::internal(format!("tokenizing failed: {e}")))?;
            Ok((vectors, tokens))
        })
        .await
        .map_err(|e| ApiError::internal(format!("encoder task failed: {e}")))?
    }
}
