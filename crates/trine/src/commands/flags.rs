//! Mining and training flags applied over a base (a step's defaults or the recipe), and the
//! progress display the training commands share.

use indicatif::ProgressBar;
use trine_encoder::Precision;
use trine_index::{Fusion, Mode};
use trine_train::curves::{EvalRecord, StepRecord};
use trine_train::loss::Distance;
use trine_train::mine::{MineOptions, PositiveChoice, Sampling};
use trine_train::{LossKind, LossParams, Objective, Observer, ProxyInit, TrainConfig};

use crate::cli::{
    DistanceArg, FusionArg, LossArg, MineRetriever, MiningFlags, PositiveArg, ProxyInitArg,
    SamplingArg, TrainDtypeArg, TrainingFlags,
};
use crate::progress;

/// `base` with every mining flag that is set.
pub fn mine_options(flags: &MiningFlags, base: MineOptions, seed: u64) -> MineOptions {
    let fusion = match flags.fusion {
        None => base.fusion,
        Some(FusionArg::Rrf) => Fusion::Rrf { k: flags.rrf_k },
        Some(FusionArg::Convex) => Fusion::Convex { alpha: flags.alpha },
        Some(FusionArg::Zscore) => Fusion::Zscore { alpha: flags.alpha },
    };
    MineOptions {
        retriever: flags.retriever.map_or(base.retriever, |r| match r {
            MineRetriever::Bm25 => Mode::Lexical,
            MineRetriever::Dense => Mode::Dense,
            MineRetriever::Hybrid => Mode::Hybrid,
        }),
        fusion,
        negatives: flags.negatives.unwrap_or(base.negatives),
        skip_top: flags.skip_top.unwrap_or(base.skip_top),
        depth: flags.depth.unwrap_or(base.depth),
        sampling: flags.sampling.map_or(base.sampling, |s| match s {
            SamplingArg::Top => Sampling::Top,
            SamplingArg::Random => Sampling::Random,
        }),
        max_score_ratio: flags
            .max_score_ratio
            .map_or(base.max_score_ratio, |r| (r != 0.0).then_some(r)),
        min_grade: flags.min_grade.unwrap_or(base.min_grade),
        max_pairs_per_query: flags
            .max_pairs_per_query
            .map_or(base.max_pairs_per_query, |n| (n > 0).then_some(n)),
        positives: flags.positives.map_or(base.positives, |p| match p {
            PositiveArg::Random => PositiveChoice::Random,
            PositiveArg::Best => PositiveChoice::Best,
        }),
        seed,
    }
}

fn loss_kind(l: LossArg) -> LossKind {
    match l {
        LossArg::Triplet => LossKind::Triplet,
        LossArg::BatchAll => LossKind::BatchAll,
        LossArg::BatchHard => LossKind::BatchHard,
        LossArg::SemiHard => LossKind::SemiHard,
        LossArg::Contrastive => LossKind::Contrastive,
        LossArg::Quadruplet => LossKind::Quadruplet,
        LossArg::ProxyNca => LossKind::ProxyNca,
        LossArg::ProxyAnchor => LossKind::ProxyAnchor,
        LossArg::Infonce => LossKind::InfoNce,
    }
}

/// The loss the flags ask for: `--loss` (or the base's family) with every loss flag that is
/// set, the base's settings for the rest when the family is unchanged.
fn objective(flags: &TrainingFlags, base: &Objective) -> Objective {
    let kind = flags.loss.map_or(base.kind(), loss_kind);
    let inherited = if kind == base.kind() {
        base.params()
    } else {
        LossParams::default()
    };
    let params = LossParams {
        distance: flags
            .distance
            .map(|d| match d {
                DistanceArg::Euclidean => Distance::Euclidean,
                DistanceArg::SquaredEuclidean => Distance::SquaredEuclidean,
                DistanceArg::Cosine => Distance::Cosine,
            })
            .or(inherited.distance),
        // A new distance changes the default margin, unless one is given.
        margin: flags.margin.or(if flags.distance.is_some() {
            None
        } else {
            inherited.margin
        }),
        second_margin: flags.second_margin.or(inherited.second_margin),
        scale: flags.scale.or(inherited.scale),
        proxy_alpha: flags.proxy_alpha.or(inherited.proxy_alpha),
        proxy_delta: flags.proxy_delta.or(inherited.proxy_delta),
    };
    Objective::build(kind, &params)
}

/// `base` with every training flag that is set.
pub fn train_config(flags: &TrainingFlags, base: TrainConfig) -> TrainConfig {
    let lr = flags.lr.unwrap_or(base.lr);
    TrainConfig {
        objective: objective(flags, &base.objective),
        batch_size: flags.batch_size.unwrap_or(base.batch_size),
        accumulation: flags.accumulation.unwrap_or(base.accumulation),
        epochs: flags.epochs.unwrap_or(base.epochs),
        lr,
        proxy_lr: flags.proxy_lr.unwrap_or(lr * 100.0),
        proxy_init: flags.proxy_init.map_or(base.proxy_init, |p| match p {
            ProxyInitArg::Mean => ProxyInit::Mean,
            ProxyInitArg::Random => ProxyInit::Random,
        }),
        warmup_ratio: flags.warmup_ratio.unwrap_or(base.warmup_ratio),
        max_grad_norm: flags.max_grad_norm.unwrap_or(base.max_grad_norm),
        adamw: trine_train::optim::AdamWConfig {
            weight_decay: flags.weight_decay.unwrap_or(base.adamw.weight_decay),
            ..base.adamw
        },
        seed: flags.seed.unwrap_or(base.seed),
        eval_every: flags.eval_every.unwrap_or(base.eval_every),
        checkpoint_every: flags.checkpoint_every.unwrap_or(base.checkpoint_every),
        keep_checkpoints: flags.keep_checkpoints.unwrap_or(base.keep_checkpoints),
        // --epochs replaces a recipe's step budget; --max-steps replaces both.
        max_steps: flags
            .max_steps
            .or(base.max_steps.filter(|_| flags.epochs.is_none())),
        mini_batch: flags.mini_batch_size.or(base.mini_batch),
        per_class: flags.per_class.unwrap_or(base.per_class),
        bf16: flags
            .train_dtype
            .map_or(base.bf16, |d| d == TrainDtypeArg::Bf16),
    }
}

/// The dev-evaluation precision: the flag, else `default`.
pub fn eval_precision(flags: &TrainingFlags, default: Precision) -> Precision {
    flags.eval_dtype.map_or(default, Precision::from)
}

/// Training progress: a bar for steps (and for embedding and mining), lines above it.
pub struct Bar {
    pub pb: ProgressBar,
    total: usize,
    stage: String,
}

impl Bar {
    pub fn new() -> Self {
        Bar {
            pb: progress::bar(1, "training", "steps"),
            total: 0,
            stage: String::new(),
        }
    }

    /// A line above the bar, or on stderr when the bar is hidden (not a terminal).
    fn say(&self, line: String) {
        if self.pb.is_hidden() {
            eprintln!("{line}");
        } else {
            self.pb.println(line);
        }
    }
}

impl Observer for Bar {
    fn start(&mut self, step: usize, total: usize) {
        self.total = total;
        self.stage.clear();
        self.pb.set_length(total as u64);
        self.pb.set_position(step as u64);
        self.pb.set_message("training");
    }
    fn step(&mut self, r: &StepRecord) {
        self.pb.set_position(r.step as u64);
        self.pb.set_message(format!(
            "training: loss {:.4}, lr {:.2e}, {:.1} ex/s",
            r.loss, r.lr, r.examples_per_sec
        ));
    }
    fn eval(&mut self, r: &EvalRecord, best: bool) {
        let others: Vec<String> = r
            .metrics
            .iter()
            .filter(|(k, _)| **k != r.metric)
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        self.say(format!(
            "step {}/{}: dev {} {:.4} ({}){}",
            r.step,
            self.total,
            r.metric,
            r.score,
            others.join(", "),
            if best { " (best so far)" } else { "" }
        ));
    }
    fn note(&mut self, message: &str) {
        self.say(message.to_string());
    }
    fn progress(&mut self, stage: &str, done: usize, total: usize) {
        if self.stage != stage {
            self.stage = stage.to_string();
            self.pb.set_length(total as u64);
            self.pb.set_message(stage.to_string());
        }
        self.pb.set_position(done as u64);
    }
}
