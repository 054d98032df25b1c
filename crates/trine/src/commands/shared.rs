//! Pieces several commands use: loading the encoder, reading corpora, embedding with a bar.

use std::path::Path;

use anyhow::Context;
use trine_corpus::embeddings::Embeddings;
use trine_corpus::JsonFields;
use trine_corpus::{CorpusFormat, CorpusOptions, Document};
use trine_encoder::{Encoder, EncoderOptions, PromptChoice, Role};

use crate::cli::{AggregateArg, ChunkArgs, CorpusArgs, FormatArg, ModelArgs, WriteArgs};
use crate::progress;

/// Loads the model named by the arguments.
pub fn load_encoder(args: &ModelArgs) -> anyhow::Result<Encoder> {
    Encoder::load(
        &args.model,
        EncoderOptions {
            batch_size: args.batch_size,
            max_batch_tokens: args.max_batch_tokens.map(|t| t as usize),
            precision: args.dtype.into(),
            truncate_dim: args.truncate_dim,
            prompt: match (&args.prompt_name, &args.prompt) {
                (Some(name), _) => Some(PromptChoice::Name(name.clone())),
                (None, Some(text)) => Some(PromptChoice::Text(text.clone())),
                (None, None) => None,
            },
            ..Default::default()
        },
    )
    .with_context(|| format!("loading model {}", args.model.display()))
}

/// Corpus reading options from the arguments.
pub fn corpus_options(args: &CorpusArgs) -> CorpusOptions {
    CorpusOptions {
        format: match args.format {
            FormatArg::Auto => CorpusFormat::Auto,
            FormatArg::Beir => CorpusFormat::Beir,
            FormatArg::Jsonl => CorpusFormat::Jsonl,
            FormatArg::Parquet => CorpusFormat::Parquet,
            FormatArg::Text => CorpusFormat::Text,
        },
        fields: JsonFields {
            id: args.id_field.clone(),
            title: args.title_field.clone(),
            text: args.text_field.clone(),
        },
    }
}

/// Embeds documents (title + " " + text) with a progress bar; returns vectors in document order.
pub fn embed_documents(encoder: &Encoder, docs: &[Document]) -> anyhow::Result<Embeddings> {
    let texts: Vec<String> = docs.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let values = embed_texts(encoder, &refs, Role::Document, "embedding documents")?;
    Ok(Embeddings {
        ids: docs.iter().map(|d| d.id.clone()).collect(),
        dim: encoder.dim(),
        values,
        model: encoder.folder().name.clone(),
        fingerprint: encoder.fingerprint()?.to_string(),
    })
}

/// The chunking `--chunk-tokens` asks for, if any.
pub fn chunk_settings(args: &ChunkArgs) -> Option<trine_index::ChunkSettings> {
    args.chunk_tokens.map(|tokens| trine_index::ChunkSettings {
        tokens,
        overlap: args.chunk_overlap,
        aggregate: match args.chunk_aggregate {
            AggregateArg::Max => trine_index::Aggregate::Max,
            AggregateArg::Mean => trine_index::Aggregate::Mean,
        },
    })
}

/// Splits documents into chunks as `settings` say and embeds every chunk, with a progress
/// bar; returns the chunk vectors and which are whose.
pub fn embed_chunked(
    encoder: &Encoder,
    docs: &[Document],
    settings: trine_index::ChunkSettings,
) -> anyhow::Result<(Vec<f32>, trine_index::ChunkMap)> {
    let texts: Vec<String> = docs.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let chunking = trine_encoder::Chunking {
        tokens: settings.tokens,
        overlap: settings.overlap,
    };
    let spans = encoder.split_chunks(&refs, Role::Document, chunking)?;
    let total: usize = spans.iter().map(Vec::len).sum();
    let pb = progress::bar(total as u64, "embedding chunks", "chunks");
    let values = encoder.encode_spans(&refs, &spans, Role::Document, &mut |n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    eprintln!(
        "split {} documents into {total} chunks of at most {} tokens ({} overlapping)",
        docs.len(),
        settings.tokens,
        settings.overlap
    );
    Ok((values, trine_index::ChunkMap::new(&spans)?))
}

/// Embeds texts of `role` (which picks the prompt) with a progress bar (docs/s).
pub fn embed_texts(
    encoder: &Encoder,
    texts: &[&str],
    role: Role,
    message: &str,
) -> anyhow::Result<Vec<f32>> {
    let pb = progress::bar(texts.len() as u64, message, "docs");
    let values = encoder.encode_as(texts, role, &mut |n| pb.inc(n as u64))?;
    pb.finish_and_clear();
    Ok(values)
}

/// Whether a saved embeddings file was written by this model (same weights and tokenizer).
pub fn embeddings_match(emb: &Embeddings, encoder: &Encoder, path: &Path) -> anyhow::Result<bool> {
    let ok = emb.fingerprint == encoder.fingerprint()? && emb.dim == encoder.dim();
    if !ok {
        eprintln!(
            "{}: made by model `{}` (dim {}), not `{}`",
            path.display(),
            emb.model,
            emb.dim,
            encoder.folder().name
        );
    }
    Ok(ok)
}

/// Writes pretty JSON atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    trine_corpus::atomic::write_file(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(|e| trine_corpus::CorpusError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })
    })?;
    Ok(())
}

/// Applies `--exact` / `--ef` to an open index.
pub fn apply_dense_args(
    index: &mut trine_index::Index,
    args: &crate::cli::DenseSearchArgs,
) -> anyhow::Result<()> {
    if args.exact {
        index.set_dense_method(trine_index::DenseMethod::Exact)?;
    }
    if let Some(ef) = args.ef {
        if index.ann().is_none() {
            anyhow::bail!("--ef needs an index with an ANN graph (build it with `--ann always`)");
        }
        index.set_ann_expansion(ef);
    }
    Ok(())
}

/// The quantised vectors `index build` was asked for, if any.
pub fn quantized_options(
    args: &crate::cli::VectorArgs,
) -> Option<trine_index::quantized::QuantizedSettings> {
    use crate::cli::VectorsArg;
    use trine_index::quantized::{QuantizedSettings, VectorFormat};
    let format = match args.vectors {
        VectorsArg::F32 => return None,
        VectorsArg::Int8 => VectorFormat::Int8,
        VectorsArg::Binary => VectorFormat::Binary,
    };
    Some(QuantizedSettings {
        format,
        rescore: args.rescore as usize,
    })
}

/// The ANN build options from `index build`'s flags.
pub fn ann_options(
    args: &crate::cli::AnnArgs,
) -> (trine_index::AnnPolicy, trine_index::AnnSettings) {
    use crate::cli::{AnnPolicyArg, QuantizationArg};
    use trine_index::{AnnPolicy, AnnSettings, Quantization};
    let policy = match args.ann {
        AnnPolicyArg::Auto => AnnPolicy::Auto,
        AnnPolicyArg::Always => AnnPolicy::Always,
        AnnPolicyArg::Never => AnnPolicy::Never,
    };
    let settings = AnnSettings {
        connectivity: args.ann_connectivity,
        expansion_add: args.ann_ef_construction,
        expansion_search: args.ann_ef_search,
        quantization: match args.ann_quantization {
            QuantizationArg::F32 => Quantization::F32,
            QuantizationArg::F16 => Quantization::F16,
            QuantizationArg::I8 => Quantization::I8,
        },
    };
    (policy, settings)
}

/// Loads document embeddings from `cache` when they were made by this model for these documents,
/// else computes them (and saves them to `cache` when given).
pub fn document_embeddings(
    encoder: &Encoder,
    docs: &[Document],
    cache: Option<&Path>,
) -> anyhow::Result<Embeddings> {
    if let Some(path) = cache.filter(|p| p.exists()) {
        let emb = trine_corpus::embeddings::read(path)?;
        let same_docs =
            emb.len() == docs.len() && emb.ids.iter().zip(docs).all(|(id, d)| id == &d.id);
        if same_docs && embeddings_match(&emb, encoder, path)? {
            eprintln!("using document embeddings from {}", path.display());
            return Ok(emb);
        }
    }
    let emb = embed_documents(encoder, docs)?;
    if let Some(path) = cache {
        trine_corpus::embeddings::write(path, &emb)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(emb)
}

/// Vectors for an index of `docs`: one per chunk with their map when `settings` split the
/// documents, else one per document (reusing or filling `cache` as [`document_embeddings`]).
pub fn index_vectors(
    encoder: &Encoder,
    docs: &[Document],
    settings: Option<trine_index::ChunkSettings>,
    cache: Option<&Path>,
) -> anyhow::Result<(Vec<f32>, Option<trine_index::ChunkMap>)> {
    Ok(match settings {
        Some(s) => {
            let (values, map) = embed_chunked(encoder, docs, s)?;
            (values, Some(map))
        }
        None => (document_embeddings(encoder, docs, cache)?.values, None),
    })
}

/// Takes the writer lock of the index in `root`, queueing behind another writer with `--wait`.
pub fn writer_lock(root: &Path, args: &WriteArgs) -> anyhow::Result<trine_index::WriterLock> {
    use trine_index::{IndexError, Wait, WriterLock};
    let lock = match WriterLock::acquire(root, Wait::No) {
        Err(IndexError::Locked { holder, .. }) if args.wait => {
            let who = holder.map_or("another process".into(), |p| format!("process {p}"));
            eprintln!("{}: waiting for {who} to finish writing", root.display());
            WriterLock::acquire(root, Wait::Yes)?
        }
        other => other?,
    };
    if let Some(pid) = lock.took_over_from() {
        eprintln!(
            "{}: took over the writer lock of process {pid}, which ended without finishing \
             (its unfinished generation is discarded; the live one is whole)",
            root.display()
        );
    }
    Ok(lock)
}
