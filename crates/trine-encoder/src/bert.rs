//! The BERT transformer (and the BERT-shaped RoBERTa and DistilBERT, see [`BertLayout`]) on
//! candle tensors: fused kernels for inference, candle's own ops as the reference, and the
//! weights exposed so that trine-train's training pass (dropout, hand-written backward passes)
//! runs on the same model.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use trine_kernels::{self as kernels, AttentionShape, Format, NormParams, Weight};

use crate::{BertConfig, BertLayout, EncoderError, ModelFolder, Result};

/// Number format of the inference path's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 throughout: reproduces sentence-transformers to ~1e-7.
    #[default]
    F32,
    /// bf16 inputs with f32 accumulation for the linear layers (uses the CPU's AMX units through
    /// MKL; needs the `mkl` feature, otherwise products stay f32).
    Bf16,
    /// int8 linear layers: weights quantised per output channel, activations per token as they
    /// arrive, i32 accumulation (VNNI / AMX-INT8 through MKL; a portable integer product without
    /// it, same numbers). Attention and layer norms stay f32.
    Int8,
}

impl Precision {
    fn format(self) -> Format {
        match self {
            Precision::F32 => Format::F32,
            Precision::Bf16 => Format::Bf16,
            Precision::Int8 => Format::Int8,
        }
    }
}

/// What a model is built for: inference packs fused copies of the weights; training keeps the
/// builder's tensors (a training run's variables) as they are, so gradients reach them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inference,
    Train,
}

/// A linear layer's weight `[out, in]` and bias `[out]`.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
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

/// A layer's parameters as plain vectors, for the fused inference kernels.
#[derive(Debug, Clone)]
struct FastParams {
    qkv_weight: Weight,
    attn_out_weight: Weight,
    intermediate_weight: Weight,
    output_weight: Weight,
    qkv_bias: Vec<f32>,
    attn_out_bias: Vec<f32>,
    attn_gamma: Vec<f32>,
    attn_beta: Vec<f32>,
    intermediate_bias: Vec<f32>,
    output_bias: Vec<f32>,
    out_gamma: Vec<f32>,
    out_beta: Vec<f32>,
}

/// One transformer layer's weights: self-attention, its output projection and norm, the
/// feed-forward pair and its norm (post-norm, as BERT).
#[derive(Debug, Clone)]
pub struct Layer {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    /// Stacked QKV projection and flat parameters for the fused kernels; only for inference,
    /// since copies made once would not follow training updates.
    fast: Option<FastParams>,
    pub attn_out: Linear,
    pub attn_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub out_norm: LayerNorm,
}

/// A BERT encoder: embeddings and transformer layers, returning the last hidden states.
#[derive(Debug, Clone)]
pub struct Bert {
    word: Embedding,
    position: Embedding,
    /// Position of the first token: 0, or after the padding id for RoBERTa.
    first_position: usize,
    /// Type 0's embedding, added to every token; DistilBERT has none.
    token_type: Option<Tensor>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    config: BertConfig,
    exact_gelu: bool,
    /// Number format of the fused kernels' products.
    precision: Precision,
}

fn layer_norm(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    let (weight, bias) = if vb.contains_tensor("weight") {
        (vb.get(size, "weight")?, vb.get(size, "bias")?)
    } else {
        (vb.get(size, "gamma")?, vb.get(size, "beta")?)
    };
    Ok(LayerNorm::new(weight, bias, eps))
}

/// Where a [`BertLayout`] keeps each weight: the model prefix task heads add, and each layer's
/// modules relative to `{layers}.{i}`.
struct Names {
    prefix: Option<&'static str>,
    layers: &'static str,
    query: &'static str,
    key: &'static str,
    value: &'static str,
    attn_out: &'static str,
    attn_norm: &'static str,
    intermediate: &'static str,
    output: &'static str,
    out_norm: &'static str,
}

impl Names {
    fn of(layout: BertLayout) -> Self {
        const BERT: Names = Names {
            prefix: Some("bert"),
            layers: "encoder.layer",
            query: "attention.self.query",
            key: "attention.self.key",
            value: "attention.self.value",
            attn_out: "attention.output.dense",
            attn_norm: "attention.output.LayerNorm",
            intermediate: "intermediate.dense",
            output: "output.dense",
            out_norm: "output.LayerNorm",
        };
        match layout {
            BertLayout::Bert => BERT,
            BertLayout::Roberta { .. } => Names {
                prefix: Some("roberta"),
                ..BERT
            },
            BertLayout::DistilBert => Names {
                prefix: Some("distilbert"),
                layers: "transformer.layer",
                query: "attention.q_lin",
                key: "attention.k_lin",
                value: "attention.v_lin",
                attn_out: "attention.out_lin",
                attn_norm: "sa_layer_norm",
                intermediate: "ffn.lin1",
                output: "ffn.lin2",
                out_norm: "output_layer_norm",
            },
        }
    }
}

impl FastParams {
    fn new(l: &Layer, precision: Precision) -> candle_core::Result<Self> {
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let weight = |t: &Tensor| -> candle_core::Result<Weight> {
            Ok(Weight::new(flat(t)?, t.dim(0)?, precision.format()))
        };
        Ok(FastParams {
            qkv_weight: weight(&Tensor::cat(&[&l.q.weight, &l.k.weight, &l.v.weight], 0)?)?,
            attn_out_weight: weight(&l.attn_out.weight)?,
            intermediate_weight: weight(&l.intermediate.weight)?,
            output_weight: weight(&l.output.weight)?,
            qkv_bias: flat(&Tensor::cat(&[&l.q.bias, &l.k.bias, &l.v.bias], 0)?)?,
            attn_out_bias: flat(&l.attn_out.bias)?,
            attn_gamma: flat(l.attn_norm.weight())?,
            attn_beta: flat(l.attn_norm.bias().expect("layer norm with bias"))?,
            intermediate_bias: flat(&l.intermediate.bias)?,
            output_bias: flat(&l.output.bias)?,
            out_gamma: flat(l.out_norm.weight())?,
            out_beta: flat(l.out_norm.bias().expect("layer norm with bias"))?,
        })
    }
}

impl Bert {
    /// Memory-maps `model.safetensors` and builds the model for inference on `device`.
    pub fn load(folder: &ModelFolder, device: &Device, precision: Precision) -> Result<Self> {
        // SAFETY: the file is memory-mapped read-only; trine never writes a model file in place
        // (checkpoints are written to a new file and renamed).
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&folder.weights], DType::F32, device) }
                .map_err(|source| EncoderError::Weights {
                    path: folder.weights.clone(),
                    source,
                })?;
        let config = folder
            .family
            .bert()
            .ok_or_else(|| EncoderError::Unsupported {
                path: folder.dir.join("config.json"),
                message: format!("model_type `{}` is not BERT", folder.family.model_type()),
            })?;
        Self::with_precision(vb, config, Mode::Inference, precision).map_err(|source| {
            EncoderError::Weights {
                path: folder.weights.clone(),
                source,
            }
        })
    }

    /// Builds the model from a `VarBuilder` (weights with or without the prefix of the config's
    /// [`BertLayout`], `bert.`, `roberta.` or `distilbert.`). With `Mode::Train` no fused copies
    /// are made, so gradients reach the builder's variables.
    pub fn new(vb: VarBuilder, config: &BertConfig, mode: Mode) -> candle_core::Result<Self> {
        Self::with_precision(vb, config, mode, Precision::F32)
    }

    /// As [`Bert::new`], choosing the inference path's number format.
    pub fn with_precision(
        vb: VarBuilder,
        config: &BertConfig,
        mode: Mode,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let names = Names::of(config.layout);
        let vb = match names.prefix {
            Some(prefix)
                if vb.contains_tensor(&format!("{prefix}.embeddings.word_embeddings.weight")) =>
            {
                vb.pp(prefix)
            }
            _ => vb,
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
        let token_type = match config.layout {
            BertLayout::DistilBert => None,
            _ => Some(
                e.get((config.type_vocab_size, h), "token_type_embeddings.weight")?
                    .narrow(0, 0, 1)?,
            ),
        };
        let first_position = match config.layout {
            BertLayout::Roberta { first_position } => first_position,
            _ => 0,
        };
        let emb_norm = layer_norm(e.pp("LayerNorm"), h, config.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("{}.{i}", names.layers));
            let inter = config.intermediate_size;
            let mut layer = Layer {
                q: Linear::load(l.pp(names.query), h, h)?,
                k: Linear::load(l.pp(names.key), h, h)?,
                v: Linear::load(l.pp(names.value), h, h)?,
                fast: None,
                attn_out: Linear::load(l.pp(names.attn_out), h, h)?,
                attn_norm: layer_norm(l.pp(names.attn_norm), h, config.layer_norm_eps)?,
                intermediate: Linear::load(l.pp(names.intermediate), h, inter)?,
                output: Linear::load(l.pp(names.output), inter, h)?,
                out_norm: layer_norm(l.pp(names.out_norm), h, config.layer_norm_eps)?,
            };
            if mode == Mode::Inference {
                layer.fast = Some(FastParams::new(&layer, precision)?);
            }
            layers.push(layer);
        }
        Ok(Bert {
            word,
            position,
            first_position,
            token_type,
            emb_norm,
            layers,
            config: config.clone(),
            exact_gelu: config.hidden_act == "gelu",
            precision,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` `[batch, seq]` (u32) under
    /// `attention_mask` `[batch, seq]` (1 real, 0 padding; padding on the right, as
    /// [`crate::TextTokenizer::pad`] makes it), without dropout: the fused kernels for a model
    /// built for inference, candle's reference ops for one built for training.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (b, l) = input_ids.dims2()?;
        let h = self.config.hidden_size;
        let x = self.emb_norm.forward(&self.embeddings(input_ids)?)?;
        let mut x = x.reshape((b * l, h))?;
        if self.layers.iter().all(|l| l.fast.is_some()) {
            let lengths = lengths(attention_mask)?;
            for layer in &self.layers {
                x = self.fused_layer(layer, &x, &lengths, b, l)?;
            }
        } else {
            for layer in &self.layers {
                x = self.reference_layer(layer, &x, attention_mask, l)?;
            }
        }
        x.reshape((b, l, h))
    }

    /// The sum of token, position and type embeddings `[batch, seq, hidden]`, before the
    /// embedding layer norm.
    pub fn embeddings(&self, input_ids: &Tensor) -> candle_core::Result<Tensor> {
        let l = input_ids.dim(1)?;
        let first = self.first_position as u32;
        let positions = Tensor::arange(first, first + l as u32, input_ids.device())?;
        let x = self
            .word
            .forward(input_ids)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        match &self.token_type {
            Some(token_type) => x.broadcast_add(token_type),
            None => Ok(x),
        }
    }

    /// The layer norm after the embeddings.
    pub fn embedding_norm(&self) -> &LayerNorm {
        &self.emb_norm
    }

    /// The transformer layers, first to last.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Whether the feed-forward GELU is the exact (erf) one (`hidden_act: gelu`) rather than
    /// the tanh approximation (`gelu_new`).
    pub fn exact_gelu(&self) -> bool {
        self.exact_gelu
    }

    /// One layer with candle's ops, no dropout: the reference the kernels are checked against.
    fn reference_layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        attention_mask: &Tensor,
        l: usize,
    ) -> candle_core::Result<Tensor> {
        let b = attention_mask.dim(0)?;
        let ctx = self.reference_attention(layer, x, attention_mask, b, l)?;
        let attn = layer.attn_out.forward(&ctx)?;
        let x1 = layer.attn_norm.forward(&(attn + x)?)?;
        let inter = layer.intermediate.forward(&x1)?;
        let inter = if self.exact_gelu {
            inter.gelu_erf()?
        } else {
            inter.gelu()?
        };
        let out = layer.output.forward(&inter)?;
        layer.out_norm.forward(&(out + x1)?)
    }

    /// Attention with candle's ops and an additive mask: the reference the kernels are checked
    /// against.
    fn reference_attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        attention_mask: &Tensor,
        b: usize,
        l: usize,
    ) -> candle_core::Result<Tensor> {
        let cfg = &self.config;
        let (h, nh) = (cfg.hidden_size, cfg.num_attention_heads);
        let hd = h / nh;
        let heads = |lin: &Linear| -> candle_core::Result<Tensor> {
            lin.forward(x)?
                .reshape((b, l, nh, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (heads(&layer.q)?, heads(&layer.k)?, heads(&layer.v)?);
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = (q * scale)?.matmul(&k.t()?)?;
        // 0 where attended, a very large negative number at padding: `[batch, 1, 1, seq]`.
        let bias = ((attention_mask.to_dtype(x.dtype())? - 1.0)? * f32::MAX as f64)?
            .reshape((b, 1, 1, l))?;
        let probs = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&bias)?)?;
        probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * l, h))
    }

    /// One layer with the fused inference kernels (no dropout, no autograd).
    fn fused_layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        lengths: &[usize],
        b: usize,
        l: usize,
    ) -> candle_core::Result<Tensor> {
        let fast = layer.fast.as_ref().expect("fused parameters");
        let cfg = &self.config;
        let eps = cfg.layer_norm_eps as f32;
        let shape = AttentionShape {
            batch: b,
            seq: l,
            heads: cfg.num_attention_heads,
            head_dim: cfg.hidden_size / cfg.num_attention_heads,
        };
        let qkv = kernels::linear(x, &fast.qkv_weight)?;
        let ctx = kernels::attention(
            &qkv,
            &fast.qkv_bias,
            lengths,
            shape,
            self.precision.format(),
        )?;
        let attn = kernels::linear(&ctx, &fast.attn_out_weight)?;
        let x1 = kernels::add_bias_residual_layer_norm(
            &attn,
            &fast.attn_out_bias,
            x,
            &NormParams {
                gamma: &fast.attn_gamma,
                beta: &fast.attn_beta,
                eps,
            },
        )?;
        let up = kernels::linear(&x1, &fast.intermediate_weight)?;
        let act = if self.exact_gelu {
            kernels::bias_gelu(&up, &fast.intermediate_bias)?
        } else {
            kernels::add_bias(&up, &fast.intermediate_bias)?.gelu()?
        };
        let down = kernels::linear(&act, &fast.output_weight)?;
        kernels::add_bias_residual_layer_norm(
            &down,
            &fast.output_bias,
            &x1,
            &NormParams {
                gamma: &fast.out_gamma,
                beta: &fast.out_beta,
                eps,
            },
        )
    }

    /// The embedding width.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}

/// Real tokens per row of an attention mask `[batch, seq]` (1 real, 0 padding on the right).
pub fn lengths(attention_mask: &Tensor) -> candle_core::Result<Vec<usize>> {
    let l = attention_mask.dim(1)?;
    kernels::with_f32(attention_mask, |m| {
        m.chunks_exact(l)
            .map(|row| row.iter().filter(|&&v| v > 0.5).count())
            .collect()
    })
}
