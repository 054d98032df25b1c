//! 2-D layouts of unit embeddings for maps, and how well a layout keeps neighbourhoods.
//!
//! PCA is linear and keeps the directions of most variance: a dozen topics overlap in one cloud.
//! t-SNE (Barnes-Hut, the `bhtsne` crate) keeps each point's nearest neighbours near it instead,
//! which is what a reader of a topic map looks for. It is fitted on exact cosine neighbours
//! (3 × perplexity of them, as the crate and scikit-learn pick) with the Euclidean distance
//! between unit vectors, √(2 − 2 cos), and started from the PCA layout scaled to a standard
//! deviation of 1e-4 (scikit-learn's `init="pca"`), so the same input gives the same map.
//!
//! Quality: [`trustworthiness`] is scikit-learn's `sklearn.manifold.trustworthiness` (1 when no
//! point's map neighbours are strangers in the original space) and [`neighbours_kept`] the
//! fraction of each point's k nearest neighbours that are also its k nearest on the map.

use bhtsne::{tSNE, Neighbor};
use rayon::prelude::*;

use crate::pca::pca;
use crate::vectors::{gemm_xyt, BLOCK};
use crate::{ClusterError, Result};

/// How to lay points out in 2-D.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// The first two principal components.
    Pca,
    /// Barnes-Hut t-SNE.
    Tsne {
        /// Effective number of neighbours (scikit-learn's default is 30).
        perplexity: f32,
        /// Gradient steps (scikit-learn's default is 1000).
        epochs: usize,
    },
}

impl Layout {
    /// t-SNE with scikit-learn's defaults.
    pub fn tsne() -> Layout {
        Layout::Tsne {
            perplexity: 30.0,
            epochs: 1000,
        }
    }

    /// A short name for titles and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Pca => "PCA",
            Layout::Tsne { .. } => "t-SNE",
        }
    }
}

/// Lays `n × dim` unit vectors out in 2-D (`n × 2`, row-major). `progress` is called with the
/// t-SNE steps done so far.
pub fn layout(
    unit: &[f32],
    dim: usize,
    method: Layout,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    let n = unit.len() / dim.max(1);
    match method {
        Layout::Pca => Ok(pca(unit, dim, 2)),
        Layout::Tsne { perplexity, epochs } => {
            if !(perplexity.is_finite() && perplexity > 0.0) || epochs == 0 {
                return Err(ClusterError::Invalid(format!(
                    "t-SNE needs a perplexity above 0 and at least one step (got {perplexity}, {epochs})"
                )));
            }
            // The crate needs 3 × perplexity neighbours of every point.
            let perplexity = perplexity.min((n.saturating_sub(1) / 3) as f32);
            if perplexity < 2.0 {
                return Ok(pca(unit, dim, 2));
            }
            Ok(tsne(unit, dim, perplexity, epochs, progress))
        }
    }
}

fn tsne(
    unit: &[f32],
    dim: usize,
    perplexity: f32,
    epochs: usize,
    progress: &mut dyn FnMut(usize),
) -> Vec<f32> {
    let n = unit.len() / dim;
    let k = (3.0 * perplexity) as usize;
    let neighbours: Vec<Vec<Neighbor<f32>>> = nearest(unit, dim, k)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(index, cos)| Neighbor {
                    index,
                    distance: (2.0 - 2.0 * cos).max(0.0).sqrt(),
                })
                .collect()
        })
        .collect();
    let mut init = pca(unit, dim, 2);
    let sd = {
        let xs: Vec<f32> = init.iter().step_by(2).copied().collect();
        let mean = xs.iter().sum::<f32>() / n as f32;
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32).sqrt()
    };
    if sd > 0.0 {
        init.iter_mut().for_each(|v| *v *= 1e-4 / sd);
    }
    let rows: Vec<usize> = (0..n).collect();
    let mut fit: tSNE<f32, usize> = tSNE::new(&rows);
    fit.embedding_dim(2)
        .perplexity(perplexity)
        .epochs(epochs)
        .initial_embedding(init)
        .epoch_callback(|epoch, _| progress(epoch + 1))
        .barnes_hut_with_neighbors(0.5, &neighbours);
    fit.embedding()
}

/// Each row's `k` most cosine-similar other rows, most similar first (equal similarities by
/// row), as `(row, cosine)`.
fn nearest(unit: &[f32], dim: usize, k: usize) -> Vec<Vec<(usize, f32)>> {
    by_row(unit, dim, |me, row| {
        let mut best: Vec<(usize, f32)> = row
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != me)
            .map(|(j, &s)| (j, s))
            .collect();
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if best.len() > k {
            best.select_nth_unstable_by(k - 1, order);
            best.truncate(k);
        }
        best.sort_by(order);
        best
    })
}

/// `f(i, cosines of row i with every row)` for every row of the unit vectors, computed a block
/// of rows at a time (one matrix product per block, memory linear in n).
fn by_row<T: Send>(unit: &[f32], dim: usize, f: impl Fn(usize, &[f32]) -> T + Sync) -> Vec<T> {
    let n = unit.len() / dim;
    unit.par_chunks(BLOCK * dim)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            let rows = block.len() / dim;
            let mut sims = vec![0f32; rows * n];
            gemm_xyt(&mut sims, block, unit, n, dim);
            sims.chunks_exact(n)
                .enumerate()
                .map(|(r, row)| f(b * BLOCK + r, row))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Each 2-D point's `k` nearest others by Euclidean distance (equal distances by index).
fn knn(points: &[f32], d: usize, k: usize) -> Vec<Vec<usize>> {
    let n = points.len() / d;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let p = &points[i * d..(i + 1) * d];
            let dist: Vec<f32> = points
                .chunks_exact(d)
                .map(|q| p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum())
                .collect();
            let mut idx: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            idx.sort_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(a.cmp(&b)));
            idx.truncate(k);
            idx
        })
        .collect()
}

fn check(n: usize, map: &[f32], k: usize) -> Result<()> {
    if map.len() != 2 * n {
        return Err(ClusterError::Shape(format!(
            "{n} points need {} map coordinates, got {}",
            2 * n,
            map.len()
        )));
    }
    if k == 0 || 2 * k >= n {
        return Err(ClusterError::Invalid(format!(
            "neighbourhoods of {k} need more than {} points (got {n})",
            2 * k
        )));
    }
    Ok(())
}

/// scikit-learn's trustworthiness of a 2-D `map` of `n × dim` unit vectors (Euclidean in both
/// spaces, which for unit vectors ranks as cosine does): 1 − 2 / (n k (2n − 3k − 1)) ×
/// Σᵢ Σ_{j ∈ map kNN(i)} max(0, r(i, j) − k), r(i, j) being j's rank among i's neighbours in
/// the original space.
pub fn trustworthiness(unit: &[f32], dim: usize, map: &[f32], k: usize) -> Result<f64> {
    let n = unit.len() / dim.max(1);
    check(n, map, k)?;
    let near = knn(map, 2, k);
    let penalty: f64 = by_row(unit, dim, |i, sim| {
        near[i]
            .iter()
            .map(|&j| {
                // 1-based rank of j among i's neighbours (self excluded; ties by index),
                // nearest = most similar.
                let rank = 1
                    + (0..n)
                        .filter(|&l| l != i && l != j)
                        .filter(|&l| sim[l] > sim[j] || (sim[l] == sim[j] && l < j))
                        .count();
                rank.saturating_sub(k) as f64
            })
            .sum::<f64>()
    })
    .into_iter()
    .sum();
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))
}

/// The fraction of every unit vector's `k` nearest neighbours (cosine) that are also among its
/// `k` nearest on the map.
pub fn neighbours_kept(unit: &[f32], dim: usize, map: &[f32], k: usize) -> Result<f64> {
    let n = unit.len() / dim.max(1);
    check(n, map, k)?;
    let before = nearest(unit, dim, k);
    let after = knn(map, 2, k);
    let kept: usize = before
        .iter()
        .zip(&after)
        .map(|(b, a)| a.iter().filter(|j| b.iter().any(|(r, _)| r == *j)).count())
        .sum();
    Ok(kept as f64 / (n * k) as f64)
}
