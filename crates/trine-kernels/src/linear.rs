//! `x · Wᵀ` for the inference path, parallel over row blocks with one single-threaded matrix
//! product per block.
//!
//! candle hands each product to a multithreaded BLAS (OpenMP threads under MKL) while rayon runs
//! the kernels in between; on two cores the two pools then spin against each other (perf showed
//! ~16% of a forward pass in `sched_yield`). Here rayon alone owns the cores.

use rayon::prelude::*;

use super::blas;
#[cfg(not(feature = "mkl"))]
use super::blas::Operand;
use std::mem::MaybeUninit;

use super::int8::QuantizedWeight;
use super::{assume_init, filled, tensor, with_f32};
use candle_core::{Result, Tensor};

/// Rows per task: large enough for an efficient product, small enough to balance two cores.
const ROWS_PER_TASK: usize = 256;

/// Rounds an f32 to bf16 (round to nearest even), as its upper 16 bits.
#[inline(always)]
pub fn to_bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    let rounding = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// Rounds `src` to bf16 into `dst` (same length), vectorised.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn to_bf16_rows(dst: &mut [MaybeUninit<u16>], src: &[f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        d.write(to_bf16(v));
    }
}

/// `src` rounded to bf16, in parallel blocks.
pub fn bf16_vec(src: &[f32]) -> Vec<u16> {
    const BLOCK: usize = 1 << 16;
    // SAFETY: the blocks tile the buffer and `to_bf16_rows` writes each in full.
    unsafe {
        filled(src.len(), |dst| {
            dst.par_chunks_mut(BLOCK)
                .zip(src.par_chunks(BLOCK))
                .for_each(|(d, s)| to_bf16_rows(d, s))
        })
    }
}

/// The number format a weight's products run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    F32,
    /// bf16 operands, f32 accumulation (AMX with MKL; f32 products without it).
    Bf16,
    /// Per-channel int8 weights, per-row dynamic int8 activations, i32 accumulation.
    Int8,
}

/// A weight matrix `[n, k]` (row-major, as BERT stores it), ready for `x · Wᵀ` products: with
/// MKL, packed once in its internal layout (f32, bf16), or quantised once (int8).
#[derive(Debug, Clone)]
pub struct Weight {
    n: usize,
    k: usize,
    stored: Stored,
}

#[derive(Debug, Clone)]
enum Stored {
    #[cfg(feature = "mkl")]
    F32(blas::PackedF32),
    #[cfg(feature = "mkl")]
    Bf16(blas::PackedBf16),
    #[cfg(not(feature = "mkl"))]
    Plain(Vec<f32>),
    Int8(QuantizedWeight),
    #[cfg(target_arch = "x86_64")]
    Bf16Avx512(crate::avx512_bf16::PackedBf16Pairs),
}

impl Weight {
    /// Wraps row-major `[n, k]` values for products in `format`.
    pub fn new(values: Vec<f32>, n: usize, format: Format) -> Self {
        let k = values.len() / n;
        #[cfg(target_arch = "x86_64")]
        if format == Format::Bf16 && crate::bf16_path() == crate::Bf16Path::Avx512 {
            let half: Vec<u16> = values.iter().map(|&v| to_bf16(v)).collect();
            let packed = crate::avx512_bf16::PackedBf16Pairs::new(&half, n, k);
            return Weight {
                n,
                k,
                stored: Stored::Bf16Avx512(packed),
            };
        }
        let stored = match format {
            Format::Int8 => Stored::Int8(QuantizedWeight::new(&values, n)),
            #[cfg(feature = "mkl")]
            Format::Bf16 => {
                let half: Vec<u16> = values.iter().map(|&v| to_bf16(v)).collect();
                Stored::Bf16(blas::PackedBf16::new(&half, n, k, ROWS_PER_TASK))
            }
            #[cfg(feature = "mkl")]
            Format::F32 => Stored::F32(blas::PackedF32::new(&values, n, k, ROWS_PER_TASK)),
            #[cfg(not(feature = "mkl"))]
            Format::F32 | Format::Bf16 => Stored::Plain(values),
        };
        Weight { n, k, stored }
    }

    /// `out[rows, n] = x[rows, k] · Wᵀ` on the calling thread; writes all of `out`.
    fn xwt(&self, out: &mut [MaybeUninit<f32>], x: &[f32]) {
        let (n, k) = (self.n, self.k);
        assert_eq!(out.len(), x.len() / k * n);
        match &self.stored {
            Stored::Int8(w) => w.xwt(out, x),
            #[cfg(target_arch = "x86_64")]
            Stored::Bf16Avx512(w) => {
                let k2 = w.padded_k();
                let rows = x.len() / k;
                let mut xb = vec![0u16; rows * k2];
                for (d, s) in xb.chunks_exact_mut(k2).zip(x.chunks_exact(k)) {
                    for (d, &v) in d.iter_mut().zip(s) {
                        *d = to_bf16(v);
                    }
                }
                // SAFETY: the kernel writes all rows × n values of out.
                let out = unsafe { assume_init(out) };
                w.xwt(&xb, out);
            }
            // SAFETY: out holds rows×n floats, written by this call only.
            #[cfg(feature = "mkl")]
            Stored::F32(w) => unsafe { w.xwt(out.as_mut_ptr().cast(), x) },
            #[cfg(feature = "mkl")]
            Stored::Bf16(w) => {
                // SAFETY: to_bf16_rows writes every element; out as above.
                let xb = unsafe { filled(x.len(), |dst| to_bf16_rows(dst, x)) };
                unsafe { w.xwt(out.as_mut_ptr().cast(), &xb) }
            }
            #[cfg(not(feature = "mkl"))]
            Stored::Plain(values) => {
                let a = Operand {
                    data: x,
                    ld: k,
                    trans: false,
                };
                let b = Operand {
                    data: values,
                    ld: k,
                    trans: true,
                };
                // SAFETY: out holds rows×n floats, written by this call only.
                unsafe { blas::sgemm(x.len() / k, n, k, a, b, out.as_mut_ptr().cast(), n) }
            }
        }
    }
}

/// `x · Wᵀ` for `x` `[rows, k]` and `weight` `[n, k]` (row-major, as stored by BERT).
pub fn linear(x: &Tensor, weight: &Weight) -> Result<Tensor> {
    let (rows, k) = x.dims2()?;
    let n = weight.n;
    debug_assert_eq!(k, weight.k);
    // Small inputs (a batch of short queries) still split across the cores.
    let per_task = rows
        .div_ceil(rayon::current_num_threads())
        .clamp(16, ROWS_PER_TASK);
    let out = with_f32(x, |x| {
        // SAFETY: the blocks tile the output and each product writes its block in full.
        unsafe {
            filled(rows * n, |out| {
                out.par_chunks_mut(per_task * n)
                    .zip(x.par_chunks(per_task * k))
                    .for_each(|(o, xs)| weight.xwt(o, xs))
            })
        }
    })?;
    tensor(out, (rows, n))
}
