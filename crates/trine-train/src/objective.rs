//! The loss a run optimises, and how a batch of triplets feeds it.

use candle_core::{Result, Tensor};

use crate::loss::{
    ContrastiveLoss, InfoNceLoss, MinedTripletLoss, MiningStats, ProxyAnchorLoss, ProxyNcaLoss,
    QuadrupletLoss, TripletLoss,
};

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
    /// InfoNCE over in-batch candidates (every positive and hard negative).
    InfoNce(InfoNceLoss),
}

/// One batch's embeddings (`[b, d]` each) and labels.
pub struct BatchEmbeddings<'a> {
    pub query: &'a Tensor,
    pub positive: &'a Tensor,
    pub negative: &'a Tensor,
    /// Label of each row's query and positive.
    pub anchor_labels: &'a [u32],
    /// Label of each row's negative.
    pub negative_labels: &'a [u32],
}

impl Objective {
    /// A short name for logs and reports.
    pub fn name(&self) -> String {
        match self {
            Objective::Triplet(l) => format!("triplet-{}", l.distance),
            Objective::Mined(l) => format!(
                "{}-{}",
                match l.miner {
                    crate::loss::Miner::All => "batch-all",
                    crate::loss::Miner::Hard => "batch-hard",
                    crate::loss::Miner::SemiHard => "semi-hard",
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

    /// The batch loss; `proxies` (`[classes, d]`) must be given for the proxy losses.
    pub fn forward(
        &self,
        batch: &BatchEmbeddings,
        proxies: Option<&Tensor>,
    ) -> Result<(Tensor, Option<MiningStats>)> {
        let (q, p, n) = (batch.query, batch.positive, batch.negative);
        let all = || Tensor::cat(&[q, p, n], 0);
        let all_labels = || -> Vec<u32> {
            [
                batch.anchor_labels,
                batch.anchor_labels,
                batch.negative_labels,
            ]
            .concat()
        };
        let need_proxies =
            || proxies.ok_or_else(|| candle_core::Error::Msg("proxy loss without proxies".into()));
        Ok(match self {
            Objective::Triplet(l) => (l.forward(q, p, n)?, None),
            Objective::Mined(l) => {
                let (loss, stats) = l.forward(&all()?, &all_labels())?;
                (loss, Some(stats))
            }
            Objective::Contrastive(l) => {
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
                let candidates = Tensor::cat(&[p, n], 0)?;
                let cand_labels = [batch.anchor_labels, batch.negative_labels].concat();
                let mut mask = vec![0f32; b * 2 * b];
                for i in 0..b {
                    for (j, &l) in cand_labels.iter().enumerate() {
                        if j != i && l == batch.anchor_labels[i] {
                            mask[i * 2 * b + j] = 1.0;
                        }
                    }
                }
                let mask = Tensor::from_vec(mask, (b, 2 * b), q.device())?.to_dtype(q.dtype())?;
                let targets: Vec<u32> = (0..b as u32).collect();
                (l.forward(q, &candidates, &targets, Some(&mask))?, None)
            }
        })
    }
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
