//! The BERT transformer, written on candle tensors so that it can run both for inference (fused
//! QKV projection, no dropout) and for training (weights as candle `Var`s, working dropout).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use crate::{BertConfig, EncoderError, ModelFolder, Result};

/// Inference runs without dropout; training applies the model's dropout probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inference,
    Train,
}

#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(vb: VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Self> {
        Ok(Linear {
            weight: vb.get((out_dim, in_dim), "weight")?,
            bias: vb.get(out_dim, "bias")?,
        })
    }

    /// `x` is `[rows, in]`; returns `[rows, out]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

fn dropout(x: &Tensor, p: f64, mode: Mode) -> candle_core::Result<Tensor> {
    if mode == Mode::Train && p > 0.0 {
        candle_nn::ops::dropout(x, p as f32)
    } else {
        Ok(x.clone())
    }
}

#[derive(Debug, Clone)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    /// q, k and v stacked into one `[3*hidden, hidden]` projection; only for inference, since a
    /// copy made once would not follow training updates.
    qkv: Option<Linear>,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// A BERT encoder: embeddings and transformer layers, returning the last hidden states.
#[derive(Debug, Clone)]
pub struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    config: BertConfig,
    exact_gelu: bool,
}

fn layer_norm(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    let (weight, bias) = if vb.contains_tensor("weight") {
        (vb.get(size, "weight")?, vb.get(size, "bias")?)
    } else {
        (vb.get(size, "gamma")?, vb.get(size, "beta")?)
    };
    Ok(LayerNorm::new(weight, bias, eps))
}

impl Bert {
    /// Memory-maps `model.safetensors` and builds the model for inference on `device`.
    pub fn load(folder: &ModelFolder, device: &Device) -> Result<Self> {
        // SAFETY: the file is memory-mapped read-only; trine never writes a model file in place
        // (checkpoints are written to a new file and renamed).
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&folder.weights], DType::F32, device) }
                .map_err(|source| EncoderError::Weights {
                    path: folder.weights.clone(),
                    source,
                })?;
        Self::new(vb, &folder.config, Mode::Inference).map_err(|source| EncoderError::Weights {
            path: folder.weights.clone(),
            source,
        })
    }

    /// Builds the model from a `VarBuilder` (weights with or without a `bert.` prefix). With
    /// `Mode::Train` no fused copies are made, so gradients reach the builder's variables.
    pub fn new(vb: VarBuilder, config: &BertConfig, mode: Mode) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let e = vb.pp("embeddings");
        let word = Embedding::new(e.get((config.vocab_size, h), "word_embeddings.weight")?, h);
        let position = Embedding::new(
            e.get(
                (config.max_position_embeddings, h),
                "position_embeddings.weight",
            )?,
            h,
        );
        let token_type = e
            .get((config.type_vocab_size, h), "token_type_embeddings.weight")?
            .narrow(0, 0, 1)?;
        let emb_norm = layer_norm(e.pp("LayerNorm"), h, config.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            let q = Linear::load(a.pp("self.query"), h, h)?;
            let k = Linear::load(a.pp("self.key"), h, h)?;
            let v = Linear::load(a.pp("self.value"), h, h)?;
            let qkv = if mode == Mode::Inference {
                Some(Linear {
                    weight: Tensor::cat(&[&q.weight, &k.weight, &v.weight], 0)?,
                    bias: Tensor::cat(&[&q.bias, &k.bias, &v.bias], 0)?,
                })
            } else {
                None
            };
            layers.push(Layer {
                q,
                k,
                v,
                qkv,
                attn_out: Linear::load(a.pp("output.dense"), h, h)?,
                attn_norm: layer_norm(a.pp("output.LayerNorm"), h, config.layer_norm_eps)?,
                intermediate: Linear::load(
                    l.pp("intermediate.dense"),
                    h,
                    config.intermediate_size,
                )?,
                output: Linear::load(l.pp("output.dense"), config.intermediate_size, h)?,
                out_norm: layer_norm(l.pp("output.LayerNorm"), h, config.layer_norm_eps)?,
            });
        }
        Ok(Bert {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            config: config.clone(),
            exact_gelu: config.hidden_act == "gelu",
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` `[batch, seq]` (u32) under
    /// `attention_mask` `[batch, seq]` (1 real, 0 padding).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        mode: Mode,
    ) -> candle_core::Result<Tensor> {
        let (b, l) = input_ids.dims2()?;
        let cfg = &self.config;
        let (h, nh) = (cfg.hidden_size, cfg.num_attention_heads);
        let hd = h / nh;
        let positions = Tensor::arange(0u32, l as u32, input_ids.device())?;
        let x = self
            .word
            .forward(input_ids)?
            .broadcast_add(&self.position.forward(&positions)?)?
            .broadcast_add(&self.token_type)?;
        let x = self.emb_norm.forward(&x)?;
        let mut x = dropout(&x, cfg.hidden_dropout_prob, mode)?.reshape((b * l, h))?;

        // 0 where attended, a very large negative number at padding: `[batch, 1, 1, seq]`.
        let bias = ((attention_mask.to_dtype(x.dtype())? - 1.0)? * f32::MAX as f64)?
            .reshape((b, 1, 1, l))?;
        let scale = 1.0 / (hd as f64).sqrt();

        for layer in &self.layers {
            let (q, k, v) = match &layer.qkv {
                Some(qkv) => {
                    let t = qkv
                        .forward(&x)?
                        .reshape((b, l, 3, nh, hd))?
                        .permute((2, 0, 3, 1, 4))?
                        .contiguous()?;
                    (t.get(0)?, t.get(1)?, t.get(2)?)
                }
                None => {
                    let heads = |lin: &Linear| -> candle_core::Result<Tensor> {
                        lin.forward(&x)?
                            .reshape((b, l, nh, hd))?
                            .transpose(1, 2)?
                            .contiguous()
                    };
                    (heads(&layer.q)?, heads(&layer.k)?, heads(&layer.v)?)
                }
            };
            let scores = (q * scale)?.matmul(&k.t()?)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let probs = dropout(&probs, cfg.attention_probs_dropout_prob, mode)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * l, h))?;
            let attn = dropout(
                &layer.attn_out.forward(&ctx)?,
                cfg.hidden_dropout_prob,
                mode,
            )?;
            let x1 = layer.attn_norm.forward(&(attn + &x)?)?;
            let inter = layer.intermediate.forward(&x1)?;
            let inter = if self.exact_gelu {
                inter.gelu_erf()?
            } else {
                inter.gelu()?
            };
            let out = dropout(
                &layer.output.forward(&inter)?,
                cfg.hidden_dropout_prob,
                mode,
            )?;
            x = layer.out_norm.forward(&(out + x1)?)?;
        }
        x.reshape((b, l, h))
    }

    /// The embedding width.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}
