//! What the dense-search benchmarks share: flags, percentiles, the synthetic collection and the
//! exact scan's answers that recall is measured against.
#![allow(dead_code)]

use std::path::Path;
use std::time::Instant;

use trine_index::dense::{write_vectors, Vectors};
use trine_index::synthetic::{unit_vectors, Shape};

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The `p` quantile (0..=1) of `ms`, nearest rank.
pub fn percentile(ms: &mut [f64], p: f64) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() as f64 - 1.0) * p).round() as usize]
}

/// `n` synthetic unit vectors written to `dir/vectors.f32` and memory-mapped, with `nq` queries
/// of the same shape.
pub fn collection(
    dir: &Path,
    n: usize,
    dim: usize,
    nq: usize,
    shape: Shape,
) -> (Vectors, Vec<f32>) {
    eprintln!("generating {n} × {dim} ({shape:?})");
    let data = unit_vectors(n, dim, shape, 1);
    let queries = unit_vectors(nq, dim, shape, 2);
    let path = dir.join("vectors.f32");
    write_vectors(&path, &data, dim).expect("write vectors");
    drop(data);
    (Vectors::open(&path, n, dim).expect("map vectors"), queries)
}

/// The exact top 10 of each query and the time each scan took (ms).
pub fn exact_top10(vectors: &Vectors, queries: &[f32]) -> (Vec<Vec<(usize, f32)>>, Vec<f64>) {
    eprintln!("exact search, {} queries", queries.len() / vectors.dim());
    let mut ms = Vec::new();
    let mut truth = Vec::new();
    for q in queries.chunks_exact(vectors.dim()) {
        let t = Instant::now();
        truth.push(vectors.search(q, 10, |r| r));
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (truth, ms)
}

/// Recall@10 against `truth` and p50 / p99 latency in ms of `search` run on each query alone.
pub fn recall_latency(
    queries: &[f32],
    dim: usize,
    truth: &[Vec<(usize, f32)>],
    mut search: impl FnMut(&[f32]) -> Vec<(usize, f32)>,
) -> (f64, f64, f64) {
    let mut ms = Vec::with_capacity(truth.len());
    let mut found = 0usize;
    for (q, exact) in queries.chunks_exact(dim).zip(truth) {
        let t = Instant::now();
        let hits = search(q);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        found += hits
            .iter()
            .filter(|h| exact.iter().any(|e| e.0 == h.0))
            .count();
    }
    let recall = found as f64 / (10 * truth.len()) as f64;
    (recall, percentile(&mut ms, 0.5), percentile(&mut ms, 0.99))
}
