//! Retrieval evaluation: metrics with BEIR/pytrec_eval conventions, the exact (brute-force) dense
//! retriever that approximate search is measured against, and TREC run files.

mod error;
pub mod exact;
pub mod metrics;
pub mod run;

pub use error::{EvalError, Result};
pub use metrics::{evaluate, Metrics};
pub use run::{Hit, Run};
