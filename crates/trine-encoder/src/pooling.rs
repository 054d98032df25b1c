//! Turning token embeddings into one sentence embedding, as sentence-transformers' Pooling module.

use candle_core::{DType, Tensor, D};

use crate::config::PoolingConfig;
use crate::Result;

/// How token embeddings become a sentence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the real (non-padding) tokens.
    Mean,
    /// The [CLS] token's embedding.
    Cls,
    /// Element-wise maximum over the real tokens.
    Max,
    /// Sum over real tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl Pooling {
    /// Reads the one mode set in a pooling configuration; several modes at once (concatenated in
    /// sentence-transformers) and weighted-mean / last-token pooling are not supported.
    pub fn from_config(cfg: &PoolingConfig) -> std::result::Result<Self, String> {
        if let Some(mode) = &cfg.pooling_mode {
            return match mode.as_str() {
                "mean" => Ok(Pooling::Mean),
                "cls" => Ok(Pooling::Cls),
                "max" => Ok(Pooling::Max),
                "mean_sqrt_len_tokens" | "mean_sqrt_len" => Ok(Pooling::MeanSqrtLen),
                other => Err(format!("pooling mode `{other}`")),
            };
        }
        let modes = [
            (cfg.pooling_mode_mean_tokens, Some(Pooling::Mean), "mean"),
            (cfg.pooling_mode_cls_token, Some(Pooling::Cls), "cls"),
            (cfg.pooling_mode_max_tokens, Some(Pooling::Max), "max"),
            (
                cfg.pooling_mode_mean_sqrt_len_tokens,
                Some(Pooling::MeanSqrtLen),
                "mean_sqrt_len",
            ),
            (cfg.pooling_mode_weightedmean_tokens, None, "weightedmean"),
            (cfg.pooling_mode_lasttoken, None, "lasttoken"),
        ];
        let set: Vec<_> = modes.iter().filter(|m| m.0).collect();
        match set.as_slice() {
            [(_, Some(p), _)] => Ok(*p),
            [(_, None, name)] => Err(format!("pooling mode `{name}`")),
            [] => Err("no pooling mode is set".into()),
            _ => Err(format!(
                "several pooling modes at once ({})",
                set.iter().map(|m| m.2).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// Pools `hidden` (`[batch, seq, dim]`) under `mask` (`[batch, seq]`, 1 for real tokens, 0 for
/// padding, any float dtype) into `[batch, dim]`; L2-normalises when `normalize` is set.
pub fn pool(hidden: &Tensor, mask: &Tensor, mode: Pooling, normalize: bool) -> Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?;
    let pooled = match mode {
        Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let m = mask.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let count = mask.sum_keepdim(1)?.clamp(1e-9, f64::INFINITY)?;
            let denom = if mode == Pooling::Mean {
                count
            } else {
                count.sqrt()?
            };
            summed.broadcast_div(&denom)?
        }
        Pooling::Max => {
            // Padding positions get -1e9, as sentence-transformers does, so they never win.
            let neg = ((mask.ones_like()? - &mask)? * -1e9)?.unsqueeze(2)?;
            hidden.broadcast_add(&neg)?.max(1)?
        }
    };
    if normalize {
        l2_normalize(&pooled)
    } else {
        Ok(pooled)
    }
}

/// Divides each row by its L2 norm (at least 1e-12, as torch's `F.normalize`).
pub(crate) fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .to_dtype(DType::F32)?
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?
        .to_dtype(x.dtype())?;
    Ok(x.broadcast_div(&norm)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn fixture() -> (Tensor, Tensor) {
        // batch 1, seq 3 (last token is padding), dim 2
        let h = Tensor::new(&[[[1f32, 2.], [3., -4.], [100., 100.]]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[[1f32, 1., 0.]], &Device::Cpu).unwrap();
        (h, m)
    }

    #[test]
    fn mean_ignores_padding() {
        let (h, m) = fixture();
        let p = pool(&h, &m, Pooling::Mean, false).unwrap();
        assert_eq!(p.to_vec2::<f32>().unwrap(), vec![vec![2.0, -1.0]]);
    }

    #[test]
    fn max_cls_and_sqrt_len() {
        let (h, m) = fixture();
        let max = pool(&h, &m, Pooling::Max, false).unwrap();
        assert_eq!(max.to_vec2::<f32>().unwrap(), vec![vec![3.0, 2.0]]);
        let cls = pool(&h, &m, Pooling::Cls, false).unwrap();
        assert_eq!(cls.to_vec2::<f32>().unwrap(), vec![vec![1.0, 2.0]]);
        let s = pool(&h, &m, Pooling::MeanSqrtLen, false).unwrap();
        let v = s.to_vec2::<f32>().unwrap();
        assert!((v[0][0] - 4.0 / 2f32.sqrt()).abs() < 1e-6);
        assert!((v[0][1] + 2.0 / 2f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn normalize_gives_unit_rows() {
        let (h, m) = fixture();
        let p = pool(&h, &m, Pooling::Mean, true).unwrap();
        let v = p.to_vec2::<f32>().unwrap();
        assert!((v[0][0] - 2.0 / 5f32.sqrt()).abs() < 1e-6);
        assert!((v[0][1] + 1.0 / 5f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn config_with_two_modes_is_rejected() {
        let cfg = PoolingConfig {
            pooling_mode_cls_token: true,
            pooling_mode_mean_tokens: true,
            ..Default::default()
        };
        assert!(Pooling::from_config(&cfg).unwrap_err().contains("cls"));
    }
}
