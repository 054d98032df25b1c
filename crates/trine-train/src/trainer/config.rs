//! A run's settings: saved in every checkpoint, checked against the data before anything is
//! written.

use crate::data::TrainData;
use crate::objective::Objective;
use crate::optim::AdamWConfig;
use crate::{Result, TrainError};

/// How class proxies start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyInit {
    /// Standard normal values.
    Random,
    /// The mean embedding of each class's texts under the starting model.
    Mean,
}

/// Settings of a run (saved in every checkpoint; a resume must use the same ones).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub objective: Objective,
    /// Triplets per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub accumulation: usize,
    pub epochs: usize,
    /// Peak learning rate of the encoder.
    pub lr: f64,
    /// Peak learning rate of the class proxies (proxy losses only).
    pub proxy_lr: f64,
    pub proxy_init: ProxyInit,
    /// Fraction of the steps spent warming up.
    pub warmup_ratio: f64,
    /// Gradient-norm clipping threshold (0 turns it off).
    pub max_grad_norm: f64,
    pub adamw: AdamWConfig,
    pub seed: u64,
    /// Evaluate on the dev set every this many steps (0: only at the end).
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (0: never).
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// The run's length in optimizer steps, overriding `epochs` (the data is cycled as needed,
    /// and the warm-up/decay schedule spans these steps), as Hugging Face's `max_steps`.
    pub max_steps: Option<usize>,
    /// Texts per forward pass with cached embedding gradients (GradCache), so that a large
    /// batch fits in the memory of a small one; `None` embeds each batch in one pass.
    #[serde(default)]
    pub mini_batch: Option<usize>,
    /// Labelled data: texts of each class per batch (K of P × K; P = batch size / K).
    #[serde(default = "default_per_class")]
    pub per_class: usize,
    /// Mixed precision: the encoder's matrix products on bf16-rounded operands with f32
    /// accumulation (AMX with MKL); weights, gradients and optimizer state stay f32.
    #[serde(default)]
    pub bf16: bool,
}

fn default_per_class() -> usize {
    4
}

impl Default for TrainConfig {
    /// `trine train`'s defaults: InfoNCE (scale 20), batch 16, one epoch at lr 2e-5, 10%
    /// warm-up, clipping at 1, seed 42, a checkpoint every 20 steps.
    fn default() -> Self {
        TrainConfig {
            objective: Objective::build(crate::LossKind::InfoNce, &Default::default()),
            batch_size: 16,
            accumulation: 1,
            epochs: 1,
            lr: 2e-5,
            proxy_lr: 2e-3,
            proxy_init: ProxyInit::Mean,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            adamw: AdamWConfig::default(),
            seed: 42,
            eval_every: 0,
            checkpoint_every: 20,
            keep_checkpoints: 2,
            max_steps: None,
            mini_batch: None,
            per_class: default_per_class(),
            bf16: false,
        }
    }
}

impl TrainConfig {
    /// Refuses settings that cannot train on `data`, before anything is written.
    pub(crate) fn check(&self, data: &TrainData) -> Result<()> {
        let config = self;
        let bad = |m: &str| Err(TrainError::Settings(m.into()));
        if data.is_empty() {
            return bad("no training rows");
        }
        if config.mini_batch == Some(0) {
            return bad("the mini-batch size of cached gradients must be at least 1");
        }
        if let TrainData::Triplets { rows, .. } = data {
            if config.objective.needs_negatives() && rows.iter().any(|t| t.negative.is_none()) {
                return Err(TrainError::Settings(format!(
                    "{} needs each row's negative, and the rows are (query, positive) pairs; use \
                     infonce (in-batch negatives), a mined loss or a proxy loss, or mine negatives",
                    config.objective.name()
                )));
            }
        }
        if data.is_labelled() {
            if !config.objective.works_on_labels() {
                return Err(TrainError::Settings(format!(
                    "{} needs (query, positive, negative) triplets; on labelled texts use batch-all, \
                     batch-hard, semi-hard, proxy-nca, proxy-anchor or infonce",
                    config.objective.name()
                )));
            }
            if config.per_class < 2 {
                return bad("labelled batches need at least 2 texts per class (K ≥ 2)");
            }
            if config.batch_size < 2 * config.per_class {
                return Err(TrainError::Settings(format!(
                    "a batch of {} with {} texts per class holds fewer than 2 classes; raise the \
                     batch size to at least {}",
                    config.batch_size,
                    config.per_class,
                    2 * config.per_class
                )));
            }
        }
        if config.batch_size == 0 || config.accumulation == 0 || config.epochs == 0 {
            return bad("batch size, accumulation and epochs must be at least 1");
        }
        if config.lr.is_nan() || config.lr <= 0.0 || !config.lr.is_finite() {
            return bad("the learning rate must be positive");
        }
        if matches!(config.objective, Objective::Quadruplet(_)) && config.batch_size < 2 {
            return bad(
                "quadruplet loss takes its second negative from another row: batch size ≥ 2",
            );
        }
        Ok(())
    }

    /// Optimizer steps a run over `rows` training rows takes.
    pub fn planned_steps(&self, rows: usize) -> usize {
        self.max_steps.unwrap_or_else(|| {
            rows.div_ceil(self.batch_size).div_ceil(self.accumulation) * self.epochs
        })
    }
}
