//! External and internal clustering quality: V-measure, NMI, ARI against gold labels, and the
//! silhouette coefficient. Definitions and defaults follow scikit-learn.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;

use crate::vectors::{gemm_xyt, row_norms2, BLOCK};
use crate::{ClusterError, Result};

/// Scores of one clustering.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterScores {
    pub v_measure: f64,
    pub homogeneity: f64,
    pub completeness: f64,
    pub nmi: f64,
    pub ari: f64,
    pub silhouette: f64,
}

/// Contingency counts of gold `truth` against `pred` (any hashable labels).
struct Contingency {
    cells: HashMap<(usize, usize), f64>,
    rows: Vec<f64>,
    cols: Vec<f64>,
    n: f64,
}

fn dense_ids<T: std::hash::Hash + Eq + Clone>(labels: &[T]) -> (Vec<usize>, usize) {
    let mut ids = HashMap::new();
    let out = labels
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l.clone()).or_insert(next)
        })
        .collect();
    (out, ids.len())
}

impl Contingency {
    fn new<A, B>(truth: &[A], pred: &[B]) -> Result<Contingency>
    where
        A: std::hash::Hash + Eq + Clone,
        B: std::hash::Hash + Eq + Clone,
    {
        if truth.len() != pred.len() {
            return Err(ClusterError::Labels(format!(
                "{} gold labels for {} clustered documents",
                truth.len(),
                pred.len()
            )));
        }
        if truth.is_empty() {
            return Err(ClusterError::Empty);
        }
        let (t, nt) = dense_ids(truth);
        let (p, np) = dense_ids(pred);
        let mut cells = HashMap::new();
        let mut rows = vec![0f64; nt];
        let mut cols = vec![0f64; np];
        for (&a, &b) in t.iter().zip(&p) {
            *cells.entry((a, b)).or_insert(0.0) += 1.0;
            rows[a] += 1.0;
            cols[b] += 1.0;
        }
        Ok(Contingency {
            cells,
            rows,
            cols,
            n: truth.len() as f64,
        })
    }

    fn entropy(counts: &[f64], n: f64) -> f64 {
        counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / n) * (c / n).ln())
            .sum()
    }

    fn mutual_information(&self) -> f64 {
        self.cells
            .iter()
            .map(|(&(a, b), &c)| (c / self.n) * ((c * self.n) / (self.rows[a] * self.cols[b])).ln())
            .sum()
    }
}

/// Homogeneity, completeness and their harmonic mean, the V-measure (Rosenberg & Hirschberg,
/// 2007). A single class or cluster counts as perfectly homogeneous/complete, as in
/// scikit-learn.
pub fn v_measure<A, B>(truth: &[A], pred: &[B]) -> Result<(f64, f64, f64)>
where
    A: std::hash::Hash + Eq + Clone,
    B: std::hash::Hash + Eq + Clone,
{
    let c = Contingency::new(truth, pred)?;
    let h_true = Contingency::entropy(&c.rows, c.n);
    let h_pred = Contingency::entropy(&c.cols, c.n);
    let mi = c.mutual_information();
    let homogeneity = if h_true == 0.0 { 1.0 } else { mi / h_true };
    let completeness = if h_pred == 0.0 { 1.0 } else { mi / h_pred };
    let v = if homogeneity + completeness == 0.0 {
        0.0
    } else {
        2.0 * homogeneity * completeness / (homogeneity + completeness)
    };
    Ok((homogeneity, completeness, v))
}

/// Normalised mutual information with the arithmetic mean of the entropies (scikit-learn's
/// default; equal to the V-measure).
pub fn nmi<A, B>(truth: &[A], pred: &[B]) -> Result<f64>
where
    A: std::hash::Hash + Eq + Clone,
    B: std::hash::Hash + Eq + Clone,
{
    let c = Contingency::new(truth, pred)?;
    let h = (Contingency::entropy(&c.rows, c.n) + Contingency::entropy(&c.cols, c.n)) / 2.0;
    let mi = c.mutual_information();
    Ok(if h == 0.0 { 1.0 } else { (mi / h).min(1.0) })
}

/// Adjusted Rand index (Hubert & Arabie, 1985): 1 for identical partitions, about 0 for random
/// ones.
pub fn ari<A, B>(truth: &[A], pred: &[B]) -> Result<f64>
where
    A: std::hash::Hash + Eq + Clone,
    B: std::hash::Hash + Eq + Clone,
{
    let c = Contingency::new(truth, pred)?;
    let comb2 = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = c.cells.values().map(|&v| comb2(v)).sum();
    let a: f64 = c.rows.iter().map(|&v| comb2(v)).sum();
    let b: f64 = c.cols.iter().map(|&v| comb2(v)).sum();
    let expected = a * b / comb2(c.n);
    let max = (a + b) / 2.0;
    if max == expected {
        return Ok(1.0);
    }
    Ok((index - expected) / (max - expected))
}

/// Distance for the silhouette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Euclidean,
    Cosine,
}

/// Mean silhouette coefficient of `labels` over `n × dim` `values` (scikit-learn's
/// `silhouette_score`); points alone in their cluster score 0. With more than `sample` points,
/// a seeded random sample of that many is scored (distances still to every point's cluster
/// mates within the sample, as scikit-learn's `sample_size` does).
pub fn silhouette(
    values: &[f32],
    dim: usize,
    labels: &[usize],
    metric: Metric,
    sample: usize,
    seed: u64,
) -> Result<f64> {
    let n = labels.len();
    if n == 0 || values.len() != n * dim {
        return Err(ClusterError::Shape(format!(
            "{n} labels for {} values of dimension {dim}",
            values.len()
        )));
    }
    let (data, labels): (Vec<f32>, Vec<usize>) = if n > sample {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx = rand::seq::index::sample(&mut rng, n, sample).into_vec();
        idx.sort_unstable();
        (
            idx.iter()
                .flat_map(|&i| values[i * dim..(i + 1) * dim].iter().copied())
                .collect(),
            idx.iter().map(|&i| labels[i]).collect(),
        )
    } else {
        (values.to_vec(), labels.to_vec())
    };
    let data = match metric {
        Metric::Cosine => crate::vectors::normalize_rows(&data, dim),
        Metric::Euclidean => data,
    };
    let (ids, k) = dense_ids(&labels);
    if k < 2 || k >= ids.len() {
        return Err(ClusterError::Invalid(format!(
            "the silhouette needs 2 to n-1 clusters, got {k} for {} points",
            ids.len()
        )));
    }
    let m = ids.len();
    let mut sizes = vec![0f64; k];
    ids.iter().for_each(|&c| sizes[c] += 1.0);
    let norms = row_norms2(&data, dim);
    let scores: Vec<f64> = data
        .par_chunks(BLOCK * dim)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            let rows = block.len() / dim;
            let mut dots = vec![0f32; rows * m];
            gemm_xyt(&mut dots, block, &data, m, dim);
            let mut out = Vec::with_capacity(rows);
            for r in 0..rows {
                let i = b * BLOCK + r;
                let mut sums = vec![0f64; k];
                for (j, &d) in dots[r * m..(r + 1) * m].iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    let dist = match metric {
                        Metric::Cosine => (1.0 - d as f64).max(0.0),
                        Metric::Euclidean => {
                            ((norms[i] + norms[j] - 2.0 * d) as f64).max(0.0).sqrt()
                        }
                    };
                    sums[ids[j]] += dist;
                }
                let own = ids[i];
                if sizes[own] <= 1.0 {
                    out.push(0.0);
                    continue;
                }
                let a = sums[own] / (sizes[own] - 1.0);
                let b = (0..k)
                    .filter(|&c| c != own)
                    .map(|c| sums[c] / sizes[c])
                    .fold(f64::INFINITY, f64::min);
                out.push(if a.max(b) > 0.0 {
                    (b - a) / a.max(b)
                } else {
                    0.0
                });
            }
            out
        })
        .collect();
    Ok(scores.iter().sum::<f64>() / m as f64)
}
