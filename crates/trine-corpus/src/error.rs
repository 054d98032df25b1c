use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, CorpusError>;

/// Everything that can go wrong reading or writing corpora, queries, qrels and embeddings.
///
/// Each variant carries the file and, where it applies, the 1-based line or 0-based row and the field
/// or column, so the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file or folder could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a JSON Lines file is not valid JSON.
    #[error("{path}:{line}: not valid JSON: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    /// A line of a JSON Lines file is valid JSON but not an object.
    #[error("{path}:{line}: expected a JSON object")]
    NotAnObject { path: PathBuf, line: usize },
    /// A required field is absent from a JSON object.
    #[error("{path}:{line}: missing field `{field}`")]
    MissingField {
        path: PathBuf,
        line: usize,
        field: String,
    },
    /// A field holds a value of the wrong JSON type.
    #[error("{path}:{line}: field `{field}` must be {expected}")]
    FieldType {
        path: PathBuf,
        line: usize,
        field: String,
        expected: &'static str,
    },
    /// A line is not valid UTF-8.
    #[error("{path}:{line}: invalid UTF-8 at byte {byte} of the line")]
    InvalidUtf8 {
        path: PathBuf,
        line: usize,
        byte: usize,
    },
    /// A Parquet file lacks a column that was asked for.
    #[error("{path}: no column `{column}`; the file has: {}", available.join(", "))]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: Vec<String>,
    },
    /// A row group a Parquet file does not have.
    #[error("{path}: no row group {group}; the file has {groups}")]
    RowGroup {
        path: PathBuf,
        group: usize,
        groups: usize,
    },
    /// A Parquet column has a type that cannot be read as asked.
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    /// A required value is null.
    #[error("{path}: row {row}: column `{column}` is null")]
    NullValue {
        path: PathBuf,
        row: usize,
        column: String,
    },
    /// The Parquet reader or writer failed.
    #[error("{path}: parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed to build or convert a column.
    #[error("{path}: arrow: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The input holds no documents (or queries) at all.
    #[error("{path}: no {what} found")]
    Empty { path: PathBuf, what: &'static str },
    /// A line is longer than any document should be.
    #[error("{path}:{line}: line longer than {} MiB (is this a JSON Lines file, one object per line?)", limit >> 20)]
    LineTooLong {
        path: PathBuf,
        line: usize,
        limit: usize,
    },
    /// The same id occurs twice.
    #[error("{path}:{line}: duplicate id `{id}`")]
    DuplicateId {
        path: PathBuf,
        line: usize,
        id: String,
    },
    /// A qrels line names a query that the queries file does not have.
    #[error("{path}:{line}: unknown query id `{query_id}` (not in the queries file)")]
    UnknownQuery {
        path: PathBuf,
        line: usize,
        query_id: String,
    },
    /// A Parquet cell holds a value that cannot be used (e.g. a vector of the wrong width).
    #[error("{path}: row {row}, column `{column}`: {message}")]
    BadValue {
        path: PathBuf,
        row: usize,
        column: String,
        message: String,
    },
    /// A line of a tab-separated file is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Rows of a table break its rules; lists the first problems (row, column, what).
    #[error("{path}: {total} problem(s): {}{}", problems.join("; "), if *total > problems.len() { format!("; and {} more", total - problems.len()) } else { String::new() })]
    InvalidRows {
        path: PathBuf,
        total: usize,
        problems: Vec<String>,
    },
    /// The input format could not be told from the path.
    #[error("{path}: cannot tell the corpus format; {hint}")]
    UnknownFormat { path: PathBuf, hint: &'static str },
    /// File metadata is missing or inconsistent (e.g. an embeddings file without its dimension).
    #[error("{path}: {message}")]
    Metadata { path: PathBuf, message: String },
}

impl CorpusError {
    /// An I/O error on `path`, for writers outside this crate that use [`crate::atomic`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CorpusError::Io {
            path: path.into(),
            source,
        }
    }
}
