//! Retrieval evaluation: metrics with BEIR/pytrec_eval conventions, TREC run files, and the vector
//! arithmetic of exact cosine search (`trine-index` runs the search itself).

mod error;
pub mod exact;
pub mod metrics;
pub mod run;

pub use error::{EvalError, Result};
pub use metrics::{evaluate, Metrics};
pub use run::{Hit, Run};
