//! Fine-tuning a sentence encoder on (query, positive, negative) triplets or on texts with
//! class labels.
//!
//! * [`loss`]: triplet (Euclidean, squared, cosine), in-batch mining (batch-all, batch-hard,
//!   semi-hard), contrastive, quadruplet, Proxy-NCA, Proxy-Anchor and InfoNCE, each with its
//!   formula and tests against hand-computed values and finite differences;
//! * [`objective`]: how a batch of triplets feeds the chosen loss;
//! * [`labels`]: class labels from a `label` column or from grouping retrieval rows;
//! * [`model`]: the encoder's weights as trainable variables, saved in the sentence-transformers
//!   layout; `forward`: the BERT-shaped families' training pass over them (dropout, each op of
//!   `autograd` one node with a hand-written backward pass); `net`: ModernBERT's and Qwen3's, on
//!   candle-nn's differentiable ops where candle-transformers' fused kernels have no backward;
//! * [`optim`]: AdamW, the warm-up/decay schedule, gradient clipping;
//! * [`data`]: what a run trains on: triplets with the split's judgements, or labelled texts;
//! * [`batches`]: batches without duplicates, and P classes × K texts;
//! * [`trainer`]: the loop (whole or gradient-cached batches), dev evaluation ([`dev`]),
//!   checkpoints ([`checkpoint`]) and curves ([`curves`]);
//! * [`mine`]: hard negatives from a trine index, with false-negative guards.

mod autograd;
pub mod batches;
pub mod checkpoint;
pub mod curves;
pub mod data;
pub mod dev;
mod error;
pub mod finetune;
mod forward;
mod gradients;
pub mod labels;
pub mod loss;
pub mod mine;
pub mod model;
mod net;
pub mod objective;
pub mod optim;
mod prepared;
#[cfg(test)]
mod test_support;
pub mod trainer;

pub use data::{LabelledText, TrainData};
pub use dev::{Dev, DevSet, HoldOut, LabelledDev};
pub use error::{Result, TrainError};
pub use objective::{LossKind, LossParams, Objective};
pub use trainer::{
    train, Observer, ProxyInit, RunOptions, TrainConfig, TrainOverrides, TrainSummary,
};

/// Peak resident memory of this process in MiB (Linux `VmHWM`), for reports; `None` where
/// /proc is unavailable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
