//! Corpus to index: embed (or reuse saved embeddings), then write the index folder.

use std::path::{Path, PathBuf};

use trine_corpus::Document;
use trine_encoder::Encoder;
use trine_index::quantized::QuantizedSettings;
use trine_index::{AnnPolicy, AnnSettings, BuildOptions, ChunkMap, ChunkSettings, Index};

use crate::embed::{index_vectors, saved_embeddings};
use crate::{model_info, PipelineError, Progress, Result};

/// How to build an index, beside the documents and the model.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// Replace an index already in the folder (atomically, as a new generation).
    pub force: bool,
    /// Vectors from `trine embed` with the same model, instead of embedding again.
    pub embeddings: Option<PathBuf>,
    /// Split documents into chunks, one vector each.
    pub chunking: Option<ChunkSettings>,
    /// Whether and how to build an HNSW graph.
    pub ann: AnnPolicy,
    pub ann_settings: AnnSettings,
    /// An int8 or binary copy of the vectors for dense search's first pass.
    pub quantized: Option<QuantizedSettings>,
}

/// Embeds `docs` with `encoder` (or reads `spec.embeddings`) and builds an index in `out`.
/// Nothing is written when an index is there already and `spec.force` is off, or when the
/// saved embeddings are another model's or other documents'.
pub fn build_index(
    out: &Path,
    docs: &[Document],
    encoder: &Encoder,
    spec: &BuildSpec,
    progress: &dyn Progress,
) -> Result<Index> {
    if !spec.force && out.join("CURRENT").exists() {
        return Err(PipelineError::IndexExists {
            path: out.to_path_buf(),
        });
    }
    let (values, chunks) = match (&spec.embeddings, spec.chunking) {
        (Some(_), Some(_)) => return Err(PipelineError::EmbeddingsWithChunks),
        (Some(path), None) => (saved_embeddings(path, encoder, docs)?.values, None),
        (None, settings) => index_vectors(encoder, docs, settings, None, progress)?,
    };
    build_from_vectors(out, docs, &values, chunks.as_ref(), encoder, spec, progress)
}

/// Builds an index in `out` from `docs` and their vectors (`values`, one row per document, or
/// per chunk as `chunks` maps them), recorded as `encoder`'s.
pub fn build_from_vectors(
    out: &Path,
    docs: &[Document],
    values: &[f32],
    chunks: Option<&ChunkMap>,
    encoder: &Encoder,
    spec: &BuildSpec,
    progress: &dyn Progress,
) -> Result<Index> {
    let rows = chunks.map_or(docs.len(), |c| c.len());
    let graph = spec.ann.wants(rows);
    if graph {
        progress.begin("ANN graph", rows as u64, "vectors");
    }
    let report = |n: usize| progress.set(n as u64);
    let options = BuildOptions {
        force: spec.force,
        ann: spec.ann,
        ann_settings: spec.ann_settings,
        progress: Some(&report),
        chunking: spec.chunking.zip(chunks),
        quantized: spec.quantized,
    };
    let index = Index::build_with(out, docs, values, model_info(encoder)?, &options);
    if graph {
        progress.end();
    }
    Ok(index?)
}
