//! Triplet margin loss on given (anchor, positive, negative) rows.
//!
//! `L = mean_i max(d(a_i, p_i) − d(a_i, n_i) + α, 0)` with `d` one of [`Distance`] and margin `α`.
//! The margin must suit the distance: embeddings from a normalised model lie on the unit sphere,
//! so Euclidean distances are at most 2 and cosine distances at most 2; a margin of 5 (the
//! sentence-transformers default for Euclidean) can never be met and only pushes all pairs apart.

use candle_core::{Result, Tensor};

use super::Distance;

/// Triplet margin loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TripletLoss {
    pub distance: Distance,
    pub margin: f64,
}

impl TripletLoss {
    /// Mean hinge loss over the rows of `anchor`, `positive`, `negative` (each `[n, d]`).
    pub fn forward(&self, anchor: &Tensor, positive: &Tensor, negative: &Tensor) -> Result<Tensor> {
        let dp = self.distance.paired(anchor, positive)?;
        let dn = self.distance.paired(anchor, negative)?;
        ((dp - dn)? + self.margin)?.relu()?.mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    fn t(v: &[[f64; 2]]) -> Tensor {
        let flat: Vec<f64> = v.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (v.len(), 2), &Device::Cpu).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        let a = t(&[[0., 0.], [0., 0.]]);
        let p = t(&[[1., 0.], [0., 2.]]);
        let n = t(&[[0., 3.], [1., 0.]]);
        // squared: row 0: 1 − 9 + 1 → 0; row 1: 4 − 1 + 1 = 4 → mean 2
        let sq = TripletLoss {
            distance: Distance::SquaredEuclidean,
            margin: 1.0,
        };
        let v = sq.forward(&a, &p, &n).unwrap().to_scalar::<f64>().unwrap();
        assert!((v - 2.0).abs() < 1e-12, "{v}");
        // euclidean: row 0: 1 − 3 + 1 → 0; row 1: 2 − 1 + 1 = 2 → mean 1
        let eu = TripletLoss {
            distance: Distance::Euclidean,
            margin: 1.0,
        };
        let v = eu.forward(&a, &p, &n).unwrap().to_scalar::<f64>().unwrap();
        assert!((v - 1.0).abs() < 1e-6, "{v}");
        // cosine with anchor (1, 1): d(p0) = 1 − 1/√2, d(n0) = 1 − 1/√2 → margin 0.5 remains;
        // row 1: p = (0, 2), n = (1, 0): same distances again → mean 0.5
        let a = t(&[[1., 1.], [1., 1.]]);
        let co = TripletLoss {
            distance: Distance::Cosine,
            margin: 0.5,
        };
        let v = co.forward(&a, &p, &n).unwrap().to_scalar::<f64>().unwrap();
        assert!((v - 0.5).abs() < 1e-12, "{v}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        for distance in [
            Distance::Euclidean,
            Distance::SquaredEuclidean,
            Distance::Cosine,
        ] {
            let loss = TripletLoss {
                distance,
                margin: 0.8,
            };
            let vars: Vec<_> = (0..3)
                .map(|s| gradcheck::random_var(5, 4, s + 10))
                .collect();
            gradcheck::check(&vars, |x| loss.forward(&x[0], &x[1], &x[2]).unwrap(), 1e-5);
        }
    }
}
