//! Ranking metrics as BEIR computes them with pytrec_eval (trec_eval semantics):
//!
//! * nDCG@k: DCG = Σ_{i≤k} rel_i / log2(i+1) with graded gains from the qrels; the ideal DCG sorts
//!   the query's judged gains (not only the retrieved ones) in decreasing order.
//! * Recall@k: relevant (rel > 0) documents in the top k / all relevant documents of the query.
//! * MRR@k: 1 / rank of the first relevant document within the top k, else 0.
//! * MAP@k: Σ over relevant documents at rank i ≤ k of precision@i, divided by all relevant
//!   documents of the query.
//!
//! Scores are averaged over every query with judgements; a query the run lacks scores 0. As BEIR
//! does by default, a hit whose document id equals its query id is dropped before scoring.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use trine_corpus::beir::Qrels;

use crate::{Hit, Run};

/// The averaged metrics; serialised with the lower-case names `ndcg@10`, `recall@100`, ...
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Metrics {
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    #[serde(rename = "ndcg@100")]
    pub ndcg_100: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "recall@100")]
    pub recall_100: f64,
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    #[serde(rename = "map@100")]
    pub map_100: f64,
}

/// Metrics for one query.
pub type PerQuery = BTreeMap<String, Metrics>;

fn gain(rels: &HashMap<String, i32>, doc: &str) -> f64 {
    rels.get(doc).copied().unwrap_or(0).max(0) as f64
}

fn discount(rank0: usize) -> f64 {
    1.0 / ((rank0 + 2) as f64).log2()
}

/// nDCG@k of one ranking.
pub fn ndcg_at(hits: &[Hit], rels: &HashMap<String, i32>, k: usize) -> f64 {
    let dcg: f64 = hits
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, h)| gain(rels, &h.doc_id) * discount(i))
        .sum();
    let mut ideal: Vec<f64> = rels.values().map(|&r| r.max(0) as f64).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g * discount(i))
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

fn relevant_count(rels: &HashMap<String, i32>) -> usize {
    rels.values().filter(|&&r| r > 0).count()
}

/// Recall@k of one ranking.
pub fn recall_at(hits: &[Hit], rels: &HashMap<String, i32>, k: usize) -> f64 {
    let total = relevant_count(rels);
    if total == 0 {
        return 0.0;
    }
    let found = hits
        .iter()
        .take(k)
        .filter(|h| gain(rels, &h.doc_id) > 0.0)
        .count();
    found as f64 / total as f64
}

/// Reciprocal rank of the first relevant hit within the top k.
pub fn mrr_at(hits: &[Hit], rels: &HashMap<String, i32>, k: usize) -> f64 {
    hits.iter()
        .take(k)
        .position(|h| gain(rels, &h.doc_id) > 0.0)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Average precision over the top k.
pub fn ap_at(hits: &[Hit], rels: &HashMap<String, i32>, k: usize) -> f64 {
    let total = relevant_count(rels);
    if total == 0 {
        return 0.0;
    }
    let mut found = 0usize;
    let mut sum = 0.0;
    for (i, h) in hits.iter().take(k).enumerate() {
        if gain(rels, &h.doc_id) > 0.0 {
            found += 1;
            sum += found as f64 / (i + 1) as f64;
        }
    }
    sum / total as f64
}

fn score_query(hits: &[Hit], rels: &HashMap<String, i32>) -> Metrics {
    Metrics {
        ndcg_10: ndcg_at(hits, rels, 10),
        ndcg_100: ndcg_at(hits, rels, 100),
        recall_10: recall_at(hits, rels, 10),
        recall_100: recall_at(hits, rels, 100),
        mrr_10: mrr_at(hits, rels, 10),
        map_100: ap_at(hits, rels, 100),
    }
}

/// Scores a run against judgements: the mean over judged queries, and each query's metrics.
pub fn evaluate(run: &Run, qrels: &Qrels) -> (Metrics, PerQuery) {
    let mut per_query = PerQuery::new();
    let mut sum = Metrics::default();
    for (qid, rels) in qrels {
        let hits: Vec<Hit> = run
            .get(qid)
            .map(|h| h.iter().filter(|h| &h.doc_id != qid).cloned().collect())
            .unwrap_or_default();
        let m = score_query(&hits, rels);
        sum.ndcg_10 += m.ndcg_10;
        sum.ndcg_100 += m.ndcg_100;
        sum.recall_10 += m.recall_10;
        sum.recall_100 += m.recall_100;
        sum.mrr_10 += m.mrr_10;
        sum.map_100 += m.map_100;
        per_query.insert(qid.clone(), m);
    }
    let n = qrels.len().max(1) as f64;
    let mean = Metrics {
        ndcg_10: sum.ndcg_10 / n,
        ndcg_100: sum.ndcg_100 / n,
        recall_10: sum.recall_10 / n,
        recall_100: sum.recall_100 / n,
        mrr_10: sum.mrr_10 / n,
        map_100: sum.map_100 / n,
    };
    (mean, per_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(ids: &[&str]) -> Vec<Hit> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Hit {
                doc_id: id.to_string(),
                score: -(i as f32),
            })
            .collect()
    }

    fn rels(pairs: &[(&str, i32)]) -> HashMap<String, i32> {
        pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect()
    }

    const EPS: f64 = 1e-12;

    #[test]
    fn ndcg_with_graded_gains_by_hand() {
        // ranking: d1 (rel 0), d2 (rel 2), d3 (rel 1); judged: d2=2, d3=1, d4=3 (not retrieved)
        let r = rels(&[("d2", 2), ("d3", 1), ("d4", 3)]);
        let h = hits(&["d1", "d2", "d3"]);
        let dcg = 2.0 / 3f64.log2() + 1.0 / 2.0; // ranks 2 and 3: log2(3), log2(4)=2
        let idcg = 3.0 + 2.0 / 3f64.log2() + 1.0 / 2.0;
        assert!((ndcg_at(&h, &r, 10) - dcg / idcg).abs() < EPS);
        // cut at 2: only d2 counts; ideal uses the two best gains
        let idcg2 = 3.0 + 2.0 / 3f64.log2();
        assert!((ndcg_at(&h, &r, 2) - (2.0 / 3f64.log2()) / idcg2).abs() < EPS);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let r = rels(&[("a", 1), ("b", 1)]);
        let h = hits(&["b", "a", "c"]);
        assert!((ndcg_at(&h, &r, 10) - 1.0).abs() < EPS);
        assert!((recall_at(&h, &r, 10) - 1.0).abs() < EPS);
        assert!((ap_at(&h, &r, 100) - 1.0).abs() < EPS);
        assert!((mrr_at(&h, &r, 10) - 1.0).abs() < EPS);
    }

    #[test]
    fn recall_mrr_map_by_hand() {
        // relevant: a, b, c; ranking: x a y b ; c not retrieved
        let r = rels(&[("a", 1), ("b", 1), ("c", 1), ("z", 0)]);
        let h = hits(&["x", "a", "y", "b"]);
        assert!((recall_at(&h, &r, 10) - 2.0 / 3.0).abs() < EPS);
        assert!((recall_at(&h, &r, 2) - 1.0 / 3.0).abs() < EPS);
        assert!((mrr_at(&h, &r, 10) - 0.5).abs() < EPS);
        assert_eq!(mrr_at(&h, &r, 1), 0.0);
        // precision at the relevant ranks: 1/2 and 2/4, divided by 3 relevant
        assert!((ap_at(&h, &r, 100) - (0.5 + 0.5) / 3.0).abs() < EPS);
    }

    #[test]
    fn evaluate_averages_over_judged_queries_and_drops_identical_ids() {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), rels(&[("a", 1)]));
        qrels.insert("q2".into(), rels(&[("b", 1)]));
        let mut run = Run::new();
        // q1: its own id first (dropped as BEIR does), then the relevant doc → rank 1
        run.insert("q1".into(), hits(&["q1", "a"]));
        // q2 missing from the run: scores 0
        let (m, per) = evaluate(&run, &qrels);
        assert!((per["q1"].ndcg_10 - 1.0).abs() < EPS);
        assert_eq!(per["q2"].ndcg_10, 0.0);
        assert!((m.ndcg_10 - 0.5).abs() < EPS);
        assert!((m.mrr_10 - 0.5).abs() < EPS);
        let json = serde_json::to_value(m).unwrap();
        assert!(json.get("ndcg@10").is_some() && json.get("map@100").is_some());
    }
}
