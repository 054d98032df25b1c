//! Turning token embeddings into one sentence embedding, as sentence-transformers' Pooling module.

use candle_core::{DType, Tensor, D};

use crate::config::{PoolingConfig, PoolingModes};
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
    /// Mean weighted by position (1 for the first token, 2 for the second, ...), as
    /// SGPT-style models pool.
    WeightedMean,
    /// The last real token's embedding (decoder models: Qwen3-Embedding, e5-mistral).
    LastToken,
}

impl Pooling {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "mean" | "mean_tokens" => Pooling::Mean,
            "cls" | "cls_token" => Pooling::Cls,
            "max" | "max_tokens" => Pooling::Max,
            "mean_sqrt_len_tokens" | "mean_sqrt_len" => Pooling::MeanSqrtLen,
            "weightedmean" | "weightedmean_tokens" => Pooling::WeightedMean,
            "lasttoken" => Pooling::LastToken,
            _ => return None,
        })
    }

    /// Reads the modes a pooling configuration sets, in sentence-transformers' order (their
    /// outputs are concatenated).
    pub fn from_config(cfg: &PoolingConfig) -> std::result::Result<Vec<Self>, String> {
        let names: Vec<&str> = match &cfg.pooling_mode {
            Some(PoolingModes::One(name)) => vec![name.as_str()],
            Some(PoolingModes::Many(names)) => names.iter().map(String::as_str).collect(),
            None => [
                (cfg.pooling_mode_cls_token, "cls"),
                (cfg.pooling_mode_max_tokens, "max"),
                (cfg.pooling_mode_mean_tokens, "mean"),
                (
                    cfg.pooling_mode_mean_sqrt_len_tokens,
                    "mean_sqrt_len_tokens",
                ),
                (cfg.pooling_mode_weightedmean_tokens, "weightedmean"),
                (cfg.pooling_mode_lasttoken, "lasttoken"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect(),
        };
        if names.is_empty() {
            return Err("no pooling mode is set".into());
        }
        names
            .into_iter()
            .map(|name| Pooling::named(name).ok_or_else(|| format!("pooling mode `{name}`")))
            .collect()
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
        Pooling::WeightedMean => {
            // Right padding: token i weighs i + 1.
            let seq = mask.dim(1)?;
            let positions = Tensor::arange(1f32, seq as f32 + 1.0, mask.device())?
                .to_dtype(mask.dtype())?
                .unsqueeze(0)?;
            let weights = mask.broadcast_mul(&positions)?;
            let summed = hidden.broadcast_mul(&weights.unsqueeze(2)?)?.sum(1)?;
            let total = weights.sum_keepdim(1)?.clamp(1e-9, f64::INFINITY)?;
            summed.broadcast_div(&total)?
        }
        Pooling::LastToken => {
            let last: Vec<u32> = mask
                .to_dtype(DType::F32)?
                .sum(1)?
                .to_vec1::<f32>()?
                .into_iter()
                .map(|n| (n as u32).max(1) - 1)
                .collect();
            let rows = last
                .iter()
                .enumerate()
                .map(|(b, &t)| hidden.get(b)?.get(t as usize))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::stack(&rows, 0)?
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
    fn two_flags_give_two_modes_in_sentence_transformers_order() {
        let cfg = PoolingConfig {
            pooling_mode_mean_tokens: true,
            pooling_mode_cls_token: true,
            ..Default::default()
        };
        assert_eq!(
            Pooling::from_config(&cfg).unwrap(),
            vec![Pooling::Cls, Pooling::Mean]
        );
        let none = PoolingConfig::default();
        assert!(Pooling::from_config(&none)
            .unwrap_err()
            .contains("no pooling"));
        let odd = PoolingConfig {
            pooling_mode: Some(PoolingModes::One("median".into())),
            ..Default::default()
        };
        assert!(Pooling::from_config(&odd).unwrap_err().contains("median"));
    }

    #[test]
    fn weighted_mean_and_last_token_by_hand() {
        let (h, m) = fixture();
        // Weights 1 and 2 on the two real tokens: (1*1 + 2*3)/3, (1*2 + 2*-4)/3.
        let w = pool(&h, &m, Pooling::WeightedMean, false).unwrap();
        let v = w.to_vec2::<f32>().unwrap();
        assert!((v[0][0] - 7.0 / 3.0).abs() < 1e-6 && (v[0][1] + 2.0).abs() < 1e-6);
        let last = pool(&h, &m, Pooling::LastToken, false).unwrap();
        assert_eq!(last.to_vec2::<f32>().unwrap(), vec![vec![3.0, -4.0]]);
    }
}
