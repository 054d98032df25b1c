use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Errors from reading training data, training, and writing checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading triplets, queries or qrels failed.
    #[error(transparent)]
    Corpus(#[from] trine_corpus::CorpusError),
    /// Loading or running the encoder failed.
    #[error(transparent)]
    Encoder(#[from] trine_encoder::EncoderError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint is missing a part, is corrupt, or was written by a different run.
    #[error("{path}: checkpoint: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The settings cannot work together (e.g. a loss that needs labels without any).
    #[error("invalid training settings: {0}")]
    Settings(String),
    /// The training or dev data cannot be used as it is (names the file, row or class).
    #[error("{0}")]
    Data(String),
    /// Building or searching the mining index failed.
    #[error(transparent)]
    Index(#[from] trine_index::IndexError),
    /// Clustering the dev set failed.
    #[error(transparent)]
    Cluster(#[from] trine_cluster::ClusterError),
    /// The loss became NaN or infinite.
    #[error(
        "step {step}: the loss is not finite ({value}); lower the learning rate or check the data"
    )]
    NotFinite { step: usize, value: f32 },
    /// Drawing a plot failed.
    #[error("{path}: plot: {message}")]
    Plot { path: PathBuf, message: String },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
