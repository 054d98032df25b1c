//! The recommended recipes `trine finetune` starts from; every setting can be overridden.
//! How they were chosen (on dev splits only) is in `eval/results/FINETUNE.md`.

use trine_index::{Fusion, Mode};

use crate::mine::{MineOptions, PositiveChoice, Sampling};
use crate::objective::{LossKind, LossParams, Objective};
use crate::trainer::TrainConfig;

/// Dev evaluations per run when `eval_every` is left at 0.
pub const EVALS_PER_RUN: usize = 6;

/// Mining for retrieval data.
pub fn mining() -> MineOptions {
    MineOptions {
        retriever: Mode::Hybrid,
        fusion: Fusion::Rrf { k: 60.0 },
        negatives: 1,
        skip_top: 10,
        depth: 100,
        sampling: Sampling::Random,
        max_score_ratio: Some(0.95),
        min_grade: 1,
        max_pairs_per_query: Some(8),
        positives: PositiveChoice::Random,
        seed: 42,
    }
}

/// Steps of the retrieval recipe: about 45 minutes of training on 2 cores.
pub const RETRIEVAL_STEPS: usize = 120;

/// Training on mined retrieval triplets: InfoNCE over large cached batches, a fixed budget of
/// steps (the data is cycled when it is smaller).
pub fn retrieval() -> TrainConfig {
    TrainConfig {
        objective: Objective::build(LossKind::InfoNce, &LossParams::default()),
        batch_size: 64,
        mini_batch: Some(16),
        lr: 5e-5,
        max_steps: Some(RETRIEVAL_STEPS),
        ..TrainConfig::default()
    }
}

/// Training on labelled texts: batch-hard triplets over P × K batches.
pub fn labelled() -> TrainConfig {
    TrainConfig {
        objective: Objective::build(LossKind::BatchHard, &LossParams::default()),
        batch_size: 32,
        per_class: 4,
        lr: 2e-5,
        epochs: 1,
        ..TrainConfig::default()
    }
}

/// `config` with `eval_every` set for about [`EVALS_PER_RUN`] evaluations over `rows` rows,
/// unless it is set already.
pub fn with_eval_schedule(mut config: TrainConfig, rows: usize) -> TrainConfig {
    if config.eval_every == 0 {
        config.eval_every = config.planned_steps(rows).div_ceil(EVALS_PER_RUN).max(1);
    }
    config
}
