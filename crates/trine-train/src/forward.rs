//! The training forward pass over a BERT-shaped model's weights (trine-encoder's [`Bert`] built
//! with `Mode::Train`, its tensors a training run's variables): the model's dropout, and each op
//! one autograd node with a hand-written backward pass (candle's fused softmax and layer norm
//! have none).

use candle_core::Tensor;
use candle_nn::LayerNorm;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use trine_encoder::{Bert, Layer, Linear};

use crate::autograd::{self, Activation};

/// Last hidden states `[batch, seq, hidden]` with the model's dropout, its masks drawn from a
/// generator seeded with `seed`: the same seed gives the same masks, which makes resumed runs
/// repeatable. `bf16` runs the dense layers' products on bf16-rounded operands with f32
/// accumulation (AMX with MKL), as mixed-precision training does; weights, their gradients and
/// everything between the products stay f32.
pub(crate) fn forward_train(
    bert: &Bert,
    input_ids: &Tensor,
    attention_mask: &Tensor,
    seed: u64,
    bf16: bool,
) -> candle_core::Result<Tensor> {
    let (b, l) = input_ids.dims2()?;
    let cfg = bert.config();
    let h = cfg.hidden_size;
    let mut rng = StdRng::seed_from_u64(seed);
    let x = norm(
        bert.embedding_norm(),
        &bert.embeddings(input_ids)?,
        cfg.layer_norm_eps,
    )?;
    let mut x = dropout(&x, cfg.hidden_dropout_prob, &mut rng)?.reshape((b * l, h))?;
    let lengths = trine_encoder::lengths(attention_mask)?;
    let pass = Pass { bert, bf16 };
    for layer in bert.layers() {
        x = pass.layer(layer, &x, &lengths, &mut rng)?;
    }
    x.reshape((b, l, h))
}

struct Pass<'a> {
    bert: &'a Bert,
    bf16: bool,
}

impl Pass<'_> {
    /// One layer: three `dense` projections, `self_attention`, the output `dense` with dropout,
    /// `layer_norm`, `dense` with GELU, `dense` with dropout, `layer_norm` (and two residual adds).
    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        lengths: &[usize],
        rng: &mut StdRng,
    ) -> candle_core::Result<Tensor> {
        use Activation::{GeluErf, Identity};
        let cfg = self.bert.config();
        let eps = cfg.layer_norm_eps;
        let (hidden_p, attention_p) = (
            cfg.hidden_dropout_prob as f32,
            cfg.attention_probs_dropout_prob as f32,
        );
        let attention_dropout = Some((attention_p, rng.next_u64()));
        let attn_out_dropout = Some((hidden_p, rng.next_u64()));
        let output_dropout = Some((hidden_p, rng.next_u64()));
        let dense = |lin: &Linear, x: &Tensor, act, dropout| {
            autograd::dense(x, &lin.weight, &lin.bias, act, dropout, self.bf16)
        };
        let (q, k, v) = (
            dense(&layer.q, x, Identity, None)?,
            dense(&layer.k, x, Identity, None)?,
            dense(&layer.v, x, Identity, None)?,
        );
        let nh = cfg.num_attention_heads;
        let ctx = autograd::self_attention(&q, &k, &v, lengths, nh, attention_dropout)?;
        let attn = dense(&layer.attn_out, &ctx, Identity, attn_out_dropout)?;
        let x1 = norm(&layer.attn_norm, &(attn + x)?, eps)?;
        let inter = if self.bert.exact_gelu() {
            dense(&layer.intermediate, &x1, GeluErf, None)?
        } else {
            dense(&layer.intermediate, &x1, Identity, None)?.gelu()?
        };
        let out = dense(&layer.output, &inter, Identity, output_dropout)?;
        norm(&layer.out_norm, &(out + x1)?, eps)
    }
}

fn norm(ln: &LayerNorm, x: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let bias = ln.bias().expect("BERT layer norms have a bias");
    autograd::layer_norm(x, ln.weight(), bias, eps)
}

/// Zeroes each value with probability `p` and scales the rest by `1 / (1 - p)`, drawing the mask
/// from `rng` (so a seeded training run repeats exactly).
pub(crate) fn dropout(x: &Tensor, p: f64, rng: &mut StdRng) -> candle_core::Result<Tensor> {
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use candle_core::{DType, Device, Tensor, Var};
    use candle_nn::{VarBuilder, VarMap};
    use trine_encoder::tiny::{write_tiny_model, TinySpec};
    use trine_encoder::{Bert, BertConfig, Head, Mode, ModelFolder, TextTokenizer};

    use super::forward_train;

    fn diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar())
            .unwrap()
    }

    /// The folder's weights as variables and the model built on them for training.
    fn trainable(folder: &ModelFolder, config: &BertConfig) -> (VarMap, Bert) {
        let varmap = VarMap::new();
        for (name, t) in candle_core::safetensors::load(&folder.weights, &Device::Cpu).unwrap() {
            let v = Var::from_tensor(&t).unwrap();
            varmap.data().lock().unwrap().insert(name, v);
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let bert = Bert::new(vb, config, Mode::Train).unwrap();
        (varmap, bert)
    }

    fn tiny() -> (tempfile::TempDir, ModelFolder) {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
        let folder = ModelFolder::open(dir.path()).unwrap();
        (dir, folder)
    }

    fn batch(folder: &ModelFolder, texts: &[&str]) -> trine_encoder::Batch {
        let tok = TextTokenizer::load(folder).unwrap();
        let ids = tok.encode(texts).unwrap();
        let rows: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        tok.pad(&rows, &Device::Cpu).unwrap()
    }

    #[test]
    fn dropout_is_seeded_and_without_it_the_pass_is_the_reference() {
        let (_dir, folder) = tiny();
        let config = folder.family.bert().unwrap().clone();
        let (_vars, bert) = trainable(&folder, &config);
        let b = batch(&folder, &["the cat sat", "a dog ran fast"]);
        let real = b.attention_mask.unsqueeze(2).unwrap();
        let train = |bert: &Bert, seed| {
            forward_train(bert, &b.input_ids, &b.attention_mask, seed, false)
                .unwrap()
                .broadcast_mul(&real)
                .unwrap()
        };
        let reference = bert
            .forward(&b.input_ids, &b.attention_mask)
            .unwrap()
            .broadcast_mul(&real)
            .unwrap();
        assert_eq!(
            diff(&train(&bert, 11), &train(&bert, 11)),
            0.0,
            "same seed, other masks"
        );
        assert!(
            diff(&train(&bert, 11), &train(&bert, 12)) > 1e-3,
            "the seed does not reach dropout"
        );
        assert!(
            diff(&train(&bert, 11), &reference) > 1e-3,
            "dropout did nothing"
        );
        let mut off = config.clone();
        off.hidden_dropout_prob = 0.0;
        off.attention_probs_dropout_prob = 0.0;
        let (_vars, no_dropout) = trainable(&folder, &off);
        let d = diff(&train(&no_dropout, 11), &reference);
        assert!(
            d < 1e-5,
            "training ops and candle's reference ops disagree: {d}"
        );
    }

    #[test]
    fn gradients_reach_every_weight() {
        let (_dir, folder) = tiny();
        let (varmap, bert) = trainable(&folder, folder.family.bert().unwrap());
        let b = batch(&folder, &["the cat sat", "a dog ran fast"]);
        let hidden = forward_train(&bert, &b.input_ids, &b.attention_mask, 3, false).unwrap();
        let pooled = trine_encoder::pool(
            &hidden,
            &b.attention_mask,
            trine_encoder::Pooling::Mean,
            true,
        )
        .unwrap();
        let grads = pooled.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let mut missing: Vec<&String> = data
            .iter()
            .filter(|(name, v)| !name.contains("pooler") && grads.get(v.as_tensor()).is_none())
            .map(|(name, _)| name)
            .collect();
        missing.sort();
        assert!(missing.is_empty(), "no gradient for {missing:?}");
    }

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../trine-encoder/tests/fixtures")
    }

    fn floats(v: &serde_json::Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    /// With dropout set to 0, the training pass over sentence-transformers' own tiny BERT,
    /// XLM-RoBERTa and DistilBERT folders reproduces its embeddings (`reference.jsonl`, made by
    /// scripts/make-encoder-fixtures.py) to cosine ≥ 0.99999.
    #[test]
    fn training_pass_reproduces_sentence_transformers_on_every_bert_shaped_family() {
        for name in [
            "bert-cls-normalize",
            "distilbert-mean",
            "xlm-roberta-mean-prompts",
        ] {
            let dir = fixtures().join(name);
            let folder = ModelFolder::open(&dir).unwrap();
            let mut config = folder.family.bert_like().unwrap().clone();
            config.hidden_dropout_prob = 0.0;
            config.attention_probs_dropout_prob = 0.0;
            let (_vars, bert) = trainable(&folder, &config);
            let head = Head::load(&folder, &Device::Cpu).unwrap();
            let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("reference.jsonl"))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let mut worst = 1f64;
            for chunk in rows.chunks(4) {
                let texts: Vec<&str> = chunk.iter().map(|r| r["text"].as_str().unwrap()).collect();
                let b = batch(&folder, &texts);
                let hidden =
                    forward_train(&bert, &b.input_ids, &b.attention_mask, 1, false).unwrap();
                let got = head.apply(&hidden, &b.attention_mask, 0).unwrap();
                for (g, r) in got.to_vec2::<f32>().unwrap().iter().zip(chunk) {
                    let w = floats(&r["embedding"]);
                    let dot: f64 = g.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let norm =
                        |v: &[f32]| v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
                    worst = worst.min(dot / (norm(g) * norm(&w)).max(1e-30));
                }
            }
            assert!(worst >= 0.99999, "{name}: worst cosine {worst}");
        }
    }
}
