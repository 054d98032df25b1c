//! Quadruplet loss (Chen et al. 2017): the triplet term plus a second term that also pushes the
//! anchor-positive distance below the distance between two negatives of other classes.
//!
//! `L = mean_i [max(d(a,p) − d(a,n₁) + α₁, 0) + max(d(a,p) − d(n₁,n₂) + α₂, 0)]`, usually with
//! `α₂ < α₁`. For retrieval triplets `n₂` is another row's negative (see the trainer).

use candle_core::{Result, Tensor};

use super::Distance;

/// Quadruplet loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuadrupletLoss {
    pub distance: Distance,
    pub margin: f64,
    pub second_margin: f64,
}

impl QuadrupletLoss {
    /// All inputs `[n, d]`, row `i` one quadruplet.
    pub fn forward(&self, a: &Tensor, p: &Tensor, n1: &Tensor, n2: &Tensor) -> Result<Tensor> {
        let dap = self.distance.paired(a, p)?;
        let first = ((&dap - self.distance.paired(a, n1)?)? + self.margin)?.relu()?;
        let second = ((&dap - self.distance.paired(n1, n2)?)? + self.second_margin)?.relu()?;
        (first + second)?.mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value() {
        let t = |v: [f64; 2]| Tensor::new(&[v], &Device::Cpu).unwrap();
        // squared: d(a,p) = 1, d(a,n1) = 1.5² + 0 = 2.25 (→ 1 − 2.25 + 2 = 0.75),
        // d(n1,n2) = 0.5² = 0.25 (→ 1 − 0.25 + 1 = 1.75); total 2.5
        let loss = QuadrupletLoss {
            distance: Distance::SquaredEuclidean,
            margin: 2.0,
            second_margin: 1.0,
        };
        let v = loss
            .forward(&t([0., 0.]), &t([1., 0.]), &t([-1.5, 0.]), &t([-1.5, 0.5]))
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!((v - 2.5).abs() < 1e-12, "{v}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let loss = QuadrupletLoss {
            distance: Distance::Euclidean,
            margin: 1.0,
            second_margin: 0.5,
        };
        let vars: Vec<_> = (0..4)
            .map(|s| gradcheck::random_var(4, 3, s + 30))
            .collect();
        gradcheck::check(
            &vars,
            |x| loss.forward(&x[0], &x[1], &x[2], &x[3]).unwrap(),
            1e-5,
        );
    }
}
