//! Dropout masks that any op can recompute from (seed, row, element).

use trine_kernels::seed::mix;

/// Elements per block of hashed words (four 16-bit draws per 64-bit word).
const BLOCK: usize = 256;

/// Dropout multipliers of the first `len` elements of row `row` (a row index over the op's
/// output, e.g. `[batch, heads, seq]` for attention): 0 (dropped) or 1 / (1 − p), from a hash of
/// (seed, row, element), so that any op can recompute them; all 1 without dropout.
///
/// Element `e` is dropped when 16-bit draw `e % 4` of word `mix(seed ^ ((row << 16) + e / 4))`
/// falls below `p · 65536`. The words are hashed in a vectorisable loop, then read as
/// little-endian 16-bit halves (the hash was a scalar 2% of a training step).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx512dq+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn dropout_scales(dropout: Option<(f32, u64)>, row: usize, len: usize, out: &mut [f32]) {
    let Some((p, seed)) = dropout else {
        out[..len].iter_mut().for_each(|v| *v = 1.0);
        return;
    };
    let threshold = (p as f64 * 65536.0).round() as u32;
    let scale = 1.0 / (1.0 - p);
    let base = (row as u64) << 16;
    let mut words = [0u64; BLOCK / 4];
    for (block_no, out) in out[..len].chunks_mut(BLOCK).enumerate() {
        let first = (block_no * BLOCK / 4) as u64;
        let count = out.len().div_ceil(4);
        for (i, w) in words[..count].iter_mut().enumerate() {
            *w = mix(seed ^ (base + first + i as u64)).to_le();
        }
        // SAFETY: `count` u64 words are `4 × count` u16 values, and u16 needs less alignment.
        let draws: &[u16] =
            unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u16>(), count * 4) };
        for (v, &d) in out.iter_mut().zip(draws) {
            *v = if d as u32 >= threshold { scale } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask as the doc comment defines it, one element at a time.
    fn by_definition(p: f32, seed: u64, row: usize, len: usize) -> Vec<f32> {
        let threshold = (p as f64 * 65536.0).round() as u64;
        (0..len)
            .map(|e| {
                let word = mix(seed ^ (((row as u64) << 16) + (e / 4) as u64));
                if (word >> (16 * (e % 4))) & 0xffff >= threshold {
                    1.0 / (1.0 - p)
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn vectorised_mask_matches_its_definition() {
        for (len, row) in [(1, 0), (7, 3), (256, 11), (513, 40_000), (1536, 2)] {
            let mut out = vec![f32::NAN; len + 5];
            dropout_scales(Some((0.1, 99)), row, len, &mut out);
            assert_eq!(
                out[..len],
                by_definition(0.1, 99, row, len)[..],
                "len {len}"
            );
            assert!(out[len..].iter().all(|v| v.is_nan()), "wrote past len");
        }
        let mut out = vec![0f32; 9];
        dropout_scales(None, 0, 9, &mut out);
        assert!(out.iter().all(|&v| v == 1.0));
    }
}
