//! Searches restricted to one topic, with topic counts (facets) beside the hits.
//!
//! The filter is exact: BM25 collects only the topic's documents (tantivy's `FilterCollector`
//! over the row column) and the dense side scans only the topic's vectors, so a filtered search
//! returns what an unfiltered one over the topic's documents alone would. Facets count the topics
//! of the unfiltered search's top `candidates` (for hybrid, its fused list), as a search engine's
//! aggregation over the matches would, so they stay the same while a filter is applied.

use rayon::prelude::*;

use crate::dense;
use crate::fusion::{fuse, one_retriever, FusedHit, Fusion};
use crate::topics::{TopicCount, Topics};
use crate::{IndexError, Result};

use super::{DenseMethod, Index, Mode};

/// `(row, score)` hits of one retriever, best first.
type Hits = Vec<(usize, f32)>;

/// A search with everything it can be asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub mode: Mode,
    /// The query's text (BM25 and checks).
    pub text: &'a str,
    /// The query's embedding (dense and hybrid).
    pub vector: &'a [f32],
    /// Hits to return.
    pub k: usize,
    /// Candidates each retriever gives fusion; also how many hits the facets count.
    pub candidates: usize,
    pub fusion: Fusion,
    /// Only documents of this topic.
    pub topic: Option<usize>,
    /// Count the topics of the unfiltered top candidates.
    pub facets: bool,
}

/// Hits, and the facets when asked for.
#[derive(Debug, Clone)]
pub struct Results {
    pub hits: Vec<FusedHit>,
    pub facets: Option<Vec<TopicCount>>,
}

impl Index {
    /// The index's topics, when `trine index cluster` made some.
    pub fn topics(&self) -> Option<&Topics> {
        self.topics.as_ref()
    }

    /// The topics' map, when one was drawn with them.
    pub fn topic_map(&self) -> Option<&crate::topics::TopicMap> {
        self.topic_map.as_deref()
    }

    /// The topics, or an error saying the index has none.
    pub fn require_topics(&self) -> Result<&Topics> {
        self.topics.as_ref().ok_or_else(|| IndexError::NoTopics {
            path: self.root.clone(),
        })
    }

    /// Runs a search: filtered to a topic and with facets when the request asks.
    pub fn run(&self, r: &Request) -> Result<Results> {
        if r.topic.is_none() && !r.facets {
            let hits = self.search(r.mode, r.text, r.vector, r.k, r.candidates, r.fusion)?;
            return Ok(Results { hits, facets: None });
        }
        let topics = self.require_topics()?;
        let depth = r.candidates.max(r.k);
        let Some(topic) = r.topic else {
            // Facets without a filter: the answer's own candidates.
            let mut hits = self.search(r.mode, r.text, r.vector, depth, r.candidates, r.fusion)?;
            let facets = topics.facets(hits.iter().map(|h| h.row));
            hits.truncate(r.k);
            return Ok(Results {
                hits,
                facets: Some(facets),
            });
        };
        topics.get(topic)?;
        crate::fusion::check_query(r.text)?;
        crate::fusion::check_depth(r.mode, r.k, r.candidates)?;
        if r.mode == Mode::Hybrid {
            r.fusion.check()?;
        }
        if r.mode != Mode::Lexical {
            self.check_query_vector(r.vector)?;
        }
        // Each retriever's lists: the unfiltered ones (for facets) and the topic's, from one
        // pass each.
        let (n_all, n_kept) = match r.mode {
            Mode::Hybrid => (r.candidates, r.candidates),
            _ => (depth, r.k),
        };
        let n_all = if r.facets { n_all } else { 0 };
        let (lex_all, lex_kept) = match r.mode {
            Mode::Dense => (Vec::new(), Vec::new()),
            _ => self.lexical_split(r.text, n_all, n_kept, topic)?,
        };
        let q = dense::unit(r.vector);
        let (dense_all, dense_kept) = match r.mode {
            Mode::Lexical => (Vec::new(), Vec::new()),
            _ => self.dense_split(&q, n_all, n_kept, &topics.members(topic))?,
        };
        let lists = |lex: Vec<(usize, f32)>, dense_hits: Vec<(usize, f32)>, k: usize| {
            let mut hits = match r.mode {
                Mode::Lexical => one_retriever(lex, true),
                Mode::Dense => one_retriever(dense_hits, false),
                Mode::Hybrid => fuse(
                    &lex,
                    &dense_hits,
                    |row| self.dense_score(&q, row),
                    r.fusion,
                    self.tie(),
                ),
            };
            hits.truncate(k);
            hits
        };
        let facets = r.facets.then(|| {
            let all = lists(lex_all, dense_all, depth);
            topics.facets(all.iter().map(|h| h.row))
        });
        Ok(Results {
            hits: lists(lex_kept, dense_kept, r.k),
            facets,
        })
    }

    /// BM25's best `n_all` rows (none when 0) and best `n_kept` rows of `topic`, in one pass.
    fn lexical_split(
        &self,
        text: &str,
        n_all: usize,
        n_kept: usize,
        topic: usize,
    ) -> Result<(Hits, Hits)> {
        let labels = self
            .topic_labels
            .clone()
            .expect("an index with topics has their labels");
        let t = topic as i32;
        let keep = move |row: u64| labels.get(row as usize) == Some(&t);
        if n_all == 0 {
            return Ok((
                Vec::new(),
                self.ranked(self.lexical.search_where(text, n_kept, keep)?),
            ));
        }
        let (all, kept) = self.lexical.search_split(text, n_all, n_kept, keep)?;
        Ok((self.ranked(all), self.ranked(kept)))
    }

    /// The dense top `n_all` (none when 0) by the index's dense method, and the top `n_kept` of
    /// `members` (exact); on the exact path both come from one scoring of every document.
    fn dense_split(
        &self,
        q: &[f32],
        n_all: usize,
        n_kept: usize,
        members: &[usize],
    ) -> Result<(Hits, Hits)> {
        let id = |row: usize| self.docs[row].id.as_str();
        let exact = self.ann.is_none() || self.dense_method == DenseMethod::Exact;
        if n_all > 0 && exact {
            let scores: Vec<f32> = (0..self.docs.len())
                .into_par_iter()
                .map(|row| self.dense_score(q, row))
                .collect();
            let all = dense::top_by(scores.len(), n_all, |row| scores[row], id);
            let kept = dense::top_by(
                members.len(),
                n_kept,
                |i| scores[members[i]],
                |i| id(members[i]),
            );
            let kept = kept.into_iter().map(|(i, s)| (members[i], s)).collect();
            return Ok((all, kept));
        }
        let all = match n_all {
            0 => Vec::new(),
            n => self.search_dense(q, n)?,
        };
        let kept = dense::top_by(
            members.len(),
            n_kept,
            |i| self.dense_score(q, members[i]),
            |i| id(members[i]),
        );
        Ok((
            all,
            kept.into_iter().map(|(i, s)| (members[i], s)).collect(),
        ))
    }
}
