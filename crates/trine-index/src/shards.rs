//! One corpus split over several indexes (shards), searched as if it were one index.
//!
//! Dense scores are exact cosines and compare across shards as they are. BM25 scores do not:
//! idf and the average document length come from the index a query runs in, so each shard would
//! weigh a term by its own share of the corpus. A sharded search therefore runs in two rounds,
//! as distributed search engines do (Elasticsearch's DFS query-then-fetch): every shard reports
//! the query terms' statistics ([`Index::lexical_stats`](crate::Index::lexical_stats)), their
//! sum goes back with the query, and every shard scores BM25 with the whole corpus's figures,
//! which are the scores a single index over the same documents gives. Each shard returns its
//! top candidates of both retrievers ([`Candidates`]); [`merge`] ranks them as one list per
//! retriever (equal scores by document id) and fuses after the merge.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::fusion::{check_depth, fuse, one_retriever, Fusion};
use crate::{IndexError, Mode, Result};

/// BM25's statistics for one query's terms: documents, tokens, and each term's document
/// frequency. Summed over shards they are the whole corpus's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexicalStats {
    pub docs: u64,
    pub tokens: u64,
    pub doc_freq: BTreeMap<String, u64>,
}

impl LexicalStats {
    /// The statistics of the shards together.
    pub fn sum<'a>(shards: impl IntoIterator<Item = &'a LexicalStats>) -> LexicalStats {
        let mut total = LexicalStats::default();
        for s in shards {
            total.docs += s.docs;
            total.tokens += s.tokens;
            for (t, df) in &s.doc_freq {
                *total.doc_freq.entry(t.clone()).or_default() += df;
            }
        }
        total
    }

    /// Fails unless these statistics include `local`'s (a shard's own): at least its
    /// documents and tokens, and every term it has with at least its frequency.
    pub fn check_covers(&self, local: &LexicalStats) -> Result<()> {
        let short = |what: String| {
            Err(IndexError::Parameter {
                name: "lexical stats",
                message: format!(
                    "{what}: the statistics are not a sum that includes this shard's \
                     (collect them from every shard for the same query)"
                ),
            })
        };
        if self.docs < local.docs || self.tokens < local.tokens {
            return short(format!(
                "{} documents and {} tokens, this shard alone has {} and {}",
                self.docs, self.tokens, local.docs, local.tokens
            ));
        }
        for (term, &df) in &local.doc_freq {
            let global = self.doc_freq.get(term).copied().unwrap_or(0);
            if global < df {
                return short(format!(
                    "term {term:?} in {global} documents, this shard alone has {df}"
                ));
            }
        }
        Ok(())
    }
}

/// One candidate from a shard: the document and its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub title: String,
    /// The retriever's score: BM25 (with the corpus's statistics) or cosine.
    pub score: f32,
    /// The document's exact dense score, when the search has a query vector (fusion needs it
    /// for lexical candidates the dense list lacks).
    pub dense: Option<f32>,
}

/// A shard's best candidates of each retriever, best first (a list is empty when the mode does
/// not use that retriever).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidates {
    pub lexical: Vec<Candidate>,
    pub dense: Vec<Candidate>,
}

/// One hit of a sharded search: the fused hit's scores and ranks, with the document and the
/// shard it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardHit {
    pub shard: usize,
    pub id: String,
    pub title: String,
    pub score: f32,
    pub lexical_score: Option<f32>,
    pub lexical_rank: Option<usize>,
    pub dense_score: Option<f32>,
    pub dense_rank: Option<usize>,
}

/// Every distinct document among the shards' candidates, numbered.
struct Pool<'a> {
    docs: Vec<(usize, &'a Candidate)>,
    dense: Vec<f32>,
    number: HashMap<&'a str, usize>,
}

impl<'a> Pool<'a> {
    fn new(shards: &'a [Candidates]) -> Result<Self> {
        let mut pool = Pool {
            docs: Vec::new(),
            dense: Vec::new(),
            number: HashMap::new(),
        };
        for (shard, c) in shards.iter().enumerate() {
            for cand in c.lexical.iter().chain(&c.dense) {
                match pool.number.get(cand.id.as_str()) {
                    Some(&g) if pool.docs[g].0 != shard => {
                        return Err(IndexError::Parameter {
                            name: "shards",
                            message: format!(
                            "document {:?} is in shards {} and {shard}: shards must not overlap",
                            cand.id, pool.docs[g].0
                        ),
                        })
                    }
                    Some(_) => {}
                    None => {
                        pool.number.insert(&cand.id, pool.docs.len());
                        pool.docs.push((shard, cand));
                        pool.dense.push(cand.dense.unwrap_or(f32::NAN));
                    }
                }
            }
        }
        Ok(pool)
    }

    /// One retriever's list over all shards: the best `n` by score, equal scores by id.
    fn ranked(
        &self,
        list: impl Fn(&'a Candidates) -> &'a [Candidate],
        shards: &'a [Candidates],
        n: usize,
    ) -> Vec<(usize, f32)> {
        let mut hits: Vec<(usize, f32)> = shards
            .iter()
            .flat_map(|c| {
                list(c)
                    .iter()
                    .map(|cand| (self.number[cand.id.as_str()], cand.score))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.docs[a.0].1.id.cmp(&self.docs[b.0].1.id))
        });
        hits.truncate(n);
        hits
    }
}

/// Merges the shards' candidates into the `k` best hits of the whole corpus: each retriever's
/// lists ranked together and cut to `candidates`, then fused (hybrid) as one index fuses its own.
pub fn merge(
    shards: &[Candidates],
    mode: Mode,
    k: usize,
    candidates: usize,
    fusion: Fusion,
) -> Result<Vec<ShardHit>> {
    check_depth(mode, k, candidates)?;
    if mode == Mode::Hybrid {
        fusion.check()?;
    }
    let pool = Pool::new(shards)?;
    let hits = match mode {
        Mode::Lexical => one_retriever(pool.ranked(|c| c.lexical.as_slice(), shards, k), true),
        Mode::Dense => one_retriever(pool.ranked(|c| c.dense.as_slice(), shards, k), false),
        Mode::Hybrid => {
            let lex = pool.ranked(|c| c.lexical.as_slice(), shards, candidates);
            let dense = pool.ranked(|c| c.dense.as_slice(), shards, candidates);
            let mut fused = fuse(
                &lex,
                &dense,
                |g| pool.dense[g],
                fusion,
                |g| pool.docs[g].1.id.as_str(),
            );
            fused.truncate(k);
            fused
        }
    };
    Ok(hits
        .into_iter()
        .map(|h| {
            let (shard, cand) = pool.docs[h.row];
            ShardHit {
                shard,
                id: cand.id.clone(),
                title: cand.title.clone(),
                score: h.score,
                lexical_score: h.lexical_score,
                lexical_rank: h.lexical_rank,
                dense_score: (mode != Mode::Lexical).then_some(h.dense_score),
                dense_rank: h.dense_rank,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, score: f32, dense: f32) -> Candidate {
        Candidate {
            id: id.into(),
            title: String::new(),
            score,
            dense: Some(dense),
        }
    }

    #[test]
    fn stats_sum_and_cover() {
        let a = LexicalStats {
            docs: 3,
            tokens: 30,
            doc_freq: [("x".to_string(), 2)].into(),
        };
        let b = LexicalStats {
            docs: 2,
            tokens: 10,
            doc_freq: [("x".to_string(), 1), ("y".to_string(), 1)].into(),
        };
        let s = LexicalStats::sum([&a, &b]);
        assert_eq!((s.docs, s.tokens), (5, 40));
        assert_eq!(s.doc_freq["x"], 3);
        assert_eq!(s.doc_freq["y"], 1);
        assert!(s.check_covers(&a).is_ok());
        let err = a.check_covers(&b).unwrap_err().to_string();
        assert!(
            err.contains("term \"y\" in 0 documents, this shard alone has 1"),
            "{err}"
        );
        let err = b.check_covers(&a).unwrap_err().to_string();
        assert!(
            err.contains("2 documents and 10 tokens, this shard alone has 3 and 30"),
            "{err}"
        );
    }

    #[test]
    fn merge_ranks_across_shards_with_ties_by_id() {
        let s0 = Candidates {
            lexical: vec![cand("b", 3.0, 0.1), cand("d", 1.0, 0.2)],
            dense: vec![cand("d", 0.2, 0.2)],
        };
        let s1 = Candidates {
            lexical: vec![cand("a", 3.0, 0.9), cand("c", 2.0, 0.3)],
            dense: vec![cand("a", 0.9, 0.9), cand("c", 0.3, 0.3)],
        };
        let lex = merge(
            &[s0.clone(), s1.clone()],
            Mode::Lexical,
            3,
            3,
            Fusion::default(),
        )
        .unwrap();
        let ids: Vec<&str> = lex.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(lex[1].shard, 0);
        // RRF by hand over lexical a,b,c,d and dense a,c,d (k = 60): a = 1/61 + 1/61,
        // c = 1/63 + 1/62, b = 1/62, d = 1/64 + 1/63.
        let hy = merge(&[s0, s1], Mode::Hybrid, 4, 4, Fusion::Rrf { k: 60.0 }).unwrap();
        let ids: Vec<&str> = hy.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "d", "b"]);
        assert!((hy[0].score - 2.0 / 61.0).abs() < 1e-7);
        assert!((hy[2].score - (1.0 / 64.0 + 1.0 / 63.0)).abs() < 1e-7);
    }

    #[test]
    fn overlapping_shards_are_an_error() {
        let s = Candidates {
            lexical: vec![cand("a", 1.0, 0.5)],
            dense: vec![],
        };
        let err = merge(&[s.clone(), s], Mode::Lexical, 1, 1, Fusion::default()).unwrap_err();
        assert!(err.to_string().contains("shards 0 and 1"), "{err}");
    }
}
