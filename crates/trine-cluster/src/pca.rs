//! Principal component analysis to two dimensions, for cluster maps: the covariance matrix
//! (dim × dim, by blockwise products) and its top eigenvectors by power iteration with
//! deflation.

use rayon::prelude::*;

use crate::vectors::{dot, gemm_xyt};

/// Projects `n × dim` rows onto their first `components` principal axes (`n × components`).
pub fn pca(values: &[f32], dim: usize, components: usize) -> Vec<f32> {
    let n = values.len() / dim;
    if n == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f64; dim];
    for row in values.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x as f64);
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    let centred: Vec<f32> = values
        .par_chunks(dim)
        .flat_map_iter(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect::<Vec<_>>())
        .collect();
    // Covariance = Xcᵀ·Xc; gemm_xyt computes A·Bᵀ, so pass the transpose (dim × n) twice.
    let mut xt = vec![0f32; dim * n];
    for (i, row) in centred.chunks_exact(dim).enumerate() {
        for (d, &x) in row.iter().enumerate() {
            xt[d * n + i] = x;
        }
    }
    let mut cov = vec![0f32; dim * dim];
    gemm_xyt(&mut cov, &xt, &xt, dim, n);
    let mut axes: Vec<Vec<f32>> = Vec::new();
    for c in 0..components.min(dim) {
        let mut v: Vec<f32> = (0..dim)
            .map(|d| if d % (c + 2) == 0 { 1.0 } else { 0.5 })
            .collect();
        for _ in 0..200 {
            let mut next: Vec<f32> = cov.chunks_exact(dim).map(|row| dot(row, &v)).collect();
            for a in &axes {
                let p = dot(&next, a);
                next.iter_mut().zip(a).for_each(|(x, y)| *x -= p * y);
            }
            let norm = dot(&next, &next).sqrt();
            if norm == 0.0 {
                break;
            }
            next.iter_mut().for_each(|x| *x /= norm);
            let change: f32 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = next;
            if change < 1e-6 {
                break;
            }
        }
        axes.push(v);
    }
    centred
        .chunks_exact(dim)
        .flat_map(|row| axes.iter().map(move |a| dot(row, a)))
        .collect()
}
