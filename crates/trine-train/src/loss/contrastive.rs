//! Contrastive loss on labelled pairs (Hadsell, Chopra & LeCun 2006).
//!
//! `L = mean_i ½ (y_i · d_i² + (1 − y_i) · max(m − d_i, 0)²)` where `d_i = d(a_i, b_i)`, `y_i = 1`
//! for a similar pair and 0 for a dissimilar one: similar pairs are pulled together, dissimilar
//! ones pushed to at least the margin `m`. Retrieval triplets give two pairs each: (query,
//! positive, 1) and (query, negative, 0).

use candle_core::{Result, Tensor};

use super::Distance;

/// Contrastive pair loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContrastiveLoss {
    pub distance: Distance,
    pub margin: f64,
}

impl ContrastiveLoss {
    /// `a`, `b`: `[n, d]`; `similar`: `[n]` of 1.0 (similar) or 0.0 (dissimilar), `a`'s dtype.
    pub fn forward(&self, a: &Tensor, b: &Tensor, similar: &Tensor) -> Result<Tensor> {
        let d = self.distance.paired(a, b)?;
        let pull = (similar * d.sqr()?)?;
        let push = (similar.affine(-1.0, 1.0)? * d.affine(-1.0, self.margin)?.relu()?.sqr()?)?;
        ((pull + push)? * 0.5)?.mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value() {
        let a = Tensor::new(&[[0f64, 0.], [0., 0.], [0., 0.]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[3f64, 4.], [0., 0.2], [0., 2.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1f64, 0., 0.], &Device::Cpu).unwrap();
        // Euclidean, m = 1: similar d=5 → 25; dissimilar d=0.2 → 0.8² = 0.64; d=2 → 0.
        let loss = ContrastiveLoss {
            distance: Distance::Euclidean,
            margin: 1.0,
        };
        let v = loss
            .forward(&a, &b, &y)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!((v - 0.5 * (25.0 + 0.64) / 3.0).abs() < 1e-6, "{v}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let y = Tensor::new(&[1f64, 0., 1., 0., 0.], &Device::Cpu).unwrap();
        for distance in [Distance::Euclidean, Distance::Cosine] {
            let loss = ContrastiveLoss {
                distance,
                margin: 1.5,
            };
            let vars: Vec<_> = (0..2)
                .map(|s| gradcheck::random_var(5, 3, s + 20))
                .collect();
            gradcheck::check(&vars, |x| loss.forward(&x[0], &x[1], &y).unwrap(), 1e-5);
        }
    }
}
