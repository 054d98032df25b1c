//! A user's changes over a base run config (a command's defaults or a recipe), in one place
//! for the CLI's flags and the Python package's keyword arguments alike.

use crate::loss::Distance;
use crate::objective::{LossKind, LossParams, Objective};
use crate::trainer::{ProxyInit, TrainConfig};

/// Settings a user sets over a base [`TrainConfig`]; `None` keeps the base's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainOverrides {
    /// Another loss family; its settings start from their defaults unless it is the base's.
    pub loss: Option<LossKind>,
    /// Loss settings, over the base's when the family is unchanged.
    pub loss_params: LossParams,
    pub batch_size: Option<usize>,
    pub accumulation: Option<usize>,
    /// Epochs; replaces a base's step budget.
    pub epochs: Option<usize>,
    /// Peak learning rate; the proxies' follows at 100× unless `proxy_lr` is set.
    pub lr: Option<f64>,
    pub proxy_lr: Option<f64>,
    pub proxy_init: Option<ProxyInit>,
    pub warmup_ratio: Option<f64>,
    pub max_grad_norm: Option<f64>,
    pub weight_decay: Option<f64>,
    pub seed: Option<u64>,
    pub eval_every: Option<usize>,
    pub checkpoint_every: Option<usize>,
    pub keep_checkpoints: Option<usize>,
    /// The run's length in steps; replaces both the base's budget and `epochs`.
    pub max_steps: Option<usize>,
    pub mini_batch: Option<usize>,
    pub per_class: Option<usize>,
    /// Mixed-precision matrix products.
    pub bf16: Option<bool>,
}

impl TrainOverrides {
    /// `base` with every set field replaced.
    pub fn apply(&self, base: TrainConfig) -> TrainConfig {
        let lr = self.lr.unwrap_or(base.lr);
        TrainConfig {
            objective: self.objective(&base.objective),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            accumulation: self.accumulation.unwrap_or(base.accumulation),
            epochs: self.epochs.unwrap_or(base.epochs),
            lr,
            proxy_lr: self.proxy_lr.unwrap_or(lr * 100.0),
            proxy_init: self.proxy_init.unwrap_or(base.proxy_init),
            warmup_ratio: self.warmup_ratio.unwrap_or(base.warmup_ratio),
            max_grad_norm: self.max_grad_norm.unwrap_or(base.max_grad_norm),
            adamw: crate::optim::AdamWConfig {
                weight_decay: self.weight_decay.unwrap_or(base.adamw.weight_decay),
                ..base.adamw
            },
            seed: self.seed.unwrap_or(base.seed),
            eval_every: self.eval_every.unwrap_or(base.eval_every),
            checkpoint_every: self.checkpoint_every.unwrap_or(base.checkpoint_every),
            keep_checkpoints: self.keep_checkpoints.unwrap_or(base.keep_checkpoints),
            max_steps: self
                .max_steps
                .or(base.max_steps.filter(|_| self.epochs.is_none())),
            mini_batch: self.mini_batch.or(base.mini_batch),
            per_class: self.per_class.unwrap_or(base.per_class),
            bf16: self.bf16.unwrap_or(base.bf16),
        }
    }

    /// The loss asked for: the family (or the base's) with every set loss setting, the base's
    /// settings for the rest when the family is unchanged.
    fn objective(&self, base: &Objective) -> Objective {
        let kind = self.loss.unwrap_or(base.kind());
        let inherited = if kind == base.kind() {
            base.params()
        } else {
            LossParams::default()
        };
        let p = &self.loss_params;
        let params = LossParams {
            distance: p.distance.or(inherited.distance),
            // A new distance changes the default margin, unless one is given.
            margin: p.margin.or(if p.distance.is_some() {
                None
            } else {
                inherited.margin
            }),
            second_margin: p.second_margin.or(inherited.second_margin),
            scale: p.scale.or(inherited.scale),
            proxy_alpha: p.proxy_alpha.or(inherited.proxy_alpha),
            proxy_delta: p.proxy_delta.or(inherited.proxy_delta),
        };
        Objective::build(kind, &params)
    }
}

impl LossKind {
    /// Every family with the name the CLI and the Python package give it.
    pub const NAMES: [(&'static str, LossKind); 9] = [
        ("triplet", LossKind::Triplet),
        ("batch-all", LossKind::BatchAll),
        ("batch-hard", LossKind::BatchHard),
        ("semi-hard", LossKind::SemiHard),
        ("contrastive", LossKind::Contrastive),
        ("quadruplet", LossKind::Quadruplet),
        ("proxy-nca", LossKind::ProxyNca),
        ("proxy-anchor", LossKind::ProxyAnchor),
        ("infonce", LossKind::InfoNce),
    ];

    /// The family of a name in [`LossKind::NAMES`].
    pub fn from_name(name: &str) -> Option<LossKind> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }
}

impl Distance {
    /// The distance of a name (`cosine`, `euclidean`, `squared-euclidean`).
    pub fn from_name(name: &str) -> Option<Distance> {
        match name {
            "cosine" => Some(Distance::Cosine),
            "euclidean" => Some(Distance::Euclidean),
            "squared-euclidean" => Some(Distance::SquaredEuclidean),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_replace_a_step_budget_and_max_steps_replace_both() {
        let base = TrainConfig {
            max_steps: Some(120),
            ..TrainConfig::default()
        };
        let epochs = TrainOverrides {
            epochs: Some(3),
            ..Default::default()
        };
        assert_eq!(epochs.apply(base.clone()).max_steps, None);
        let steps = TrainOverrides {
            epochs: Some(3),
            max_steps: Some(7),
            ..Default::default()
        };
        assert_eq!(steps.apply(base.clone()).max_steps, Some(7));
        assert_eq!(TrainOverrides::default().apply(base.clone()), base);
    }

    #[test]
    fn proxy_rate_follows_the_rate_and_a_new_family_drops_the_old_settings() {
        let base = TrainConfig::default();
        let o = TrainOverrides {
            lr: Some(1e-4),
            loss: Some(LossKind::BatchHard),
            ..Default::default()
        };
        let c = o.apply(base);
        assert!((c.proxy_lr - 1e-2).abs() < 1e-12);
        assert_eq!(c.objective.kind(), LossKind::BatchHard);
        // InfoNCE's scale of 20 does not carry over to batch-hard.
        assert_eq!(c.objective.params().scale, None);
    }

    #[test]
    fn names_round_trip() {
        for (name, kind) in LossKind::NAMES {
            assert_eq!(LossKind::from_name(name), Some(kind));
        }
        assert_eq!(LossKind::from_name("mnrl"), None);
    }
}
