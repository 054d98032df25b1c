//! `manifest.json`: what an index holds and how it was made.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ann::AnnSettings;
use crate::chunks::ChunkSettings;
use crate::quantized::QuantizedSettings;
use crate::{Fusion, IndexError, ModelInfo, Result};

/// The index format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Lexical settings, recorded so that results can be reproduced and compared.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LexicalSettings {
    /// Fields indexed for BM25 (title and text, as one bag of words per document).
    pub fields: Vec<String>,
    pub tokenizer: String,
    pub language: String,
    pub stemming: bool,
    pub stop_words: bool,
    /// tantivy's BM25 constants.
    pub bm25_k1: f32,
    pub bm25_b: f32,
}

impl Default for LexicalSettings {
    fn default() -> Self {
        LexicalSettings {
            fields: vec!["title".into(), "text".into()],
            tokenizer: "simple+lowercase+stopwords(en)+snowball(en)".into(),
            language: "english".into(),
            stemming: true,
            stop_words: true,
            bm25_k1: 1.2,
            bm25_b: 0.75,
        }
    }
}

/// Everything the index records about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    pub generation: u64,
    pub model: ModelInfo,
    pub documents: usize,
    pub lexical: LexicalSettings,
    /// Default fusion for hybrid search (set by `trine tune-fusion`).
    pub fusion: Fusion,
    /// The ANN graph's parameters, when the index has one (`ann.usearch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ann: Option<AnnSettings>,
    /// How documents were split into chunks, each with its own vector (`chunks.bin`); none
    /// when every document has one vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking: Option<ChunkSettings>,
    /// The quantised copy of the vectors (`vectors.q`) that dense search scans first, in
    /// memory, rescoring its best candidates against the f32 vectors; none for the f32 scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantized: Option<QuantizedSettings>,
    /// The topics `topics.json` holds, when the index has been clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<TopicSettings>,
}

/// What the manifest records of an index's topics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicSettings {
    /// How they were made.
    pub method: String,
    /// Number of topics.
    pub topics: usize,
    /// The generation they were made in.
    pub clustered_at: u64,
}

impl Manifest {
    /// Reads and checks a manifest.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| IndexError::Missing {
            path: path.to_path_buf(),
            message: format!("cannot read manifest: {e}"),
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| IndexError::Corrupt {
                path: path.to_path_buf(),
                message: format!("manifest is not valid JSON: {e}"),
            })?;
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if version != FORMAT_VERSION {
            return Err(IndexError::FormatVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| IndexError::Corrupt {
            path: path.to_path_buf(),
            message: format!("manifest: {e}"),
        })
    }

    /// Writes the manifest (inside a generation folder that is not live yet).
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        Ok(trine_corpus::atomic::write_bytes(path, &bytes)?)
    }
}
