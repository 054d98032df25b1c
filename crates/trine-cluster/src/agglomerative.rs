//! Agglomerative clustering with a distance threshold (no k needed): average linkage on cosine
//! distance through the `kodama` crate, cut where merges would exceed the threshold.

use kodama::{linkage, Method};

use crate::vectors::{dot, normalize_rows};
use crate::{ClusterError, Result};

/// The most points this method takes: it needs all n(n−1)/2 pairwise distances in memory.
pub const MAX_POINTS: usize = 20_000;

/// Clusters `n × dim` vectors; two groups merge while their average cosine distance is at most
/// `threshold`. Returns one label per point, numbered from 0 by first appearance.
pub fn agglomerative(values: &[f32], dim: usize, threshold: f32) -> Result<Vec<usize>> {
    let n = values.len() / dim.max(1);
    if n == 0 {
        return Err(ClusterError::Empty);
    }
    if n > MAX_POINTS {
        return Err(ClusterError::TooLarge {
            algorithm: "agglomerative clustering",
            n,
            bytes_gib: (n * (n - 1) / 2 * 4) as f64 / (1u64 << 30) as f64,
            limit: MAX_POINTS,
        });
    }
    if !(0.0..=2.0).contains(&threshold) {
        return Err(ClusterError::Invalid(format!(
            "distance threshold {threshold} is outside cosine distance's range [0, 2]"
        )));
    }
    cut(values, dim, |_, dissimilarity| dissimilarity <= threshold)
}

/// Merges `n × dim` vectors (topic centres) into `groups` groups by average linkage on cosine
/// distance: the first n − groups merges of the dendrogram. Labels are numbered from 0 by first
/// appearance.
pub fn merge_into(values: &[f32], dim: usize, groups: usize) -> Result<Vec<usize>> {
    let n = values.len() / dim.max(1);
    if groups == 0 || groups > n {
        return Err(ClusterError::Invalid(format!(
            "cannot merge {n} points into {groups} groups"
        )));
    }
    cut(values, dim, |step, _| step < n - groups)
}

/// Average-linkage dendrogram of `n × dim` vectors on cosine distance, applying merges while
/// `take(step, dissimilarity)` holds.
fn cut(values: &[f32], dim: usize, take: impl Fn(usize, f32) -> bool) -> Result<Vec<usize>> {
    let n = values.len() / dim.max(1);
    if n == 1 {
        return Ok(vec![0]);
    }
    let unit = normalize_rows(values, dim);
    let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n - 1 {
        let a = &unit[i * dim..(i + 1) * dim];
        for j in i + 1..n {
            condensed.push((1.0 - dot(a, &unit[j * dim..(j + 1) * dim])).max(0.0));
        }
    }
    let dendrogram = linkage(&mut condensed, n, Method::Average);
    // Union–find over the merges below the threshold; kodama numbers the cluster made by step
    // s as n + s.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (s, step) in dendrogram.steps().iter().enumerate() {
        if !take(s, step.dissimilarity) {
            break;
        }
        let new = n + s;
        for c in [step.cluster1, step.cluster2] {
            let root = find(&mut parent, c);
            parent[root] = new;
        }
    }
    let mut ids = std::collections::HashMap::new();
    Ok((0..n)
        .map(|i| {
            let root = find(&mut parent, i);
            let next = ids.len();
            *ids.entry(root).or_insert(next)
        })
        .collect())
}
