//! Multi-head self-attention over a fused QKV projection, one batch row per task.
//!
//! Padding keys and queries are never computed: row `b` only attends within its first
//! `lengths[b]` tokens, which is what the additive −∞ mask achieves in the reference formulation,
//! and context rows at padding positions are left at zero (pooling masks them out).

use gemm::{gemm, Parallelism};
use multiversion::multiversion;
use rayon::prelude::*;

use super::{tensor, vmath, with_f32};
use candle_core::{Result, Tensor};

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionShape {
    pub batch: usize,
    pub seq: usize,
    pub heads: usize,
    pub head_dim: usize,
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512bw+avx2+fma", "x86_64+avx2+fma"))]
fn softmax_rows(scores: &mut [f32], n: usize) {
    // Separate passes with lane-wise reductions, so that each loop vectorises.
    for row in scores.chunks_exact_mut(n) {
        let max = vmath::max(row);
        for v in row.iter_mut() {
            *v = vmath::exp(*v - max);
        }
        let inv = 1.0 / vmath::sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// Copies head `h`'s slice of Q, K or V (with bias, times `scale`) for the first `len` tokens
/// into a contiguous `[len, head_dim]` buffer.
fn gather(
    dst: &mut [f32],
    qkv: &[f32],
    bias: &[f32],
    row_width: usize,
    col: usize,
    len: usize,
    scale: f32,
) {
    let hd = dst.len() / len.max(1);
    for i in 0..len {
        let src = &qkv[i * row_width + col..i * row_width + col + hd];
        let b = &bias[col..col + hd];
        for ((d, &s), &bb) in dst[i * hd..(i + 1) * hd].iter_mut().zip(src).zip(b) {
            *d = (s + bb) * scale;
        }
    }
}

/// `qkv` is `[batch*seq, 3*hidden]` (Q, K, V projections without bias), `bias` its `3*hidden`
/// bias; returns the attention context `[batch*seq, hidden]`.
pub(crate) fn attention(
    qkv: &Tensor,
    bias: &[f32],
    lengths: &[usize],
    shape: AttentionShape,
) -> Result<Tensor> {
    let AttentionShape {
        batch,
        seq,
        heads,
        head_dim: hd,
    } = shape;
    let hidden = heads * hd;
    let width = 3 * hidden;
    let scale = 1.0 / (hd as f32).sqrt();
    let ctx = with_f32(qkv, |qkv| {
        let mut ctx = vec![0f32; batch * seq * hidden];
        ctx.par_chunks_mut(seq * hidden)
            .zip(qkv.par_chunks(seq * width))
            .zip(lengths.par_iter())
            .for_each(|((out, rows), &len)| {
                let mut q = vec![0f32; len * hd];
                let mut k = vec![0f32; len * hd];
                let mut v = vec![0f32; len * hd];
                let mut s = vec![0f32; len * len];
                for h in 0..heads {
                    gather(&mut q, rows, bias, width, h * hd, len, scale);
                    gather(&mut k, rows, bias, width, hidden + h * hd, len, 1.0);
                    gather(&mut v, rows, bias, width, 2 * hidden + h * hd, len, 1.0);
                    // SAFETY: every pointer/stride pair below addresses only inside its buffer:
                    // q, k, v are [len, hd] row-major, s is [len, len], and out rows are `hidden`
                    // wide with this head's columns at h*hd .. h*hd+hd, for the first len rows.
                    unsafe {
                        // s = q · kᵀ
                        gemm(
                            len,
                            len,
                            hd,
                            s.as_mut_ptr(),
                            1,
                            len as isize,
                            false,
                            q.as_ptr(),
                            1,
                            hd as isize,
                            k.as_ptr(),
                            hd as isize,
                            1,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            Parallelism::None,
                        );
                    }
                    softmax_rows(&mut s, len);
                    unsafe {
                        // out[:, h] = s · v
                        gemm(
                            len,
                            hd,
                            len,
                            out.as_mut_ptr().add(h * hd),
                            1,
                            hidden as isize,
                            false,
                            s.as_ptr(),
                            1,
                            len as isize,
                            v.as_ptr(),
                            1,
                            hd as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            Parallelism::None,
                        );
                    }
                }
            });
        ctx
    })?;
    tensor(ctx, (batch * seq, hidden))
}
