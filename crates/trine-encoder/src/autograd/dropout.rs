//! Attention dropout masks that any op can recompute from (seed, row, element).

use crate::seed::mix;

/// Dropout multipliers of the first `len` elements of attention row `row` (a row index over
/// `[batch, heads, seq]`): 0 (dropped) or 1 / (1 − p), from a hash of (seed, row, element), so
/// that any op can recompute them; all 1 without dropout.
pub(super) fn dropout_scales(dropout: Option<(f32, u64)>, row: usize, len: usize, out: &mut [f32]) {
    match dropout {
        None => out[..len].iter_mut().for_each(|v| *v = 1.0),
        Some((p, seed)) => {
            let threshold = (p as f64 * 65536.0).round() as u64;
            let scale = 1.0 / (1.0 - p);
            let base = (row as u64) << 16;
            for (chunk_no, chunk) in out[..len].chunks_mut(4).enumerate() {
                let word = mix(seed ^ (base + chunk_no as u64));
                for (k, v) in chunk.iter_mut().enumerate() {
                    *v = if (word >> (16 * k)) & 0xffff >= threshold {
                        scale
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}
