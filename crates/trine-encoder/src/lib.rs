//! A BERT-family sentence encoder that reproduces sentence-transformers.
//!
//! [`ModelFolder`] reads a sentence-transformers model folder (`config.json`, `tokenizer.json`,
//! `model.safetensors`, `modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`);
//! [`Bert`] is the transformer (with dropout that works in training mode); [`Encoder`] tokenizes,
//! batches by length, runs the model and pools, returning one vector per text in input order.

mod autograd;
mod bert;
mod config;
mod encoder;
mod error;
mod fingerprint;
mod kernels;
mod pooling;
pub mod seed;
pub mod tiny;
mod tokenize;

pub use bert::{Bert, Mode, Precision};
pub use config::{BertConfig, ModelFolder, PoolingConfig};
pub use encoder::{Encoder, EncoderOptions};
pub use error::{EncoderError, Result};
pub use fingerprint::fingerprint;
pub use kernels::flush_denormals;
pub use pooling::{pool, Pooling};
pub use tokenize::{Batch, TextTokenizer};

/// Re-exported so that callers can build tensors and devices without naming candle themselves.
pub use candle_core;
pub use candle_nn;
