//! Row-major vector sets and the products every algorithm here is built on.

use rayon::prelude::*;

use crate::{ClusterError, Result};

/// Checks that `values` is `ids.len() × dim` and finite.
pub fn validate(ids: &[String], values: &[f32], dim: usize) -> Result<()> {
    if ids.is_empty() || values.is_empty() {
        return Err(ClusterError::Empty);
    }
    if dim == 0 || values.len() != ids.len() * dim {
        return Err(ClusterError::Shape(format!(
            "{} ids need {} values of dimension {dim}, got {}",
            ids.len(),
            ids.len() * dim,
            values.len()
        )));
    }
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(ClusterError::NonFinite {
            row: pos / dim,
            id: ids[pos / dim].clone(),
            dim: pos % dim,
        });
    }
    Ok(())
}

/// Unit-length copy of every row (zero rows stay zero).
pub fn normalize_rows(values: &[f32], dim: usize) -> Vec<f32> {
    let mut out = values.to_vec();
    out.par_chunks_mut(dim).for_each(|row| {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    });
    out
}

/// Squared norm of every row.
pub fn row_norms2(values: &[f32], dim: usize) -> Vec<f32> {
    values
        .par_chunks(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// `out[rows × n] = x[rows × k] · y[n × k]ᵀ` on the calling thread.
pub fn gemm_xyt(out: &mut [f32], x: &[f32], y: &[f32], n: usize, k: usize) {
    let rows = x.len() / k;
    assert_eq!(out.len(), rows * n);
    assert_eq!(y.len(), n * k);
    // SAFETY: strides address x as rows×k, y as n×k read transposed, out as rows×n; all
    // lengths are checked above.
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            x.as_ptr(),
            1,
            k as isize,
            y.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Rows per block in blockwise products: a block of similarities stays in cache-sized pieces
/// and memory stays linear in the number of points.
pub const BLOCK: usize = 256;

/// Dot product: the one the exact retriever uses.
pub use trine_eval::exact::dot;
