//! `x · Wᵀ` for the inference path, parallel over row blocks with one single-threaded matrix
//! product per block.
//!
//! candle hands each product to a multithreaded BLAS (OpenMP threads under MKL) while rayon runs
//! the kernels in between; on two cores the two pools then spin against each other (perf showed
//! ~16% of a forward pass in `sched_yield`). Here rayon alone owns the cores.

use rayon::prelude::*;

use super::{tensor, with_f32};
use candle_core::{Result, Tensor};

/// Rows per task: large enough for an efficient product, small enough to balance two cores.
const ROWS_PER_TASK: usize = 256;

#[cfg(feature = "mkl")]
mod blas {
    extern "C" {
        fn cblas_sgemm(
            layout: i32,
            transa: i32,
            transb: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f32,
            a: *const f32,
            lda: i32,
            b: *const f32,
            ldb: i32,
            beta: f32,
            c: *mut f32,
            ldc: i32,
        );
        #[link_name = "MKL_Set_Num_Threads_Local"]
        fn mkl_set_num_threads_local(n: i32) -> i32;
        fn cblas_gemm_bf16bf16f32(
            layout: i32,
            transa: i32,
            transb: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f32,
            a: *const u16,
            lda: i32,
            b: *const u16,
            ldb: i32,
            beta: f32,
            c: *mut f32,
            ldc: i32,
        );
    }

    /// `out = bf16(x) · w_bf16ᵀ` with f32 accumulation (AMX where the CPU has it).
    pub(super) fn gemm_xwt_bf16(out: &mut [f32], x: &[f32], w: &[u16], n: usize, k: usize) {
        let rows = x.len() / k;
        let xb: Vec<u16> = x.iter().map(|&v| super::to_bf16(v)).collect();
        // SAFETY: as for gemm_xwt, with u16 (bf16) inputs.
        unsafe {
            mkl_set_num_threads_local(1);
            cblas_gemm_bf16bf16f32(
                101,
                111,
                112,
                rows as i32,
                n as i32,
                k as i32,
                1.0,
                xb.as_ptr(),
                k as i32,
                w.as_ptr(),
                k as i32,
                0.0,
                out.as_mut_ptr(),
                n as i32,
            );
        }
    }

    /// `out[rows, n] = x[rows, k] · w[n, k]ᵀ`, on the calling thread only.
    pub(super) fn gemm_xwt(out: &mut [f32], x: &[f32], w: &[f32], n: usize, k: usize) {
        let rows = x.len() / k;
        // SAFETY: slices are sized rows×k, n×k and rows×n, matching the leading dimensions.
        unsafe {
            mkl_set_num_threads_local(1);
            cblas_sgemm(
                101,
                111,
                112,
                rows as i32,
                n as i32,
                k as i32,
                1.0,
                x.as_ptr(),
                k as i32,
                w.as_ptr(),
                k as i32,
                0.0,
                out.as_mut_ptr(),
                n as i32,
            );
        }
    }
}

#[cfg(not(feature = "mkl"))]
mod blas {
    /// `out[rows, n] = x[rows, k] · w[n, k]ᵀ`, on the calling thread only.
    pub(super) fn gemm_xwt(out: &mut [f32], x: &[f32], w: &[f32], n: usize, k: usize) {
        let rows = x.len() / k;
        // SAFETY: strides address x as rows×k, w as n×k read transposed, out as rows×n.
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
                w.as_ptr(),
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
}

/// Rounds an f32 to bf16 (round to nearest even), as its upper 16 bits.
#[inline(always)]
pub(crate) fn to_bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    let rounding = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// A weight matrix `[n, k]`, with a bf16 copy when the model runs in bf16.
#[derive(Debug, Clone)]
pub(crate) struct Weight {
    pub f32: Vec<f32>,
    pub bf16: Option<Vec<u16>>,
    pub n: usize,
}

impl Weight {
    /// Wraps row-major `[n, k]` values; `bf16` keeps a rounded copy for bf16 products.
    pub(crate) fn new(values: Vec<f32>, n: usize, bf16: bool) -> Self {
        let half = bf16.then(|| values.iter().map(|&v| to_bf16(v)).collect());
        Weight {
            f32: values,
            bf16: half,
            n,
        }
    }
}

/// `x · Wᵀ` for `x` `[rows, k]` and `weight` `[n, k]` (row-major, as stored by BERT).
pub(crate) fn linear(x: &Tensor, weight: &Weight) -> Result<Tensor> {
    let (rows, k) = x.dims2()?;
    let n = weight.n;
    let out = with_f32(x, |x| {
        let mut out = vec![0f32; rows * n];
        out.par_chunks_mut(ROWS_PER_TASK * n)
            .zip(x.par_chunks(ROWS_PER_TASK * k))
            .for_each(|(o, xs)| match &weight.bf16 {
                #[cfg(feature = "mkl")]
                Some(w) => blas::gemm_xwt_bf16(o, xs, w, n, k),
                _ => blas::gemm_xwt(o, xs, &weight.f32, n, k),
            });
        out
    })?;
    tensor(out, (rows, n))
}
