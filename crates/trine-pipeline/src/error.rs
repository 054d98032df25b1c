//! The one error type of the pipeline: each stage's own, plus the checks that join them.

use std::path::PathBuf;

/// What can go wrong between the stages.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Corpus(#[from] trine_corpus::CorpusError),
    #[error(transparent)]
    Encoder(#[from] trine_encoder::EncoderError),
    #[error(transparent)]
    Index(#[from] trine_index::IndexError),
    /// Saved embeddings come from another model (other weights, tokenizer or dimension).
    #[error("{path}: embeddings were made by model `{made_by}` (dim {dim}), not `{model}`")]
    ForeignEmbeddings {
        path: PathBuf,
        made_by: String,
        dim: usize,
        model: String,
    },
    /// Saved embeddings do not hold the corpus's documents in its order.
    #[error("{path}: embeddings do not hold the corpus's documents in its order")]
    EmbeddingsOrder { path: PathBuf },
    /// Saved embeddings were given together with chunking, which embeds chunks, not documents.
    #[error("saved document embeddings cannot be used with chunking (chunks are embedded afresh)")]
    EmbeddingsWithChunks,
    /// An index already lives in the folder and replacing it was not asked for.
    #[error("{path}: an index already exists here (use --force to replace it)")]
    IndexExists { path: PathBuf },
    /// Dense or hybrid search was asked for without a model to encode the query.
    #[error("dense and hybrid search need a model")]
    NeedsModel,
    /// A shard set that cannot be made or read as asked.
    #[error("{message}")]
    Shards { message: String },
    /// The query has no text.
    #[error("empty query")]
    EmptyQuery,
}

/// The pipeline's result type.
pub type Result<T> = std::result::Result<T, PipelineError>;
