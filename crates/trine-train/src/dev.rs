//! A development set held out of the training split, for choosing checkpoints without ever
//! looking at the test split: some queries, their judged documents and a sample of the rest of
//! the corpus (embedding the whole corpus at every evaluation would cost more than training).

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use trine_corpus::beir::{Qrels, Query, Split};
use trine_corpus::Document;
use trine_encoder::Encoder;
use trine_eval::run::sort_hits;
use trine_eval::{evaluate, Hit, Metrics, Run};

use crate::{Result, TrainError};

/// Held-out queries with their judgements and the documents they are ranked among.
#[derive(Debug, Clone)]
pub struct DevSet {
    pub queries: Vec<Query>,
    pub qrels: Qrels,
    pub docs: Vec<Document>,
}

/// Depth of the ranking each dev query gets.
const DEPTH: usize = 100;

impl DevSet {
    /// Holds out `queries` queries of `split` (chosen with `seed`), with every judged document and
    /// `extra_docs` other documents of `corpus` sampled with the same seed.
    pub fn hold_out(
        split: &Split,
        corpus: &[Document],
        queries: usize,
        extra_docs: usize,
        seed: u64,
    ) -> Result<DevSet> {
        if queries == 0 || queries >= split.queries.len() {
            return Err(TrainError::Settings(format!(
                "cannot hold out {queries} of the split's {} queries as a dev set",
                split.queries.len()
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0def_05e7);
        let mut chosen = split.queries.clone();
        chosen.shuffle(&mut rng);
        chosen.truncate(queries);
        chosen.sort_by(|a, b| a.id.cmp(&b.id));
        let qrels: Qrels = chosen
            .iter()
            .map(|q| (q.id.clone(), split.qrels[&q.id].clone()))
            .collect();
        let judged: HashSet<&str> = qrels
            .values()
            .flat_map(|r| r.keys())
            .map(String::as_str)
            .collect();
        let mut others: Vec<usize> = (0..corpus.len())
            .filter(|&i| !judged.contains(corpus[i].id.as_str()))
            .collect();
        others.shuffle(&mut rng);
        others.truncate(extra_docs);
        let keep: HashSet<usize> = others.into_iter().collect();
        let docs = corpus
            .iter()
            .enumerate()
            .filter(|(i, d)| keep.contains(i) || judged.contains(d.id.as_str()))
            .map(|(_, d)| d.clone())
            .collect();
        Ok(DevSet {
            queries: chosen,
            qrels,
            docs,
        })
    }

    /// Ids of the held-out queries (their training rows must be dropped).
    pub fn query_ids(&self) -> HashSet<&str> {
        self.queries.iter().map(|q| q.id.as_str()).collect()
    }

    /// Texts of the held-out queries (for training files without `query_id`).
    pub fn query_texts(&self) -> HashSet<&str> {
        self.queries.iter().map(|q| q.text.as_str()).collect()
    }

    /// Dense retrieval metrics of `encoder` on this set (exact cosine, ties by document id).
    pub fn evaluate(&self, encoder: &Encoder) -> Result<Metrics> {
        let dim = encoder.dim();
        let doc_texts: Vec<String> = self.docs.iter().map(Document::full_text).collect();
        let doc_refs: Vec<&str> = doc_texts.iter().map(String::as_str).collect();
        let docs = trine_eval::exact::normalized(&encoder.encode(&doc_refs, &mut |_| {})?, dim);
        let q_refs: Vec<&str> = self.queries.iter().map(|q| q.text.as_str()).collect();
        let qs = trine_eval::exact::normalized(&encoder.encode(&q_refs, &mut |_| {})?, dim);
        let run: Run = self
            .queries
            .iter()
            .zip(qs.chunks_exact(dim))
            .map(|(q, qv)| {
                let mut hits: Vec<Hit> = self
                    .docs
                    .iter()
                    .zip(docs.chunks_exact(dim))
                    .map(|(d, dv)| Hit {
                        doc_id: d.id.clone(),
                        score: trine_eval::exact::dot(qv, dv),
                    })
                    .collect();
                sort_hits(&mut hits);
                hits.truncate(DEPTH);
                (q.id.clone(), hits)
            })
            .collect();
        Ok(evaluate(&run, &self.qrels).0)
    }
}
