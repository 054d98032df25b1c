//! The sentence-transformers modules after the transformer: Pooling (one or more modes,
//! concatenated), Dense layers and Normalize, applied as a folder's `modules.json` lists them.

use candle_core::{DType, Device, Tensor};

use crate::pooling::{l2_normalize, pool};
use crate::{DenseModule, EncoderError, ModelFolder, Pooling, Result};

/// A Dense module: `activation(x Wᵀ + b)`.
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
    activation: Activation,
}

/// The activations sentence-transformers' Dense modules are saved with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Tanh,
    Relu,
    Gelu,
    Sigmoid,
}

impl Activation {
    fn from_torch(name: &str) -> Option<Self> {
        Some(match name.rsplit('.').next()? {
            "Identity" => Activation::Identity,
            "Tanh" => Activation::Tanh,
            "ReLU" => Activation::Relu,
            "GELU" => Activation::Gelu,
            "Sigmoid" => Activation::Sigmoid,
            _ => return None,
        })
    }

    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Identity => Ok(x.clone()),
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
            Activation::Gelu => x.gelu_erf(),
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        }
    }
}

impl Dense {
    /// Reads a Dense module's weights (`linear.weight`, `linear.bias`) from its folder.
    pub fn load(module: &DenseModule, device: &Device) -> Result<Self> {
        let cfg = &module.config;
        let config_path = module.dir.join("config.json");
        let activation = Activation::from_torch(&cfg.activation_function).ok_or_else(|| {
            EncoderError::Unsupported {
                path: config_path.clone(),
                message: format!("Dense activation `{}`", cfg.activation_function),
            }
        })?;
        let path = module.dir.join("model.safetensors");
        if !path.is_file() {
            return Err(EncoderError::MissingFile {
                path,
                what: "Dense module weights",
            });
        }
        let weights_error = |source| EncoderError::Weights {
            path: path.clone(),
            source,
        };
        let tensors = candle_core::safetensors::load(&path, device).map_err(weights_error)?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = tensors.get(name).ok_or_else(|| {
                weights_error(candle_core::Error::Msg(format!("no tensor `{name}`")))
            })?;
            if t.dims() != shape {
                return Err(weights_error(candle_core::Error::Msg(format!(
                    "`{name}` has shape {:?}, the config says {shape:?}",
                    t.dims()
                ))));
            }
            Ok(t.to_dtype(DType::F32)?)
        };
        Ok(Dense {
            weight: get("linear.weight", &[cfg.out_features, cfg.in_features])?,
            bias: if cfg.bias {
                Some(get("linear.bias", &[cfg.out_features])?)
            } else {
                None
            },
            activation,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = x.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        self.activation.apply(&y)
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.dim(0).unwrap_or(0)
    }
}

/// Everything between the transformer's token embeddings and the sentence embedding.
#[derive(Debug, Clone)]
pub struct Head {
    pub pooling: Vec<Pooling>,
    pub include_prompt: bool,
    pub dense: Vec<Dense>,
    pub normalize: bool,
}

impl Head {
    /// The folder's modules, with the Dense weights loaded on `device`.
    pub fn load(folder: &ModelFolder, device: &Device) -> Result<Self> {
        Ok(Head {
            pooling: folder.pooling.clone(),
            include_prompt: folder.include_prompt,
            dense: folder
                .dense
                .iter()
                .map(|m| Dense::load(m, device))
                .collect::<Result<_>>()?,
            normalize: folder.normalize,
        })
    }

    /// Width of the sentence embedding for token embeddings of width `hidden`.
    pub fn dim(&self, hidden: usize) -> usize {
        self.dense
            .last()
            .map(Dense::out_features)
            .unwrap_or(hidden * self.pooling.len())
    }

    /// Sentence embeddings `[batch, dim]` from `hidden` `[batch, seq, hidden]` under `mask`;
    /// when the folder pools without its prompt, the first `prompt_tokens` positions (the
    /// prompt and the start token, as sentence-transformers counts them) are left out.
    pub fn apply(&self, hidden: &Tensor, mask: &Tensor, prompt_tokens: usize) -> Result<Tensor> {
        let mask = if !self.include_prompt && prompt_tokens > 0 {
            let seq = mask.dim(1)?;
            let keep: Vec<f32> = (0..seq)
                .map(|i| if i < prompt_tokens { 0.0 } else { 1.0 })
                .collect();
            let keep = Tensor::from_vec(keep, (1, seq), mask.device())?.to_dtype(mask.dtype())?;
            mask.broadcast_mul(&keep)?
        } else {
            mask.clone()
        };
        let parts = self
            .pooling
            .iter()
            .map(|&mode| pool(hidden, &mask, mode, false))
            .collect::<Result<Vec<_>>>()?;
        let mut x = if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Tensor::cat(&parts, 1)?
        };
        for dense in &self.dense {
            x = dense.forward(&x)?;
        }
        if self.normalize {
            x = l2_normalize(&x)?;
        }
        Ok(x)
    }
}
