//! Multi-head self-attention over a fused QKV projection, one batch row per task.
//!
//! Padding keys and queries are never computed: row `b` only attends within its first
//! `lengths[b]` tokens, which is what the additive −∞ mask achieves in the reference formulation,
//! and context rows at padding positions are left at zero (pooling masks them out).
//!
//! The two products per head (`Q·Kᵀ`, `P·V`) run in f32, or in bf16 with f32 accumulation (AMX)
//! when the model runs in bf16; the softmax between them is always f32.

use multiversion::multiversion;
use rayon::prelude::*;

use super::blas::{Element, Operand};
use super::linear::to_bf16;
use super::{filled, tensor, vmath, with_f32, FlushDenormals, Format};
use candle_core::{Result, Tensor};

/// An element attention's products take, made from the f32 values around them.
trait Gathered: Element + Default {
    fn from_f32(v: f32) -> Self;
    /// `src` as this type: itself for f32, a rounded copy in `buf` otherwise.
    fn view<'a>(src: &'a [f32], buf: &'a mut Vec<Self>) -> &'a [Self];
}

impl Gathered for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    fn view<'a>(src: &'a [f32], _buf: &'a mut Vec<Self>) -> &'a [Self] {
        src
    }
}

impl Gathered for u16 {
    fn from_f32(v: f32) -> Self {
        to_bf16(v)
    }
    fn view<'a>(src: &'a [f32], buf: &'a mut Vec<Self>) -> &'a [Self] {
        buf.clear();
        buf.extend(src.iter().map(|&v| to_bf16(v)));
        buf
    }
}

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
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
fn gather<T: Gathered>(
    dst: &mut [T],
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
            *d = T::from_f32((s + bb) * scale);
        }
    }
}

/// Query rows per block: a block's scores (`QUERY_BLOCK × len`) stay in cache between the
/// product that makes them, the softmax, and the product that consumes them.
const QUERY_BLOCK: usize = 64;

/// Attention for one batch row of `len` tokens: writes columns `h*hd..(h+1)*hd` of the first
/// `len` rows of `out` (rows `hidden` wide) for every head `h`.
///
/// # Safety
/// `out` must address `len` rows of `hidden` writable floats, `hidden` apart.
unsafe fn attend_row<T: Gathered>(
    out: *mut f32,
    rows: &[f32],
    bias: &[f32],
    len: usize,
    shape: AttentionShape,
    scale: f32,
) {
    let _flush = FlushDenormals::new();
    let hd = shape.head_dim;
    let hidden = shape.heads * hd;
    let width = 3 * hidden;
    let mut q = vec![T::default(); len * hd];
    let mut k = vec![T::default(); len * hd];
    let mut v = vec![T::default(); len * hd];
    let mut s = vec![0f32; QUERY_BLOCK.min(len) * len];
    let mut p = Vec::new();
    for h in 0..shape.heads {
        gather(&mut q, rows, bias, width, h * hd, len, scale);
        gather(&mut k, rows, bias, width, hidden + h * hd, len, 1.0);
        gather(&mut v, rows, bias, width, 2 * hidden + h * hd, len, 1.0);
        let k_op = Operand {
            data: &k,
            ld: hd,
            trans: true,
        };
        let v_op = Operand {
            data: &v,
            ld: hd,
            trans: false,
        };
        for r0 in (0..len).step_by(QUERY_BLOCK) {
            let m = QUERY_BLOCK.min(len - r0);
            let q_op = Operand {
                data: &q[r0 * hd..],
                ld: hd,
                trans: false,
            };
            T::gemm(m, len, hd, q_op, k_op, s.as_mut_ptr(), len);
            softmax_rows(&mut s[..m * len], len);
            let s_op = Operand {
                data: T::view(&s[..m * len], &mut p),
                ld: len,
                trans: false,
            };
            T::gemm(
                m,
                hd,
                len,
                s_op,
                v_op,
                out.add(r0 * hidden + h * hd),
                hidden,
            );
        }
    }
}

/// `qkv` is `[batch*seq, 3*hidden]` (Q, K, V projections without bias), `bias` its `3*hidden`
/// bias; returns the attention context `[batch*seq, hidden]`. `format` bf16 runs the two
/// products per head in bf16 (int8 models keep attention in f32).
pub fn attention(
    qkv: &Tensor,
    bias: &[f32],
    lengths: &[usize],
    shape: AttentionShape,
    format: Format,
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
        // SAFETY: each batch row's chunk is written in full: every head writes its columns of
        // the first `len` rows, and the padding rows are zeroed.
        unsafe {
            filled(batch * seq * hidden, |ctx| {
                ctx.par_chunks_mut(seq * hidden)
                    .zip(qkv.par_chunks(seq * width))
                    .zip(lengths.par_iter())
                    .for_each(|((out, rows), &len)| {
                        for x in &mut out[len * hidden..] {
                            x.write(0.0);
                        }
                        let out = out.as_mut_ptr().cast::<f32>();
                        // Only MKL on AMX beats f32 for products this small.
                        if format == Format::Bf16 && super::bf16_path() == super::Bf16Path::Mkl {
                            attend_row::<u16>(out, rows, bias, len, shape, scale);
                        } else {
                            attend_row::<f32>(out, rows, bias, len, shape, scale);
                        }
                    })
            })
        }
    })?;
    tensor(ctx, (batch * seq, hidden))
}
