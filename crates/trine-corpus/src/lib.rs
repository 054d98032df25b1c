//! Reading the data trine works on, and writing what it produces.
//!
//! * [`Document`]s come from a BEIR folder, JSON Lines, Parquet or plain text ([`read_corpus`]).
//! * Queries and relevance judgements come from the BEIR layout ([`beir`]).
//! * Training triplets are Parquet tables of query / positive / negative ([`triplets`]).
//! * Embeddings are stored as Parquet with a fixed-size-list column ([`embeddings`]).
//!
//! Every error names the file and the line, row, column or field it is about, and every file this crate
//! writes is written to a temporary file first and renamed into place ([`atomic`]).

pub mod assignments;
pub mod atomic;
pub mod beir;
mod document;
pub mod embeddings;
mod error;
mod jsonl;
pub mod labels;
mod parquet_docs;
mod source;
mod text;
pub mod triplets;

pub use document::Document;
pub use error::{CorpusError, Result};
pub use parquet_docs::{
    read_row_group, read_string_columns, row_groups, write_documents, ColumnRequest, StringColumns,
};
pub use source::{read_corpus, CorpusFormat, CorpusOptions, JsonFields};
