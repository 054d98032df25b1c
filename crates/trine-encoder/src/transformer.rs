//! The seam between architectures: one type that runs any supported family, chosen by the
//! folder's `model_type`. BERT keeps trine's fused kernels; the other families are
//! candle-transformers' implementations, used as they are.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{distilbert, modernbert, qwen3, xlm_roberta};

use crate::{Bert, EncoderError, Family, Mode, ModelFolder, Precision, Result};

/// A transformer of any supported family: token ids in, token embeddings out.
pub enum Transformer {
    Bert(Bert),
    DistilBert(distilbert::DistilBertModel),
    XlmRoberta(xlm_roberta::XLMRobertaModel),
    ModernBert(modernbert::ModernBert),
    /// Kept unused: each forward pass runs on a copy, since candle-transformers' Qwen3 keeps a
    /// key-value cache for generation that only it can clear.
    Qwen3(qwen3::Model),
}

impl From<Bert> for Transformer {
    fn from(bert: Bert) -> Self {
        Transformer::Bert(bert)
    }
}

impl Transformer {
    /// Memory-maps the folder's weights and builds its family's model for inference. `precision`
    /// applies to BERT's fused kernels; the other families run in f32.
    pub fn load(folder: &ModelFolder, device: &Device, precision: Precision) -> Result<Self> {
        if let Family::Bert(_) = folder.family {
            return Ok(Bert::load(folder, device, precision)?.into());
        }
        let weights_error = |source| EncoderError::Weights {
            path: folder.weights.clone(),
            source,
        };
        // SAFETY: the file is memory-mapped read-only; trine never writes a model file in place.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&folder.weights], DType::F32, device) }
                .map_err(weights_error)?;
        Self::build(vb, &folder.family).map_err(weights_error)
    }

    /// Builds a family from a `VarBuilder` (BERT without its fused kernels' precision choice;
    /// for a training run's weights, say); weights may carry the prefix Hugging Face's task heads
    /// add (`distilbert.`, `roberta.`, `model.`) or none, as sentence-transformers saves them.
    pub fn build(vb: VarBuilder<'static>, family: &Family) -> candle_core::Result<Self> {
        match family {
            Family::Bert(config) => Ok(Bert::new(vb, config, Mode::Inference)?.into()),
            Family::DistilBert(config, _) => Ok(Transformer::DistilBert(
                distilbert::DistilBertModel::load(vb, config)?,
            )),
            Family::XlmRoberta(config, _) => {
                let vb = if vb.contains_tensor("roberta.embeddings.word_embeddings.weight") {
                    vb.pp("roberta")
                } else {
                    vb
                };
                Ok(Transformer::XlmRoberta(xlm_roberta::XLMRobertaModel::new(
                    config, vb,
                )?))
            }
            Family::ModernBert(config) => {
                // candle-transformers asks for `model.`-prefixed names (the masked-LM layout).
                let vb = if vb.contains_tensor("model.embeddings.tok_embeddings.weight") {
                    vb
                } else {
                    vb.rename_f(|name| name.strip_prefix("model.").unwrap_or(name).to_string())
                };
                Ok(Transformer::ModernBert(modernbert::ModernBert::load(
                    vb, config,
                )?))
            }
            Family::Qwen3(config) => {
                // candle-transformers asks for `model.`-prefixed names (the causal-LM layout);
                // sentence-transformers saves the bare model.
                let vb = if vb.contains_tensor("model.embed_tokens.weight") {
                    vb
                } else {
                    vb.rename_f(|name| name.strip_prefix("model.").unwrap_or(name).to_string())
                };
                Ok(Transformer::Qwen3(qwen3::Model::new(config, vb)?))
            }
        }
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` `[batch, seq]` (u32) under
    /// `attention_mask` `[batch, seq]` (f32, 1 real, 0 padding on the right), without dropout.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        match self {
            Transformer::Bert(bert) => bert.forward(input_ids, attention_mask),
            Transformer::DistilBert(model) => {
                // DistilBERT wants `true` where a key must be hidden, broadcast over heads and
                // queries.
                let hide = attention_mask.eq(0f32)?.unsqueeze(1)?.unsqueeze(1)?;
                model.forward(input_ids, &hide)
            }
            Transformer::XlmRoberta(model) => {
                let type_ids = input_ids.zeros_like()?;
                model.forward(input_ids, attention_mask, &type_ids, None, None, None)
            }
            Transformer::ModernBert(model) => model.forward(input_ids, attention_mask),
            // Causal attention: with padding on the right no real token sees a padding one, so
            // the mask is not needed (and positions start at 0 in every row).
            Transformer::Qwen3(model) => model.clone().forward(input_ids, 0),
        }
    }

    /// The BERT model, for the paths only it has (the fused kernels, the weights training reads).
    pub fn bert(&self) -> Option<&Bert> {
        match self {
            Transformer::Bert(bert) => Some(bert),
            _ => None,
        }
    }
}
