//! A sentence encoder that reproduces sentence-transformers, for any supported transformer family.
//!
//! [`ModelFolder`] reads a sentence-transformers model folder (`config.json`, `tokenizer.json`,
//! `model.safetensors`, `modules.json`, pooling, Dense and Normalize modules, prompts);
//! [`Family`] says which architecture `config.json` names and [`Transformer`] runs it (trine's
//! fused [`Bert`], whose weights trine-train's training pass runs on, or candle-transformers'
//! DistilBERT, XLM-RoBERTa, ModernBERT and Qwen3); [`Head`] pools and applies the modules after the transformer;
//! [`Encoder`] prompts, tokenizes, batches by length and runs it all, returning one vector per
//! text in input order.

mod bert;
mod chunk;
mod config;
mod encoder;
mod error;
mod family;
mod fingerprint;
mod head;
mod pooling;
pub mod tiny;
mod tokenize;
mod transformer;

pub use bert::{lengths, Bert, Layer, Linear, Mode, Precision};
pub use chunk::{Chunked, Chunking};
pub use config::{
    BertConfig, BertLayout, DenseConfig, DenseModule, ModelFolder, PoolingConfig, PoolingModes,
};
pub use encoder::{Encoder, EncoderOptions, PromptChoice, Role};
pub use error::{EncoderError, Result};
pub use family::{Family, Shape, SUPPORTED};
pub use fingerprint::fingerprint;
pub use head::{Activation, Dense, Head};
pub use pooling::{pool, Pooling};
pub use tokenize::{Batch, TextTokenizer};
pub use transformer::Transformer;
pub use trine_kernels::flush_denormals;

/// Re-exported so that callers can build tensors and devices without naming candle themselves.
pub use candle_core;
pub use candle_nn;
