//! Row-wise fused passes: bias + GELU, bias + residual + layer norm, bias add.

use multiversion::multiversion;
use rayon::prelude::*;

use std::mem::MaybeUninit;

use super::{assume_init, filled, tensor, vmath, with_f32};
use candle_core::{Result, Tensor};

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 32;

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512bw+avx2+fma", "x86_64+avx2+fma"))]
fn bias_gelu_rows(out: &mut [MaybeUninit<f32>], x: &[f32], bias: &[f32]) {
    for (o, xs) in out
        .chunks_exact_mut(bias.len())
        .zip(x.chunks_exact(bias.len()))
    {
        for ((o, &v), &b) in o.iter_mut().zip(xs).zip(bias) {
            o.write(vmath::gelu(v + b));
        }
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512bw+avx2+fma", "x86_64+avx2+fma"))]
fn add_bias_rows(out: &mut [MaybeUninit<f32>], x: &[f32], bias: &[f32]) {
    for (o, xs) in out
        .chunks_exact_mut(bias.len())
        .zip(x.chunks_exact(bias.len()))
    {
        for ((o, &v), &b) in o.iter_mut().zip(xs).zip(bias) {
            o.write(v + b);
        }
    }
}

/// A row kernel: `(out, x, bias)` over whole rows.
type RowsFn = fn(&mut [MaybeUninit<f32>], &[f32], &[f32]);

/// Applies a row kernel to `x` (`[rows, bias.len()]`) in parallel row blocks.
/// `rows_fn` writes every element of its output block (whole rows, as long as its input).
fn map_rows(x: &Tensor, bias: &[f32], rows_fn: RowsFn) -> Result<Tensor> {
    let (rows, cols) = x.dims2()?;
    let out = with_f32(x, |x| {
        // SAFETY: the blocks tile the output and each row kernel writes its block in full.
        unsafe {
            filled(x.len(), |out| {
                out.par_chunks_mut(cols * ROWS_PER_TASK)
                    .zip(x.par_chunks(cols * ROWS_PER_TASK))
                    .for_each(|(o, x)| rows_fn(o, x, bias))
            })
        }
    })?;
    tensor(out, (rows, cols))
}

/// `gelu(x + bias)` for `x` of shape `[rows, bias.len()]`.
pub fn bias_gelu(x: &Tensor, bias: &[f32]) -> Result<Tensor> {
    map_rows(x, bias, bias_gelu_rows)
}

/// `x + bias` for `x` of shape `[rows, bias.len()]`.
pub fn add_bias(x: &Tensor, bias: &[f32]) -> Result<Tensor> {
    map_rows(x, bias, add_bias_rows)
}

/// Parameters of a layer norm.
pub struct NormParams<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub eps: f32,
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512bw+avx2+fma", "x86_64+avx2+fma"))]
fn residual_norm_rows(
    out: &mut [MaybeUninit<f32>],
    x: &[f32],
    res: &[f32],
    bias: &[f32],
    p: &NormParams,
) {
    let n = bias.len();
    for ((o, xs), rs) in out
        .chunks_exact_mut(n)
        .zip(x.chunks_exact(n))
        .zip(res.chunks_exact(n))
    {
        for (((o, &x), &b), &r) in o.iter_mut().zip(xs).zip(bias).zip(rs) {
            o.write(x + b + r);
        }
        // SAFETY: the loop above wrote the whole row.
        let o = unsafe { assume_init(o) };
        let mean = vmath::sum(o) / n as f32;
        for v in o.iter_mut() {
            *v -= mean;
        }
        let var = vmath::sum_squares(o) / n as f32;
        let inv = 1.0 / (var + p.eps).sqrt();
        for ((o, &g), &b) in o.iter_mut().zip(p.gamma).zip(p.beta) {
            *o = *o * inv * g + b;
        }
    }
}

/// `layer_norm(x + bias + residual)`, all `[rows, bias.len()]`, as BERT's output sublayers.
pub fn add_bias_residual_layer_norm(
    x: &Tensor,
    bias: &[f32],
    residual: &Tensor,
    params: &NormParams,
) -> Result<Tensor> {
    let (rows, cols) = x.dims2()?;
    let out = with_f32(x, |x| {
        with_f32(residual, |r| {
            // SAFETY: the blocks tile the output; each row is written in full.
            unsafe {
                filled(x.len(), |out| {
                    out.par_chunks_mut(cols * ROWS_PER_TASK)
                        .zip(x.par_chunks(cols * ROWS_PER_TASK))
                        .zip(r.par_chunks(cols * ROWS_PER_TASK))
                        .for_each(|((o, x), r)| residual_norm_rows(o, x, r, bias, params))
                })
            }
        })
    })??;
    tensor(out, (rows, cols))
}
