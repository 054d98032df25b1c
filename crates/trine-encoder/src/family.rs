//! Which transformer family a model folder holds, read from `config.json`'s `model_type`.

use std::path::Path;

use candle_transformers::models::{distilbert, modernbert, qwen3, xlm_roberta};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{BertLayout, DistilBertConfig};
use crate::{BertConfig, EncoderError, Result};

/// The `model_type`s trine runs, in the words of `config.json`.
pub const SUPPORTED: &[&str] = &["bert", "distilbert", "xlm-roberta", "modernbert", "qwen3"];

/// A transformer family with its configuration.
#[derive(Debug, Clone)]
pub enum Family {
    /// BERT (and models saved as BERT: MiniLM, bge, e5, gte): trine's own fused implementation.
    Bert(BertConfig),
    /// DistilBERT, from candle-transformers, with the same config read as BERT for training
    /// (candle-transformers keeps its fields private and its forward pass has no dropout).
    DistilBert(distilbert::Config, BertConfig),
    /// XLM-RoBERTa (multilingual-e5, bge-m3, paraphrase-multilingual), from candle-transformers,
    /// with the same config read as BERT for training.
    XlmRoberta(xlm_roberta::Config, BertConfig),
    /// ModernBERT (gte-modernbert, modernbert-embed), from candle-transformers.
    ModernBert(modernbert::Config),
    /// Qwen3, a decoder (Qwen3-Embedding, with last-token pooling), from candle-transformers.
    Qwen3(qwen3::Config),
}

/// The fields every family has under some name, read once so callers need not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Width of the token embeddings the transformer returns.
    pub hidden_size: usize,
    /// Longest input in tokens the position embeddings (or rotary tables) cover.
    pub max_tokens: usize,
    /// Rows of the token embedding table: every token id must be below it.
    pub vocab_size: usize,
}

impl Family {
    /// Reads `config.json`; a missing `model_type` is read as BERT (old BERT checkpoints have
    /// none), an unknown one is an error that lists the supported ones.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| EncoderError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config_error = |source| EncoderError::Config {
            path: path.to_path_buf(),
            source,
        };
        let value: Value = serde_json::from_slice(&bytes).map_err(config_error)?;
        let model_type = value
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("bert")
            .to_string();
        match model_type.as_str() {
            "bert" => Ok(Family::Bert(
                BertConfig::deserialize(value).map_err(config_error)?,
            )),
            "distilbert" => Ok(Family::DistilBert(
                distilbert::Config::deserialize(&value).map_err(config_error)?,
                DistilBertConfig::deserialize(value)
                    .map_err(config_error)?
                    .into(),
            )),
            "xlm-roberta" => {
                let value = with_defaults(
                    value,
                    &[("position_embedding_type", Value::from("absolute"))],
                );
                let config = xlm_roberta::Config::deserialize(&value).map_err(config_error)?;
                let mut bert = BertConfig::deserialize(value).map_err(config_error)?;
                bert.layout = BertLayout::Roberta {
                    first_position: config.pad_token_id as usize + 1,
                };
                Ok(Family::XlmRoberta(config, bert))
            }
            "modernbert" => Ok(Family::ModernBert(
                modernbert::Config::deserialize(modernbert_v4_names(value))
                    .map_err(config_error)?,
            )),
            "qwen3" => Ok(Family::Qwen3(
                qwen3::Config::deserialize(qwen3_v4_names(value)).map_err(config_error)?,
            )),
            other => Err(EncoderError::Unsupported {
                path: path.to_path_buf(),
                message: format!("model_type `{other}`; supported: {}", SUPPORTED.join(", ")),
            }),
        }
    }

    /// The `model_type` this family is written as in `config.json`.
    pub fn model_type(&self) -> &'static str {
        match self {
            Family::Bert(_) => "bert",
            Family::DistilBert(..) => "distilbert",
            Family::XlmRoberta(..) => "xlm-roberta",
            Family::ModernBert(_) => "modernbert",
            Family::Qwen3(_) => "qwen3",
        }
    }

    /// Hidden size and longest input.
    pub fn shape(&self) -> Shape {
        match self {
            Family::Bert(c) => Shape {
                hidden_size: c.hidden_size,
                max_tokens: c.max_position_embeddings,
                vocab_size: c.vocab_size,
            },
            Family::DistilBert(c, bert) => Shape {
                hidden_size: c.dim,
                max_tokens: bert.max_position_embeddings,
                vocab_size: c.vocab_size,
            },
            // RoBERTa positions start after the padding id: 514 embeddings hold 512 tokens.
            Family::XlmRoberta(c, _) => Shape {
                hidden_size: c.hidden_size,
                max_tokens: c
                    .max_position_embeddings
                    .saturating_sub(c.pad_token_id as usize + 1),
                vocab_size: c.vocab_size,
            },
            Family::ModernBert(c) => Shape {
                hidden_size: c.hidden_size,
                max_tokens: c.max_position_embeddings,
                vocab_size: c.vocab_size,
            },
            Family::Qwen3(c) => Shape {
                hidden_size: c.hidden_size,
                max_tokens: c.max_position_embeddings,
                vocab_size: c.vocab_size,
            },
        }
    }

    /// The BERT configuration of a BERT folder, for BERT's fused inference path.
    pub fn bert(&self) -> Option<&BertConfig> {
        match self {
            Family::Bert(c) => Some(c),
            _ => None,
        }
    }

    /// The configuration as trine's BERT reads it, for the families it computes (BERT, RoBERTa,
    /// DistilBERT, see [`BertLayout`]): the forward pass training runs, with dropout.
    pub fn bert_like(&self) -> Option<&BertConfig> {
        match self {
            Family::Bert(c) | Family::DistilBert(_, c) | Family::XlmRoberta(_, c) => Some(c),
            Family::ModernBert(_) | Family::Qwen3(_) => None,
        }
    }
}

fn with_defaults(mut value: Value, defaults: &[(&str, Value)]) -> Value {
    if let Value::Object(map) = &mut value {
        for (key, default) in defaults {
            map.entry(key.to_string())
                .or_insert_with(|| default.clone());
        }
    }
    value
}

/// transformers ≥ 5 writes ModernBERT's rope thetas under `rope_parameters` and its layer-norm
/// epsilon as `norm_eps`; candle-transformers reads the names of the original release.
fn modernbert_v4_names(value: Value) -> Value {
    let rope = |kind: &str| {
        value
            .pointer(&format!("/rope_parameters/{kind}/rope_theta"))
            .cloned()
    };
    let mut defaults = vec![];
    if let Some(theta) = rope("full_attention") {
        defaults.push(("global_rope_theta", theta));
    }
    if let Some(theta) = rope("sliding_attention") {
        defaults.push(("local_rope_theta", theta));
    }
    if let Some(eps) = value.get("norm_eps").cloned() {
        defaults.push(("layer_norm_eps", eps));
    }
    defaults.push(("global_rope_theta", Value::from(160_000.0)));
    defaults.push(("local_rope_theta", Value::from(10_000.0)));
    defaults.push(("layer_norm_eps", Value::from(1e-5)));
    with_defaults(value, &defaults)
}

/// transformers ≥ 5 writes Qwen3's rope theta under `rope_parameters`; candle-transformers reads
/// the top-level `rope_theta` of earlier releases (and needs `max_window_layers`).
fn qwen3_v4_names(value: Value) -> Value {
    let mut defaults = vec![];
    if let Some(theta) = value.pointer("/rope_parameters/rope_theta").cloned() {
        defaults.push(("rope_theta", theta));
    }
    defaults.push(("rope_theta", Value::from(1_000_000.0)));
    let layers = value
        .get("num_hidden_layers")
        .cloned()
        .unwrap_or(Value::from(0));
    defaults.push(("max_window_layers", layers));
    defaults.push(("sliding_window", Value::Null));
    defaults.push(("use_sliding_window", Value::from(false)));
    with_defaults(value, &defaults)
}
