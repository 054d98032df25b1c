//! Layer norm over the last dimension, `y = (x − μ) / √(σ² + ε) · γ + β`, with its backward:
//! with `x̂ = (x − μ)·r`, `r = 1/√(σ² + ε)` and `ĝ = dy·γ`,
//! `dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂))`, `dγ = Σ_rows dy·x̂`, `dβ = Σ_rows dy`.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, storage_f32};
use trine_kernels::vmath;

/// Rows per parallel task; fixed, so the order of the γ/β gradient sums never changes.
const ROWS: usize = 64;

struct LayerNorm {
    eps: f32,
}

/// Mean and reciprocal standard deviation of one row.
#[inline(always)]
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = vmath::sum(x) / n;
    let var = vmath::sum_squared_deviations(x, mean) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// One normalised row.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn forward_row(o: &mut [f32], x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let (mean, r) = moments(x, eps);
    for (((o, &x), &g), &b) in o.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = (x - mean) * r * g + b;
    }
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = storage_f32(s1, l1, self.name())?;
        let gamma = storage_f32(s2, l2, self.name())?;
        let beta = storage_f32(s3, l3, self.name())?;
        let h = gamma.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(ROWS * h)
            .zip(x.par_chunks(ROWS * h))
            .for_each(|(o, x)| {
                for (o, x) in o.chunks_exact_mut(h).zip(x.chunks_exact(h)) {
                    forward_row(o, x, gamma, beta, self.eps);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let h = gamma.elem_count();
        let (dx, dgamma, dbeta) = contiguous_f32(x, |x| {
            contiguous_f32(gamma, |gamma| {
                contiguous_f32(grad_res, |dy| {
                    let mut dx = vec![0f32; x.len()];
                    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
                        .par_chunks_mut(ROWS * h)
                        .zip(x.par_chunks(ROWS * h).zip(dy.par_chunks(ROWS * h)))
                        .map(|(dx, (x, dy))| backward_rows(dx, x, dy, gamma, self.eps))
                        .collect();
                    let mut dgamma = vec![0f32; h];
                    let mut dbeta = vec![0f32; h];
                    for (pg, pb) in partials {
                        dgamma.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
                        dbeta.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
                    }
                    (dx, dgamma, dbeta)
                })
            })
        })???;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dgamma, gamma.shape(), dev)?),
            Some(Tensor::from_vec(dbeta, gamma.shape(), dev)?),
        ))
    }
}

/// Writes `dx` for a block of rows; returns the block's partial `dγ` and `dβ`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn backward_rows(
    dx: &mut [f32],
    x: &[f32],
    dy: &[f32],
    gamma: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let h = gamma.len();
    let mut dgamma = vec![0f32; h];
    let mut dbeta = vec![0f32; h];
    let mut xhat = vec![0f32; h];
    let mut g = vec![0f32; h];
    for ((dx, x), dy) in dx
        .chunks_exact_mut(h)
        .zip(x.chunks_exact(h))
        .zip(dy.chunks_exact(h))
    {
        let (mean, r) = moments(x, eps);
        for j in 0..h {
            xhat[j] = (x[j] - mean) * r;
            g[j] = dy[j] * gamma[j];
            dgamma[j] += dy[j] * xhat[j];
            dbeta[j] += dy[j];
        }
        let mean_g = vmath::sum(&g) / h as f32;
        let mean_gx = vmath::dot(&g, &xhat) / h as f32;
        for j in 0..h {
            dx[j] = r * (g[j] - mean_g - xhat[j] * mean_gx);
        }
    }
    (dgamma, dbeta)
}

/// Layer norm of `x` (`[.., hidden]`, f32, CPU) with weight `gamma` and bias `beta`
/// (`[hidden]`), differentiable in all three.
pub(crate) fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &gamma.contiguous()?,
        &beta.contiguous()?,
        LayerNorm { eps: eps as f32 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::max_diff;
    use candle_core::{Device, Var};

    #[test]
    fn matches_candles_composed_layer_norm_in_value_and_gradients() {
        let dev = Device::Cpu;
        let (rows, h) = (131, 24);
        let x = Var::from_tensor(&(Tensor::randn(0.5f32, 3.0, (rows, h), &dev).unwrap())).unwrap();
        let g = Var::from_tensor(&Tensor::randn(1f32, 0.3, h, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, h, &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f32, 1.0, (rows, h), &dev).unwrap();
        let eps = 1e-12;
        let ours = layer_norm(x.as_tensor(), g.as_tensor(), b.as_tensor(), eps).unwrap();
        let reference = candle_nn::ops::layer_norm_slow(
            x.as_tensor(),
            g.as_tensor(),
            b.as_tensor(),
            eps as f32,
        )
        .unwrap();
        assert!(max_diff(&ours, &reference) < 1e-5);
        let go = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gr = (reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (name, v) in [("x", &x), ("gamma", &g), ("beta", &b)] {
            let d = max_diff(go.get(v).unwrap(), gr.get(v).unwrap());
            assert!(d < 1e-4, "{name} gradient differs by {d}");
        }
    }
}
