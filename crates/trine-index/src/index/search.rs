//! Searching an open index: lexical, dense (exact or ANN) and hybrid.

use crate::ann::Ann;
use crate::chunks::ChunkMap;
use crate::dense;
use crate::fusion::{fuse, one_retriever, FusedHit, Fusion};
use crate::{IndexError, Result};

use super::{DenseMethod, Index, Mode};

/// The chunk of a document that matched a query best.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BestChunk {
    /// Its number within the document, from 0.
    pub chunk: usize,
    /// Its cosine with the query.
    pub score: f32,
    /// Its byte span `[start, end)` in the document's full text.
    pub span: (u32, u32),
}

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

    pub(super) fn tie<'a>(&'a self) -> impl Fn(usize) -> &'a str + Sync + 'a {
        move |row| self.docs[row].id.as_str()
    }

    /// BM25 top `k` as `(row, score)`; equal scores by document id.
    pub fn search_lexical(&self, text: &str, k: usize) -> Result<Vec<(usize, f32)>> {
        Ok(self.ranked(self.lexical.search(text, k)?))
    }

    /// tantivy's `(row, score)` hits, equal scores ordered by document id.
    pub(super) fn ranked(&self, hits: Vec<(u64, f32)>) -> Vec<(usize, f32)> {
        let mut hits: Vec<(usize, f32)> = hits.into_iter().map(|(r, s)| (r as usize, s)).collect();
        let tie = self.tie();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(tie(b.0))));
        hits
    }

    /// Cosine top `k` for a query vector, as `(row, score)`, by this open index's dense method
    /// (by default the ANN graph when the index has one, else the quantised vectors rescored in
    /// f32 when it has those, else exact). Hybrid search uses it too.
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
    /// exact cosines whichever path found the rows, and equal scores are ordered by document id.
    pub fn search_dense_with(
        &self,
        query: &[f32],
        k: usize,
        method: DenseMethod,
    ) -> Result<Vec<(usize, f32)>> {
        self.check_query_vector(query)?;
        let q = dense::unit(query);
        if let Some(chunks) = &self.chunks {
            return self.search_chunked(chunks, &q, k, method);
        }
        match (method, &self.ann, self.first_pass()) {
            (DenseMethod::Exact, _, _) | (DenseMethod::Auto, None, None) => {
                Ok(self.vectors.search(&q, k, self.tie()))
            }
            (DenseMethod::Auto, None, Some((codes, rescore))) => {
                Ok(codes.search(&self.vectors, &q, k, rescore, self.tie()))
            }
            (_, Some(ann), _) => {
                let pool = k.max(ann.settings().expansion_search);
                ann.search(&self.vectors, &q, k, pool, self.tie())
            }
            (DenseMethod::Ann, None, _) => Err(no_graph()),
        }
    }

    /// The quantised vectors and how many of their candidates to rescore, when the index has
    /// them (the ANN graph, where there is one, goes first).
    fn first_pass(&self) -> Option<(&crate::quantized::Quantized, usize)> {
        let settings = self.manifest.quantized?;
        Some((self.quantized.as_ref()?, settings.rescore))
    }

    /// Fails unless a query vector is as wide as the index's.
    pub(super) fn check_query_vector(&self, query: &[f32]) -> Result<()> {
        if query.len() != self.manifest.model.dim {
            return Err(IndexError::Shape {
                message: format!(
                    "query vector has {} dims, index has {}",
                    query.len(),
                    self.manifest.model.dim
                ),
            });
        }
        Ok(())
    }

    /// Dense search over split documents: every document scored from its chunks (exact), or
    /// the documents of the nearest chunks by the graph (ANN) or the quantised vectors rescored
    /// from all of their chunks.
    fn search_chunked(
        &self,
        chunks: &ChunkMap,
        q: &[f32],
        k: usize,
        method: DenseMethod,
    ) -> Result<Vec<(usize, f32)>> {
        let score = |d: usize| self.dense_score(q, d);
        // Enough chunks that k distinct documents are likely among them.
        let per_doc = chunks.len().div_ceil(self.docs.len().max(1));
        let want = (2 * k * per_doc).min(chunks.len());
        let owner_id = |r: usize| self.docs[chunks.document_of(r)].id.as_str();
        let candidates: Vec<usize> = match (method, &self.ann, self.first_pass()) {
            (DenseMethod::Exact, _, _) | (DenseMethod::Auto, None, None) => {
                return Ok(dense::top_by(self.docs.len(), k, score, self.tie()));
            }
            (DenseMethod::Auto, None, Some((codes, rescore))) => {
                codes.candidates(q, want.max(rescore), owner_id)
            }
            (_, Some(ann), _) => {
                let pool = want.max(ann.settings().expansion_search);
                ann.search(&self.vectors, q, want, pool, owner_id)?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect()
            }
            (DenseMethod::Ann, None, _) => return Err(no_graph()),
        };
        // The candidates' documents, each rescored from all of its chunks.
        let mut docs: Vec<usize> = candidates
            .into_iter()
            .map(|r| chunks.document_of(r))
            .collect();
        docs.sort_unstable();
        docs.dedup();
        let scored = dense::top_by(
            docs.len(),
            k,
            |i| score(docs[i]),
            |i| self.docs[docs[i]].id.as_str(),
        );
        Ok(scored.into_iter().map(|(i, s)| (docs[i], s)).collect())
    }

    /// Cosine of the unit query `q` with the document at `row`: with its vector, or its chunks'
    /// cosines aggregated as the manifest says (MaxP or mean) when documents are split.
    pub fn dense_score(&self, q: &[f32], row: usize) -> f32 {
        match (&self.chunks, self.manifest.chunking) {
            (Some(c), Some(s)) => s
                .aggregate
                .apply(c.rows(row).map(|r| self.vectors.score(q, r))),
            _ => self.vectors.score(q, row),
        }
    }

    /// The chunk of document `row` that best matches the unit query `q`: its number within the
    /// document, its cosine and its byte span in the document's full text; `None` when
    /// documents are not split.
    pub fn best_chunk(&self, q: &[f32], row: usize) -> Option<BestChunk> {
        let c = self.chunks.as_ref()?;
        let rows = c.rows(row);
        let first = rows.start;
        rows.map(|r| (r, self.vectors.score(q, r)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(r, score)| BestChunk {
                chunk: r - first,
                score,
                span: c.span(r),
            })
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
            |row| self.dense_score(&q, row),
            fusion,
            self.tie(),
        );
        fused.truncate(k);
        Ok(fused)
    }
}
