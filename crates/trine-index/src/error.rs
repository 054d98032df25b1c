use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, IndexError>;

/// Errors opening, building or searching an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A file of the index could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The folder is not an index (no `CURRENT`), or a part is missing.
    #[error("{path}: {message}")]
    Missing { path: PathBuf, message: String },
    /// A part of the index is damaged or inconsistent with the manifest.
    #[error("{path}: corrupt index: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The index was written by an unknown format version.
    #[error(
        "{path}: index format version {found} is not supported (this trine reads {supported})"
    )]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Query vectors come from a model other than the one that built the index.
    #[error("index was built with model `{index_model}` (fingerprint {index_fp}), but the query model is `{query_model}` (fingerprint {query_fp})")]
    ModelMismatch {
        index_model: String,
        index_fp: String,
        query_model: String,
        query_fp: String,
    },
    /// The same model, run with other prompts or another truncation than the index was built with.
    #[error("the index was built with {index}; this encoder uses {query} (pass the same --prompt / --truncate-dim)")]
    EncodingMismatch { index: String, query: String },
    /// The folder already holds an index.
    #[error("{path}: an index already exists here (use --force to replace it)")]
    Exists { path: PathBuf },
    /// Documents being added already exist in the index.
    #[error("document id `{id}` is already in the index ({count} duplicate ids in all; use --replace to overwrite)")]
    DuplicateIds { id: String, count: usize },
    /// Another writer holds the index's writer lock.
    #[error("{path}: the index is being written by {} (wait for it, or pass --wait to queue)", holder.map_or("another process".to_string(), |p| format!("process {p}")))]
    Locked { path: PathBuf, holder: Option<u32> },
    /// A search or fusion parameter is out of its range.
    #[error("{name}: {message}")]
    Parameter { name: &'static str, message: String },
    /// A topic was asked of an index that has none.
    #[error("{path}: this index has no topics (make them with `trine index cluster`)")]
    NoTopics { path: PathBuf },
    /// A topic number the index does not have.
    #[error("no topic {topic}: the index has {topics} topics (0 to {})", topics.saturating_sub(1))]
    NoSuchTopic { topic: usize, topics: usize },
    /// The query is empty after trimming.
    #[error("empty query")]
    EmptyQuery,
    /// Vectors and documents disagree in number or width.
    #[error("{message}")]
    Shape { message: String },
    /// Tantivy failed.
    #[error("lexical index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Reading or writing the documents file failed.
    #[error(transparent)]
    Corpus(#[from] trine_corpus::CorpusError),
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }
}
