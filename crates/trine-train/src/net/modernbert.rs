//! ModernBERT's training pass. candle-transformers' `ModernBert` (what inference runs) applies
//! candle-nn's fused `rope`, which has no backward pass: the gradient would never reach the query
//! and key projections. This is its graph with the composed rotation, plus the embedding,
//! attention and MLP dropouts of `config.json`.

use candle_core::{Module, Tensor, D};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::modernbert::Config;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{additive_mask, linear, tensor, Dropouts, Rotary};
use crate::forward::dropout;

struct Layer {
    /// Absent in the first layer (transformers' Identity).
    attn_norm: Option<LayerNorm>,
    wqkv: Linear,
    attn_out: Linear,
    mlp_norm: LayerNorm,
    wi: Linear,
    mlp_out: Linear,
    local: bool,
}

/// A ModernBERT whose weights are a training run's variables.
pub struct ModernBertTrain {
    embeddings: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    global: Rotary,
    local: Rotary,
    heads: usize,
    window: usize,
    dropout: Dropouts,
}

fn norm(vb: &VarBuilder, name: &str, config: &Config) -> candle_core::Result<LayerNorm> {
    let w = tensor(&vb.pp(name), "weight", &[config.hidden_size])?;
    Ok(LayerNorm::new_no_bias(w, config.layer_norm_eps))
}

impl ModernBertTrain {
    /// Builds the pass over `vb`'s tensors, named as sentence-transformers saves them or with
    /// the masked-LM layout's `model.` prefix.
    pub fn new(vb: VarBuilder, config: &Config, dropout: Dropouts) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("model.embeddings.tok_embeddings.weight") {
            vb.pp("model")
        } else {
            vb
        };
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let head_dim = h / config.num_attention_heads;
        let embeddings = Embedding::new(
            tensor(
                &vb.pp("embeddings.tok_embeddings"),
                "weight",
                &[config.vocab_size, h],
            )?,
            h,
        );
        let layers = (0..config.num_hidden_layers)
            .map(|n| {
                let vb = vb.pp(format!("layers.{n}"));
                let attn_norm = if vb.contains_tensor("attn_norm.weight") {
                    Some(norm(&vb, "attn_norm", config)?)
                } else {
                    None
                };
                Ok(Layer {
                    attn_norm,
                    wqkv: linear(&vb, "attn.Wqkv", 3 * h, h, false)?,
                    attn_out: linear(&vb, "attn.Wo", h, h, false)?,
                    mlp_norm: norm(&vb, "mlp_norm", config)?,
                    wi: linear(&vb, "mlp.Wi", 2 * i, h, false)?,
                    mlp_out: linear(&vb, "mlp.Wo", h, i, false)?,
                    local: n % config.global_attn_every_n_layers != 0,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let device = vb.device();
        Ok(ModernBertTrain {
            embeddings,
            embedding_norm: norm(&vb, "embeddings.norm", config)?,
            layers,
            final_norm: norm(&vb, "final_norm", config)?,
            global: Rotary::new(
                head_dim,
                config.max_position_embeddings,
                config.global_rope_theta,
                device,
            )?,
            local: Rotary::new(
                head_dim,
                config.max_position_embeddings,
                config.local_rope_theta,
                device,
            )?,
            heads: config.num_attention_heads,
            window: config.local_attention,
            dropout,
        })
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` under `attention_mask` (f32,
    /// 1 real, 0 padding), with dropout masks drawn from `seed`.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        seed: u64,
    ) -> candle_core::Result<Tensor> {
        let l = input_ids.dim(1)?;
        let device = input_ids.device();
        let mut rng = StdRng::seed_from_u64(seed);
        // Padding keys get f32::MIN, keys beyond the sliding window -inf, as candle-transformers.
        let global = ((1.0 - attention_mask.unsqueeze(1)?.unsqueeze(2)?)? * f32::MIN as f64)?;
        let half = self.window / 2;
        let local =
            global.broadcast_add(&additive_mask(l, device, |i, j| i.abs_diff(j) > half)?)?;
        let x = self
            .embedding_norm
            .forward(&self.embeddings.forward(input_ids)?)?;
        let mut x = dropout(&x, self.dropout.embedding, &mut rng)?;
        for layer in &self.layers {
            let mask = if layer.local { &local } else { &global };
            x = self.layer(layer, &x, mask, &mut rng)?;
        }
        self.final_norm.forward(&x)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: &Tensor,
        rng: &mut StdRng,
    ) -> candle_core::Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let head_dim = d / self.heads;
        let h = match &layer.attn_norm {
            Some(n) => n.forward(x)?,
            None => x.clone(),
        };
        let qkv = layer
            .wqkv
            .forward(&h)?
            .reshape((b, l, 3, self.heads, head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        let rotary = if layer.local {
            &self.local
        } else {
            &self.global
        };
        let q = rotary.apply(&qkv.get(0)?)?;
        let k = rotary.apply(&qkv.get(1)?)?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = (q * (head_dim as f64).powf(-0.5))?.matmul(&k.t()?)?;
        let probs = candle_nn::ops::softmax(&scores.broadcast_add(mask)?, D::Minus1)?;
        let probs = dropout(&probs, self.dropout.attention, rng)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, d))?;
        let attn = dropout(&layer.attn_out.forward(&ctx)?, self.dropout.attention, rng)?;
        let x = (attn + x)?;
        let gated = layer
            .wi
            .forward(&layer.mlp_norm.forward(&x)?)?
            .chunk(2, D::Minus1)?;
        let inner = (gated[0].gelu_erf()? * &gated[1])?;
        let inner = dropout(&inner, self.dropout.mlp, rng)?;
        x + layer.mlp_out.forward(&inner)?
    }
}

#[cfg(test)]
mod tests {
    use trine_encoder::Family;

    use super::ModernBertTrain;
    use crate::model::TrainableModel;
    use crate::net::test_support::{
        assert_every_weight_gets_a_gradient, assert_same_function_and_seeded_dropout, fixture,
    };
    use crate::net::Dropouts;

    fn reference() -> Vec<(String, Vec<f32>)> {
        std::fs::read_to_string(fixture("modernbert-mean").join("reference.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let e = v["embedding"].as_array().unwrap();
                (
                    v["text"].as_str().unwrap().to_string(),
                    e.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
                )
            })
            .collect()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let n = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        dot / (n(a) * n(b)).max(1e-30)
    }

    /// The training pass over sentence-transformers' tiny ModernBERT (mean pooling, texts past
    /// its sliding window and its max_seq_length) reproduces sentence-transformers' embeddings.
    #[test]
    fn training_pass_reproduces_sentence_transformers() {
        let model = TrainableModel::load(&fixture("modernbert-mean")).unwrap();
        let rows = reference();
        let texts: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
        let ids = model.tokenize(&texts).unwrap();
        let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let got = model.embed(&refs, 7).unwrap().to_vec2::<f32>().unwrap();
        let worst = got
            .iter()
            .zip(&rows)
            .map(|(g, (_, want))| cosine(g, want))
            .fold(1f64, f64::min);
        assert!(worst >= 0.99999, "worst cosine {worst}");
    }

    /// Without dropout the pass is candle-transformers' ModernBERT on the real tokens; the
    /// dropout masks follow the seed.
    #[test]
    fn same_function_as_candle_transformers_and_seeded_dropout() {
        let some = Dropouts {
            embedding: 0.1,
            attention: 0.1,
            mlp: 0.1,
        };
        assert_same_function_and_seeded_dropout(
            "modernbert-mean",
            some,
            |vb, family, b, d, seed| {
                let Family::ModernBert(config) = family else {
                    panic!("not a ModernBERT fixture")
                };
                ModernBertTrain::new(vb, config, d)
                    .unwrap()
                    .forward(&b.input_ids, &b.attention_mask, seed)
                    .unwrap()
            },
        );
    }

    /// Every weight gets a gradient, the query and key projections (behind the rotary
    /// embedding) among them: what candle-nn's fused `rope` would lose.
    #[test]
    fn gradients_reach_every_weight() {
        assert_every_weight_gets_a_gradient("modernbert-mean");
    }
}
