//! The loss a run optimises, and how a batch of triplets feeds it.

use candle_core::{Result, Tensor};

use crate::loss::{
    ContrastiveLoss, Distance, InfoNceLoss, MinedTripletLoss, Miner, MiningStats, ProxyAnchorLoss,
    ProxyNcaLoss, QuadrupletLoss, SupConLoss, TripletLoss,
};

/// The loss families, without their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    Triplet,
    BatchAll,
    BatchHard,
    SemiHard,
    Contrastive,
    Quadruplet,
    ProxyNca,
    ProxyAnchor,
    InfoNce,
}

/// Loss settings a user may set; unset ones take each loss's documented default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossParams {
    /// Distance of the margin losses (default cosine).
    pub distance: Option<Distance>,
    /// Margin (default 0.1 for cosine, 0.5 for the Euclidean distances; contrastive 0.5).
    pub margin: Option<f64>,
    /// Quadruplet's second margin (default half the margin).
    pub second_margin: Option<f64>,
    /// Logit scale (InfoNCE 20, Proxy-NCA 9).
    pub scale: Option<f64>,
    /// Proxy-Anchor's α (32) and δ (0.1).
    pub proxy_alpha: Option<f64>,
    pub proxy_delta: Option<f64>,
}

/// A loss with its settings (stored in checkpoints, so a resumed run can check it).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "loss", rename_all = "kebab-case")]
pub enum Objective {
    /// Triplet margin loss on each row's own (query, positive, negative).
    Triplet(TripletLoss),
    /// Triplet loss on triplets mined in the batch from labels (batch-all / hard / semi-hard).
    Mined(MinedTripletLoss),
    /// Contrastive loss on (query, positive, 1) and (query, negative, 0) pairs.
    Contrastive(ContrastiveLoss),
    /// Quadruplet loss; the second negative is another row's negative.
    Quadruplet(QuadrupletLoss),
    /// Proxy-NCA over all embeddings of the batch against learnable class proxies.
    ProxyNca(ProxyNcaLoss),
    /// Proxy-Anchor over all embeddings of the batch against learnable class proxies.
    ProxyAnchor(ProxyAnchorLoss),
    /// InfoNCE over in-batch candidates (every positive and hard negative); on labelled texts,
    /// the supervised contrastive loss (InfoNCE over labels) with the same scale.
    InfoNce(InfoNceLoss),
}

/// One batch's embeddings (`[b, d]` each) and labels.
pub struct BatchEmbeddings<'a> {
    pub query: &'a Tensor,
    pub positive: &'a Tensor,
    /// `None` for (query, positive) pairs.
    pub negative: Option<&'a Tensor>,
    /// Label of each row's query and positive.
    pub anchor_labels: &'a [u32],
    /// Label of each row's negative (unused for pairs).
    pub negative_labels: &'a [u32],
    /// `[b, m]` row-major, 1 where candidate `j` (positives, then negatives) must not count as
    /// a negative of query `i` (judged for it); `None`: candidates sharing the query's label.
    pub exclude: Option<&'a [f32]>,
}

impl Objective {
    /// The loss of `kind` with `params`, unset ones at their defaults.
    pub fn build(kind: LossKind, params: &LossParams) -> Objective {
        let distance = params.distance.unwrap_or(Distance::Cosine);
        let margin = params.margin.unwrap_or(match distance {
            Distance::Cosine => 0.1,
            Distance::Euclidean | Distance::SquaredEuclidean => 0.5,
        });
        let mined = |miner| {
            Objective::Mined(MinedTripletLoss {
                miner,
                distance,
                margin,
            })
        };
        match kind {
            LossKind::Triplet => Objective::Triplet(TripletLoss { distance, margin }),
            LossKind::BatchAll => mined(Miner::All),
            LossKind::BatchHard => mined(Miner::Hard),
            LossKind::SemiHard => mined(Miner::SemiHard),
            LossKind::Contrastive => Objective::Contrastive(ContrastiveLoss {
                distance,
                margin: params.margin.unwrap_or(0.5),
            }),
            LossKind::Quadruplet => Objective::Quadruplet(QuadrupletLoss {
                distance,
                margin,
                second_margin: params.second_margin.unwrap_or(margin / 2.0),
            }),
            LossKind::ProxyNca => Objective::ProxyNca(ProxyNcaLoss {
                scale: params.scale.unwrap_or(9.0),
            }),
            LossKind::ProxyAnchor => Objective::ProxyAnchor(ProxyAnchorLoss {
                alpha: params.proxy_alpha.unwrap_or(32.0),
                delta: params.proxy_delta.unwrap_or(0.1),
            }),
            LossKind::InfoNce => Objective::InfoNce(InfoNceLoss {
                scale: params.scale.unwrap_or(20.0),
            }),
        }
    }

    /// The family of this loss.
    pub fn kind(&self) -> LossKind {
        match self {
            Objective::Triplet(_) => LossKind::Triplet,
            Objective::Mined(l) => match l.miner {
                Miner::All => LossKind::BatchAll,
                Miner::Hard => LossKind::BatchHard,
                Miner::SemiHard => LossKind::SemiHard,
            },
            Objective::Contrastive(_) => LossKind::Contrastive,
            Objective::Quadruplet(_) => LossKind::Quadruplet,
            Objective::ProxyNca(_) => LossKind::ProxyNca,
            Objective::ProxyAnchor(_) => LossKind::ProxyAnchor,
            Objective::InfoNce(_) => LossKind::InfoNce,
        }
    }

    /// The settings this loss was built with (as [`Objective::build`] takes them).
    pub fn params(&self) -> LossParams {
        let margins = |distance, margin| LossParams {
            distance: Some(distance),
            margin: Some(margin),
            ..Default::default()
        };
        match *self {
            Objective::Triplet(l) => margins(l.distance, l.margin),
            Objective::Mined(l) => margins(l.distance, l.margin),
            Objective::Contrastive(l) => margins(l.distance, l.margin),
            Objective::Quadruplet(l) => LossParams {
                second_margin: Some(l.second_margin),
                ..margins(l.distance, l.margin)
            },
            Objective::ProxyNca(l) => LossParams {
                scale: Some(l.scale),
                ..Default::default()
            },
            Objective::ProxyAnchor(l) => LossParams {
                proxy_alpha: Some(l.alpha),
                proxy_delta: Some(l.delta),
                ..Default::default()
            },
            Objective::InfoNce(l) => LossParams {
                scale: Some(l.scale),
                ..Default::default()
            },
        }
    }

    /// A short name for logs and reports.
    pub fn name(&self) -> String {
        match self {
            Objective::Triplet(l) => format!("triplet-{}", l.distance),
            Objective::Mined(l) => format!(
                "{}-{}",
                match l.miner {
                    Miner::All => "batch-all",
                    Miner::Hard => "batch-hard",
                    Miner::SemiHard => "semi-hard",
                },
                l.distance
            ),
            Objective::Contrastive(l) => format!("contrastive-{}", l.distance),
            Objective::Quadruplet(l) => format!("quadruplet-{}", l.distance),
            Objective::ProxyNca(_) => "proxy-nca".into(),
            Objective::ProxyAnchor(_) => "proxy-anchor".into(),
            Objective::InfoNce(_) => "infonce".into(),
        }
    }

    /// Whether the loss has learnable class proxies.
    pub fn uses_proxies(&self) -> bool {
        matches!(self, Objective::ProxyNca(_) | Objective::ProxyAnchor(_))
    }

    /// Whether the loss needs each row's own negative (pairs cannot feed it).
    pub fn needs_negatives(&self) -> bool {
        !self.works_on_labels()
    }

    /// Whether the loss works on texts with class labels (no triplets): the in-batch mining,
    /// proxy and InfoNCE losses do; triplet, contrastive and quadruplet need given triplets.
    pub fn works_on_labels(&self) -> bool {
        !matches!(
            self,
            Objective::Triplet(_) | Objective::Contrastive(_) | Objective::Quadruplet(_)
        )
    }

    /// The loss of labelled texts' embeddings `x` (`[n, d]`, one label per row).
    pub fn forward_labelled(
        &self,
        x: &Tensor,
        labels: &[u32],
        proxies: Option<&Tensor>,
    ) -> Result<Tensor> {
        let need_proxies =
            || proxies.ok_or_else(|| candle_core::Error::Msg("proxy loss without proxies".into()));
        match self {
            Objective::Mined(l) => Ok(l.forward(x, labels)?.0),
            Objective::ProxyNca(l) => l.forward(x, need_proxies()?, labels),
            Objective::ProxyAnchor(l) => l.forward(x, need_proxies()?, labels),
            Objective::InfoNce(l) => SupConLoss { scale: l.scale }.forward(x, labels),
            Objective::Triplet(_) | Objective::Contrastive(_) | Objective::Quadruplet(_) => Err(
                candle_core::Error::Msg(format!("{} needs triplets, not labels", self.name())),
            ),
        }
    }

    /// The batch loss; `proxies` (`[classes, d]`) must be given for the proxy losses.
    pub fn forward(
        &self,
        batch: &BatchEmbeddings,
        proxies: Option<&Tensor>,
    ) -> Result<(Tensor, Option<MiningStats>)> {
        let (q, p) = (batch.query, batch.positive);
        let need_negatives = || {
            batch.negative.ok_or_else(|| {
                candle_core::Error::Msg(format!(
                    "{} needs each row's negative; these are (query, positive) pairs",
                    self.name()
                ))
            })
        };
        let all = || match batch.negative {
            Some(n) => Tensor::cat(&[q, p, n], 0),
            None => Tensor::cat(&[q, p], 0),
        };
        let all_labels = || -> Vec<u32> {
            let mut v = [batch.anchor_labels, batch.anchor_labels].concat();
            if batch.negative.is_some() {
                v.extend_from_slice(batch.negative_labels);
            }
            v
        };
        let need_proxies =
            || proxies.ok_or_else(|| candle_core::Error::Msg("proxy loss without proxies".into()));
        Ok(match self {
            Objective::Triplet(l) => (l.forward(q, p, need_negatives()?)?, None),
            Objective::Mined(l) => {
                let (loss, stats) = l.forward(&all()?, &all_labels())?;
                (loss, Some(stats))
            }
            Objective::Contrastive(l) => {
                let n = need_negatives()?;
                let b = q.dim(0)?;
                let mut y = vec![1f32; b];
                y.extend(std::iter::repeat_n(0f32, b));
                let y = Tensor::from_vec(y, 2 * b, q.device())?.to_dtype(q.dtype())?;
                (
                    l.forward(&Tensor::cat(&[q, q], 0)?, &Tensor::cat(&[p, n], 0)?, &y)?,
                    None,
                )
            }
            Objective::Quadruplet(l) => {
                let n = need_negatives()?;
                let second = second_negatives(batch.anchor_labels, batch.negative_labels);
                let idx = Tensor::from_vec(second, q.dim(0)?, q.device())?;
                (l.forward(q, p, n, &n.index_select(&idx, 0)?)?, None)
            }
            Objective::ProxyNca(l) => (l.forward(&all()?, need_proxies()?, &all_labels())?, None),
            Objective::ProxyAnchor(l) => {
                (l.forward(&all()?, need_proxies()?, &all_labels())?, None)
            }
            Objective::InfoNce(l) => {
                let b = q.dim(0)?;
                let (candidates, negative_labels) = match batch.negative {
                    Some(n) => (Tensor::cat(&[p, n], 0)?, batch.negative_labels),
                    None => (p.clone(), &[][..]),
                };
                let m = candidates.dim(0)?;
                let mask = match batch.exclude {
                    Some(mask) => mask.to_vec(),
                    None => label_mask(batch.anchor_labels, negative_labels),
                };
                let mask = Tensor::from_vec(mask, (b, m), q.device())?.to_dtype(q.dtype())?;
                let targets: Vec<u32> = (0..b as u32).collect();
                (l.forward(q, &candidates, &targets, Some(&mask))?, None)
            }
        })
    }
}

/// `[b, b + negatives]`: 1 where candidate `j` (positives, then negatives) has query `i`'s label
/// and is not its target.
fn label_mask(anchor: &[u32], negative: &[u32]) -> Vec<f32> {
    let b = anchor.len();
    let m = b + negative.len();
    let mut mask = vec![0f32; b * m];
    for i in 0..b {
        for (j, &l) in anchor.iter().chain(negative).enumerate() {
            if j != i && l == anchor[i] {
                mask[i * m + j] = 1.0;
            }
        }
    }
    mask
}

/// For each row, the index of another row whose negative belongs to neither this row's class nor
/// this row's negative's class (the next such row, cyclically; the next row if none qualifies).
fn second_negatives(anchor: &[u32], negative: &[u32]) -> Vec<u32> {
    let b = anchor.len();
    (0..b)
        .map(|i| {
            (1..b)
                .map(|k| (i + k) % b)
                .find(|&j| negative[j] != anchor[i] && negative[j] != negative[i])
                .unwrap_or((i + 1) % b) as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_negative_skips_same_class() {
        // Row 0's class is 0; row 1's negative is class 0 too, so row 0 takes row 2's.
        assert_eq!(second_negatives(&[0, 1, 2], &[5, 0, 6]), vec![2, 2, 0]);
    }
}
