//! An index as one shard of a corpus: its BM25 statistics for a query, and its candidates
//! scored with the whole corpus's (see [`crate::shards`]).

use crate::dense;
use crate::shards::{Candidate, Candidates, LexicalStats};
use crate::Result;

use super::{Index, Mode};

impl Index {
    /// This index's BM25 statistics for the terms of `text`, to be summed over all shards.
    pub fn lexical_stats(&self, text: &str) -> Result<LexicalStats> {
        crate::fusion::check_query(text)?;
        self.lexical.stats(text)
    }

    /// BM25 top `k` as `(row, score)` scored with `stats` (the corpus's, summed over its
    /// shards); equal scores by document id.
    pub fn search_lexical_with(
        &self,
        text: &str,
        k: usize,
        stats: &LexicalStats,
    ) -> Result<Vec<(usize, f32)>> {
        Ok(self.ranked(self.lexical.search_with_stats(text, k, stats)?))
    }

    /// This shard's best `n` candidates of each retriever `mode` uses: BM25 scored with the
    /// corpus's `stats` (each with its exact dense score when there is a query vector) and the
    /// dense top `n` by this index's dense method.
    pub fn candidates(
        &self,
        mode: Mode,
        text: &str,
        vector: &[f32],
        n: usize,
        stats: &LexicalStats,
    ) -> Result<Candidates> {
        crate::fusion::check_query(text)?;
        crate::fusion::check_depth(mode, n, n)?;
        if mode != Mode::Lexical {
            self.check_query_vector(vector)?;
        }
        let q = (mode != Mode::Lexical).then(|| dense::unit(vector));
        let candidate = |(row, score): (usize, f32)| Candidate {
            id: self.docs[row].id.clone(),
            title: self.docs[row].title.clone(),
            score,
            dense: q.as_ref().map(|q| self.dense_score(q, row)),
        };
        let lexical = match mode {
            Mode::Dense => Vec::new(),
            _ => self.search_lexical_with(text, n, stats)?,
        };
        let dense_hits = match mode {
            Mode::Lexical => Vec::new(),
            _ => self.search_dense(vector, n)?,
        };
        Ok(Candidates {
            lexical: lexical.into_iter().map(&candidate).collect(),
            dense: dense_hits.into_iter().map(&candidate).collect(),
        })
    }
}
