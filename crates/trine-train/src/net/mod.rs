//! Training passes of the families whose candle-transformers implementation cannot be
//! differentiated. Inference runs candle-transformers' models; their fused CPU kernels (rotary
//! embeddings, RMS norm, last-dimension softmax, flash attention) have no backward pass, so the
//! gradient would silently stop at them. Each pass here builds the same graph from the same
//! weights out of candle-nn's differentiable layers and ops, adds the dropouts `config.json`
//! sets, and is tested to compute what candle-transformers computes.

pub(crate) mod modernbert;
pub(crate) mod qwen3;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::rotary_emb::rope_slow;
use candle_nn::{Linear, VarBuilder};
use serde::Deserialize;

use crate::{Result, TrainError};

/// Dropout probabilities of a `config.json`, under transformers' names (0 where absent, as
/// transformers' defaults); each family reads the ones it has.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Dropouts {
    #[serde(default, rename = "embedding_dropout")]
    pub embedding: f64,
    #[serde(default, rename = "attention_dropout")]
    pub attention: f64,
    #[serde(default, rename = "mlp_dropout")]
    pub mlp: f64,
}

impl Dropouts {
    /// Reads the dropouts of the `config.json` at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| {
            TrainError::Encoder(trine_encoder::EncoderError::Config {
                path: path.to_path_buf(),
                source,
            })
        })
    }
}

/// The tensor `name` under `vb`; an error if the weights lack it (a var-map builder would
/// otherwise make up a fresh one).
pub(crate) fn tensor(vb: &VarBuilder, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
    if !vb.contains_tensor(name) {
        candle_core::bail!("no tensor `{}`", vb.pp(name).prefix());
    }
    vb.get(shape, name)
}

/// The linear layer `name` (`out × inp`, with a bias if `bias`).
pub(crate) fn linear(
    vb: &VarBuilder,
    name: &str,
    out: usize,
    inp: usize,
    bias: bool,
) -> candle_core::Result<Linear> {
    let vb = vb.pp(name);
    let b = if bias {
        Some(tensor(&vb, "bias", &[out])?)
    } else {
        None
    };
    Ok(Linear::new(tensor(&vb, "weight", &[out, inp])?, b))
}

/// Rotary tables `[max_positions, head_dim / 2]`, computed as candle-transformers does, applied
/// with candle-nn's composed `rope_slow` (the same rotation as its fused `rope`).
pub(crate) struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    pub(crate) fn new(
        head_dim: usize,
        max_positions: usize,
        theta: f64,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let inv_freq: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / theta.powf(i as f64 / head_dim as f64) as f32)
            .collect();
        let n = inv_freq.len();
        let inv_freq = Tensor::from_vec(inv_freq, (1, n), device)?;
        let t = Tensor::arange(0u32, max_positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((max_positions, 1))?;
        let freqs = t.matmul(&inv_freq)?;
        Ok(Rotary {
            cos: freqs.cos()?,
            sin: freqs.sin()?,
        })
    }

    /// Rotates `x` `[batch, heads, seq, head_dim]` by each position's angles.
    pub(crate) fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        rope_slow(&x.contiguous()?, &self.cos, &self.sin)
    }
}

/// Additive mask `[seq, seq]`: `-inf` where `hide(query, key)`, else 0.
pub(crate) fn additive_mask(
    l: usize,
    device: &Device,
    hide: impl Fn(usize, usize) -> bool,
) -> candle_core::Result<Tensor> {
    let mask: Vec<f32> = (0..l)
        .flat_map(|i| (0..l).map(move |j| (i, j)))
        .map(|(i, j)| if hide(i, j) { f32::NEG_INFINITY } else { 0.0 })
        .collect();
    Tensor::from_vec(mask, (l, l), device)
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};

    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use trine_encoder::{Batch, Family, ModelFolder, TextTokenizer, Transformer};

    use super::Dropouts;
    use crate::model::TrainableModel;

    /// A tiny sentence-transformers folder of `trine-encoder`'s fixtures.
    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../trine-encoder/tests/fixtures")
            .join(name)
    }

    /// Largest absolute difference between two tensors of one shape.
    pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar())
            .unwrap()
    }

    /// A training pass over the fixture `name` against candle-transformers' model of it, on two
    /// texts (one past ModernBERT's sliding window), compared on the real tokens: without
    /// dropout the same function (max abs diff under 1e-5); with `dropout`, masks that follow
    /// the seed. `pass(weights, family, batch, dropout, seed)` runs the pass.
    pub fn assert_same_function_and_seeded_dropout(
        name: &str,
        dropout: Dropouts,
        pass: impl Fn(VarBuilder<'static>, &Family, &Batch, Dropouts, u64) -> Tensor,
    ) {
        let folder = ModelFolder::open(&fixture(name)).unwrap();
        let tensors = candle_core::safetensors::load(&folder.weights, &Device::Cpu).unwrap();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let tok = TextTokenizer::load(&folder).unwrap();
        let texts = [
            "a short one",
            "The quick brown fox jumps over the lazy dog near the river bank today",
        ];
        let ids = tok.encode(&texts).unwrap();
        let rows: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let b = tok.pad(&rows, &Device::Cpu).unwrap();
        let real = b.attention_mask.unsqueeze(2).unwrap();
        let on_real = |t: Tensor| t.broadcast_mul(&real).unwrap();
        let reference = on_real(
            Transformer::build(vb.clone(), &folder.family)
                .unwrap()
                .forward(&b.input_ids, &b.attention_mask)
                .unwrap(),
        );
        let run = |d, seed| on_real(pass(vb.clone(), &folder.family, &b, d, seed));
        let d = max_diff(&run(Dropouts::default(), 1), &reference);
        assert!(d < 1e-5, "{name}: max abs diff {d} to candle-transformers");
        assert_eq!(max_diff(&run(dropout, 5), &run(dropout, 5)), 0.0, "{name}");
        assert!(
            max_diff(&run(dropout, 5), &run(dropout, 6)) > 1e-4,
            "{name}"
        );
        assert!(max_diff(&run(dropout, 5), &reference) > 1e-4, "{name}");
    }

    /// Every weight of the fixture `name` gets a non-zero gradient from a loss that depends on
    /// two texts' similarity (so attention matters).
    pub fn assert_every_weight_gets_a_gradient(name: &str) {
        let model = TrainableModel::load(&fixture(name)).unwrap();
        let ids = model
            .tokenize(&["the cat sat on the mat", "hello"])
            .unwrap();
        let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let e = model.embed(&refs, 3).unwrap();
        let loss = (e.get(0).unwrap() * e.get(1).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let zero = |g: &Tensor| {
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                == 0.0
        };
        let missing: Vec<String> = model
            .vars()
            .into_iter()
            .filter(|(_, v)| grads.get(v.as_tensor()).is_none_or(zero))
            .map(|(n, _)| n)
            .collect();
        assert!(missing.is_empty(), "{name}: no gradient for {missing:?}");
    }
}
