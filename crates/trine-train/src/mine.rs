//! Choosing hard negatives from a retriever's ranking, with the guards against false negatives
//! that sentence-transformers' `mine_hard_negatives` offers: never a judged positive, skip the
//! top ranks (`range_min`), and drop candidates that score too close to the positive
//! (`relative_margin`: above `max_score_ratio` × the positive's score).

use std::collections::HashSet;

/// Mining settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MineOptions {
    /// Negatives kept per (query, positive) pair.
    pub negatives: usize,
    /// Ranks `1..=skip_top` of the ranking are never used (they hold most unjudged positives).
    pub skip_top: usize,
    /// Drop a candidate scoring above this fraction of the positive's score (when the positive's
    /// score is known); `None` turns the guard off.
    pub max_score_ratio: Option<f32>,
}

/// What mining kept and dropped, summed over pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MineCounts {
    /// (query, positive) pairs seen.
    pub pairs: usize,
    /// Negatives written.
    pub kept: usize,
    /// Candidates dropped because they are judged relevant to the query.
    pub judged_positive: usize,
    /// Candidates dropped because they ranked in the skipped top ranks.
    pub skipped_top: usize,
    /// Candidates dropped because they scored too close to the positive.
    pub above_ratio: usize,
    /// Pairs that got fewer negatives than asked (the ranking ran out).
    pub short_pairs: usize,
}

/// Picks up to `options.negatives` negatives from `ranking` (document id and score, best first)
/// for one (query, positive) pair; `positives` are all documents judged relevant to the query.
pub fn pick_negatives<'a>(
    ranking: &'a [(String, f32)],
    positives: &HashSet<&str>,
    positive_score: Option<f32>,
    options: &MineOptions,
    counts: &mut MineCounts,
) -> Vec<&'a (String, f32)> {
    counts.pairs += 1;
    let mut out = Vec::with_capacity(options.negatives);
    for (rank, cand) in ranking.iter().enumerate() {
        if out.len() == options.negatives {
            break;
        }
        if positives.contains(cand.0.as_str()) {
            counts.judged_positive += 1;
            continue;
        }
        if rank < options.skip_top {
            counts.skipped_top += 1;
            continue;
        }
        if let (Some(ratio), Some(ps)) = (options.max_score_ratio, positive_score) {
            if cand.1 > ratio * ps {
                counts.above_ratio += 1;
                continue;
            }
        }
        out.push(cand);
    }
    counts.kept += out.len();
    if out.len() < options.negatives {
        counts.short_pairs += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking() -> Vec<(String, f32)> {
        [
            ("d1", 10.0),
            ("d2", 9.5),
            ("d3", 9.0),
            ("d4", 7.0),
            ("d5", 5.0),
        ]
        .iter()
        .map(|(d, s)| (d.to_string(), *s))
        .collect()
    }

    #[test]
    fn guards_drop_positives_top_ranks_and_near_scores() {
        let r = ranking();
        let positives: HashSet<&str> = ["d2"].into_iter().collect();
        let opts = MineOptions {
            negatives: 2,
            skip_top: 1,
            max_score_ratio: Some(0.8),
        };
        let mut c = MineCounts::default();
        // d1: skipped (rank 1); d2: judged; d3: 9.0 > 0.8 × 10 = 8 → dropped; d4, d5 kept.
        let got: Vec<&str> = pick_negatives(&r, &positives, Some(10.0), &opts, &mut c)
            .iter()
            .map(|x| x.0.as_str())
            .collect();
        assert_eq!(got, vec!["d4", "d5"]);
        assert_eq!(
            (
                c.pairs,
                c.kept,
                c.judged_positive,
                c.skipped_top,
                c.above_ratio,
                c.short_pairs
            ),
            (1, 2, 1, 1, 1, 0)
        );
    }

    #[test]
    fn a_short_ranking_is_counted() {
        let r = ranking();
        let opts = MineOptions {
            negatives: 9,
            skip_top: 0,
            max_score_ratio: None,
        };
        let mut c = MineCounts::default();
        assert_eq!(
            pick_negatives(&r, &HashSet::new(), None, &opts, &mut c).len(),
            5
        );
        assert_eq!(c.short_pairs, 1);
    }
}
