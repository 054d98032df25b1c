//! Documents to vectors: one per document (title + " " + text), or one per chunk when
//! documents are split, reusing saved embeddings when they are the same model's.

use std::path::Path;

use trine_corpus::embeddings::{self, Embeddings};
use trine_corpus::Document;
use trine_encoder::{Chunking, Encoder, Role};
use trine_index::{ChunkMap, ChunkSettings};

use crate::{PipelineError, Progress, Result};

/// Embeds documents with their document prompt; vectors in document order.
pub fn embed_documents(
    encoder: &Encoder,
    docs: &[Document],
    progress: &dyn Progress,
) -> Result<Embeddings> {
    let texts: Vec<String> = docs.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    progress.begin("embedding documents", refs.len() as u64, "docs");
    let values = encoder.encode_as(&refs, Role::Document, &mut |n| progress.advance(n as u64));
    progress.end();
    Ok(Embeddings {
        ids: docs.iter().map(|d| d.id.clone()).collect(),
        dim: encoder.dim(),
        values: values?,
        model: encoder.folder().name.clone(),
        fingerprint: encoder.fingerprint()?.to_string(),
    })
}

/// Splits documents into chunks as `settings` say and embeds every chunk; returns the chunk
/// vectors and which are whose.
pub fn embed_chunked(
    encoder: &Encoder,
    docs: &[Document],
    settings: ChunkSettings,
    progress: &dyn Progress,
) -> Result<(Vec<f32>, ChunkMap)> {
    let texts: Vec<String> = docs.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let chunking = Chunking {
        tokens: settings.tokens,
        overlap: settings.overlap,
    };
    let spans = encoder.split_chunks(&refs, Role::Document, chunking)?;
    let total: usize = spans.iter().map(Vec::len).sum();
    progress.begin("embedding chunks", total as u64, "chunks");
    let values = encoder.encode_spans(&refs, &spans, Role::Document, &mut |n| {
        progress.advance(n as u64)
    });
    progress.end();
    let values = values?;
    progress.note(&format!(
        "split {} documents into {total} chunks of at most {} tokens ({} overlapping)",
        docs.len(),
        settings.tokens,
        settings.overlap
    ));
    Ok((values, ChunkMap::new(&spans)?))
}

/// Whether saved embeddings were written by this model (same weights, tokenizer and dimension);
/// an error naming `path` and both models when not.
pub fn embeddings_match(emb: &Embeddings, encoder: &Encoder, path: &Path) -> Result<()> {
    if emb.fingerprint == encoder.fingerprint()? && emb.dim == encoder.dim() {
        return Ok(());
    }
    Err(PipelineError::ForeignEmbeddings {
        path: path.to_path_buf(),
        made_by: emb.model.clone(),
        dim: emb.dim,
        model: encoder.folder().name.clone(),
    })
}

/// Reads saved embeddings that must be this model's, for these documents in this order.
pub fn saved_embeddings(path: &Path, encoder: &Encoder, docs: &[Document]) -> Result<Embeddings> {
    let emb = embeddings::read(path)?;
    embeddings_match(&emb, encoder, path)?;
    if !same_documents(&emb, docs) {
        return Err(PipelineError::EmbeddingsOrder {
            path: path.to_path_buf(),
        });
    }
    Ok(emb)
}

fn same_documents(emb: &Embeddings, docs: &[Document]) -> bool {
    emb.len() == docs.len() && emb.ids.iter().zip(docs).all(|(id, d)| id == &d.id)
}

/// Loads document embeddings from `cache` when they were made by this model for these
/// documents, else computes them (and saves them to `cache` when given).
pub fn document_embeddings(
    encoder: &Encoder,
    docs: &[Document],
    cache: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Embeddings> {
    if let Some(path) = cache.filter(|p| p.exists()) {
        match saved_embeddings(path, encoder, docs) {
            Ok(emb) => {
                progress.note(&format!(
                    "using document embeddings from {}",
                    path.display()
                ));
                return Ok(emb);
            }
            Err(
                e @ (PipelineError::ForeignEmbeddings { .. }
                | PipelineError::EmbeddingsOrder { .. }),
            ) => {
                progress.note(&format!("{e}: embedding afresh"));
            }
            Err(e) => return Err(e),
        }
    }
    let emb = embed_documents(encoder, docs, progress)?;
    if let Some(path) = cache {
        embeddings::write(path, &emb)?;
    }
    Ok(emb)
}

/// Vectors for an index of `docs`: one per chunk with their map when `settings` split the
/// documents, else one per document (reusing or filling `cache` as [`document_embeddings`]).
pub fn index_vectors(
    encoder: &Encoder,
    docs: &[Document],
    settings: Option<ChunkSettings>,
    cache: Option<&Path>,
    progress: &dyn Progress,
) -> Result<(Vec<f32>, Option<ChunkMap>)> {
    Ok(match settings {
        Some(s) => {
            let (values, map) = embed_chunked(encoder, docs, s, progress)?;
            (values, Some(map))
        }
        None => (
            document_embeddings(encoder, docs, cache, progress)?.values,
            None,
        ),
    })
}
