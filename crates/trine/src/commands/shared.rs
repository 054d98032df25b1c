//! Pieces several commands use: the encoder, corpus and index options from the flags, texts
//! embedded with a bar.

use std::path::Path;

use anyhow::Context;
use trine_corpus::JsonFields;
use trine_corpus::{CorpusFormat, CorpusOptions};
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
