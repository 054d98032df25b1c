//! InfoNCE with in-batch negatives (sentence-transformers' MultipleNegativesRankingLoss).
//!
//! For query `i` the candidates are every document in the batch (all positives and all hard
//! negatives); `L = mean_i −log( exp(s·cos(q_i, c_{t_i})) / Σ_j exp(s·cos(q_i, c_j)) )` with
//! scale `s` (20 by default, i.e. temperature 0.05) and `t_i` the index of query `i`'s positive.
//! Candidates that are judged relevant to query `i` but are not its target (the same document
//! or another positive of the same query elsewhere in the batch) can be excluded, so they are
//! not treated as negatives.

use candle_core::{Result, Tensor};

use super::{cosine_matrix, one_hot};

/// InfoNCE / multiple-negatives ranking loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InfoNceLoss {
    pub scale: f64,
}

/// Added to the logit of an excluded candidate.
const EXCLUDED: f64 = -1e9;

impl InfoNceLoss {
    /// `queries`: `[n, d]`; `candidates`: `[m, d]`; `targets[i]` indexes query `i`'s positive;
    /// `exclude`, if given, is `[n, m]` with 1 where a candidate must not count as a negative.
    pub fn forward(
        &self,
        queries: &Tensor,
        candidates: &Tensor,
        targets: &[u32],
        exclude: Option<&Tensor>,
    ) -> Result<Tensor> {
        let mut logits = (cosine_matrix(queries, candidates)? * self.scale)?;
        if let Some(mask) = exclude {
            logits = (logits + (mask * EXCLUDED)?)?;
        }
        let logp = candle_nn::ops::log_softmax(&logits, 1)?;
        let target = one_hot(targets, candidates.dim(0)?, queries)?;
        (logp * target)?.sum(1)?.neg()?.mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value_and_exclusion() {
        // q = (1,0); candidates (1,0) [target], (0,1), (−1,0): cos 1, 0, −1; scale 2.
        let q = Tensor::new(&[[1f64, 0.]], &Device::Cpu).unwrap();
        let c = Tensor::new(&[[1f64, 0.], [0., 1.], [-1., 0.]], &Device::Cpu).unwrap();
        let loss = InfoNceLoss { scale: 2.0 };
        let e = f64::exp;
        let v = loss
            .forward(&q, &c, &[0], None)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!((v - (-(e(2.0) / (e(2.0) + 1.0 + e(-2.0))).ln())).abs() < 1e-12);
        let mask = Tensor::new(&[[0f64, 1., 0.]], &Device::Cpu).unwrap();
        let v = loss
            .forward(&q, &c, &[0], Some(&mask))
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!((v - (-(e(2.0) / (e(2.0) + e(-2.0))).ln())).abs() < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let loss = InfoNceLoss { scale: 5.0 };
        let q = gradcheck::random_var(3, 4, 60);
        let c = gradcheck::random_var(6, 4, 61);
        let mask = Tensor::new(
            &[
                [0f64, 0., 0., 1., 0., 0.],
                [0., 0., 0., 0., 0., 0.],
                [1., 0., 0., 0., 0., 0.],
            ],
            &Device::Cpu,
        )
        .unwrap();
        gradcheck::check(
            &[q, c],
            |t| loss.forward(&t[0], &t[1], &[0, 1, 2], Some(&mask)).unwrap(),
            1e-5,
        );
    }
}
