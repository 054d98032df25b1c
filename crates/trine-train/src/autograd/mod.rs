//! Training-path ops with hand-written backward passes.
//!
//! candle's composed ops record one autograd node per elementary step and run most of them on
//! one thread (perf of a SciFact training step: the main thread did over half the work while
//! the second core idled; libm's scalar `erf` alone took 8%). Each op here is one node whose
//! forward and backward are single fused passes, parallel over rows, deterministic (fixed
//! chunking, so a resumed run repeats bit for bit). A training layer is a chain of them: three
//! `dense` projections, `self_attention`, `dense` output with dropout, `layer_norm`, `dense` with
//! GELU, `dense` with dropout, `layer_norm` (plus two residual adds). Tests check values and
//! gradients against candle's composed reference.

mod attention;
mod dense;
mod dropout;
mod gelu;
mod layer_norm;
mod rows;
#[cfg(test)]
mod softmax;

pub(crate) use attention::self_attention;
pub(crate) use dense::{dense, Activation};
pub(crate) use layer_norm::layer_norm;
#[cfg(test)]
pub(crate) use softmax::masked_softmax_dropout;

use candle_core::{CpuStorage, Layout, Result, Storage, Tensor};

/// The contiguous f32 values of a CPU storage viewed through `layout`.
fn storage_f32<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{op}: input must be contiguous")))?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// Calls `f` with the contiguous f32 values of a CPU tensor.
fn contiguous_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("training ops run on the CPU only")
    };
    Ok(f(storage_f32(cpu, layout, "training op")?))
}

/// Largest absolute difference between two tensors (tests).
#[cfg(test)]
fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar())
        .expect("comparable tensors")
}
