//! int8 products for the inference path: weights quantised once per output channel
//! (symmetric, scale = max |w| / 127), activations per row as they arrive (dynamic,
//! scale = max |x| / 127), products accumulated in i32 and scaled back to f32. The integer
//! product is exact whichever runs it, so every path computes the same numbers: MKL's
//! `cblas_gemm_s8u8s32` on CPUs with AMX-INT8, trine's AVX512-VNNI kernel ([`crate::vnni`]) on
//! other CPUs that have VNNI (MKL's integer GEMM is slow on AMD), else MKL or a portable loop.

use std::mem::MaybeUninit;

/// A weight matrix `[n, k]` quantised per output row: `w[j, c] ≈ scale[j] · q[j, c]`.
#[derive(Debug, Clone)]
pub struct QuantizedWeight {
    n: usize,
    k: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
    /// `Σ_c q[j, c]`, to undo the +128 that makes activations unsigned.
    sums: Vec<i32>,
    /// The weight packed for the VNNI kernel, where that kernel is the one to run.
    #[cfg(target_arch = "x86_64")]
    packed: Option<crate::vnni::PackedI8>,
}

/// Whether the CPU has AMX-INT8 (CPUID leaf 7, EDX bit 25), where MKL's integer GEMM is the
/// fastest product.
#[cfg(target_arch = "x86_64")]
fn has_amx_int8() -> bool {
    let leaf = std::arch::x86_64::__cpuid_count(7, 0);
    leaf.edx & (1 << 25) != 0
}

/// Whether int8 products run on trine's VNNI kernel here.
#[cfg(target_arch = "x86_64")]
fn use_vnni() -> bool {
    static CHOICE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| crate::vnni::available() && !(cfg!(feature = "mkl") && has_amx_int8()))
}

/// Symmetric int8 scale of a row: its largest magnitude maps to 127 (1 for an all-zero row).
fn scale_of(row: &[f32]) -> f32 {
    let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        max / 127.0
    } else {
        1.0
    }
}

fn quantize(v: f32, inv_scale: f32) -> i8 {
    (v * inv_scale).round().clamp(-127.0, 127.0) as i8
}

impl QuantizedWeight {
    /// Quantises row-major `[n, k]` values.
    pub fn new(w: &[f32], n: usize) -> Self {
        let k = w.len() / n;
        let mut values = Vec::with_capacity(w.len());
        let mut scales = Vec::with_capacity(n);
        let mut sums = Vec::with_capacity(n);
        for row in w.chunks_exact(k) {
            let scale = scale_of(row);
            let start = values.len();
            values.extend(row.iter().map(|&v| quantize(v, 1.0 / scale)));
            sums.push(values[start..].iter().map(|&q| q as i32).sum());
            scales.push(scale);
        }
        QuantizedWeight {
            n,
            k,
            #[cfg(target_arch = "x86_64")]
            packed: use_vnni().then(|| crate::vnni::PackedI8::new(&values, n, k)),
            values,
            scales,
            sums,
        }
    }

    /// Output features.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input features.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `out[rows, n] ≈ x[rows, k] · Wᵀ` on the calling thread; writes all of `out`.
    pub fn xwt(&self, out: &mut [MaybeUninit<f32>], x: &[f32]) {
        let (n, k) = (self.n, self.k);
        let rows = x.len() / k;
        assert_eq!(out.len(), rows * n);
        #[cfg(target_arch = "x86_64")]
        let stride = self.packed.as_ref().map_or(k, |p| p.padded_k());
        #[cfg(not(target_arch = "x86_64"))]
        let stride = k;
        let mut xq = Vec::with_capacity(rows * stride);
        let mut x_scales = Vec::with_capacity(rows);
        for row in x.chunks_exact(k) {
            let scale = scale_of(row);
            let inv = 1.0 / scale;
            xq.extend(row.iter().map(|&v| (quantize(v, inv) as i16 + 128) as u8));
            // The packed weight is zero past k, so padding multiplies nothing.
            xq.resize(xq.len() + stride - k, 0);
            x_scales.push(scale);
        }
        let mut acc = vec![0i32; rows * n];
        self.integer_product(&xq, rows, &mut acc);
        for ((o, a), &sx) in out
            .chunks_exact_mut(n)
            .zip(acc.chunks_exact(n))
            .zip(&x_scales)
        {
            let channels = self.sums.iter().zip(&self.scales);
            for ((o, &a), (&sum, &sw)) in o.iter_mut().zip(a).zip(channels) {
                o.write((a - 128 * sum) as f32 * sx * sw);
            }
        }
    }
}

impl QuantizedWeight {
    /// `acc[rows, n] = xq · qᵀ` in i32, on the kernel chosen for this CPU.
    fn integer_product(&self, xq: &[u8], rows: usize, acc: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(packed) = &self.packed {
                packed.xwt(xq, acc);
                return;
            }
        }
        gemm_u8s8(rows, self.n, self.k, xq, &self.values, acc);
    }
}

/// `c[m, n] = a[m, k] · bᵀ` with `a` unsigned and `b` `[n, k]` signed, exact in i32.
pub fn gemm_u8s8(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    #[cfg(feature = "mkl")]
    {
        // SAFETY: the asserts above bound every access MKL makes.
        unsafe { crate::blas::gemm_u8s8_mkl(m, n, k, a, b, c) };
    }
    #[cfg(not(feature = "mkl"))]
    {
        gemm_u8s8_portable(m, n, k, a, b, c);
    }
}

/// The integer product in plain Rust (what builds without MKL run, and what tests check MKL
/// against).
pub fn gemm_u8s8_portable(m: usize, n: usize, k: usize, a: &[u8], b: &[i8], c: &mut [i32]) {
    for i in 0..m {
        let ar = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let br = &b[j * k..(j + 1) * k];
            c[i * n + j] = ar.iter().zip(br).map(|(&x, &w)| x as i32 * w as i32).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn the_integer_product_is_exact() {
        let (m, n, k) = (7, 5, 37);
        let mut s = 1;
        let a: Vec<u8> = (0..m * k)
            .map(|_| ((lcg(&mut s) + 1.0) * 127.5) as u8)
            .collect();
        let b: Vec<i8> = (0..n * k).map(|_| (lcg(&mut s) * 127.0) as i8).collect();
        let mut got = vec![0; m * n];
        gemm_u8s8(m, n, k, &a, &b, &mut got);
        // By hand, in i64: no overflow can hide.
        for i in 0..m {
            for j in 0..n {
                let want: i64 = (0..k)
                    .map(|c| a[i * k + c] as i64 * b[j * k + c] as i64)
                    .sum();
                assert_eq!(got[i * n + j] as i64, want, "({i}, {j})");
            }
        }
        let mut portable = vec![0; m * n];
        gemm_u8s8_portable(m, n, k, &a, &b, &mut portable);
        assert_eq!(got, portable);
    }

    #[test]
    fn quantised_products_stay_within_the_rounding_bound() {
        let (rows, n, k) = (9, 6, 64);
        let mut s = 7;
        let w: Vec<f32> = (0..n * k).map(|_| lcg(&mut s)).collect();
        let x: Vec<f32> = (0..rows * k).map(|_| lcg(&mut s) * 3.0).collect();
        let q = QuantizedWeight::new(&w, n);
        let mut out = vec![MaybeUninit::uninit(); rows * n];
        q.xwt(&mut out, &x);
        for i in 0..rows {
            let xr = &x[i * k..(i + 1) * k];
            let sx = scale_of(xr);
            for j in 0..n {
                let wr = &w[j * k..(j + 1) * k];
                let sw = scale_of(wr);
                let exact: f32 = xr.iter().zip(wr).map(|(a, b)| a * b).sum();
                // Each factor is off by at most half a step: |Δ(xw)| ≤ sx/2·|w| + sw/2·|x| + sx·sw/4.
                let bound: f32 = xr
                    .iter()
                    .zip(wr)
                    .map(|(a, b)| sx / 2.0 * b.abs() + sw / 2.0 * a.abs() + sx * sw / 4.0)
                    .sum();
                // SAFETY: xwt wrote every element.
                let got = unsafe { out[i * n + j].assume_init() };
                assert!(
                    (got - exact).abs() <= bound * 1.001 + 1e-5,
                    "({i}, {j}): {got} vs {exact}, bound {bound}"
                );
            }
        }
    }

    #[test]
    fn a_zero_row_quantises_to_zero() {
        let q = QuantizedWeight::new(&[0.0; 8], 2);
        let mut out = vec![MaybeUninit::uninit(); 2];
        q.xwt(&mut out, &[1.0, -2.0, 0.5, 3.0]);
        // SAFETY: xwt wrote every element.
        let out: Vec<f32> = out
            .into_iter()
            .map(|v| unsafe { v.assume_init() })
            .collect();
        assert_eq!(out, [0.0, 0.0]);
    }
}
