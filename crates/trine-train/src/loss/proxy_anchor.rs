//! Proxy-Anchor loss (Kim et al. 2020): each proxy is an anchor that pulls the batch's members
//! of its class and pushes everything else, weighting hard examples more.
//!
//! With `s(x, p)` the cosine similarity, `P` all proxies, `P⁺` the proxies with at least one
//! member in the batch, `X_p⁺` the batch members of `p`'s class and `X_p⁻` the rest:
//!
//! `L = 1/|P⁺| Σ_{p∈P⁺} log(1 + Σ_{x∈X_p⁺} e^{−α(s(x,p) − δ)})
//!    + 1/|P|  Σ_{p∈P}  log(1 + Σ_{x∈X_p⁻} e^{α(s(x,p) + δ)})`
//!
//! with scale `α` (32 in the paper) and margin `δ` (0.1).

use candle_core::{Result, Tensor};

use super::{cosine_matrix, one_hot};

/// Proxy-Anchor loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProxyAnchorLoss {
    pub alpha: f64,
    pub delta: f64,
}

impl ProxyAnchorLoss {
    /// `x`: `[n, d]` embeddings; `proxies`: `[classes, d]`; `labels[i]` indexes a proxy.
    pub fn forward(&self, x: &Tensor, proxies: &Tensor, labels: &[u32]) -> Result<Tensor> {
        let classes = proxies.dim(0)?;
        let sim = cosine_matrix(x, proxies)?;
        let pos = one_hot(labels, classes, x)?;
        let neg = pos.affine(-1.0, 1.0)?;
        let pos_exp = (sim.affine(-self.alpha, self.alpha * self.delta)?.exp()? * &pos)?;
        let neg_exp = (sim.affine(self.alpha, self.alpha * self.delta)?.exp()? * &neg)?;
        let mut with_members: Vec<u32> = labels.to_vec();
        with_members.sort_unstable();
        with_members.dedup();
        let pos_term = (pos_exp.sum(0)? + 1.0)?.log()?.sum_all()? / with_members.len() as f64;
        let neg_term = (neg_exp.sum(0)? + 1.0)?.log()?.sum_all()? / classes as f64;
        pos_term? + neg_term?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value() {
        // Two proxies (1,0), (0,1); x₀ = (1,0) in class 0, x₁ = (0.6, 0.8) in class 1.
        // s(x₀,p₀)=1, s(x₀,p₁)=0, s(x₁,p₀)=0.6, s(x₁,p₁)=0.8. α = 2, δ = 0.1.
        let x = Tensor::new(&[[1f64, 0.], [0.6, 0.8]], &Device::Cpu).unwrap();
        let p = Tensor::new(&[[1f64, 0.], [0., 1.]], &Device::Cpu).unwrap();
        let v = ProxyAnchorLoss {
            alpha: 2.0,
            delta: 0.1,
        }
        .forward(&x, &p, &[0, 1])
        .unwrap();
        let e = f64::exp;
        let pos = ((1.0 + e(-2.0 * 0.9)).ln() + (1.0 + e(-2.0 * 0.7)).ln()) / 2.0;
        let neg = ((1.0 + e(2.0 * 0.7)).ln() + (1.0 + e(2.0 * 0.1)).ln()) / 2.0;
        assert!((v.to_scalar::<f64>().unwrap() - (pos + neg)).abs() < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let loss = ProxyAnchorLoss {
            alpha: 4.0,
            delta: 0.1,
        };
        let x = gradcheck::random_var(6, 4, 50);
        let proxies = gradcheck::random_var(4, 4, 51);
        let labels = [0, 0, 2, 1, 2, 0];
        gradcheck::check(
            &[x, proxies],
            |t| loss.forward(&t[0], &t[1], &labels).unwrap(),
            1e-5,
        );
    }
}
