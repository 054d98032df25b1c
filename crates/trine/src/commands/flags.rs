//! Mining and training flags applied over a base (a step's defaults or the recipe), and the
//! progress display the training commands share.

use indicatif::ProgressBar;
use trine_encoder::Precision;
use trine_index::{Fusion, Mode};
use trine_train::curves::{EvalRecord, StepRecord};
use trine_train::loss::Distance;
use trine_train::mine::{MineOptions, PositiveChoice, Sampling};
use trine_train::{LossKind, LossParams, Observer, ProxyInit, TrainConfig, TrainOverrides};

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

/// The training flags as changes over a base config.
pub fn train_overrides(flags: &TrainingFlags) -> TrainOverrides {
    TrainOverrides {
        loss: flags.loss.map(loss_kind),
        loss_params: LossParams {
            distance: flags.distance.map(|d| match d {
                DistanceArg::Euclidean => Distance::Euclidean,
                DistanceArg::SquaredEuclidean => Distance::SquaredEuclidean,
                DistanceArg::Cosine => Distance::Cosine,
            }),
            margin: flags.margin,
            second_margin: flags.second_margin,
            scale: flags.scale,
            proxy_alpha: flags.proxy_alpha,
            proxy_delta: flags.proxy_delta,
        },
        batch_size: flags.batch_size,
        accumulation: flags.accumulation,
        epochs: flags.epochs,
        lr: flags.lr,
        proxy_lr: flags.proxy_lr,
        proxy_init: flags.proxy_init.map(|p| match p {
            ProxyInitArg::Mean => ProxyInit::Mean,
            ProxyInitArg::Random => ProxyInit::Random,
        }),
        warmup_ratio: flags.warmup_ratio,
        max_grad_norm: flags.max_grad_norm,
        weight_decay: flags.weight_decay,
        seed: flags.seed,
        eval_every: flags.eval_every,
        checkpoint_every: flags.checkpoint_every,
        keep_checkpoints: flags.keep_checkpoints,
        max_steps: flags.max_steps,
        mini_batch: flags.mini_batch_size,
        per_class: flags.per_class,
        bf16: flags.train_dtype.map(|d| d == TrainDtypeArg::Bf16),
    }
}

/// `base` with every training flag that is set.
pub fn train_config(flags: &TrainingFlags, base: TrainConfig) -> TrainConfig {
    train_overrides(flags).apply(base)
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
