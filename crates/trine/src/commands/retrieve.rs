//! Running a batch of queries against an index in one of the three modes: the query encoding
//! and flag handling of the commands; the ranking itself is `trine_index::batch`.

use trine_corpus::beir::Query;
use trine_encoder::Encoder;
use trine_eval::Run;
use trine_index::{Fusion, Index};

use super::shared;
use crate::cli::{FusionArg, FusionArgs, ModeArg};

/// The fusion the flags ask for, or the index's stored default when no method is given.
pub fn fusion(args: &FusionArgs, index: &Index) -> Fusion {
    match args.fusion {
        None => index.manifest().fusion,
        Some(FusionArg::Rrf) => Fusion::Rrf { k: args.rrf_k },
        Some(FusionArg::Convex) => Fusion::Convex { alpha: args.alpha },
        Some(FusionArg::Zscore) => Fusion::Zscore { alpha: args.alpha },
    }
}

/// The library's search mode for a `--mode` flag.
pub fn mode(m: ModeArg) -> trine_index::Mode {
    match m {
        ModeArg::Lexical => trine_index::Mode::Lexical,
        ModeArg::Dense => trine_index::Mode::Dense,
        ModeArg::Hybrid => trine_index::Mode::Hybrid,
    }
}

/// Query embeddings (with a progress bar), checked against the index's model.
pub fn embed_queries(
    index: &Index,
    encoder: &Encoder,
    queries: &[Query],
) -> anyhow::Result<Vec<Vec<f32>>> {
    index.check_model(&trine_pipeline::model_info(encoder)?)?;
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let flat = shared::embed_texts(
        encoder,
        &texts,
        trine_encoder::Role::Query,
        "embedding queries",
    )?;
    Ok(flat
        .chunks_exact(encoder.dim())
        .map(<[f32]>::to_vec)
        .collect())
}

/// Query vectors when the mode needs them.
fn vectors_for(
    index: &Index,
    encoder: Option<&Encoder>,
    queries: &[Query],
    mode: ModeArg,
) -> anyhow::Result<Option<Vec<Vec<f32>>>> {
    Ok(match (mode, encoder) {
        (ModeArg::Lexical, _) => None,
        (_, Some(enc)) => Some(embed_queries(index, enc, queries)?),
        (_, None) => anyhow::bail!("dense and hybrid search need a model"),
    })
}

/// Runs every query in `mode` and returns a run of depth `k`.
pub fn run_queries(
    index: &Index,
    encoder: Option<&Encoder>,
    queries: &[Query],
    mode: ModeArg,
    fusion: Fusion,
    k: usize,
    candidates_depth: usize,
) -> anyhow::Result<Run> {
    let vectors = vectors_for(index, encoder, queries, mode)?;
    Ok(trine_index::batch::run(
        index,
        queries,
        vectors.as_deref(),
        self::mode(mode),
        fusion,
        k,
        candidates_depth,
    )?)
}
