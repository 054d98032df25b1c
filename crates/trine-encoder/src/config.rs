//! The files of a sentence-transformers model folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pooling::Pooling;
use crate::{EncoderError, Result};

/// The transformer's `config.json` (the fields a BERT encoder needs).
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub model_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// `1_Pooling/config.json`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct PoolingConfig {
    /// sentence-transformers ≥ 6 writes one `pooling_mode` string instead of the flags below.
    #[serde(default)]
    pub pooling_mode: Option<String>,
    #[serde(default)]
    pub pooling_mode_cls_token: bool,
    #[serde(default)]
    pub pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pub pooling_mode_max_tokens: bool,
    #[serde(default)]
    pub pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pub pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pub pooling_mode_lasttoken: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct SentenceBertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct TokenizerConfig {
    /// A float in some files (1e30 for "no limit"), hence f64.
    #[serde(default)]
    model_max_length: Option<f64>,
}

/// The class name of a sentence-transformers module type (`None` for other libraries' modules).
fn module_class(kind: &str) -> Option<&str> {
    kind.strip_prefix("sentence_transformers.")
        .and_then(|rest| rest.rsplit('.').next())
}

#[derive(Debug, Clone, Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Everything read from a model folder except the weights, which [`crate::Bert`] loads.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    pub dir: PathBuf,
    /// A short name for reports and metadata: the folder's name.
    pub name: String,
    pub config: BertConfig,
    pub pooling: Pooling,
    /// Whether a Normalize module follows pooling (unit-length output).
    pub normalize: bool,
    /// Longest input in tokens, [CLS] and [SEP] included; longer inputs are truncated.
    pub max_seq_length: usize,
    /// Lower-case inputs before tokenizing (sentence_bert_config's `do_lower_case`).
    pub do_lower_case: bool,
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| EncoderError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| EncoderError::Config {
        path: path.to_path_buf(),
        source,
    })
}

fn require(path: PathBuf, what: &'static str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(EncoderError::MissingFile { path, what })
    }
}

impl ModelFolder {
    /// Reads and checks the folder's configuration files. `modules.json` is optional: without it the
    /// folder is read as a plain Hugging Face BERT with mean pooling and no normalisation, as
    /// sentence-transformers does.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(EncoderError::MissingFile {
                path: dir.to_path_buf(),
                what: "model folder",
            });
        }
        let config_path = require(dir.join("config.json"), "transformer configuration")?;
        let config: BertConfig = read_json(&config_path)?;
        if let Some(t) = &config.model_type {
            if t != "bert" {
                return Err(EncoderError::Unsupported {
                    path: config_path,
                    message: format!("model_type `{t}` is not a BERT-family encoder"),
                });
            }
        }
        if config.hidden_act != "gelu" && config.hidden_act != "gelu_new" {
            return Err(EncoderError::Unsupported {
                path: config_path,
                message: format!("hidden_act `{}`", config.hidden_act),
            });
        }
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(EncoderError::Unsupported {
                path: config_path,
                message: "hidden_size is not a multiple of num_attention_heads".into(),
            });
        }
        let tokenizer = require(dir.join("tokenizer.json"), "tokenizer.json")?;
        let weights = require(dir.join("model.safetensors"), "model.safetensors")?;

        let (mut pooling, mut normalize) = (Pooling::Mean, false);
        let modules_path = dir.join("modules.json");
        if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            for m in &modules {
                // `sentence_transformers.models.Pooling` before 6.0,
                // `sentence_transformers.sentence_transformer.modules.pooling.Pooling` after.
                let class = module_class(&m.kind);
                if class == Some("Pooling") {
                    let p = require(
                        dir.join(&m.path).join("config.json"),
                        "pooling configuration",
                    )?;
                    let cfg: PoolingConfig = read_json(&p)?;
                    pooling = Pooling::from_config(&cfg)
                        .map_err(|message| EncoderError::Unsupported { path: p, message })?;
                } else if class == Some("Normalize") {
                    normalize = true;
                } else if class != Some("Transformer") {
                    return Err(EncoderError::Unsupported {
                        path: modules_path.clone(),
                        message: format!("module type `{}`", m.kind),
                    });
                }
            }
        }
        let (mut max_seq_length, mut do_lower_case) = (None, false);
        let sb_path = dir.join("sentence_bert_config.json");
        if sb_path.is_file() {
            let sb: SentenceBertConfig = read_json(&sb_path)?;
            max_seq_length = sb.max_seq_length;
            do_lower_case = sb.do_lower_case;
        }
        // Without a max_seq_length (sentence-transformers ≥ 6 leaves it out), sentence-transformers
        // falls back on the tokenizer's `model_max_length`, capped by the position embeddings.
        let tc_path = dir.join("tokenizer_config.json");
        if max_seq_length.is_none() && tc_path.is_file() {
            let tc: TokenizerConfig = read_json(&tc_path)?;
            max_seq_length = tc.model_max_length.map(|m| m as usize);
        }
        let max_seq_length = max_seq_length
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(ModelFolder {
            dir: dir.to_path_buf(),
            name,
            config,
            pooling,
            normalize,
            max_seq_length,
            do_lower_case,
            weights,
            tokenizer,
        })
    }
}
