//! The BERT transformer, written on candle tensors so that it can run both for inference (fused
//! QKV projection, no dropout) and for training (weights as candle `Var`s, working dropout).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::autograd;
use crate::kernels::{self, AttentionShape, NormParams, Weight};
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
}

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

/// Zeroes each value with probability `p` and scales the rest by `1 / (1 - p)`, drawing the mask
/// from `rng` (so a seeded training run repeats exactly); no-op without a generator.
fn dropout(x: &Tensor, p: f64, rng: &mut Option<StdRng>) -> candle_core::Result<Tensor> {
    let Some(rng) = rng.as_mut() else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let n = x.elem_count();
    // Four 16-bit draws per 64-bit word: the mask costs little next to the products around it.
    let threshold = (p * 65536.0).round() as u64;
    let scale = (1.0 / (1.0 - p)) as f32;
    let mut mask = Vec::with_capacity(n + 3);
    while mask.len() < n {
        let word = rng.next_u64();
        for shift in [0, 16, 32, 48] {
            let keep = (word >> shift) & 0xffff >= threshold;
            mask.push(if keep { scale } else { 0.0 });
        }
    }
    mask.truncate(n);
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
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

#[derive(Debug, Clone)]
struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    /// Stacked QKV projection and flat parameters for the fused kernels; only for inference,
    /// since copies made once would not follow training updates.
    fast: Option<FastParams>,
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
    /// Position of the first token: 0, or after the padding id for RoBERTa.
    first_position: usize,
    /// Type 0's embedding, added to every token; DistilBERT has none.
    token_type: Option<Tensor>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    config: BertConfig,
    exact_gelu: bool,
    /// Training: the dense layers' matrix products in bf16 (mixed precision).
    train_bf16: bool,
}

/// Layer norm; `differentiable` selects the training op (candle's fused kernel has no backward).
fn norm(ln: &LayerNorm, x: &Tensor, eps: f64, differentiable: bool) -> candle_core::Result<Tensor> {
    if differentiable {
        let bias = ln.bias().expect("layer norm with bias");
        autograd::layer_norm(x, ln.weight(), bias, eps)
    } else {
        ln.forward(x)
    }
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
        let bf16 = precision == Precision::Bf16;
        let weight = |t: &Tensor| -> candle_core::Result<Weight> {
            Ok(Weight::new(flat(t)?, t.dim(0)?, bf16))
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
            train_bf16: false,
        })
    }

    /// Runs the training pass's dense-layer products on bf16-rounded operands with f32
    /// accumulation (AMX with MKL), as mixed-precision training does; weights, their gradients
    /// and everything between the products stay f32.
    pub fn set_train_bf16(&mut self, on: bool) {
        self.train_bf16 = on;
    }

    /// The model's configuration.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` `[batch, seq]` (u32) under
    /// `attention_mask` `[batch, seq]` (1 real, 0 padding; padding on the right, as
    /// [`crate::TextTokenizer::pad`] makes it). A model built for inference runs the fused
    /// kernels in `Mode::Inference`; otherwise candle's differentiable ops run. `Mode::Train`
    /// draws dropout masks from an unseeded generator; see [`Bert::forward_train`].
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        mode: Mode,
    ) -> candle_core::Result<Tensor> {
        let mut rng = (mode == Mode::Train).then(|| StdRng::seed_from_u64(rand::random()));
        self.run(input_ids, attention_mask, mode, &mut rng)
    }

    /// Training forward pass with the model's dropout, its masks drawn from a generator seeded
    /// with `seed`: the same seed gives the same masks, which makes resumed runs repeatable.
    pub fn forward_train(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        seed: u64,
    ) -> candle_core::Result<Tensor> {
        let mut rng = Some(StdRng::seed_from_u64(seed));
        self.run(input_ids, attention_mask, Mode::Train, &mut rng)
    }

    fn run(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        mode: Mode,
        rng: &mut Option<StdRng>,
    ) -> candle_core::Result<Tensor> {
        let (b, l) = input_ids.dims2()?;
        let cfg = &self.config;
        let h = cfg.hidden_size;
        let first = self.first_position as u32;
        let positions = Tensor::arange(first, first + l as u32, input_ids.device())?;
        let mut x = self
            .word
            .forward(input_ids)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        if let Some(token_type) = &self.token_type {
            x = x.broadcast_add(token_type)?;
        }
        let x = norm(&self.emb_norm, &x, cfg.layer_norm_eps, rng.is_some())?;
        let mut x = dropout(&x, cfg.hidden_dropout_prob, rng)?.reshape((b * l, h))?;

        let lengths = kernels::with_f32(attention_mask, |m| {
            m.chunks_exact(l)
                .map(|row| row.iter().filter(|&&v| v > 0.5).count())
                .collect::<Vec<_>>()
        })?;
        if mode == Mode::Inference && self.layers.iter().all(|l| l.fast.is_some()) {
            for layer in &self.layers {
                x = self.fused_layer(layer, &x, &lengths, b, l)?;
            }
        } else if let Some(rng) = rng.as_mut() {
            for layer in &self.layers {
                x = self.train_layer(layer, &x, &lengths, rng)?;
            }
        } else {
            for layer in &self.layers {
                x = self.reference_layer(layer, &x, attention_mask, l)?;
            }
        }
        x.reshape((b, l, h))
    }

    /// One training layer: the ops of `autograd` (dense layers with their bias, GELU and dropout,
    /// attention with masked softmax and dropout, layer norm), each one autograd node; candle's
    /// fused softmax and layer norm have no backward pass.
    fn train_layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        lengths: &[usize],
        rng: &mut StdRng,
    ) -> candle_core::Result<Tensor> {
        use autograd::Activation::{GeluErf, Identity};
        let cfg = &self.config;
        let eps = cfg.layer_norm_eps;
        let (hidden_p, attention_p) = (
            cfg.hidden_dropout_prob as f32,
            cfg.attention_probs_dropout_prob as f32,
        );
        let attention_dropout = Some((attention_p, rng.next_u64()));
        let attn_out_dropout = Some((hidden_p, rng.next_u64()));
        let output_dropout = Some((hidden_p, rng.next_u64()));
        let dense = |lin: &Linear, x: &Tensor, act, dropout| {
            autograd::dense(x, &lin.weight, &lin.bias, act, dropout, self.train_bf16)
        };
        let (q, k, v) = (
            dense(&layer.q, x, Identity, None)?,
            dense(&layer.k, x, Identity, None)?,
            dense(&layer.v, x, Identity, None)?,
        );
        let nh = cfg.num_attention_heads;
        let ctx = autograd::self_attention(&q, &k, &v, lengths, nh, attention_dropout)?;
        let attn = dense(&layer.attn_out, &ctx, Identity, attn_out_dropout)?;
        let x1 = norm(&layer.attn_norm, &(attn + x)?, eps, true)?;
        let inter = if self.exact_gelu {
            dense(&layer.intermediate, &x1, GeluErf, None)?
        } else {
            dense(&layer.intermediate, &x1, Identity, None)?.gelu()?
        };
        let out = dense(&layer.output, &inter, Identity, output_dropout)?;
        norm(&layer.out_norm, &(out + x1)?, eps, true)
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
        let cfg = &self.config;
        let ctx = self.reference_attention(layer, x, attention_mask, b, l)?;
        let attn = layer.attn_out.forward(&ctx)?;
        let x1 = norm(&layer.attn_norm, &(attn + x)?, cfg.layer_norm_eps, false)?;
        let inter = layer.intermediate.forward(&x1)?;
        let inter = if self.exact_gelu {
            inter.gelu_erf()?
        } else {
            inter.gelu()?
        };
        let out = layer.output.forward(&inter)?;
        norm(&layer.out_norm, &(out + x1)?, cfg.layer_norm_eps, false)
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
        let ctx = kernels::attention(&qkv, &fast.qkv_bias, lengths, shape)?;
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
