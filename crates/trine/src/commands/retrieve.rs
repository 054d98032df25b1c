//! Running a batch of queries against an index in one of the three modes.

use trine_corpus::beir::Query;
use trine_encoder::Encoder;
use trine_eval::{Hit, Run};
use trine_index::{FusedHit, Fusion, Index, ModelInfo};

use super::shared;
use crate::cli::{FusionArg, FusionArgs, ModeArg};

/// The model facts an index checks query vectors against.
pub fn model_info(encoder: &Encoder) -> anyhow::Result<ModelInfo> {
    Ok(ModelInfo {
        name: encoder.folder().name.clone(),
        fingerprint: encoder.fingerprint()?.to_string(),
        dim: encoder.dim(),
    })
}

/// The fusion the flags ask for, or the index's stored default when no method is given.
pub fn fusion(args: &FusionArgs, index: &Index) -> Fusion {
    match args.fusion {
        None => index.manifest().fusion,
        Some(FusionArg::Rrf) => Fusion::Rrf { k: args.rrf_k },
        Some(FusionArg::Convex) => Fusion::Convex { alpha: args.alpha },
        Some(FusionArg::Zscore) => Fusion::Zscore { alpha: args.alpha },
    }
}

/// Per-query candidate lists, computed once so that several fusions can be tried on them.
pub struct Candidates {
    pub lexical: Vec<Vec<(usize, f32)>>,
    pub dense: Vec<Vec<(usize, f32)>>,
    pub vectors: Vec<Vec<f32>>,
}

/// Query embeddings (with a progress bar), checked against the index's model.
pub fn embed_queries(
    index: &Index,
    encoder: &Encoder,
    queries: &[Query],
) -> anyhow::Result<Vec<Vec<f32>>> {
    index.check_model(&model_info(encoder)?)?;
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let flat = shared::embed_texts(encoder, &texts, "embedding queries")?;
    Ok(flat
        .chunks_exact(encoder.dim())
        .map(<[f32]>::to_vec)
        .collect())
}

/// Lexical and/or dense candidates for every query.
pub fn candidates(
    index: &Index,
    encoder: Option<&Encoder>,
    queries: &[Query],
    mode: ModeArg,
    depth: usize,
) -> anyhow::Result<Candidates> {
    let vectors = match (mode, encoder) {
        (ModeArg::Lexical, _) => Vec::new(),
        (_, Some(enc)) => embed_queries(index, enc, queries)?,
        (_, None) => anyhow::bail!("dense and hybrid search need a model"),
    };
    let lexical = if mode == ModeArg::Dense {
        Vec::new()
    } else {
        queries
            .iter()
            .map(|q| index.search_lexical(&q.text, depth))
            .collect::<Result<_, _>>()?
    };
    let dense = vectors
        .iter()
        .map(|v| index.search_dense(v, depth))
        .collect::<Result<_, _>>()?;
    Ok(Candidates {
        lexical,
        dense,
        vectors,
    })
}

/// Fuses candidate lists into a run of depth `k`.
pub fn fuse_all(index: &Index, queries: &[Query], c: &Candidates, fusion: Fusion, k: usize) -> Run {
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let q_unit = trine_index::dense::unit(&c.vectors[i]);
            let mut fused: Vec<FusedHit> = trine_index::fusion::fuse(
                &c.lexical[i],
                &c.dense[i],
                |row| trine_eval::exact::dot(&q_unit, index.vector(row)),
                fusion,
                |row| index.document(row).id.clone(),
            );
            fused.truncate(k);
            let hits = fused
                .into_iter()
                .map(|h| Hit {
                    doc_id: index.document(h.row).id.clone(),
                    score: h.score,
                })
                .collect();
            (q.id.clone(), hits)
        })
        .collect()
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
    let depth = if mode == ModeArg::Hybrid {
        candidates_depth.max(k)
    } else {
        k
    };
    let c = candidates(index, encoder, queries, mode, depth)?;
    let to_hits = |list: &[(usize, f32)]| -> Vec<Hit> {
        list.iter()
            .map(|&(row, score)| Hit {
                doc_id: index.document(row).id.clone(),
                score,
            })
            .collect()
    };
    Ok(match mode {
        ModeArg::Lexical => queries
            .iter()
            .zip(&c.lexical)
            .map(|(q, l)| (q.id.clone(), to_hits(l)))
            .collect(),
        ModeArg::Dense => queries
            .iter()
            .zip(&c.dense)
            .map(|(q, d)| (q.id.clone(), to_hits(d)))
            .collect(),
        ModeArg::Hybrid => fuse_all(index, queries, &c, fusion, k),
    })
}
