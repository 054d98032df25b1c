//! CPU kernels shared by trine's inference and training passes.
//!
//! candle's generic element-wise ops and its batched small matrix products leave most of the
//! machine idle on a BERT layer (profiled with trine-encoder's `examples/profile_forward.rs`:
//! GELU, softmax, mask and bias adds took ~40% of a layer). These kernels fuse those passes, skip
//! padding tokens in attention entirely, and vectorise `exp`/`erf`. They have no autograd: the
//! encoder's fused inference path calls them directly, and trine-train's autograd ops build their
//! forward and backward passes from the same matrix products and vector math.

mod attention;
#[cfg(target_arch = "x86_64")]
pub mod avx512_bf16;
pub mod blas;
mod elementwise;
pub mod int8;
mod linear;
pub mod seed;
pub mod vmath;
#[cfg(target_arch = "x86_64")]
pub mod vnni;

pub use attention::{attention, AttentionShape};
pub use elementwise::{add_bias, add_bias_residual_layer_norm, bias_gelu, NormParams};
pub use linear::{bf16_vec, linear, Format, Weight};

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Device, Result, Storage, Tensor};

/// Whether the CPU has AMX-BF16 (CPUID leaf 7, EDX bit 22).
#[cfg(target_arch = "x86_64")]
fn has_amx_bf16() -> bool {
    std::arch::x86_64::__cpuid_count(7, 0).edx & (1 << 22) != 0
}

/// How bf16 products run here: MKL's bf16 GEMM where it has AMX to run on; trine's
/// AVX512-BF16 kernel on other CPUs with those instructions (MKL's bf16 GEMM is slower than its
/// f32 one on AMD Zen 4); else MKL's, or f32 products without MKL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Path {
    Mkl,
    Avx512,
    F32,
}

/// The bf16 path of this CPU and build (decided once).
pub fn bf16_path() -> Bf16Path {
    static PATH: std::sync::OnceLock<Bf16Path> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if cfg!(feature = "mkl") && has_amx_bf16() {
                return Bf16Path::Mkl;
            }
            if avx512_bf16::available() {
                return Bf16Path::Avx512;
            }
        }
        if cfg!(feature = "mkl") {
            Bf16Path::Mkl
        } else {
            Bf16Path::F32
        }
    })
}

/// Calls `f` with the contiguous f32 data of a CPU tensor.
pub fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
        candle_core::bail!("fused kernels need an f32 CPU tensor")
    };
    let start = layout.start_offset();
    Ok(f(&data[start..start + t.elem_count()]))
}

/// A buffer of `len` values that `init` writes in full before anyone reads it, without the
/// zero-fill `vec![0.0; len]` pays (perf: ~10% of a bf16 forward pass went to memset).
///
/// # Safety
/// `init` must write every element of the slice it is given.
pub unsafe fn filled<T>(len: usize, init: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    init(&mut v.spare_capacity_mut()[..len]);
    v.set_len(len);
    v
}

/// Views a fully written slice as initialised values.
///
/// # Safety
/// Every element of `s` must have been written.
pub unsafe fn assume_init(s: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    &mut *(s as *mut [MaybeUninit<f32>] as *mut [f32])
}

/// Wraps an owned buffer as a CPU tensor.
pub fn tensor(data: Vec<f32>, shape: (usize, usize)) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &Device::Cpu)
}

/// Makes the calling thread flush subnormal floats to zero (inputs and results), and returns its
/// previous MXCSR value on x86-64 (0 elsewhere, where this does nothing).
///
/// Threads created afterwards inherit the mode, so calling this first thing in `main` covers
/// rayon's and MKL's worker threads too. Training benefits most: softmax probabilities and their
/// gradients for far-off keys underflow into the subnormal range, where every x86 float op takes
/// a slow microcode path.
#[allow(deprecated)] // _mm_getcsr/_mm_setcsr: the only stable way to reach MXCSR.
pub fn flush_denormals() -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        const FTZ_DAZ: u32 = 0x8040;
        // SAFETY: reading and writing MXCSR only changes this thread's float modes.
        unsafe {
            let saved = _mm_getcsr();
            _mm_setcsr(saved | FTZ_DAZ);
            saved
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// Flushes subnormal floats to zero on this thread while alive, then restores the previous mode.
///
/// Attention probabilities far below the peak fall under f32's normal range (~1e-38); on x86 every
/// arithmetic op on such a subnormal takes a slow microcode path. They contribute nothing to a
/// sum of probabilities near 1, so the fused kernels treat them as zero.
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushDenormals {
    /// Sets flush-to-zero and denormals-are-zero for the current thread.
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            FlushDenormals {
                saved: flush_denormals(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushDenormals {}
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the mode this thread had before `new`.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved)
        };
    }
}
