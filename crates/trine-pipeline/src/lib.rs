//! The stages of trine joined into the jobs users run: a corpus embedded by a model
//! ([`embed`]), those vectors built into an index ([`build`]), a query encoded and searched
//! ([`query`]), and one corpus as several indexes ([`shards`]). The `trine` binary and the Python package both call these, so a job behaves the
//! same whichever door it comes in by; progress goes to a [`Progress`] the caller chooses.

pub mod build;
pub mod embed;
mod error;
mod progress;
pub mod query;
pub mod shards;

pub use build::{build_from_vectors, build_index, BuildSpec};
pub use embed::{
    document_embeddings, embed_chunked, embed_documents, embeddings_match, index_vectors,
};
pub use error::{PipelineError, Result};
pub use progress::{Progress, Silent};
pub use query::{model_info, search, Search};
