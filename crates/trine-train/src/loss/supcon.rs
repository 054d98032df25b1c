//! InfoNCE over class labels: the supervised contrastive loss (Khosla et al. 2020, `L_out`).
//!
//! Every embedding `i` of the batch is an anchor; its positives `P(i)` are the other embeddings
//! with its label, and every other embedding is in the denominator:
//! `L = mean_{i: P(i) ≠ ∅} −1/|P(i)| Σ_{p ∈ P(i)} log( exp(s·cos(x_i, x_p)) / Σ_{a ≠ i} exp(s·cos(x_i, x_a)) )`
//! with scale `s` (the inverse temperature). With one positive per anchor and the other
//! classes' texts as the rest of the batch, this is InfoNCE with in-batch negatives.

use candle_core::{Result, Tensor};

use super::cosine_matrix;

/// Supervised contrastive loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SupConLoss {
    pub scale: f64,
}

/// Added to the logit of an embedding with itself.
const SELF: f64 = -1e9;

impl SupConLoss {
    /// Loss for embeddings `x` (`[n, d]`) with one label per row. Anchors without a positive in
    /// the batch do not count; a batch without any positive pair is an error.
    pub fn forward(&self, x: &Tensor, labels: &[u32]) -> Result<Tensor> {
        let n = labels.len();
        let mut diag = vec![0f32; n * n];
        let mut pos = vec![0f32; n * n];
        let mut anchors = 0usize;
        for i in 0..n {
            diag[i * n + i] = 1.0;
            let count = (0..n).filter(|&j| j != i && labels[j] == labels[i]).count();
            if count > 0 {
                anchors += 1;
                for j in 0..n {
                    if j != i && labels[j] == labels[i] {
                        pos[i * n + j] = 1.0 / count as f32;
                    }
                }
            }
        }
        if anchors == 0 {
            return Err(candle_core::Error::Msg(
                "supervised contrastive loss: no two texts of the batch share a label".into(),
            ));
        }
        let like = |v: Vec<f32>| {
            Tensor::from_vec(v, (n, n), x.device()).and_then(|t| t.to_dtype(x.dtype()))
        };
        let logits = ((cosine_matrix(x, x)? * self.scale)? + (like(diag)? * SELF)?)?;
        let logp = candle_nn::ops::log_softmax(&logits, 1)?;
        (logp * like(pos)?)?.sum_all()?.neg()? / anchors as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value() {
        // Three unit vectors: a = (1,0), b = (0,1) with a's label, c = (−1,0) alone; scale 1.
        // Anchor a: positive b (cos 0), denominator b, c (cos 0, −1): −log(1 / (1 + e⁻¹)).
        // Anchor b: positive a (cos 0), denominator a, c (cos 0, 0): −log(1/2).
        // c has no positive. L = (log(1 + e⁻¹) + log 2) / 2.
        let x = Tensor::new(&[[1f64, 0.], [0., 2.], [-3., 0.]], &Device::Cpu).unwrap();
        let v = SupConLoss { scale: 1.0 }
            .forward(&x, &[0, 0, 1])
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let expected = ((1.0 + (-1f64).exp()).ln() + 2f64.ln()) / 2.0;
        assert!((v - expected).abs() < 1e-12, "{v} vs {expected}");
    }

    #[test]
    fn a_batch_without_pairs_is_an_error() {
        let x = Tensor::new(&[[1f64, 0.], [0., 1.]], &Device::Cpu).unwrap();
        assert!(SupConLoss { scale: 1.0 }.forward(&x, &[0, 1]).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let loss = SupConLoss { scale: 4.0 };
        let x = gradcheck::random_var(6, 4, 70);
        let labels = [0, 1, 0, 2, 1, 0];
        gradcheck::check(&[x], |t| loss.forward(&t[0], &labels).unwrap(), 1e-5);
    }
}
