//! A tiny random-weight BERT model folder in the sentence-transformers layout, for tests that need
//! a real model pipeline (tokenizer, weights, pooling) but not a real model's size.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::json;

use crate::{EncoderError, Result};

/// Words of the tiny vocabulary (besides special tokens, letters and `##` letters).
const WORDS: &[&str] = &[
    "the", "cat", "dog", "sat", "on", "mat", "a", "ran", "fast", "slow", "red", "blue", "car",
    "sun", "moon", "is", "big", "small", ".", ",", "!", "?",
];

/// Shape of the tiny model.
#[derive(Debug, Clone)]
pub struct TinySpec {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_seq_length: usize,
    /// `mean`, `cls` or `max`.
    pub pooling: &'static str,
    pub normalize: bool,
    pub seed: u64,
    /// Hidden and attention dropout probability (training only).
    pub dropout: f64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            hidden: 32,
            layers: 2,
            heads: 4,
            intermediate: 64,
            max_seq_length: 16,
            pooling: "mean",
            normalize: true,
            seed: 7,
            dropout: 0.1,
        }
    }
}

fn vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in 'a'..='z' {
        v.push(c.to_string());
        v.push(format!("##{c}"));
    }
    v.extend(WORDS.iter().map(|s| s.to_string()));
    v
}

/// A small deterministic generator (SplitMix64) so the weights are the same on every machine.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn tensor(&mut self, shape: &[usize], center: f32, spread: f32) -> candle_core::Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| center + spread * self.next_f32()).collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).map_err(|source| {
        EncoderError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes a complete model folder (config, tokenizer, weights, modules, pooling) into `dir`.
pub fn write_tiny_model(dir: &Path, spec: &TinySpec) -> Result<()> {
    std::fs::create_dir_all(dir.join("1_Pooling")).map_err(|source| EncoderError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let vocab = vocab();
    let (h, inter) = (spec.hidden, spec.intermediate);
    let max_pos = 64;
    write_json(
        &dir.join("config.json"),
        &json!({
            "model_type": "bert", "vocab_size": vocab.len(), "hidden_size": h,
            "num_hidden_layers": spec.layers, "num_attention_heads": spec.heads,
            "intermediate_size": inter, "hidden_act": "gelu", "hidden_dropout_prob": spec.dropout,
            "attention_probs_dropout_prob": spec.dropout, "max_position_embeddings": max_pos,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12
        }),
    )?;
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let vocab_map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    write_json(
        &dir.join("tokenizer.json"),
        &json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"),
                             special(3, "[SEP]"), special(4, "[MASK]")],
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                           "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab_map}
        }),
    )?;
    let mut modules = vec![
        json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if spec.normalize {
        modules.push(json!({"idx": 2, "name": "2", "path": "2_Normalize",
                            "type": "sentence_transformers.models.Normalize"}));
    }
    write_json(&dir.join("modules.json"), &json!(modules))?;
    write_json(
        &dir.join("sentence_bert_config.json"),
        &json!({"max_seq_length": spec.max_seq_length, "do_lower_case": false}),
    )?;
    write_json(
        &dir.join("1_Pooling/config.json"),
        &json!({
            "word_embedding_dimension": h,
            "pooling_mode_cls_token": spec.pooling == "cls",
            "pooling_mode_mean_tokens": spec.pooling == "mean",
            "pooling_mode_max_tokens": spec.pooling == "max",
            "pooling_mode_mean_sqrt_len_tokens": false
        }),
    )?;

    let mut rng = Rng(spec.seed);
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: String, shape: &[usize], center: f32, spread: f32| -> Result<()> {
        t.insert(name, rng.tensor(shape, center, spread)?);
        Ok(())
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        &[vocab.len(), h],
        0.0,
        0.5,
    )?;
    put(
        "embeddings.position_embeddings.weight".into(),
        &[max_pos, h],
        0.0,
        0.5,
    )?;
    put(
        "embeddings.token_type_embeddings.weight".into(),
        &[2, h],
        0.0,
        0.5,
    )?;
    put("embeddings.LayerNorm.weight".into(), &[h], 1.0, 0.1)?;
    put("embeddings.LayerNorm.bias".into(), &[h], 0.0, 0.1)?;
    for i in 0..spec.layers {
        let p = format!("encoder.layer.{i}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", inter, h),
            ("output.dense", h, inter),
        ] {
            let spread = 1.0 / (inp as f32).sqrt();
            put(format!("{p}.{name}.weight"), &[out, inp], 0.0, spread)?;
            put(format!("{p}.{name}.bias"), &[out], 0.0, 0.05)?;
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{p}.{ln}.weight"), &[h], 1.0, 0.1)?;
            put(format!("{p}.{ln}.bias"), &[h], 0.0, 0.1)?;
        }
    }
    let weights = dir.join("model.safetensors");
    candle_core::safetensors::save(&t, &weights).map_err(|source| EncoderError::Weights {
        path: weights,
        source,
    })?;
    Ok(())
}
