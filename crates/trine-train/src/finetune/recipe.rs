//! The recommended recipes `trine finetune` starts from; every setting can be overridden.
//! How they were chosen (on dev splits only) is in `eval/results/FINETUNE.md`.

use trine_index::{Fusion, Mode};

use crate::mine::{MineOptions, PositiveChoice, Sampling};
use crate::objective::{LossKind, LossParams, Objective};
use crate::trainer::TrainConfig;

/// Dev evaluations of a retrieval run when `eval_every` is left at 0 (besides step 0). Each
/// embeds the dev corpus (NFCorpus: ~80 s); on NFCorpus and SciFact the best step was the last
/// at every spacing tried, so three keep the choice and save the time.
pub const RETRIEVAL_EVALS: usize = 3;

/// Dev evaluations of a labelled run (cheap: k-means over the held-out texts); on 20 Newsgroups
/// the best step fell before the end in two seeds of three.
pub const LABELLED_EVALS: usize = 6;

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

/// Steps of the retrieval recipe: about 42 minutes of training on 2 cores in bf16 (NFCorpus).
pub const RETRIEVAL_STEPS: usize = 120;

/// Steps of the labelled recipe: about 17 minutes on 2 cores at batch 32 (on 20 Newsgroups'
/// dev split Proxy-NCA scored V 0.734 after 100 steps and 0.771 after 240, still rising).
pub const LABELLED_STEPS: usize = 240;

/// Most passes a recipe's step budget makes over a small training set (SciFact's ~800 pairs
/// reached their best dev score within two epochs), so it stops instead of cycling the data.
pub const MAX_EPOCHS: usize = 3;

/// Training on mined retrieval triplets: InfoNCE over large cached batches, a fixed budget of
/// steps (the data is cycled when it is smaller), mixed precision (bf16 products: 20.8 against
/// 30.6 s a step of 64 NFCorpus triplets on 2 cores), which fits the run in an hour.
pub fn retrieval() -> TrainConfig {
    TrainConfig {
        objective: Objective::build(LossKind::InfoNce, &LossParams::default()),
        batch_size: 64,
        mini_batch: Some(16),
        lr: 5e-5,
        max_steps: Some(RETRIEVAL_STEPS),
        bf16: true,
        ..TrainConfig::default()
    }
}

/// Training on labelled texts: Proxy-NCA (one learnable proxy per class, learning 100× faster
/// than the encoder) over P × K batches, a fixed budget of steps. On 20 Newsgroups' dev split
/// it led the six loss families at 100 steps (`eval/results/FINETUNE.md`).
pub fn labelled() -> TrainConfig {
    TrainConfig {
        objective: Objective::build(LossKind::ProxyNca, &LossParams::default()),
        batch_size: 32,
        per_class: 4,
        lr: 5e-5,
        max_steps: Some(LABELLED_STEPS),
        ..TrainConfig::default()
    }
}

/// `config` with its `max_steps` budget cut to `max_epochs` passes over `rows` rows.
pub fn cap_epochs(mut config: TrainConfig, max_epochs: Option<usize>, rows: usize) -> TrainConfig {
    if let (Some(epochs), Some(steps)) = (max_epochs, config.max_steps) {
        let per_epoch = rows
            .div_ceil(config.batch_size)
            .div_ceil(config.accumulation);
        config.max_steps = Some(steps.min(per_epoch * epochs).max(1));
    }
    config
}

/// `config` with `eval_every` set for about `evals` evaluations over `rows` rows, unless it is
/// set already.
pub fn with_eval_schedule(mut config: TrainConfig, rows: usize, evals: usize) -> TrainConfig {
    if config.eval_every == 0 {
        config.eval_every = config.planned_steps(rows).div_ceil(evals.max(1)).max(1);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_set_stops_after_max_epochs_and_a_large_one_keeps_the_budget() {
        // SciFact-sized: ceil(900 / 64) = 15 steps an epoch, 3 epochs = 45 < 120.
        assert_eq!(cap_epochs(retrieval(), Some(3), 900).max_steps, Some(45));
        // NFCorpus-sized: 206 steps an epoch, the 120-step budget stands.
        assert_eq!(
            cap_epochs(retrieval(), Some(3), 13_141).max_steps,
            Some(120)
        );
        assert_eq!(cap_epochs(retrieval(), None, 900).max_steps, Some(120));
        // Without a step budget, epochs rule and nothing is cut.
        let by_epochs = TrainConfig {
            max_steps: None,
            ..retrieval()
        };
        assert_eq!(cap_epochs(by_epochs, Some(3), 900).max_steps, None);
    }
}
