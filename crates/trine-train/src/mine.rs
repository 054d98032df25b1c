//! Hard-negative mining that knows what relevance looks like.
//!
//! For every judged query of a split, candidates come from a retriever over a trine [`Index`]
//! (BM25, dense or hybrid). Guards against false negatives, as sentence-transformers'
//! `mine_hard_negatives` and NV-Retriever (TopK-PercPos) have them:
//!
//! * every document judged for the query, at any grade, is never its negative;
//! * ranks `1..=skip_top` are never used and candidates come from the ranks up to `depth`
//!   (`range_min` / `range_max`), either the best remaining ones or a random sample of them;
//! * a candidate whose dense score is above `max_score_ratio` × the positive's dense score is
//!   dropped (the positive-aware filter: a "negative" that close is more often unjudged than
//!   irrelevant).
//!
//! Positives are the documents judged at `min_grade` or above; `max_pairs_per_query` caps how
//! many a query contributes, so that a query with hundreds of positives does not dominate.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use trine_corpus::beir::Split;
use trine_corpus::triplets::Triplet;
use trine_index::{Fusion, Index, Mode};
use trine_kernels::seed::mix;

use crate::{Result, TrainError};

/// How negatives are taken from the eligible candidates of the rank window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// The best-ranked eligible candidates.
    Top,
    /// A uniform sample of the eligible candidates (seeded).
    Random,
}

/// Which positives a query keeps when it has more than `max_pairs_per_query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PositiveChoice {
    /// A uniform sample (seeded).
    Random,
    /// The highest grades first, then the highest dense scores under the mining model.
    Best,
}

/// Mining settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MineOptions {
    /// Retriever that ranks the candidates.
    pub retriever: Mode,
    /// Fusion of the hybrid retriever.
    pub fusion: Fusion,
    /// Negatives kept per (query, positive) pair; 0 writes (query, positive) pairs, whose
    /// negatives are the rest of the batch.
    pub negatives: usize,
    /// Ranks `1..=skip_top` are never used (they hold most unjudged positives).
    pub skip_top: usize,
    /// Candidates come from the first `depth` ranks.
    pub depth: usize,
    pub sampling: Sampling,
    /// Drop a candidate whose dense score is above this fraction of the positive's; `None`
    /// turns the filter off.
    pub max_score_ratio: Option<f32>,
    /// Lowest judgement grade that makes a document a positive.
    pub min_grade: i32,
    /// Most (query, positive) pairs per query; `None` keeps them all.
    pub max_pairs_per_query: Option<usize>,
    pub positives: PositiveChoice,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            retriever: Mode::Lexical,
            fusion: Fusion::default(),
            negatives: 1,
            skip_top: 0,
            depth: 100,
            sampling: Sampling::Top,
            max_score_ratio: None,
            min_grade: 1,
            max_pairs_per_query: None,
            positives: PositiveChoice::Random,
            seed: 42,
        }
    }
}

impl MineOptions {
    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Settings(m));
        if self.depth <= self.skip_top {
            return bad(format!(
                "the rank window is empty: depth {} must exceed skip-top {}",
                self.depth, self.skip_top
            ));
        }
        if let Some(r) = self.max_score_ratio {
            if !(r > 0.0 && r.is_finite()) {
                return bad(format!("max score ratio must be positive, got {r}"));
            }
        }
        if self.min_grade < 1 {
            return bad(format!(
                "the minimum positive grade must be at least 1, got {}",
                self.min_grade
            ));
        }
        if self.max_pairs_per_query == Some(0) {
            return bad("max pairs per query must be at least 1".into());
        }
        if let Err(e) = self.fusion.check() {
            return bad(e.to_string());
        }
        Ok(())
    }
}

/// What mining kept and dropped, summed over queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MineCounts {
    /// Queries of the split that had at least one positive in the corpus.
    pub queries: usize,
    /// (query, positive) pairs mined.
    pub pairs: usize,
    /// Negatives written.
    pub kept: usize,
    /// Candidates dropped because they are judged for the query (any grade).
    pub judged: usize,
    /// Candidates dropped because they ranked in the skipped top ranks.
    pub skipped_top: usize,
    /// Candidates dropped because their dense score was too close to the positive's.
    pub above_ratio: usize,
    /// Pairs that got fewer negatives than asked (the window ran out).
    pub short_pairs: usize,
    /// Judged documents below the minimum grade (not used as positives).
    pub below_grade: usize,
    /// Positives left out by the per-query cap.
    pub capped: usize,
    /// Judged documents that are not in the corpus.
    pub missing_docs: usize,
}

/// Picks up to `options.negatives` negatives from `ranking` (row and dense score, best first)
/// for one (query, positive) pair. `judged(row)` tells whether a row is judged for the query.
pub fn pick_negatives(
    ranking: &[(usize, f32)],
    judged: impl Fn(usize) -> bool,
    positive_score: f32,
    options: &MineOptions,
    rng: &mut StdRng,
    counts: &mut MineCounts,
) -> Vec<usize> {
    let mut eligible = Vec::new();
    for (rank, &(row, dense)) in ranking.iter().take(options.depth).enumerate() {
        if judged(row) {
            counts.judged += 1;
        } else if rank < options.skip_top {
            counts.skipped_top += 1;
        } else if options
            .max_score_ratio
            .is_some_and(|r| dense > r * positive_score)
        {
            counts.above_ratio += 1;
        } else {
            eligible.push(row);
            if options.sampling == Sampling::Top && eligible.len() == options.negatives {
                break;
            }
        }
    }
    let out: Vec<usize> = match options.sampling {
        Sampling::Top => eligible,
        Sampling::Random => eligible
            .choose_multiple(rng, options.negatives)
            .copied()
            .collect(),
    };
    counts.kept += out.len();
    if out.len() < options.negatives {
        counts.short_pairs += 1;
    }
    out
}

/// Triplets mined from a split, and what was kept and dropped.
#[derive(Debug, Clone)]
pub struct Mined {
    pub triplets: Vec<Triplet>,
    pub counts: MineCounts,
}

/// Mines `split` against `index`. `query_vectors` holds one embedding per query of the split
/// (in order), made by the model that embedded the index. `progress` is called per query.
pub fn mine(
    split: &Split,
    index: &Index,
    query_vectors: &[f32],
    options: &MineOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Mined> {
    options.validate()?;
    let dim = index.manifest().model.dim;
    if query_vectors.len() != split.queries.len() * dim {
        return Err(TrainError::Settings(format!(
            "{} query vectors of dimension {dim} expected, got {} values",
            split.queries.len(),
            query_vectors.len()
        )));
    }
    let mut counts = MineCounts::default();
    let mut triplets = Vec::new();
    for (qi, q) in split.queries.iter().enumerate() {
        progress(qi + 1);
        let qv = trine_eval::exact::normalized(&query_vectors[qi * dim..(qi + 1) * dim], dim);
        let dense = |row: usize| index.dense_score(&qv, row);
        let judged_grades = &split.qrels[&q.id];
        let judged: HashSet<usize> = judged_grades
            .keys()
            .filter_map(|d| index.row_of(d))
            .collect();
        counts.missing_docs += judged_grades.len() - judged.len();
        let mut positives: Vec<(usize, i32)> = judged_grades
            .iter()
            .filter_map(|(d, &g)| index.row_of(d).map(|r| (r, g)))
            .filter(|&(_, g)| g >= 1)
            .collect();
        let before = positives.len();
        positives.retain(|&(_, g)| g >= options.min_grade);
        counts.below_grade += before - positives.len();
        if positives.is_empty() {
            continue;
        }
        counts.queries += 1;
        let qseed = mix(options.seed ^ mix(qi as u64 + 1));
        choose_positives(&mut positives, &dense, index, options, qseed, &mut counts);
        let ranking: Vec<(usize, f32)> = if options.negatives == 0 {
            Vec::new()
        } else {
            index
                .search(
                    options.retriever,
                    &q.text,
                    &qv,
                    options.depth,
                    options.depth,
                    options.fusion,
                )?
                .into_iter()
                .map(|h| (h.row, dense(h.row)))
                .collect()
        };
        for &(prow, _) in &positives {
            counts.pairs += 1;
            let positive = index.document(prow);
            if options.negatives == 0 {
                triplets.push(Triplet {
                    query: q.text.clone(),
                    positive: positive.full_text(),
                    negative: None,
                    query_id: Some(q.id.clone()),
                    positive_id: Some(positive.id.clone()),
                    negative_id: None,
                    label: None,
                });
                continue;
            }
            let mut rng = StdRng::seed_from_u64(mix(qseed ^ prow as u64));
            let negatives = pick_negatives(
                &ranking,
                |r| judged.contains(&r),
                dense(prow),
                options,
                &mut rng,
                &mut counts,
            );
            for nrow in negatives {
                let negative = index.document(nrow);
                triplets.push(Triplet {
                    query: q.text.clone(),
                    positive: positive.full_text(),
                    negative: Some(negative.full_text()),
                    query_id: Some(q.id.clone()),
                    positive_id: Some(positive.id.clone()),
                    negative_id: Some(negative.id.clone()),
                    label: None,
                });
            }
        }
    }
    Ok(Mined { triplets, counts })
}

/// Orders a query's positives (ids ascending, so that the result does not depend on hash
/// order) and applies the per-query cap.
fn choose_positives(
    positives: &mut Vec<(usize, i32)>,
    dense: &impl Fn(usize) -> f32,
    index: &Index,
    options: &MineOptions,
    seed: u64,
    counts: &mut MineCounts,
) {
    positives.sort_by(|a, b| index.document(a.0).id.cmp(&index.document(b.0).id));
    let Some(cap) = options.max_pairs_per_query else {
        return;
    };
    if positives.len() <= cap {
        return;
    }
    match options.positives {
        PositiveChoice::Random => positives.shuffle(&mut StdRng::seed_from_u64(seed)),
        PositiveChoice::Best => positives.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| dense(b.0).total_cmp(&dense(a.0)))
                .then_with(|| index.document(a.0).id.cmp(&index.document(b.0).id))
        }),
    }
    counts.capped += positives.len() - cap;
    positives.truncate(cap);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking() -> Vec<(usize, f32)> {
        vec![(1, 0.9), (2, 0.85), (3, 0.8), (4, 0.6), (5, 0.5), (6, 0.4)]
    }

    fn options(sampling: Sampling) -> MineOptions {
        MineOptions {
            negatives: 2,
            skip_top: 1,
            depth: 6,
            sampling,
            max_score_ratio: Some(0.9),
            ..Default::default()
        }
    }

    #[test]
    fn guards_drop_judged_top_ranks_and_near_scores() {
        let mut c = MineCounts::default();
        let mut rng = StdRng::seed_from_u64(1);
        // Rank 1 (row 1) skipped; row 2 judged; row 3: 0.8 > 0.9 × 0.85 = 0.765 → dropped;
        // rows 4 and 5 kept.
        let got = pick_negatives(
            &ranking(),
            |r| r == 2,
            0.85,
            &options(Sampling::Top),
            &mut rng,
            &mut c,
        );
        assert_eq!(got, vec![4, 5]);
        assert_eq!(
            (
                c.kept,
                c.judged,
                c.skipped_top,
                c.above_ratio,
                c.short_pairs
            ),
            (2, 1, 1, 1, 0)
        );
    }

    #[test]
    fn random_sampling_draws_from_the_whole_window() {
        // Eligible: rows 4, 5, 6. Over many draws every one of them appears, nothing else does.
        let mut seen = HashSet::new();
        for seed in 0..64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut c = MineCounts::default();
            let got = pick_negatives(
                &ranking(),
                |r| r == 2,
                0.85,
                &options(Sampling::Random),
                &mut rng,
                &mut c,
            );
            assert_eq!(got.len(), 2);
            seen.extend(got);
        }
        assert_eq!(seen, [4, 5, 6].into_iter().collect());
    }

    #[test]
    fn a_short_window_is_counted() {
        let mut c = MineCounts::default();
        let opts = MineOptions {
            negatives: 9,
            depth: 6,
            ..Default::default()
        };
        let got = pick_negatives(
            &ranking(),
            |_| false,
            1.0,
            &opts,
            &mut StdRng::seed_from_u64(0),
            &mut c,
        );
        assert_eq!(got.len(), 6);
        assert_eq!(c.short_pairs, 1);
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let empty_window = MineOptions {
            skip_top: 10,
            depth: 10,
            ..Default::default()
        };
        assert!(empty_window.validate().is_err());
        let rrf = MineOptions {
            fusion: Fusion::Rrf { k: -60.0 },
            ..Default::default()
        };
        assert!(rrf.validate().is_err());
        assert!(MineOptions {
            min_grade: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
