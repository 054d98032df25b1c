//! Fine-tuning a sentence encoder on (query, positive, negative) triplets.
//!
//! * [`loss`]: triplet (Euclidean, squared, cosine), in-batch mining (batch-all, batch-hard,
//!   semi-hard), contrastive, quadruplet, Proxy-NCA, Proxy-Anchor and InfoNCE, each with its
//!   formula and tests against hand-computed values and finite differences;
//! * [`objective`]: how a batch of triplets feeds the chosen loss;
//! * [`labels`]: class labels from a `label` column or from grouping retrieval rows;
//! * [`model`]: the encoder's weights as trainable variables, saved in the sentence-transformers
//!   layout;
//! * [`optim`]: AdamW, the warm-up/decay schedule, gradient clipping;
//! * [`trainer`]: the loop, dev evaluation ([`dev`]), checkpoints ([`checkpoint`]) and curves
//!   ([`curves`]);
//! * [`mine`]: choosing hard negatives from a retriever's ranking, with false-negative guards.

pub mod checkpoint;
pub mod curves;
pub mod dev;
mod error;
pub mod labels;
pub mod loss;
pub mod mine;
pub mod model;
pub mod objective;
pub mod optim;
pub mod trainer;

pub use error::{Result, TrainError};
pub use objective::Objective;
pub use trainer::{train, Observer, ProxyInit, RunOptions, TrainConfig, TrainSummary};
