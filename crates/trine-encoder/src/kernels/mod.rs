//! Fused CPU kernels for the inference forward pass.
//!
//! candle's generic element-wise ops and its batched small matrix products leave most of the
//! machine idle on a BERT layer (profiled with `examples/profile_forward.rs`: GELU, softmax, mask
//! and bias adds took ~40% of a layer). These kernels fuse those passes, skip padding tokens in
//! attention entirely, and vectorise `exp`/`erf`. They have no autograd: training uses candle's
//! ops, and tests check both paths agree.

mod attention;
mod elementwise;
mod linear;
mod vmath;

pub(crate) use attention::{attention, AttentionShape};
pub(crate) use elementwise::{add_bias, add_bias_residual_layer_norm, bias_gelu, NormParams};
pub(crate) use linear::{linear, Weight};

use candle_core::{CpuStorage, Device, Result, Storage, Tensor};

/// Calls `f` with the contiguous f32 data of a CPU tensor.
pub(crate) fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
        candle_core::bail!("fused kernels need an f32 CPU tensor")
    };
    let start = layout.start_offset();
    Ok(f(&data[start..start + t.elem_count()]))
}

/// Wraps an owned buffer as a CPU tensor.
pub(crate) fn tensor(data: Vec<f32>, shape: (usize, usize)) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &Device::Cpu)
}
