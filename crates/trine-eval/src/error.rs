use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, EvalError>;

/// Errors from evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Corpus(#[from] trine_corpus::CorpusError),
    /// A run file line is malformed.
    #[error("{path}:{line}: {message}")]
    RunFormat {
        path: PathBuf,
        line: usize,
        message: String,
    },
}
