//! Searching an open index: lexical, dense (exact or ANN) and hybrid.

use crate::ann::Ann;
use crate::dense;
use crate::fusion::{fuse, FusedHit, Fusion};
use crate::{IndexError, Result};

use super::{DenseMethod, Index, Mode};

fn no_graph() -> IndexError {
    IndexError::Shape {
        message: "this index has no ANN graph (build it with `--ann always`)".into(),
    }
}

impl Index {
    /// The tantivy query for `text` (for snippets).
    pub fn lexical_query(&self, text: &str) -> Box<dyn tantivy::query::Query> {
        self.lexical.query(text)
    }

    fn tie<'a>(&'a self) -> impl Fn(usize) -> &'a str + Sync + 'a {
        move |row| self.docs[row].id.as_str()
    }

    /// BM25 top `k` as `(row, score)`; equal scores by document id.
    pub fn search_lexical(&self, text: &str, k: usize) -> Result<Vec<(usize, f32)>> {
        let mut hits: Vec<(usize, f32)> = self
            .lexical
            .search(text, k)?
            .into_iter()
            .map(|(r, s)| (r as usize, s))
            .collect();
        let tie = self.tie();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(tie(b.0))));
        Ok(hits)
    }

    /// Cosine top `k` for a query vector, as `(row, score)`, by this open index's dense method
    /// (by default the ANN graph when the index has one, else exact). Hybrid search uses it too.
    pub fn search_dense(&self, query: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        self.search_dense_with(query, k, self.dense_method)
    }

    /// Chooses how [`Index::search_dense`] (and hybrid search) find dense candidates.
    pub fn set_dense_method(&mut self, method: DenseMethod) -> Result<()> {
        if method == DenseMethod::Ann && self.ann.is_none() {
            return Err(no_graph());
        }
        self.dense_method = method;
        Ok(())
    }

    /// The ANN graph, when the index has one.
    pub fn ann(&self) -> Option<&Ann> {
        self.ann.as_ref()
    }

    /// Sets the ANN search candidate list size (ef_search) for this open index.
    pub fn set_ann_expansion(&mut self, ef: usize) {
        if let Some(ann) = self.ann.as_mut() {
            ann.set_expansion_search(ef);
        }
    }

    /// Cosine top `k` for a query vector by the chosen path, as `(row, score)`; scores are
    /// exact cosines either way and equal scores are ordered by document id.
    pub fn search_dense_with(
        &self,
        query: &[f32],
        k: usize,
        method: DenseMethod,
    ) -> Result<Vec<(usize, f32)>> {
        if query.len() != self.manifest.model.dim {
            return Err(IndexError::Shape {
                message: format!(
                    "query vector has {} dims, index has {}",
                    query.len(),
                    self.manifest.model.dim
                ),
            });
        }
        let q = dense::unit(query);
        match (method, &self.ann) {
            (DenseMethod::Exact, _) | (DenseMethod::Auto, None) => {
                Ok(self.vectors.search(&q, k, self.tie()))
            }
            (_, Some(ann)) => {
                let pool = k.max(ann.settings().expansion_search);
                ann.search(&self.vectors, &q, k, pool, self.tie())
            }
            (DenseMethod::Ann, None) => Err(no_graph()),
        }
    }

    /// One search in any mode, as fused-hit records (a single retriever fills only its own side).
    /// `query` is the query's embedding; lexical mode ignores it.
    pub fn search(
        &self,
        mode: Mode,
        text: &str,
        query: &[f32],
        k: usize,
        candidates: usize,
        fusion: Fusion,
    ) -> Result<Vec<FusedHit>> {
        crate::fusion::check_query(text)?;
        crate::fusion::check_depth(mode, k, candidates)?;
        if mode == Mode::Hybrid {
            fusion.check()?;
        }
        Ok(match mode {
            Mode::Hybrid => self.search_hybrid(text, query, k, candidates, fusion)?,
            Mode::Lexical => one_retriever(self.search_lexical(text, k)?, true),
            Mode::Dense => one_retriever(self.search_dense(query, k)?, false),
        })
    }

    /// An HTML snippet of document `row` around the words of `query` (matches in `<b>`).
    pub fn snippet(&self, query: &str, row: usize, max_chars: usize) -> Result<String> {
        self.lexical
            .snippet(query, &self.docs[row].full_text(), max_chars)
    }

    /// Hybrid search: fuses the lexical and dense top-`candidates` lists and returns the best `k`.
    pub fn search_hybrid(
        &self,
        text: &str,
        query: &[f32],
        k: usize,
        candidates: usize,
        fusion: Fusion,
    ) -> Result<Vec<FusedHit>> {
        let lex = self.search_lexical(text, candidates)?;
        let dense_hits = self.search_dense(query, candidates)?;
        let q = dense::unit(query);
        let mut fused = fuse(
            &lex,
            &dense_hits,
            |row| self.vectors.score(&q, row),
            fusion,
            self.tie(),
        );
        fused.truncate(k);
        Ok(fused)
    }
}

/// Hits of one retriever (`lexical` or dense) in the shape of fused hits, ranked from 1.
fn one_retriever(hits: Vec<(usize, f32)>, lexical: bool) -> Vec<FusedHit> {
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
