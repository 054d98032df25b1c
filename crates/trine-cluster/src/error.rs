/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// Errors from clustering, its inputs and its outputs.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// There is nothing to cluster.
    #[error("no vectors to cluster")]
    Empty,
    /// More clusters were asked for than there are points.
    #[error("k = {k} is larger than the number of documents ({n})")]
    TooManyClusters { k: usize, n: usize },
    /// A bad parameter value.
    #[error("{0}")]
    Invalid(String),
    /// A vector holds NaN or infinity.
    #[error("vector {row} (id `{id}`) holds a non-finite value at dimension {dim}")]
    NonFinite { row: usize, id: String, dim: usize },
    /// Vectors of different widths, or a buffer that is not rows × dim.
    #[error("{0}")]
    Shape(String),
    /// Labels that do not line up with the documents.
    #[error("{0}")]
    Labels(String),
    /// The input is too large for an algorithm that needs all pairwise distances.
    #[error("{algorithm} needs all pairwise distances: {n} documents would take {bytes_gib:.1} GiB (limit {limit}); use k-means or community detection")]
    TooLarge {
        algorithm: &'static str,
        n: usize,
        bytes_gib: f64,
        limit: usize,
    },
    /// Writing an output failed.
    #[error("{path}: {message}")]
    Output {
        path: std::path::PathBuf,
        message: String,
    },
    /// Reading the index or storing its topics failed.
    #[error(transparent)]
    Index(#[from] trine_index::IndexError),
    /// Reading or writing Parquet failed.
    #[error(transparent)]
    Corpus(#[from] trine_corpus::CorpusError),
}
