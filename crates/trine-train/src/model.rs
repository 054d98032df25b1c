//! The encoder being trained: the weights of a BERT-shaped model (BERT, RoBERTa, DistilBERT) or a
//! ModernBERT as candle variables, plus the folder's tokenizer and pooling, and writing the result
//! back out in the sentence-transformers layout under the names it was read with.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use trine_encoder::{
    Bert, BertConfig, Encoder, EncoderOptions, Family, Head, Mode, ModelFolder, TextTokenizer,
    Transformer,
};

use crate::net::modernbert::ModernBertTrain;
use crate::net::qwen3::Qwen3Train;
use crate::net::Dropouts;
use crate::{Result, TrainError};

/// The differentiable forward pass of a family.
enum Net {
    /// trine's BERT (also RoBERTa and DistilBERT), each op with a hand-written backward pass.
    Bert(Bert),
    /// ModernBERT on candle-nn's differentiable ops.
    ModernBert(ModernBertTrain),
    /// Qwen3 on candle-nn's differentiable ops.
    Qwen3(Qwen3Train),
}

/// A sentence encoder whose weights are trainable variables.
pub struct TrainableModel {
    folder: ModelFolder,
    varmap: VarMap,
    net: Net,
    head: Head,
    tokenizer: TextTokenizer,
    /// The training pass's dense-layer products in bf16 (see [`TrainableModel::set_train_bf16`]).
    bf16: bool,
}

/// The folder's configuration as trine's BERT reads it (BERT-shaped families only): training
/// runs trine's BERT, the one forward pass with dropout and a backward pass for every op.
fn bert_config(folder: &ModelFolder) -> Result<&BertConfig> {
    let path = folder.dir.join("config.json");
    let config = folder.family.bert_like().ok_or_else(|| {
        TrainError::Settings(format!(
            "{}: a `{}` model has no BERT configuration",
            path.display(),
            folder.family.model_type()
        ))
    })?;
    config.check(&path)?;
    Ok(config)
}

impl TrainableModel {
    /// Loads a sentence-transformers folder with every weight as an f32 variable.
    pub fn load(dir: &Path) -> Result<Self> {
        let folder = ModelFolder::open(dir)?;
        let device = Device::Cpu;
        let weights_error = |source| trine_encoder::EncoderError::Weights {
            path: folder.weights.clone(),
            source,
        };
        let tensors =
            candle_core::safetensors::load(&folder.weights, &device).map_err(weights_error)?;
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().expect("var map lock");
            for (name, t) in tensors {
                let t = t.to_dtype(DType::F32).map_err(weights_error)?;
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let dropout = || Dropouts::read(&folder.dir.join("config.json"));
        let net = match &folder.family {
            Family::ModernBert(config) => Net::ModernBert(
                ModernBertTrain::new(vb, config, dropout()?).map_err(weights_error)?,
            ),
            Family::Qwen3(config) => {
                Net::Qwen3(Qwen3Train::new(vb, config, dropout()?).map_err(weights_error)?)
            }
            _ => {
                Net::Bert(Bert::new(vb, bert_config(&folder)?, Mode::Train).map_err(weights_error)?)
            }
        };
        let tokenizer = TextTokenizer::load(&folder)?;
        let head = Head::load(&folder, &device)?;
        Ok(TrainableModel {
            folder,
            varmap,
            net,
            head,
            tokenizer,
            bf16: false,
        })
    }

    /// Runs the training pass's dense-layer products on bf16-rounded operands with f32
    /// accumulation (mixed precision); weights and gradients stay f32. BERT-shaped families
    /// only: ModernBERT and Qwen3 train in f32 whatever this says.
    pub fn set_train_bf16(&mut self, on: bool) {
        self.bf16 = on;
    }

    /// The folder the model was loaded from.
    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    /// Output dimension.
    pub fn dim(&self) -> usize {
        self.head.dim(self.folder.family.shape().hidden_size)
    }

    /// Tokenizes texts (truncated to the model's `max_seq_length`).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        Ok(self.tokenizer.encode(texts)?)
    }

    /// Sentence embeddings `[n, dim]` of tokenized texts, through the differentiable path with
    /// dropout masks drawn from `seed`.
    pub fn embed(&self, ids: &[&[u32]], seed: u64) -> Result<Tensor> {
        let batch = self.tokenizer.pad(ids, &Device::Cpu)?;
        let hidden = match &self.net {
            Net::Bert(bert) => crate::forward::forward_train(
                bert,
                &batch.input_ids,
                &batch.attention_mask,
                seed,
                self.bf16,
            )?,
            Net::ModernBert(m) => m.forward(&batch.input_ids, &batch.attention_mask, seed)?,
            Net::Qwen3(m) => m.forward(&batch.input_ids, seed)?,
        };
        // Dense modules after pooling stay frozen: they are constants, not variables.
        Ok(self.head.apply(&hidden, &batch.attention_mask, 0)?)
    }

    /// The variables by name, sorted (the order optimizer state is kept in).
    pub fn vars(&self) -> Vec<(String, Var)> {
        let data = self.varmap.data().lock().expect("var map lock");
        let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// A copy of the current weights by name.
    pub fn weights(&self) -> Result<HashMap<String, Tensor>> {
        self.vars()
            .into_iter()
            .map(|(k, v)| Ok((k, v.as_tensor().copy()?)))
            .collect()
    }

    /// Sets every variable from a safetensors file written by [`TrainableModel::save_weights`].
    pub fn load_weights(&self, path: &Path) -> Result<()> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
            TrainError::Checkpoint {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        for (name, var) in self.vars() {
            let t = tensors.get(&name).ok_or_else(|| TrainError::Checkpoint {
                path: path.to_path_buf(),
                message: format!("no tensor `{name}`"),
            })?;
            var.set(t)?;
        }
        Ok(())
    }

    /// Writes the current weights to `path` atomically (temporary file, then rename).
    pub fn save_weights(&self, path: &Path) -> Result<()> {
        save_tensors(&self.weights()?, path)
    }

    /// An inference encoder (fused kernels) with a snapshot of the current weights.
    pub fn encoder(&self, options: EncoderOptions) -> Result<Encoder> {
        let vb = VarBuilder::from_tensors(self.weights()?, DType::F32, &Device::Cpu);
        let model: Transformer = match &self.net {
            Net::Bert(_) => Bert::with_precision(
                vb,
                bert_config(&self.folder)?,
                Mode::Inference,
                options.precision,
            )?
            .into(),
            Net::ModernBert(_) | Net::Qwen3(_) => Transformer::build(vb, &self.folder.family)
                .map_err(|source| trine_encoder::EncoderError::Weights {
                    path: self.folder.weights.clone(),
                    source,
                })?,
        };
        Ok(Encoder::from_model(self.folder.clone(), model, options)?)
    }

    /// Writes a complete sentence-transformers folder at `dir` with the current weights: the
    /// source folder's configuration, tokenizer and module files are copied, the weights go in
    /// last, so a folder with `model.safetensors` is always complete.
    pub fn write_model_folder(&self, dir: &Path) -> Result<()> {
        copy_model_files(&self.folder.dir, dir, &self.folder.weights)?;
        self.save_weights(&dir.join("model.safetensors"))
    }
}

/// Copies every file and sub-folder of a model folder except the transformer's weights (and
/// anything that is not part of a model: checkpoints, logs) from `src` into `dst`; modules'
/// own weights (a Dense module's `model.safetensors`) are copied.
fn copy_model_files(src: &Path, dst: &Path, weights: &Path) -> Result<()> {
    copy_files(src, dst, weights, true)
}

fn copy_files(src: &Path, dst: &Path, weights: &Path, top: bool) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| TrainError::io(dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| TrainError::io(src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(src, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if path == weights
            || (top && (name_str.ends_with(".safetensors") || name_str.ends_with(".bin")))
            || name_str.starts_with('.')
            || TRAINING_OUTPUTS.contains(&name_str.as_ref())
        {
            continue;
        }
        let target = dst.join(&name);
        if path.is_dir() {
            copy_files(&path, &target, weights, false)?;
        } else {
            copy_atomic(&path, &target)?;
        }
    }
    Ok(())
}

/// Names a training run writes into its output folder; never copied as model files.
pub const TRAINING_OUTPUTS: &[&str] = &[
    "checkpoints",
    "best",
    "train-log.csv",
    "eval-log.csv",
    "curves.svg",
    "train-summary.json",
    "dev-qrels.tsv",
];

fn copy_atomic(src: &Path, dst: &Path) -> Result<()> {
    let bytes = std::fs::read(src).map_err(|e| TrainError::io(src, e))?;
    Ok(trine_corpus::atomic::write_bytes(dst, &bytes)?)
}

/// Writes tensors as safetensors to a temporary file beside `path`, then renames it into place
/// (fsynced, as every write of trine's).
pub fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    trine_corpus::atomic::write_via(path, |tmp| {
        candle_core::safetensors::save(tensors, tmp).map_err(TrainError::from)
    })
}
