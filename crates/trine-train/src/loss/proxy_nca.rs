//! Proxy-NCA (Movshovitz-Attias et al. 2017), in the softmax form of Proxy-NCA++.
//!
//! Each class `c` has a learnable proxy `p_c`. With unit-length `x̂` and `p̂`, and scale `s`:
//! `L = mean_i −log( exp(−s‖x̂_i − p̂_{y_i}‖²) / Σ_c exp(−s‖x̂_i − p̂_c‖²) )`. Since
//! `‖x̂ − p̂‖² = 2 − 2 cos(x, p)` this is a softmax cross-entropy over logits `2s·cos(x, p_c)`.
//! The positive stays in the denominator, which keeps the loss bounded below (the original
//! paper's form, without it, is not).

use candle_core::{Result, Tensor};

use super::{cosine_matrix, one_hot};

/// Proxy-NCA loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProxyNcaLoss {
    pub scale: f64,
}

impl ProxyNcaLoss {
    /// `x`: `[n, d]` embeddings; `proxies`: `[classes, d]`; `labels[i]` indexes a proxy.
    pub fn forward(&self, x: &Tensor, proxies: &Tensor, labels: &[u32]) -> Result<Tensor> {
        let classes = proxies.dim(0)?;
        let sq = cosine_matrix(x, proxies)?.affine(-2.0, 2.0)?;
        let logits = (sq * -self.scale)?;
        let logp = candle_nn::ops::log_softmax(&logits, 1)?;
        let target = one_hot(labels, classes, x)?;
        (logp * target)?.sum(1)?.neg()?.mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradcheck;
    use candle_core::Device;

    #[test]
    fn hand_computed_value() {
        // x = (1, 0); proxies (1, 0) [its class] and (0, 1): squared distances 0 and 2.
        // L = −log(e⁰ / (e⁰ + e^{−2s})) = log(1 + e^{−2s}); s = 1 → log(1 + e⁻²)
        let x = Tensor::new(&[[2f64, 0.]], &Device::Cpu).unwrap();
        let p = Tensor::new(&[[3f64, 0.], [0., 0.5]], &Device::Cpu).unwrap();
        let v = ProxyNcaLoss { scale: 1.0 }.forward(&x, &p, &[0]).unwrap();
        let expected = (1.0 + (-2f64).exp()).ln();
        assert!((v.to_scalar::<f64>().unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let loss = ProxyNcaLoss { scale: 3.0 };
        let x = gradcheck::random_var(5, 4, 40);
        let proxies = gradcheck::random_var(3, 4, 41);
        let labels = [0, 2, 1, 1, 0];
        gradcheck::check(
            &[x, proxies],
            |t| loss.forward(&t[0], &t[1], &labels).unwrap(),
            1e-5,
        );
    }
}
