//! Triplet loss with triplets mined inside the batch from labels (online mining).
//!
//! Every embedding in the batch is an anchor; its positives are the other embeddings with the
//! same label and its negatives those with another label. With `D` the distance matrix and
//! `ℓ(a, p, n) = max(D[a,p] − D[a,n] + α, 0)`:
//!
//! * **batch-all**: every valid `(a, p, n)`; `L = Σ ℓ / #{ℓ > 0}` (mean over the triplets that
//!   still violate the margin, so easy ones do not dilute the loss);
//! * **batch-hard**: per anchor, the farthest positive and the nearest negative;
//!   `L = mean_a ℓ(a, p*, n*)`;
//! * **semi-hard** (FaceNet): per positive pair, the nearest negative that is still farther
//!   than the positive (`D[a,n] > D[a,p]`); when the pair has none, the fallback is the
//!   farthest negative (as TensorFlow Addons' `triplet_semihard_loss`); `L = mean ℓ`.
//!
//! Selection reads the distance values; the gradient flows through the selected distances.

use candle_core::{DType, Result, Tensor};

use super::Distance;

/// Which in-batch triplets the loss uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Miner {
    All,
    Hard,
    SemiHard,
}

/// Triplet loss over in-batch mined triplets.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinedTripletLoss {
    pub miner: Miner,
    pub distance: Distance,
    pub margin: f64,
}

/// What the miner found in one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MiningStats {
    /// Triplets that entered the loss.
    pub triplets: usize,
    /// Of those, triplets with a positive loss.
    pub active: usize,
    /// Semi-hard: positive pairs that had no semi-hard negative and used the fallback.
    pub fallbacks: usize,
}

impl MinedTripletLoss {
    /// Loss for embeddings `x` (`[n, d]`) with one label per row.
    pub fn forward(&self, x: &Tensor, labels: &[u32]) -> Result<(Tensor, MiningStats)> {
        let n = labels.len();
        let dist = self.distance.matrix(x, x)?;
        let d: Vec<Vec<f64>> = dist.to_dtype(DType::F64)?.to_vec2()?;
        let m = self.margin;
        let hinge = |a: usize, p: usize, q: usize| d[a][p] - d[a][q] + m;
        let mut triplets: Vec<(usize, usize, usize)> = Vec::new();
        let mut stats = MiningStats::default();
        for a in 0..n {
            let pos: Vec<usize> = (0..n)
                .filter(|&j| j != a && labels[j] == labels[a])
                .collect();
            let neg: Vec<usize> = (0..n).filter(|&j| labels[j] != labels[a]).collect();
            if pos.is_empty() || neg.is_empty() {
                continue;
            }
            match self.miner {
                Miner::All => {
                    for &p in &pos {
                        triplets.extend(neg.iter().map(|&q| (a, p, q)));
                    }
                }
                Miner::Hard => {
                    let p = argbest(&pos, |j| d[a][j], |x, y| x > y);
                    let q = argbest(&neg, |j| d[a][j], |x, y| x < y);
                    triplets.push((a, p, q));
                }
                Miner::SemiHard => {
                    for &p in &pos {
                        let farther: Vec<usize> =
                            neg.iter().copied().filter(|&q| d[a][q] > d[a][p]).collect();
                        let q = if farther.is_empty() {
                            stats.fallbacks += 1;
                            argbest(&neg, |j| d[a][j], |x, y| x > y)
                        } else {
                            argbest(&farther, |j| d[a][j], |x, y| x < y)
                        };
                        triplets.push((a, p, q));
                    }
                }
            }
        }
        stats.triplets = triplets.len();
        stats.active = triplets
            .iter()
            .filter(|&&(a, p, q)| hinge(a, p, q) > 1e-16)
            .count();
        if triplets.is_empty() {
            return Ok(((dist.sum_all()? * 0.0)?, stats));
        }
        let flat = dist.flatten_all()?;
        let pick = |idx: Vec<u32>| -> Result<Tensor> {
            let len = idx.len();
            flat.index_select(&Tensor::from_vec(idx, len, x.device())?, 0)
        };
        let dp = pick(
            triplets
                .iter()
                .map(|&(a, p, _)| (a * n + p) as u32)
                .collect(),
        )?;
        let dn = pick(
            triplets
                .iter()
                .map(|&(a, _, q)| (a * n + q) as u32)
                .collect(),
        )?;
        let losses = ((dp - dn)? + m)?.relu()?;
        let denominator = match self.miner {
            Miner::All => stats.active.max(1),
            Miner::Hard | Miner::SemiHard => triplets.len(),
        };
        Ok(((losses.sum_all()? / denominator as f64)?, stats))
    }
}

/// The candidate whose key is best under `better` (the first one on ties).
fn argbest(
    candidates: &[usize],
    key: impl Fn(usize) -> f64,
    better: impl Fn(f64, f64) -> bool,
) -> usize {
    let mut best = candidates[0];
    for &c in &candidates[1..] {
        if better(key(c), key(best)) {
            best = c;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    /// Points on a line: labels 0, 0, 1, 1 at 0, 1, 1.5, 4 (squared distances).
    fn line() -> Tensor {
        Tensor::new(&[[0f64], [1.], [1.5], [4.]], &Device::Cpu).unwrap()
    }
    const LABELS: [u32; 4] = [0, 0, 1, 1];

    fn run(miner: Miner, margin: f64) -> (f64, MiningStats) {
        let loss = MinedTripletLoss {
            miner,
            distance: Distance::SquaredEuclidean,
            margin,
        };
        let (v, s) = loss.forward(&line(), &LABELS).unwrap();
        (v.to_scalar::<f64>().unwrap(), s)
    }

    #[test]
    fn batch_hard_by_hand() {
        // Squared distances: d01 = 1, d02 = 2.25, d03 = 16, d12 = 0.25, d13 = 9, d23 = 6.25.
        // a0: p1 (1), nearest neg 2 (2.25) → 1 − 2.25 + 1 = −0.25 → 0
        // a1: p0 (1), nearest neg 2 (0.25) → 1 − 0.25 + 1 = 1.75
        // a2: p3 (6.25), nearest neg 1 (0.25) → 6.25 − 0.25 + 1 = 7
        // a3: p2 (6.25), nearest neg 1 (9) → 6.25 − 9 + 1 = −1.75 → 0
        let (v, s) = run(Miner::Hard, 1.0);
        assert!((v - (1.75 + 7.0) / 4.0).abs() < 1e-12, "{v}");
        assert_eq!((s.triplets, s.active), (4, 2));
    }

    #[test]
    fn batch_all_by_hand() {
        // 8 triplets (each anchor: 1 positive × 2 negatives), margin 1:
        // a0: 1−2.25+1 = −0.25, 1−16+1 <0 | a1: 1−0.25+1 = 1.75, 1−9+1 <0
        // a2: 6.25−2.25+1 = 5, 6.25−0.25+1 = 7 | a3: 6.25−16+1 <0, 6.25−9+1 <0
        let (v, s) = run(Miner::All, 1.0);
        assert_eq!((s.triplets, s.active), (8, 3));
        assert!((v - (1.75 + 5.0 + 7.0) / 3.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn semi_hard_by_hand_with_fallback() {
        // a0 (d_ap 1): negatives farther than 1: 2 (2.25), 3 (16) → nearest 2: 1 − 2.25 + 1 = −0.25 → 0
        // a1 (d_ap 1): farther: 3 (9) → 1 − 9 + 1 <0 → 0
        // a2 (d_ap 6.25): negatives 0 (2.25), 1 (0.25): none farther → fallback farthest 0:
        //    6.25 − 2.25 + 1 = 5
        // a3 (d_ap 6.25): farther: 0 (16), 1 (9) → nearest 1: 6.25 − 9 + 1 <0 → 0
        let (v, s) = run(Miner::SemiHard, 1.0);
        assert_eq!((s.triplets, s.fallbacks, s.active), (4, 1, 1));
        assert!((v - 5.0 / 4.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn no_valid_triplet_gives_zero_loss() {
        let loss = MinedTripletLoss {
            miner: Miner::Hard,
            distance: Distance::Cosine,
            margin: 0.2,
        };
        let (v, s) = loss.forward(&line(), &[0, 1, 2, 3]).unwrap();
        assert_eq!(v.to_scalar::<f64>().unwrap(), 0.0);
        assert_eq!(s.triplets, 0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let labels = [0, 0, 1, 1, 2, 2, 0, 3];
        for miner in [Miner::All, Miner::Hard, Miner::SemiHard] {
            for distance in [
                Distance::Euclidean,
                Distance::SquaredEuclidean,
                Distance::Cosine,
            ] {
                let loss = MinedTripletLoss {
                    miner,
                    distance,
                    margin: 0.5,
                };
                let x = gradcheck::random_var(8, 3, 3);
                gradcheck::check(&[x], |t| loss.forward(&t[0], &labels).unwrap().0, 1e-5);
            }
        }
    }
}
