use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, EncoderError>;

/// Errors from loading a model folder or encoding text.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A file the model folder must have is absent.
    #[error("{path}: missing model file ({what})")]
    MissingFile { path: PathBuf, what: &'static str },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON configuration file is malformed or lacks a field.
    #[error("{path}: invalid configuration: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A configuration value is not supported.
    #[error("{path}: unsupported setting: {message}")]
    Unsupported { path: PathBuf, message: String },
    /// The tokenizer file could not be loaded or used.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// The weights file is corrupt or lacks a tensor the model needs.
    #[error("{path}: weights: {source}")]
    Weights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    /// A prompt name the model folder does not define.
    #[error("no prompt named `{name}` (the model has: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownPrompt { name: String, known: Vec<String> },
    /// A truncation dimension outside 1..=the model's dimension.
    #[error("truncate_dim {asked} is outside 1..={dim}")]
    TruncateDim { asked: usize, dim: usize },
    /// Chunking settings that do not fit the model.
    #[error("{message}")]
    Chunking { message: String },
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}
