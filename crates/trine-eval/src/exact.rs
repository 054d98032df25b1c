//! Exact cosine top-k over every document: the reference dense retriever.

use rayon::prelude::*;

use crate::run::{sort_hits, Hit};
use crate::{EvalError, Result};

/// Dot product with several accumulators so the compiler vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Row-normalised copy of a row-major matrix (zero rows stay zero).
pub fn normalized(values: &[f32], dim: usize) -> Vec<f32> {
    let mut out = values.to_vec();
    for row in out.chunks_exact_mut(dim) {
        let norm = dot(row, row).sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
    out
}

/// Documents prepared for exact cosine search.
pub struct ExactIndex<'a> {
    ids: &'a [String],
    dim: usize,
    unit: Vec<f32>,
}

impl<'a> ExactIndex<'a> {
    /// Normalises the document vectors once.
    pub fn new(ids: &'a [String], values: &[f32], dim: usize) -> Self {
        assert_eq!(ids.len() * dim, values.len());
        ExactIndex {
            ids,
            dim,
            unit: normalized(values, dim),
        }
    }

    /// The `k` most cosine-similar documents to each query (rows of `queries`), ties by id.
    pub fn search(&self, queries: &[f32], dim: usize, k: usize) -> Result<Vec<Vec<Hit>>> {
        if dim != self.dim {
            return Err(EvalError::Dimension {
                docs: self.dim,
                queries: dim,
            });
        }
        let queries = normalized(queries, dim);
        Ok(queries
            .par_chunks_exact(dim)
            .map(|q| self.search_one(q, k))
            .collect())
    }

    fn search_one(&self, q: &[f32], k: usize) -> Vec<Hit> {
        let scores: Vec<f32> = self
            .unit
            .chunks_exact(self.dim)
            .map(|d| dot(q, d))
            .collect();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        let better = |a: &usize, b: &usize| {
            scores[*b]
                .total_cmp(&scores[*a])
                .then_with(|| self.ids[*a].cmp(&self.ids[*b]))
        };
        let k = k.min(order.len());
        if k == 0 {
            return Vec::new();
        }
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, better);
            order.truncate(k);
        }
        let mut hits: Vec<Hit> = order
            .into_iter()
            .map(|i| Hit {
                doc_id: self.ids[i].clone(),
                score: scores[i],
            })
            .collect();
        sort_hits(&mut hits);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cosine_neighbours_with_id_tie_break() {
        let ids: Vec<String> = ["d3", "d1", "d2", "d0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // d3 and d1 point the same way (tie), d2 is orthogonal, d0 is opposite
        let docs = [2.0, 0.0, 1.0, 0.0, 0.0, 5.0, -1.0, 0.0];
        let idx = ExactIndex::new(&ids, &docs, 2);
        let hits = idx.search(&[3.0, 0.0], 2, 3).unwrap();
        let got: Vec<_> = hits[0]
            .iter()
            .map(|h| (h.doc_id.as_str(), h.score))
            .collect();
        assert_eq!(got, vec![("d1", 1.0), ("d3", 1.0), ("d2", 0.0)]);
        assert!(idx.search(&[1.0, 0.0, 0.0], 3, 1).is_err());
    }

    #[test]
    fn dot_matches_naive_sum_on_odd_lengths() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
