//! k-means: k-means++ seeding, Lloyd iterations on blockwise matrix products, restarts, a
//! spherical (cosine) variant and a mini-batch mode for large inputs.
//!
//! Written here rather than taken from linfa: the assignment step is one matrix product per
//! block of points (`X·Cᵀ` through the `gemm` crate, then `‖x‖² − 2x·c + ‖c‖²`), which is what
//! makes a million 384-d points times 100 centres take seconds per iteration on two cores;
//! linfa-clustering 0.8 computes each point–centre distance on its own.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::vectors::{gemm_xyt, normalize_rows, row_norms2, BLOCK};
use crate::{ClusterError, Result};

/// k-means settings (defaults as scikit-learn's `KMeans`).
#[derive(Debug, Clone, Serialize)]
pub struct KMeansOptions {
    pub k: usize,
    /// Independent runs from different seedings; the one with the lowest inertia wins.
    pub n_init: usize,
    pub max_iter: usize,
    /// Stop when the centres move less than `tol` × the data's mean per-dimension variance
    /// (squared, summed over centres), as scikit-learn does.
    pub tol: f64,
    /// Cluster directions: points and centres are kept at unit length (cosine k-means).
    pub spherical: bool,
    /// Mini-batch mode (Sculley, 2010) with this many points per step; `max_iter` steps.
    pub mini_batch: Option<usize>,
    pub seed: u64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        KMeansOptions {
            k: 8,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            spherical: false,
            mini_batch: None,
            seed: 0,
        }
    }
}

/// A k-means result.
#[derive(Debug, Clone)]
pub struct KMeans {
    /// `k × dim` centres.
    pub centroids: Vec<f32>,
    pub dim: usize,
    /// Cluster of each point.
    pub labels: Vec<usize>,
    /// Squared Euclidean distance of each point to its centre (on unit vectors when spherical).
    pub distances: Vec<f32>,
    /// Sum of `distances`.
    pub inertia: f64,
    /// Iterations of the winning run.
    pub iterations: usize,
}

/// Runs k-means on `n × dim` row-major `values`.
pub fn kmeans(values: &[f32], dim: usize, opts: &KMeansOptions) -> Result<KMeans> {
    let n = values.len() / dim.max(1);
    if n == 0 {
        return Err(ClusterError::Empty);
    }
    if opts.k == 0 {
        return Err(ClusterError::Invalid("k must be at least 1".into()));
    }
    if opts.k > n {
        return Err(ClusterError::TooManyClusters { k: opts.k, n });
    }
    let unit;
    let data = if opts.spherical {
        unit = normalize_rows(values, dim);
        &unit[..]
    } else {
        values
    };
    let norms = row_norms2(data, dim);
    let tol = opts.tol * mean_variance(data, dim);
    let mut best: Option<KMeans> = None;
    for run in 0..opts.n_init.max(1) {
        // Runs of different seeds must not share seedings: mix the run into the seed.
        let mut rng = StdRng::seed_from_u64(
            opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (run as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        );
        let centres = seed_plus_plus(data, &norms, dim, opts.k, &mut rng);
        let result = match opts.mini_batch {
            Some(batch) => mini_batch(data, &norms, dim, centres, opts, batch, &mut rng),
            None => lloyd(data, &norms, dim, centres, opts, tol),
        };
        if best.as_ref().is_none_or(|b| result.inertia < b.inertia) {
            best = Some(result);
        }
    }
    Ok(best.expect("at least one run"))
}

fn mean_variance(data: &[f32], dim: usize) -> f64 {
    let n = (data.len() / dim) as f64;
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = 0f64;
    for row in data.chunks_exact(dim) {
        for (m, &x) in mean.iter().zip(row) {
            var += (x as f64 - m).powi(2);
        }
    }
    var / (n * dim as f64)
}

/// Nearest centre and squared distance for every point, blockwise in parallel.
pub(crate) fn assign(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    centres: &[f32],
) -> (Vec<usize>, Vec<f32>) {
    let k = centres.len() / dim;
    let cnorms = row_norms2(centres, dim);
    let pairs: Vec<(usize, f32)> = data
        .par_chunks(BLOCK * dim)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            let rows = block.len() / dim;
            let mut dots = vec![0f32; rows * k];
            gemm_xyt(&mut dots, block, centres, k, dim);
            (0..rows)
                .map(|r| {
                    let xn = norms[b * BLOCK + r];
                    let mut best = (0usize, f32::INFINITY);
                    for (c, &d) in dots[r * k..(r + 1) * k].iter().enumerate() {
                        let dist = (xn - 2.0 * d + cnorms[c]).max(0.0);
                        if dist < best.1 {
                            best = (c, dist);
                        }
                    }
                    best
                })
                .collect::<Vec<_>>()
        })
        .collect();
    pairs.into_iter().unzip()
}

/// Greedy k-means++ (Arthur & Vassilvitskii, 2007, with 2 + ln k trials per step as
/// scikit-learn does); on more than 100,000 points it seeds from a random sample of that size.
fn seed_plus_plus(data: &[f32], norms: &[f32], dim: usize, k: usize, rng: &mut StdRng) -> Vec<f32> {
    const SAMPLE: usize = 100_000;
    let n = data.len() / dim;
    let (sample, snorms): (Vec<f32>, Vec<f32>);
    let (pts, pnorms) = if n > SAMPLE {
        let idx: Vec<usize> = rand::seq::index::sample(rng, n, SAMPLE).into_vec();
        sample = idx
            .iter()
            .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        snorms = idx.iter().map(|&i| norms[i]).collect();
        (&sample[..], &snorms[..])
    } else {
        (data, norms)
    };
    let m = pts.len() / dim;
    let trials = 2 + (k as f64).ln() as usize;
    let first = rng.random_range(0..m);
    let mut centres = pts[first * dim..(first + 1) * dim].to_vec();
    let mut closest = sq_dists_to(pts, pnorms, dim, &centres);
    for _ in 1..k {
        let total: f64 = closest.iter().map(|&d| d as f64).sum();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                if total <= 0.0 {
                    return rng.random_range(0..m);
                }
                let mut target = rng.random::<f64>() * total;
                for (i, &d) in closest.iter().enumerate() {
                    target -= d as f64;
                    if target <= 0.0 {
                        return i;
                    }
                }
                m - 1
            })
            .collect();
        let cand: Vec<f32> = candidates
            .iter()
            .flat_map(|&i| pts[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let dists = sq_dists_to(pts, pnorms, dim, &cand);
        let t = candidates.len();
        let (best, best_closest) = (0..t)
            .into_par_iter()
            .map(|c| {
                let merged: Vec<f32> = (0..m).map(|i| closest[i].min(dists[i * t + c])).collect();
                let pot: f64 = merged.iter().map(|&d| d as f64).sum();
                (pot, c, merged)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, c, merged)| (c, merged))
            .expect("trials ≥ 1");
        closest = best_closest;
        let chosen = candidates[best];
        centres.extend_from_slice(&pts[chosen * dim..(chosen + 1) * dim]);
    }
    centres
}

/// Squared distances of every point to each of `centres` (`n × c`, row-major).
fn sq_dists_to(data: &[f32], norms: &[f32], dim: usize, centres: &[f32]) -> Vec<f32> {
    let c = centres.len() / dim;
    let cnorms = row_norms2(centres, dim);
    let mut out = vec![0f32; norms.len() * c];
    out.par_chunks_mut(BLOCK * c)
        .zip(data.par_chunks(BLOCK * dim))
        .enumerate()
        .for_each(|(b, (o, block))| {
            gemm_xyt(o, block, centres, c, dim);
            for (r, row) in o.chunks_mut(c).enumerate() {
                let xn = norms[b * BLOCK + r];
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (xn - 2.0 * *v + cnorms[j]).max(0.0);
                }
            }
        });
    out
}

/// Per-cluster sums and counts of the points' coordinates.
fn cluster_sums(data: &[f32], dim: usize, labels: &[usize], k: usize) -> (Vec<f64>, Vec<usize>) {
    data.par_chunks(BLOCK * dim)
        .enumerate()
        .fold(
            || (vec![0f64; k * dim], vec![0usize; k]),
            |(mut sums, mut counts), (b, block)| {
                for (r, row) in block.chunks_exact(dim).enumerate() {
                    let c = labels[b * BLOCK + r];
                    counts[c] += 1;
                    for (s, &x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row) {
                        *s += x as f64;
                    }
                }
                (sums, counts)
            },
        )
        .reduce(
            || (vec![0f64; k * dim], vec![0usize; k]),
            |(mut a, mut ca), (b, cb)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                ca.iter_mut().zip(&cb).for_each(|(x, y)| *x += y);
                (a, ca)
            },
        )
}

fn renormalize(centres: &mut [f32], dim: usize) {
    for c in centres.chunks_mut(dim) {
        let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            c.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

fn finish(data: &[f32], norms: &[f32], dim: usize, centres: Vec<f32>, iterations: usize) -> KMeans {
    let (labels, distances) = assign(data, norms, dim, &centres);
    let inertia = distances.iter().map(|&d| d as f64).sum();
    KMeans {
        centroids: centres,
        dim,
        labels,
        distances,
        inertia,
        iterations,
    }
}

fn lloyd(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    mut centres: Vec<f32>,
    opts: &KMeansOptions,
    tol: f64,
) -> KMeans {
    let k = opts.k;
    let mut iterations = 0;
    let mut previous: Option<Vec<usize>> = None;
    for _ in 0..opts.max_iter {
        iterations += 1;
        let (labels, distances) = assign(data, norms, dim, &centres);
        if previous.as_ref() == Some(&labels) {
            break;
        }
        let (sums, counts) = cluster_sums(data, dim, &labels, k);
        let mut next = vec![0f32; k * dim];
        // An empty cluster takes the point farthest from its centre (as scikit-learn does).
        let mut far: Vec<usize> = Vec::new();
        if counts.contains(&0) {
            far = (0..labels.len()).collect();
            far.sort_by(|&a, &b| distances[b].total_cmp(&distances[a]).then(a.cmp(&b)));
        }
        let mut far = far.into_iter();
        for c in 0..k {
            let dst = &mut next[c * dim..(c + 1) * dim];
            if counts[c] == 0 {
                let p = far.next().expect("k ≤ n");
                dst.copy_from_slice(&data[p * dim..(p + 1) * dim]);
            } else {
                for (d, s) in dst.iter_mut().zip(&sums[c * dim..(c + 1) * dim]) {
                    *d = (s / counts[c] as f64) as f32;
                }
            }
        }
        if opts.spherical {
            renormalize(&mut next, dim);
        }
        let shift: f64 = next
            .iter()
            .zip(&centres)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        centres = next;
        previous = Some(labels);
        if shift <= tol {
            break;
        }
    }
    finish(data, norms, dim, centres, iterations)
}

fn mini_batch(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    mut centres: Vec<f32>,
    opts: &KMeansOptions,
    batch: usize,
    rng: &mut StdRng,
) -> KMeans {
    let n = data.len() / dim;
    let batch = batch.clamp(1, n);
    let mut counts = vec![0usize; opts.k];
    for _ in 0..opts.max_iter {
        let idx = rand::seq::index::sample(rng, n, batch).into_vec();
        let pts: Vec<f32> = idx
            .iter()
            .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let pnorms: Vec<f32> = idx.iter().map(|&i| norms[i]).collect();
        let (labels, _) = assign(&pts, &pnorms, dim, &centres);
        for (p, &c) in pts.chunks_exact(dim).zip(&labels) {
            counts[c] += 1;
            let rate = 1.0 / counts[c] as f32;
            for (x, &y) in centres[c * dim..(c + 1) * dim].iter_mut().zip(p) {
                *x += rate * (y - *x);
            }
        }
        if opts.spherical {
            renormalize(&mut centres, dim);
        }
    }
    finish(data, norms, dim, centres, opts.max_iter)
}
