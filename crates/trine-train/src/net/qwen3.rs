//! Qwen3's training pass (Qwen3-Embedding and other decoders with last-token pooling).
//! candle-transformers' `qwen3::Model` (what inference runs) uses candle-nn's fused RMS norm,
//! rotary embedding and CPU flash attention, none of which has a backward pass. This is its graph
//! with the composed RMS norm, rotation and softmax: grouped-query attention under a causal mask
//! (padding is on the right, so no real token attends to it), per-head query and key norms, and
//! the attention dropout of `config.json`.

use candle_core::{Module, Tensor, D};
use candle_nn::{Activation, Embedding, Linear, RmsNorm, VarBuilder};
use candle_transformers::models::qwen3::Config;
use candle_transformers::utils::repeat_kv;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{additive_mask, linear, tensor, Dropouts, Rotary};
use crate::forward::dropout;

struct Layer {
    input_norm: RmsNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    post_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A Qwen3 whose weights are a training run's variables.
pub struct Qwen3Train {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    rotary: Rotary,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    act: Activation,
    dropout: Dropouts,
}

fn rms(vb: &VarBuilder, name: &str, size: usize, eps: f64) -> candle_core::Result<RmsNorm> {
    Ok(RmsNorm::new(tensor(&vb.pp(name), "weight", &[size])?, eps))
}

impl Qwen3Train {
    /// Builds the pass over `vb`'s tensors, named as sentence-transformers saves them or with
    /// the causal-LM layout's `model.` prefix.
    pub fn new(vb: VarBuilder, config: &Config, dropout: Dropouts) -> candle_core::Result<Self> {
        if config.use_sliding_window {
            candle_core::bail!("Qwen3 with a sliding window is not supported");
        }
        let vb = if vb.contains_tensor("model.embed_tokens.weight") {
            vb.pp("model")
        } else {
            vb
        };
        let (h, hd, eps) = (config.hidden_size, config.head_dim, config.rms_norm_eps);
        let (nq, nkv) = (config.num_attention_heads, config.num_key_value_heads);
        let bias = config.attention_bias;
        let i = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|n| {
                let vb = vb.pp(format!("layers.{n}"));
                let attn = vb.pp("self_attn");
                Ok(Layer {
                    input_norm: rms(&vb, "input_layernorm", h, eps)?,
                    q: linear(&attn, "q_proj", nq * hd, h, bias)?,
                    k: linear(&attn, "k_proj", nkv * hd, h, bias)?,
                    v: linear(&attn, "v_proj", nkv * hd, h, bias)?,
                    o: linear(&attn, "o_proj", h, nq * hd, bias)?,
                    q_norm: rms(&attn, "q_norm", hd, eps)?,
                    k_norm: rms(&attn, "k_norm", hd, eps)?,
                    post_norm: rms(&vb, "post_attention_layernorm", h, eps)?,
                    gate: linear(&vb, "mlp.gate_proj", i, h, false)?,
                    up: linear(&vb, "mlp.up_proj", i, h, false)?,
                    down: linear(&vb, "mlp.down_proj", h, i, false)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Qwen3Train {
            embeddings: Embedding::new(
                tensor(&vb.pp("embed_tokens"), "weight", &[config.vocab_size, h])?,
                h,
            ),
            layers,
            norm: rms(&vb, "norm", h, eps)?,
            rotary: Rotary::new(
                hd,
                config.max_position_embeddings,
                config.rope_theta,
                vb.device(),
            )?,
            heads: nq,
            kv_heads: nkv,
            head_dim: hd,
            act: config.hidden_act,
            dropout,
        })
    }

    /// Last hidden states `[batch, seq, hidden]` for right-padded `input_ids`, with the attention
    /// dropout's masks drawn from `seed`.
    pub fn forward(&self, input_ids: &Tensor, seed: u64) -> candle_core::Result<Tensor> {
        let l = input_ids.dim(1)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let causal = additive_mask(l, input_ids.device(), |i, j| j > i)?;
        let mut x = self.embeddings.forward(input_ids)?;
        for layer in &self.layers {
            x = self.layer(layer, &x, &causal, &mut rng)?;
        }
        self.norm.forward_diff(&x)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        causal: &Tensor,
        rng: &mut StdRng,
    ) -> candle_core::Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        let hd = self.head_dim;
        let h = layer.input_norm.forward_diff(x)?;
        // [b, l, heads · hd] → [b, heads, l, hd], then each head's RMS norm and rotation.
        let heads = |lin: &Linear, n: usize, norm: Option<&RmsNorm>| {
            let t = lin.forward(&h)?.reshape((b, l, n, hd))?;
            let t = match norm {
                Some(norm) => norm.forward_diff(&t)?,
                None => t,
            };
            t.transpose(1, 2)
        };
        let q = self
            .rotary
            .apply(&heads(&layer.q, self.heads, Some(&layer.q_norm))?)?;
        let k = self
            .rotary
            .apply(&heads(&layer.k, self.kv_heads, Some(&layer.k_norm))?)?;
        let v = heads(&layer.v, self.kv_heads, None)?;
        let groups = self.heads / self.kv_heads;
        let k = repeat_kv(k, groups)?.contiguous()?;
        let v = repeat_kv(v.contiguous()?, groups)?.contiguous()?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let probs = candle_nn::ops::softmax(&scores.broadcast_add(causal)?, D::Minus1)?;
        let probs = dropout(&probs, self.dropout.attention, rng)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b, l, self.heads * hd))?;
        let x = (x + layer.o.forward(&ctx)?)?;
        let h = layer.post_norm.forward_diff(&x)?;
        let mlp = (layer.gate.forward(&h)?.apply(&self.act)? * layer.up.forward(&h)?)?;
        x + layer.down.forward(&mlp)?
    }
}

#[cfg(test)]
mod tests {
    use trine_encoder::Family;

    use super::Qwen3Train;
    use crate::net::test_support::{
        assert_every_weight_gets_a_gradient, assert_same_function_and_seeded_dropout,
    };
    use crate::net::Dropouts;

    /// Without dropout the pass is candle-transformers' Qwen3 on the real tokens (padding on
    /// the right); the attention dropout follows the seed.
    #[test]
    fn same_function_as_candle_transformers_and_seeded_dropout() {
        let some = Dropouts {
            attention: 0.2,
            ..Dropouts::default()
        };
        assert_same_function_and_seeded_dropout(
            "qwen3-lasttoken-prompts",
            some,
            |vb, family, b, d, seed| {
                let Family::Qwen3(config) = family else {
                    panic!("not a Qwen3 fixture")
                };
                Qwen3Train::new(vb, config, d)
                    .unwrap()
                    .forward(&b.input_ids, seed)
                    .unwrap()
            },
        );
    }

    /// Every weight gets a gradient through the composed norms, rotation and softmax.
    #[test]
    fn gradients_reach_every_weight() {
        assert_every_weight_gets_a_gradient("qwen3-lasttoken-prompts");
    }
}
