//! GELU with the exact (erf) form, `gelu(x) = x · Φ(x)`, and its derivative
//! `gelu'(x) = Φ(x) + x · φ(x)` with `Φ(x) = (1 + erf(x/√2)) / 2` and `φ(x) = e^(−x²/2) / √(2π)`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, storage_f32};
use crate::kernels::vmath;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

struct GeluErf;

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn forward_chunk(out: &mut [f32], x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = vmath::gelu(v);
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn backward_chunk(out: &mut [f32], x: &[f32], grad: &[f32]) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
        let cdf = 0.5 * (1.0 + vmath::erf(v * std::f32::consts::FRAC_1_SQRT_2));
        let pdf = INV_SQRT_2PI * vmath::exp(-0.5 * v * v);
        *o = g * (cdf + v * pdf);
    }
}

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = storage_f32(storage, layout, self.name())?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(o, x)| forward_chunk(o, x));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let dx = contiguous_f32(arg, |x| {
            contiguous_f32(grad_res, |g| {
                let mut dx = vec![0f32; x.len()];
                dx.par_chunks_mut(CHUNK)
                    .zip(x.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
                    .for_each(|(d, (x, g))| backward_chunk(d, x, g));
                dx
            })
        })??;
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

/// `gelu(x)` (erf form), differentiable; `x` f32 on the CPU.
pub(crate) fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::max_diff;
    use candle_core::{Device, Var};

    #[test]
    fn matches_candles_gelu_erf_in_value_and_gradient() {
        let x =
            Var::from_tensor(&(Tensor::randn(0f32, 2.0, (37, 53), &Device::Cpu).unwrap())).unwrap();
        let w = Tensor::randn(0f32, 1.0, (37, 53), &Device::Cpu).unwrap();
        let ours = gelu_erf(x.as_tensor()).unwrap();
        let reference = x.as_tensor().gelu_erf().unwrap();
        assert!(max_diff(&ours, &reference) < 1e-6);
        let g_ours = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g_ref = (reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (a, b) = (g_ours.get(&x).unwrap(), g_ref.get(&x).unwrap());
        assert!(
            max_diff(a, b) < 1e-5,
            "gradient differs by {}",
            max_diff(a, b)
        );
    }
}
