//! The files of a sentence-transformers model folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pooling::Pooling;
use crate::{EncoderError, Family, Result};

/// A BERT `config.json` (the fields a BERT encoder needs).
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
    /// Weight names and position numbering of the checkpoint; set by [`Family::read`], BERT's
    /// own when the config is read as BERT.
    #[serde(skip)]
    pub layout: BertLayout,
}

/// How a BERT-shaped checkpoint names its weights and numbers its positions. RoBERTa and
/// DistilBERT compute what BERT computes (post-norm layers, learned absolute positions, GELU),
/// so trine's BERT, the one forward pass with dropout and the fused kernels, runs them too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BertLayout {
    /// BERT's names, optionally under `bert.`; positions from 0.
    #[default]
    Bert,
    /// RoBERTa / XLM-RoBERTa: BERT's names, optionally under `roberta.`; positions counted from
    /// `padding_id + 1`, as transformers numbers them.
    Roberta { first_position: usize },
    /// DistilBERT: its own names (`transformer.layer.N.attention.q_lin`, `ffn.lin1`, ...),
    /// optionally under `distilbert.`; no token type embeddings.
    DistilBert,
}

/// DistilBERT's `config.json` names, read as a [`BertConfig`] with [`BertLayout::DistilBert`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DistilBertConfig {
    vocab_size: usize,
    dim: usize,
    n_layers: usize,
    n_heads: usize,
    hidden_dim: usize,
    #[serde(default = "default_act")]
    activation: String,
    #[serde(default = "default_dropout")]
    dropout: f64,
    #[serde(default = "default_dropout")]
    attention_dropout: f64,
    #[serde(default = "default_positions")]
    max_position_embeddings: usize,
}

impl From<DistilBertConfig> for BertConfig {
    fn from(c: DistilBertConfig) -> Self {
        BertConfig {
            vocab_size: c.vocab_size,
            hidden_size: c.dim,
            num_hidden_layers: c.n_layers,
            num_attention_heads: c.n_heads,
            intermediate_size: c.hidden_dim,
            hidden_act: c.activation,
            hidden_dropout_prob: c.dropout,
            attention_probs_dropout_prob: c.attention_dropout,
            max_position_embeddings: c.max_position_embeddings,
            type_vocab_size: 0,
            // transformers' DistilBERT fixes its layer norms' epsilon at 1e-12.
            layer_norm_eps: 1e-12,
            model_type: Some("distilbert".into()),
            layout: BertLayout::DistilBert,
        }
    }
}

fn default_positions() -> usize {
    512
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
#[derive(Debug, Clone, Deserialize)]
pub struct PoolingConfig {
    /// sentence-transformers ≥ 6 writes `pooling_mode` (one name, or a list whose results are
    /// concatenated) instead of the flags below.
    #[serde(default)]
    pub pooling_mode: Option<PoolingModes>,
    /// Whether prompt tokens count in the pooled tokens (false for instructor-style models).
    #[serde(default = "yes")]
    pub include_prompt: bool,
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

impl Default for PoolingConfig {
    fn default() -> Self {
        PoolingConfig {
            pooling_mode: None,
            include_prompt: true,
            pooling_mode_cls_token: false,
            pooling_mode_mean_tokens: false,
            pooling_mode_max_tokens: false,
            pooling_mode_mean_sqrt_len_tokens: false,
            pooling_mode_weightedmean_tokens: false,
            pooling_mode_lasttoken: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// `pooling_mode`: one mode or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PoolingModes {
    One(String),
    Many(Vec<String>),
}

/// A `Dense` module's `config.json` (its weights are `model.safetensors` beside it).
#[derive(Debug, Clone, Deserialize)]
pub struct DenseConfig {
    pub in_features: usize,
    pub out_features: usize,
    #[serde(default = "yes")]
    pub bias: bool,
    /// A torch class path, such as `torch.nn.modules.activation.Tanh`.
    #[serde(default = "identity")]
    pub activation_function: String,
}

fn identity() -> String {
    "torch.nn.modules.linear.Identity".into()
}

/// A `Dense` module of the folder: where it lives and its settings.
#[derive(Debug, Clone)]
pub struct DenseModule {
    pub dir: PathBuf,
    pub config: DenseConfig,
}

/// `config_sentence_transformers.json`: the prompts a model was trained with.
#[derive(Debug, Clone, Deserialize, Default)]
struct SentenceTransformersConfig {
    #[serde(default)]
    prompts: BTreeMap<String, String>,
    #[serde(default)]
    default_prompt_name: Option<String>,
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
    /// The transformer family and its `config.json`.
    pub family: Family,
    /// Pooling modes, concatenated in this order (one for almost every model).
    pub pooling: Vec<Pooling>,
    /// Whether prompt tokens are pooled with the text's.
    pub include_prompt: bool,
    /// Dense modules after pooling, in order.
    pub dense: Vec<DenseModule>,
    /// Whether a Normalize module follows pooling (unit-length output).
    pub normalize: bool,
    /// Named prompts prepended to texts (`query: `, instructions), from
    /// `config_sentence_transformers.json`.
    pub prompts: BTreeMap<String, String>,
    /// The prompt applied when none is named.
    pub default_prompt_name: Option<String>,
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
        let family = Family::read(&config_path)?;
        if let Family::Bert(config) = &family {
            config.check(&config_path)?;
        }
        let tokenizer = require(dir.join("tokenizer.json"), "tokenizer.json")?;
        let weights = require(dir.join("model.safetensors"), "model.safetensors")?;

        let (mut pooling, mut include_prompt, mut normalize) = (vec![Pooling::Mean], true, false);
        let mut dense = Vec::new();
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
                    include_prompt = cfg.include_prompt;
                } else if class == Some("Dense") {
                    let module = dir.join(&m.path);
                    let config = read_json(&require(
                        module.join("config.json"),
                        "Dense module configuration",
                    )?)?;
                    dense.push(DenseModule {
                        dir: module,
                        config,
                    });
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
        let max_tokens = family.shape().max_tokens;
        let max_seq_length = max_seq_length.unwrap_or(max_tokens).min(max_tokens);
        let st_path = dir.join("config_sentence_transformers.json");
        let st: SentenceTransformersConfig = if st_path.is_file() {
            read_json(&st_path)?
        } else {
            SentenceTransformersConfig::default()
        };
        if let Some(name) = &st.default_prompt_name {
            if !st.prompts.contains_key(name) {
                return Err(EncoderError::Unsupported {
                    path: st_path,
                    message: format!("default_prompt_name `{name}` is not one of the prompts"),
                });
            }
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(ModelFolder {
            dir: dir.to_path_buf(),
            name,
            family,
            pooling,
            include_prompt,
            dense,
            normalize,
            prompts: st.prompts,
            default_prompt_name: st.default_prompt_name,
            max_seq_length,
            do_lower_case,
            weights,
            tokenizer,
        })
    }
}

impl BertConfig {
    /// The settings trine's BERT implementation needs to hold; `path` is the `config.json`
    /// errors name.
    pub fn check(&self, path: &Path) -> Result<()> {
        if self.hidden_act != "gelu" && self.hidden_act != "gelu_new" {
            return Err(EncoderError::Unsupported {
                path: path.to_path_buf(),
                message: format!("hidden_act `{}`", self.hidden_act),
            });
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(EncoderError::Unsupported {
                path: path.to_path_buf(),
                message: "hidden_size is not a multiple of num_attention_heads".into(),
            });
        }
        Ok(())
    }
}

impl ModelFolder {
    /// The text of prompt `name`, or an error naming the prompts the folder has.
    pub fn prompt(&self, name: &str) -> Result<&str> {
        self.prompts
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| EncoderError::UnknownPrompt {
                name: name.to_string(),
                known: self.prompts.keys().cloned().collect(),
            })
    }
}
