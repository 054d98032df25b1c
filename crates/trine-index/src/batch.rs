//! Searching many queries at once: candidate lists computed once per query, fused into runs,
//! and the fusion grid search (`tune-fusion`) over them. Evaluation, fusion tuning and
//! fine-tuning all rank queries through these functions.

use trine_corpus::beir::{Qrels, Query};
use trine_eval::{evaluate, Hit, Run};

use crate::fusion::{fuse, FusedHit, Fusion};
use crate::index::{Index, Mode};
use crate::{IndexError, Result};

/// Per-query candidate lists, computed once so that several fusions can be tried on them.
pub struct Candidates {
    pub lexical: Vec<Vec<(usize, f32)>>,
    pub dense: Vec<Vec<(usize, f32)>>,
    /// The query vectors (empty for lexical-only candidates).
    pub vectors: Vec<Vec<f32>>,
}

/// Lexical and/or dense candidates (top `depth`) for every query; `vectors` (one per query,
/// from the index's model) are needed unless `mode` is lexical.
pub fn candidates(
    index: &Index,
    queries: &[Query],
    vectors: Option<&[Vec<f32>]>,
    mode: Mode,
    depth: usize,
) -> Result<Candidates> {
    let vectors: Vec<Vec<f32>> = match (mode, vectors) {
        (Mode::Lexical, _) => Vec::new(),
        (_, Some(v)) if v.len() == queries.len() => v.to_vec(),
        (_, v) => {
            return Err(IndexError::Shape {
                message: format!(
                    "{} queries need as many query vectors for {mode:?} search, got {}",
                    queries.len(),
                    v.map_or(0, <[Vec<f32>]>::len)
                ),
            })
        }
    };
    let lexical = if mode == Mode::Dense {
        Vec::new()
    } else {
        queries
            .iter()
            .map(|q| index.search_lexical(&q.text, depth))
            .collect::<Result<_>>()?
    };
    let dense = vectors
        .iter()
        .map(|v| index.search_dense(v, depth))
        .collect::<Result<_>>()?;
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
            let q_unit = crate::dense::unit(&c.vectors[i]);
            let mut fused: Vec<FusedHit> = fuse(
                &c.lexical[i],
                &c.dense[i],
                |row| index.dense_score(&q_unit, row),
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

/// Runs every query in `mode` and returns a run of depth `k` (hybrid: fused over the top
/// `candidates` of each retriever).
pub fn run(
    index: &Index,
    queries: &[Query],
    vectors: Option<&[Vec<f32>]>,
    mode: Mode,
    fusion: Fusion,
    k: usize,
    candidates_depth: usize,
) -> Result<Run> {
    crate::fusion::check_depth(mode, k, candidates_depth)?;
    for q in queries {
        if q.text.len() > crate::fusion::MAX_QUERY_BYTES {
            crate::fusion::check_query(&q.text).map_err(|e| IndexError::Parameter {
                name: "query",
                message: format!("query `{}`: {e}", q.id),
            })?;
        }
    }
    if mode == Mode::Hybrid {
        fusion.check()?;
    }
    let depth = if mode == Mode::Hybrid {
        candidates_depth
    } else {
        k
    };
    let c = candidates(index, queries, vectors, mode, depth)?;
    let to_hits = |list: &[(usize, f32)]| -> Vec<Hit> {
        list.iter()
            .map(|&(row, score)| Hit {
                doc_id: index.document(row).id.clone(),
                score,
            })
            .collect()
    };
    Ok(match mode {
        Mode::Lexical => queries
            .iter()
            .zip(&c.lexical)
            .map(|(q, l)| (q.id.clone(), to_hits(l)))
            .collect(),
        Mode::Dense => queries
            .iter()
            .zip(&c.dense)
            .map(|(q, d)| (q.id.clone(), to_hits(d)))
            .collect(),
        Mode::Hybrid => fuse_all(index, queries, &c, fusion, k),
    })
}

/// The fusions `tune-fusion` tries: RRF at a few k, convex and z-score at α = 0, 0.05, …, 1.
pub fn fusion_grid() -> Vec<Fusion> {
    let mut g: Vec<Fusion> = [20.0, 60.0, 100.0]
        .iter()
        .map(|&k| Fusion::Rrf { k })
        .collect();
    for i in 0..=20 {
        let alpha = i as f32 / 20.0;
        g.push(Fusion::Convex { alpha });
        g.push(Fusion::Zscore { alpha });
    }
    g
}

/// nDCG@10 of every fusion of the grid on labelled queries, best first (among equals, the
/// earlier, simpler grid entry). Tune on training or held-out queries, never on the split that
/// is reported.
pub fn tune_fusion(
    index: &Index,
    queries: &[Query],
    vectors: &[Vec<f32>],
    qrels: &Qrels,
    candidates_depth: usize,
) -> Result<Vec<(Fusion, f64)>> {
    let c = candidates(
        index,
        queries,
        Some(vectors),
        Mode::Hybrid,
        candidates_depth,
    )?;
    let mut results: Vec<(Fusion, f64)> = fusion_grid()
        .into_iter()
        .map(|f| {
            let run = fuse_all(index, queries, &c, f, 100);
            (f, evaluate(&run, qrels).0.ndcg_10)
        })
        .collect();
    results.sort_by(|x, y| y.1.total_cmp(&x.1));
    Ok(results)
}
