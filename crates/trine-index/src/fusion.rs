//! Hybrid fusion of a lexical and a dense ranking over the union of their top-N candidates.
//!
//! * **RRF** (reciprocal rank fusion): Σ 1/(k + rank); a list that lacks a document adds 0.
//! * **Convex**: α·dense + (1−α)·lexical after min–max normalising each list to [0, 1].
//! * **Z-score**: α·dense + (1−α)·lexical after standardising each list (mean 0, sd 1).
//!
//! Missing documents: the dense score of every candidate is computed exactly (all vectors are at
//! hand), so only lexical scores can be missing; a candidate outside the lexical top-N is given
//! the lowest lexical value of the list (0 after min–max, the list's minimum z-score). For RRF it
//! simply has no lexical term.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How to combine the two rankings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Fusion {
    Rrf { k: f32 },
    Convex { alpha: f32 },
    Zscore { alpha: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

impl Fusion {
    /// Checks the fusion's parameter: RRF k > 0, α in [0, 1] (both finite).
    pub fn check(&self) -> crate::Result<()> {
        let bad = |name: &'static str, message: String| {
            Err(crate::IndexError::Parameter { name, message })
        };
        match *self {
            Fusion::Rrf { k } if !(k.is_finite() && k > 0.0) => {
                bad("fusion k", format!("RRF's k must be above 0, got {k}"))
            }
            Fusion::Convex { alpha } | Fusion::Zscore { alpha }
                if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) =>
            {
                bad(
                    "fusion alpha",
                    format!("alpha must be between 0 and 1, got {alpha}"),
                )
            }
            _ => Ok(()),
        }
    }
}

/// Longest query text a search takes, in bytes (BM25 over a 64 KiB query is already thousands of
/// terms; longer is a document pasted by mistake, or an attack).
pub const MAX_QUERY_BYTES: usize = 64 << 10;

/// Checks a query's text: not blank, at most [`MAX_QUERY_BYTES`].
pub fn check_query(text: &str) -> crate::Result<()> {
    if text.trim().is_empty() {
        return Err(crate::IndexError::EmptyQuery);
    }
    if text.len() > MAX_QUERY_BYTES {
        return Err(crate::IndexError::Parameter {
            name: "query",
            message: format!(
                "{} bytes; a query is at most {MAX_QUERY_BYTES} bytes",
                text.len()
            ),
        });
    }
    Ok(())
}

/// Checks a search's depth: k ≥ 1, and for hybrid search candidates ≥ k.
pub fn check_depth(mode: crate::Mode, k: usize, candidates: usize) -> crate::Result<()> {
    if k == 0 {
        return Err(crate::IndexError::Parameter {
            name: "k",
            message: "k must be at least 1".into(),
        });
    }
    if mode == crate::Mode::Hybrid && candidates < k {
        return Err(crate::IndexError::Parameter {
            name: "candidates",
            message: format!(
                "hybrid search fuses the top candidates of each retriever: candidates ({candidates}) must be at least k ({k})"
            ),
        });
    }
    Ok(())
}

impl std::fmt::Display for Fusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fusion::Rrf { k } => write!(f, "rrf(k={k})"),
            Fusion::Convex { alpha } => write!(f, "convex(alpha={alpha})"),
            Fusion::Zscore { alpha } => write!(f, "zscore(alpha={alpha})"),
        }
    }
}

/// One fused result: the fused score and each retriever's score and 1-based rank (rank `None`
/// when the document was not in that retriever's top-N).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusedHit {
    pub row: usize,
    pub score: f32,
    pub lexical_score: Option<f32>,
    pub lexical_rank: Option<usize>,
    pub dense_score: f32,
    pub dense_rank: Option<usize>,
}

fn min_max(v: &[f32]) -> (f32, f32) {
    v.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn mean_sd(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// Fuses `lexical` and `dense` (each `(row, score)`, best first). `dense_score(row)` gives the
/// exact dense score of any row. Results are sorted by fused score, ties by `tie(row)` ascending.
pub fn fuse<T: Ord>(
    lexical: &[(usize, f32)],
    dense: &[(usize, f32)],
    dense_score: impl Fn(usize) -> f32,
    fusion: Fusion,
    tie: impl Fn(usize) -> T,
) -> Vec<FusedHit> {
    let lex_rank: HashMap<usize, (usize, f32)> = lexical
        .iter()
        .enumerate()
        .map(|(i, &(r, s))| (r, (i + 1, s)))
        .collect();
    let dense_rank: HashMap<usize, usize> = dense
        .iter()
        .enumerate()
        .map(|(i, &(r, _))| (r, i + 1))
        .collect();
    let mut rows: Vec<usize> = dense.iter().map(|h| h.0).collect();
    rows.extend(
        lexical
            .iter()
            .map(|h| h.0)
            .filter(|r| !dense_rank.contains_key(r)),
    );

    let dense_scores: Vec<f32> = rows.iter().map(|&r| dense_score(r)).collect();
    let lex_scores: Vec<f32> = lexical.iter().map(|h| h.1).collect();
    let fused: Vec<f32> = match fusion {
        Fusion::Rrf { k } => rows
            .iter()
            .map(|r| {
                let l = lex_rank
                    .get(r)
                    .map_or(0.0, |(rank, _)| 1.0 / (k + *rank as f32));
                let d = dense_rank
                    .get(r)
                    .map_or(0.0, |&rank| 1.0 / (k + rank as f32));
                l + d
            })
            .collect(),
        Fusion::Convex { alpha } => {
            let (dlo, dhi) = min_max(&dense_scores);
            let (llo, lhi) = min_max(&lex_scores);
            let norm = |x: f32, lo: f32, hi: f32| if hi > lo { (x - lo) / (hi - lo) } else { 1.0 };
            rows.iter()
                .zip(&dense_scores)
                .map(|(r, &d)| {
                    let l = lex_rank.get(r).map_or(0.0, |&(_, s)| norm(s, llo, lhi));
                    alpha * norm(d, dlo, dhi) + (1.0 - alpha) * l
                })
                .collect()
        }
        Fusion::Zscore { alpha } => {
            let (dm, dsd) = mean_sd(&dense_scores);
            let (lm, lsd) = mean_sd(&lex_scores);
            let z = |x: f32, m: f32, sd: f32| if sd > 0.0 { (x - m) / sd } else { 0.0 };
            let lex_floor = lex_scores
                .iter()
                .map(|&s| z(s, lm, lsd))
                .fold(f32::INFINITY, f32::min);
            let lex_floor = if lex_floor.is_finite() {
                lex_floor
            } else {
                0.0
            };
            rows.iter()
                .zip(&dense_scores)
                .map(|(r, &d)| {
                    let l = lex_rank.get(r).map_or(lex_floor, |&(_, s)| z(s, lm, lsd));
                    alpha * z(d, dm, dsd) + (1.0 - alpha) * l
                })
                .collect()
        }
    };
    let mut hits: Vec<FusedHit> = rows
        .iter()
        .zip(fused)
        .zip(dense_scores)
        .map(|((&row, score), d)| FusedHit {
            row,
            score,
            lexical_score: lex_rank.get(&row).map(|x| x.1),
            lexical_rank: lex_rank.get(&row).map(|x| x.0),
            dense_score: d,
            dense_rank: dense_rank.get(&row).copied(),
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| tie(a.row).cmp(&tie(b.row)))
    });
    hits
}

/// Hits of one retriever (`lexical` or dense) in the shape of fused hits, ranked from 1.
pub(crate) fn one_retriever(hits: Vec<(usize, f32)>, lexical: bool) -> Vec<FusedHit> {
    hits.into_iter()
        .enumerate()
        .map(|(i, (row, s))| FusedHit {
            row,
            score: s,
            lexical_score: lexical.then_some(s),
            lexical_rank: lexical.then_some(i + 1),
            dense_score: if lexical { f32::NAN } else { s },
            dense_rank: (!lexical).then_some(i + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // rows 0..4; lexical top: 1 (10.0), 2 (6.0), 3 (2.0); dense top: 2 (0.9), 0 (0.5)
    const LEX: &[(usize, f32)] = &[(1, 10.0), (2, 6.0), (3, 2.0)];
    const DENSE: &[(usize, f32)] = &[(2, 0.9), (0, 0.5)];
    fn exact(r: usize) -> f32 {
        [0.5, 0.1, 0.9, 0.3][r]
    }

    fn by_row(h: &[FusedHit]) -> HashMap<usize, f32> {
        h.iter().map(|x| (x.row, x.score)).collect()
    }

    #[test]
    fn rrf_by_hand() {
        let h = fuse(LEX, DENSE, exact, Fusion::Rrf { k: 60.0 }, |r| r);
        let s = by_row(&h);
        assert!((s[&2] - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert!((s[&1] - 1.0 / 61.0).abs() < 1e-7);
        assert!((s[&0] - 1.0 / 62.0).abs() < 1e-7);
        assert!((s[&3] - 1.0 / 63.0).abs() < 1e-7);
        assert_eq!(h[0].row, 2);
        // rows 1 and 0 tie? no: 1/61 > 1/62, so 1 is second
        assert_eq!(h[1].row, 1);
        assert_eq!(h[0].lexical_rank, Some(2));
        assert_eq!(h[0].dense_rank, Some(1));
        assert_eq!(h.iter().find(|x| x.row == 3).unwrap().dense_rank, None);
    }

    #[test]
    fn convex_min_max_with_exact_dense_for_lexical_only_rows() {
        let h = fuse(LEX, DENSE, exact, Fusion::Convex { alpha: 0.5 }, |r| r);
        let s = by_row(&h);
        // dense over candidates {2,0,1,3}: 0.9,0.5,0.1,0.3 → min 0.1, max 0.9
        // lexical over list: 10,6,2 → min 2, max 10; row 0 is missing → 0
        let d = |x: f32| (x - 0.1) / 0.8;
        let l = |x: f32| (x - 2.0) / 8.0;
        assert!((s[&2] - (0.5 * d(0.9) + 0.5 * l(6.0))).abs() < 1e-6);
        assert!((s[&1] - (0.5 * d(0.1) + 0.5 * l(10.0))).abs() < 1e-6);
        assert!((s[&0] - (0.5 * d(0.5))).abs() < 1e-6);
        assert!((s[&3] - (0.5 * d(0.3) + 0.5 * l(2.0))).abs() < 1e-6);
        // alpha 1 is the dense order, alpha 0 the lexical order
        let dense_only = fuse(LEX, DENSE, exact, Fusion::Convex { alpha: 1.0 }, |r| r);
        assert_eq!(
            dense_only.iter().map(|x| x.row).collect::<Vec<_>>(),
            vec![2, 0, 3, 1]
        );
    }

    #[test]
    fn zscore_missing_lexical_gets_the_list_minimum() {
        let h = fuse(LEX, DENSE, exact, Fusion::Zscore { alpha: 0.0 }, |r| r);
        let s = by_row(&h);
        // alpha 0: lexical only; row 0 (missing) equals row 3 (the minimum) and ties break by row
        assert!((s[&0] - s[&3]).abs() < 1e-6);
        assert_eq!(
            h.iter().map(|x| x.row).collect::<Vec<_>>(),
            vec![1, 2, 0, 3]
        );
    }

    #[test]
    fn fusion_serialises_with_method_tag() {
        let j = serde_json::to_string(&Fusion::Convex { alpha: 0.3 }).unwrap();
        assert_eq!(j, r#"{"method":"convex","alpha":0.3}"#);
        let f: Fusion = serde_json::from_str(r#"{"method":"rrf","k":60.0}"#).unwrap();
        assert_eq!(f, Fusion::Rrf { k: 60.0 });
    }
}
