//! Distances between embeddings, row by row or for all pairs.

use candle_core::{Result, Tensor, D};

/// Added under square roots so that the gradient stays finite when two embeddings coincide.
pub const SQRT_EPS: f64 = 1e-12;

/// How far apart two embeddings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distance {
    /// `‖a − b‖₂` (computed as `sqrt(‖a − b‖² + 1e-12)`).
    Euclidean,
    /// `‖a − b‖²`.
    SquaredEuclidean,
    /// `1 − cos(a, b)`, in [0, 2].
    Cosine,
}

impl std::fmt::Display for Distance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Distance::Euclidean => "euclidean",
            Distance::SquaredEuclidean => "squared-euclidean",
            Distance::Cosine => "cosine",
        })
    }
}

/// Rows scaled to unit length (norm floored at 1e-12, as torch's `F.normalize`).
pub fn unit_rows(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    x.broadcast_div(&norm)
}

/// Cosine similarity of every row of `a` (`[n, d]`) with every row of `b` (`[m, d]`): `[n, m]`.
pub fn cosine_matrix(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    unit_rows(a)?.matmul(&unit_rows(b)?.t()?)
}

impl Distance {
    /// `d(a[i], b[i])` for each row: `[n]`.
    pub fn paired(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Distance::SquaredEuclidean => (a - b)?.sqr()?.sum(D::Minus1),
            Distance::Euclidean => ((a - b)?.sqr()?.sum(D::Minus1)? + SQRT_EPS)?.sqrt(),
            Distance::Cosine => {
                let cos = (unit_rows(a)? * unit_rows(b)?)?.sum(D::Minus1)?;
                cos.affine(-1.0, 1.0)
            }
        }
    }

    /// `d(a[i], b[j])` for all pairs: `[n, m]`.
    pub fn matrix(self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Distance::Cosine => cosine_matrix(a, b)?.affine(-1.0, 1.0),
            Distance::SquaredEuclidean | Distance::Euclidean => {
                let a2 = a.sqr()?.sum_keepdim(D::Minus1)?;
                let b2 = b.sqr()?.sum_keepdim(D::Minus1)?.t()?;
                let ab = a.matmul(&b.t()?)?;
                let sq = a2.broadcast_add(&b2)?.broadcast_sub(&(ab * 2.0)?)?.relu()?;
                if self == Distance::Euclidean {
                    (sq + SQRT_EPS)?.sqrt()
                } else {
                    Ok(sq)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn paired_and_matrix_agree_with_hand_values() {
        let a = Tensor::new(&[[0f64, 0.], [1., 0.]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[3f64, 4.], [0., 2.]], &Device::Cpu).unwrap();
        let e = Distance::Euclidean
            .paired(&a, &b)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert!((e[0] - 5.0).abs() < 1e-9 && (e[1] - 5f64.sqrt()).abs() < 1e-9);
        let s = Distance::SquaredEuclidean
            .matrix(&a, &b)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        assert_eq!(s, vec![vec![25.0, 4.0], vec![20.0, 5.0]]);
        // cos((1,0),(3,4)) = 0.6, cos((1,0),(0,2)) = 0
        let c = Distance::Cosine
            .matrix(&a.narrow(0, 1, 1).unwrap(), &b)
            .unwrap();
        let c = c.to_vec2::<f64>().unwrap();
        assert!((c[0][0] - 0.4).abs() < 1e-12 && (c[0][1] - 1.0).abs() < 1e-12);
    }
}
