//! The bf16 product on AVX512-BF16 (`vdpbf16ps`: two bf16 × bf16 products summed into each f32
//! lane), for CPUs without AMX, where MKL's bf16 GEMM runs slower than its f32 one (AMD Zen 4).
//!
//! Same layout as the int8 kernel ([`crate::vnni`]), with pairs of inputs instead of quads: the
//! weight is packed once into panels of 16 output columns, one 64-byte vector per pair of
//! inputs; the micro-kernel keeps 6 rows × 64 columns of f32 sums in registers.

use std::arch::x86_64::*;

const PANEL: usize = 16;
/// Rows and panels of one micro-kernel tile: 6 × 64 sums in 24 of the 32 vector registers.
const ROWS: usize = 6;
const PANELS: usize = 4;

/// Whether this CPU runs the AVX512-BF16 kernel.
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
}

/// A bf16 weight `[n, k]` (as `u16`) packed into 16-column panels, inputs padded to even.
#[derive(Debug, Clone)]
pub struct PackedBf16Pairs {
    data: Vec<u16>,
    n: usize,
    k2: usize,
}

impl PackedBf16Pairs {
    /// Packs row-major bf16 `[n, k]` values.
    pub fn new(w: &[u16], n: usize, k: usize) -> Self {
        let (data, k2) = crate::vnni::pack_panels(w, n, k, 2);
        PackedBf16Pairs { data, n, k2 }
    }

    /// Inputs per row the activations must be padded to (zeros past `k`).
    pub fn padded_k(&self) -> usize {
        self.k2
    }

    /// `c[rows, n] = a[rows, k2] · Wᵀ` for bf16 `a` rows padded to [`Self::padded_k`]; writes
    /// every element of `c`'s first `rows × n`.
    pub fn xwt(&self, a: &[u16], c: &mut [f32]) {
        assert!(available(), "the bf16 kernel needs AVX512-BF16");
        let rows = a.len() / self.k2;
        assert!(c.len() >= rows * self.n);
        // SAFETY: the CPU has the features (checked above) and the slices hold what the kernel
        // reads and writes (checked above and by construction of the panels).
        unsafe { self.xwt_bf16(a, c, rows) }
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn xwt_bf16(&self, a: &[u16], c: &mut [f32], rows: usize) {
        let panels = self.n.div_ceil(PANEL);
        let mut p = 0;
        while p < panels {
            let np = (panels - p).min(PANELS);
            let mut r = 0;
            while r < rows {
                let m = (rows - r).min(ROWS);
                self.tile(a, c, r, m, p, np);
                r += m;
            }
            p += np;
        }
    }

    /// `m` (≤ [`ROWS`]) rows from `r` × `np` (≤ [`PANELS`]) panels from `p`: the sums stay in
    /// 24 registers (fixed sizes, so the compiler unrolls and keeps them there), four weight
    /// vectors and one broadcast input per pair of inputs.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn tile(&self, a: &[u16], c: &mut [f32], r: usize, m: usize, p: usize, np: usize) {
        let groups = self.k2 / 2;
        let base = self.data.as_ptr();
        let mut acc = [[_mm512_setzero_ps(); PANELS]; ROWS];
        for g in 0..groups {
            let mut b = [std::mem::transmute::<__m512i, __m512bh>(_mm512_setzero_si512()); PANELS];
            for (j, b) in b.iter_mut().enumerate() {
                if j < np {
                    *b = std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(
                        base.add(((p + j) * groups + g) * PANEL * 2).cast(),
                    ));
                }
            }
            for (i, acc) in acc.iter_mut().enumerate() {
                if i < m {
                    let at = a.as_ptr().add((r + i) * self.k2 + g * 2);
                    let x = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(
                        std::ptr::read_unaligned(at.cast::<i32>()),
                    ));
                    for (acc, b) in acc.iter_mut().zip(&b) {
                        *acc = _mm512_dpbf16_ps(*acc, x, *b);
                    }
                }
            }
        }
        let col0 = p * PANEL;
        let cols = (self.n - col0).min(np * PANEL);
        for (i, acc) in acc.iter().enumerate().take(m) {
            let mut lanes = [0f32; PANELS * PANEL];
            for (j, v) in acc.iter().enumerate() {
                _mm512_storeu_ps(lanes.as_mut_ptr().add(j * PANEL), *v);
            }
            let row = &mut c[(r + i) * self.n + col0..(r + i) * self.n + col0 + cols];
            row.copy_from_slice(&lanes[..cols]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::to_bf16;

    fn widen(v: u16) -> f64 {
        f32::from_bits((v as u32) << 16) as f64
    }

    /// Against the same bf16 values multiplied in f64: only f32 accumulation error remains.
    #[test]
    fn bf16_kernel_matches_the_rounded_product() {
        if !available() {
            eprintln!("no AVX512-BF16 here: nothing to compare");
            return;
        }
        for (m, n, k) in [(13, 37, 45), (8, 32, 64), (1, 5, 3), (300, 48, 384)] {
            let a: Vec<u16> = (0..m * k)
                .map(|i| to_bf16(((i * 37 % 251) as f32 - 125.0) / 50.0))
                .collect();
            let w: Vec<u16> = (0..n * k)
                .map(|i| to_bf16(((i * 91 % 255) as f32 - 127.0) / 200.0))
                .collect();
            let packed = PackedBf16Pairs::new(&w, n, k);
            let k2 = packed.padded_k();
            let mut padded = vec![0u16; m * k2];
            for i in 0..m {
                padded[i * k2..i * k2 + k].copy_from_slice(&a[i * k..(i + 1) * k]);
            }
            let mut got = vec![0f32; m * n];
            packed.xwt(&padded, &mut got);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|c| widen(a[i * k + c]) * widen(w[j * k + c]))
                        .sum();
                    let scale: f64 = (0..k)
                        .map(|c| (widen(a[i * k + c]) * widen(w[j * k + c])).abs())
                        .sum();
                    let diff = (got[i * n + j] as f64 - want).abs();
                    assert!(
                        diff <= 1e-5 * scale.max(1.0),
                        "{m}×{n}×{k} ({i}, {j}): {} vs {want}",
                        got[i * n + j]
                    );
                }
            }
        }
    }
}
