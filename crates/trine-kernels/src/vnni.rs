//! The int8 product on AVX512-VNNI (`vpdpbusd`: four u8 × s8 products summed into each i32
//! lane), for CPUs where MKL's integer GEMM is slow or absent (AMD Zen 4, builds without MKL).
//!
//! The weight is packed once into panels of 16 output columns: for each group of 4 inputs, 16
//! columns × 4 bytes, one 64-byte vector. A micro-kernel keeps 6 rows × 64 columns of i32 sums
//! in 24 registers; per group of 4 inputs it loads four weight vectors, broadcasts each row's 4
//! activation bytes and issues 24 `vpdpbusd`.

use std::arch::x86_64::*;

/// Output columns per panel (one 512-bit vector of i32).
const PANEL: usize = 16;
/// Rows and panels of one micro-kernel tile: 6 × 64 sums in 24 of the 32 vector registers.
const ROWS: usize = 6;
const PANELS: usize = 4;

/// Whether this CPU runs the VNNI kernel.
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")
}

/// A weight `[n, k]` of i8 packed into 16-column panels, inputs padded to a multiple of 4.
#[derive(Debug, Clone)]
pub struct PackedI8 {
    data: Vec<i8>,
    n: usize,
    /// Inputs rounded up to a multiple of 4.
    k4: usize,
}

impl PackedI8 {
    /// Packs row-major `[n, k]` values.
    pub fn new(w: &[i8], n: usize, k: usize) -> Self {
        let (data, k4) = pack_panels(w, n, k, 4);
        PackedI8 { data, n, k4 }
    }

    /// Inputs per row the activations must be padded to (zeros past `k`).
    pub fn padded_k(&self) -> usize {
        self.k4
    }

    /// `c[rows, n] = a[rows, k4] · Wᵀ` for unsigned `a` rows padded to [`PackedI8::padded_k`].
    pub fn xwt(&self, a: &[u8], c: &mut [i32]) {
        assert!(available(), "the VNNI kernel needs AVX512-VNNI");
        let rows = a.len() / self.k4;
        assert!(c.len() >= rows * self.n);
        // SAFETY: the CPU has the features (checked above) and the slices hold what the kernel
        // reads and writes (checked above and by construction of the panels).
        unsafe { self.xwt_vnni(a, c, rows) }
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn xwt_vnni(&self, a: &[u8], c: &mut [i32], rows: usize) {
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
    /// vectors and one broadcast input per group of four inputs.
    #[target_feature(enable = "avx512f,avx512vnni")]
    #[inline]
    unsafe fn tile(&self, a: &[u8], c: &mut [i32], r: usize, m: usize, p: usize, np: usize) {
        let groups = self.k4 / 4;
        let base = self.data.as_ptr();
        let mut acc = [[_mm512_setzero_si512(); PANELS]; ROWS];
        for g in 0..groups {
            let mut b = [_mm512_setzero_si512(); PANELS];
            for (j, b) in b.iter_mut().enumerate() {
                if j < np {
                    *b = _mm512_loadu_si512(base.add(((p + j) * groups + g) * PANEL * 4).cast());
                }
            }
            for (i, acc) in acc.iter_mut().enumerate() {
                if i < m {
                    let at = a.as_ptr().add((r + i) * self.k4 + g * 4);
                    let x = _mm512_set1_epi32(std::ptr::read_unaligned(at.cast::<i32>()));
                    for (acc, b) in acc.iter_mut().zip(&b) {
                        *acc = _mm512_dpbusd_epi32(*acc, x, *b);
                    }
                }
            }
        }
        let col0 = p * PANEL;
        let cols = (self.n - col0).min(np * PANEL);
        for (i, acc) in acc.iter().enumerate().take(m) {
            let mut lanes = [0i32; PANELS * PANEL];
            for (j, v) in acc.iter().enumerate() {
                _mm512_storeu_si512(lanes.as_mut_ptr().add(j * PANEL).cast(), *v);
            }
            let row = &mut c[(r + i) * self.n + col0..(r + i) * self.n + col0 + cols];
            row.copy_from_slice(&lanes[..cols]);
        }
    }
}

/// Packs row-major `[n, k]` values into panels of 16 output columns, `group` consecutive inputs
/// per lane (4 for int8, 2 for bf16), inputs padded with zeros to a multiple of `group`; returns
/// the panels and the padded input count.
pub(crate) fn pack_panels<T: Copy + Default>(
    w: &[T],
    n: usize,
    k: usize,
    group: usize,
) -> (Vec<T>, usize) {
    let kp = k.div_ceil(group) * group;
    let mut data = vec![T::default(); n.div_ceil(PANEL) * kp * PANEL];
    for j in 0..n {
        let (p, col) = (j / PANEL, j % PANEL);
        for c in 0..k {
            let (g, lane) = (c / group, c % group);
            data[(p * (kp / group) + g) * PANEL * group + col * group + lane] = w[j * k + c];
        }
    }
    (data, kp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int8::gemm_u8s8_portable;

    #[test]
    fn vnni_matches_the_portable_integer_product() {
        if !available() {
            eprintln!("no AVX512-VNNI here: nothing to compare");
            return;
        }
        // Ragged everything: rows not a multiple of 8, columns of 16, inputs of 4.
        for (m, n, k) in [(13, 37, 45), (8, 32, 64), (1, 5, 3), (300, 48, 384)] {
            let a: Vec<u8> = (0..m * k).map(|i| (i * 37 % 251) as u8).collect();
            let w: Vec<i8> = (0..n * k)
                .map(|i| ((i * 91 % 255) as i32 - 127) as i8)
                .collect();
            let mut want = vec![0; m * n];
            gemm_u8s8_portable(m, n, k, &a, &w, &mut want);
            let packed = PackedI8::new(&w, n, k);
            let k4 = packed.padded_k();
            let mut padded = vec![0u8; m * k4];
            for i in 0..m {
                padded[i * k4..i * k4 + k].copy_from_slice(&a[i * k..(i + 1) * k]);
            }
            let mut got = vec![0; m * n];
            packed.xwt(&padded, &mut got);
            assert_eq!(got, want, "{m}×{n}×{k}");
        }
    }
}
