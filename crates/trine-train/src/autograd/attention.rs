//! Multi-head self-attention for training in one op: `ctx = dropout(softmax(s·Q·Kᵀ + mask))·V`
//! per head, with the backward
//! `dV = Dᵀ·dC`, `dD = dC·Vᵀ`, `dP = dD ⊙ M`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`,
//! `dQ = s·dS·K`, `dK = s·dSᵀ·Q` (P the probabilities, M the dropout multipliers, D = P ⊙ M).
//!
//! Q, K and V stay in the projections' `[batch·seq, hidden]` layout (heads are column blocks,
//! read with a leading dimension of `hidden`), so no transposed copies are made; padding keys
//! and queries are never computed. Compared with candle's composed version, a training step
//! loses a dozen `[batch, heads, seq, seq]` tensors and their zero-filled gradients.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::dropout::dropout_scales;
use super::rows::mul_into;
use super::{contiguous_f32, storage_f32};
use trine_kernels::blas::{sgemm, Operand};
use trine_kernels::{vmath, FlushDenormals};

/// Shapes and settings of one attention call.
struct Attention {
    lengths: Vec<usize>,
    seq: usize,
    heads: usize,
    head_dim: usize,
    scale: f32,
    dropout: Option<(f32, u64)>,
    /// Probabilities `[batch, heads, seq, seq]` (first `len × len` of each block used), kept
    /// from the forward pass for the backward pass.
    probs: Mutex<Option<Vec<f32>>>,
}

/// `p ← softmax(scale · p)` and `d ← p ⊙ m` for one row (vectorised: outside a multiversioned
/// function, `floor` in `exp` became a libm call per element).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn softmax_dropout_row(p: &mut [f32], d: &mut [f32], m: &[f32], scale: f32) {
    p.iter_mut().for_each(|x| *x *= scale);
    let max = vmath::max(p);
    p.iter_mut().for_each(|x| *x = vmath::exp(*x - max));
    let inv = 1.0 / vmath::sum(p);
    p.iter_mut().for_each(|x| *x *= inv);
    d.iter_mut()
        .zip(p.iter())
        .zip(m)
        .for_each(|((dj, &pj), &mj)| *dj = pj * mj);
}

/// Softmax backward through dropout for one row: `g ← scale · p ⊙ (g⊙m − Σ g⊙m⊙p)`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn softmax_backward_row(g: &mut [f32], m: &[f32], p: &[f32], scale: f32) {
    g.iter_mut().zip(m).for_each(|(x, &mj)| *x *= mj);
    let dot: f32 = {
        let mut acc = [0f32; 16];
        for (cg, cp) in g.chunks(16).zip(p.chunks(16)) {
            for i in 0..cg.len() {
                acc[i] += cg[i] * cp[i];
            }
        }
        acc.iter().sum()
    };
    for (x, &pj) in g.iter_mut().zip(p) {
        *x = pj * (*x - dot) * scale;
    }
}

/// A head's column block of a `[rows, hidden]` matrix, starting at row `row0`.
fn block(data: &[f32], row0: usize, col: usize, hidden: usize, trans: bool) -> Operand<'_> {
    Operand {
        data: &data[row0 * hidden + col..],
        ld: hidden,
        trans,
    }
}

/// A contiguous `[rows, cols]` buffer as an operand.
fn dense(data: &[f32], cols: usize, trans: bool) -> Operand<'_> {
    Operand {
        data,
        ld: cols,
        trans,
    }
}

impl Attention {
    fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Row index of (batch row `b`, head `h`, query `i`) for the dropout hash.
    fn row(&self, b: usize, h: usize, i: usize) -> usize {
        (b * self.heads + h) * self.seq + i
    }

    /// Forward pass for batch row `b`: writes its `seq × hidden` block of `ctx` and its
    /// `heads × seq × seq` block of probabilities.
    fn forward_row(
        &self,
        b: usize,
        io: (&[f32], &[f32], &[f32]),
        ctx: &mut [f32],
        probs: &mut [f32],
    ) {
        let _flush = FlushDenormals::new();
        let (q, k, v) = io;
        let (l, hd, hidden) = (self.seq, self.head_dim, self.hidden());
        let len = self.lengths[b].clamp(1, l);
        let r0 = b * l;
        let mut d = vec![0f32; len * len];
        let mut m = vec![0f32; len];
        for h in 0..self.heads {
            let col = h * hd;
            let p = &mut probs[h * l * l..h * l * l + len * len];
            // SAFETY: p holds len × len floats.
            unsafe {
                sgemm(
                    len,
                    len,
                    hd,
                    block(q, r0, col, hidden, false),
                    block(k, r0, col, hidden, true),
                    p.as_mut_ptr(),
                    len,
                )
            };
            for (i, (pr, dr)) in p
                .chunks_exact_mut(len)
                .zip(d.chunks_exact_mut(len))
                .enumerate()
            {
                dropout_scales(self.dropout, self.row(b, h, i), len, &mut m);
                softmax_dropout_row(pr, dr, &m, self.scale);
            }
            // SAFETY: ctx rows are `hidden` wide; this head writes columns col..col+hd of the
            // first len rows of this batch row's block.
            unsafe {
                sgemm(
                    len,
                    hd,
                    len,
                    dense(&d, len, false),
                    block(v, r0, col, hidden, false),
                    ctx.as_mut_ptr().add(col),
                    hidden,
                )
            };
        }
    }

    /// Backward pass for batch row `b`: writes its blocks of `dq`, `dk` and `dv`.
    fn backward_row(
        &self,
        b: usize,
        io: (&[f32], &[f32], &[f32], &[f32]),
        probs: &[f32],
        grads: (&mut [f32], &mut [f32], &mut [f32]),
    ) {
        let _flush = FlushDenormals::new();
        let (q, k, v, dc) = io;
        let (dq, dk, dv) = grads;
        let (l, hd, hidden) = (self.seq, self.head_dim, self.hidden());
        let len = self.lengths[b].clamp(1, l);
        let r0 = b * l;
        let mut d = vec![0f32; len * len];
        let mut ds = vec![0f32; len * len];
        let mut m = vec![0f32; len];
        for h in 0..self.heads {
            let col = h * hd;
            let p = &probs[(b * self.heads + h) * l * l..][..len * len];
            for (i, (pr, dr)) in p.chunks_exact(len).zip(d.chunks_exact_mut(len)).enumerate() {
                dropout_scales(self.dropout, self.row(b, h, i), len, &mut m);
                mul_into(dr, pr, &m);
            }
            // SAFETY (all four products): destinations are len × len (ds) or the first len rows
            // of this head's columns in this batch row's block, rows `hidden` apart.
            unsafe {
                // dV = Dᵀ · dC
                sgemm(
                    len,
                    hd,
                    len,
                    dense(&d, len, true),
                    block(dc, 0, col, hidden, false),
                    dv.as_mut_ptr().add(col),
                    hidden,
                );
                // dD = dC · Vᵀ
                sgemm(
                    len,
                    len,
                    hd,
                    block(dc, 0, col, hidden, false),
                    block(v, r0, col, hidden, true),
                    ds.as_mut_ptr(),
                    len,
                );
            }
            for (i, (dsr, pr)) in ds
                .chunks_exact_mut(len)
                .zip(p.chunks_exact(len))
                .enumerate()
            {
                dropout_scales(self.dropout, self.row(b, h, i), len, &mut m);
                softmax_backward_row(dsr, &m, pr, self.scale);
            }
            unsafe {
                // dQ = s·dS · K
                sgemm(
                    len,
                    hd,
                    len,
                    dense(&ds, len, false),
                    block(k, r0, col, hidden, false),
                    dq.as_mut_ptr().add(col),
                    hidden,
                );
                // dK = s·dSᵀ · Q
                sgemm(
                    len,
                    hd,
                    len,
                    dense(&ds, len, true),
                    block(q, r0, col, hidden, false),
                    dk.as_mut_ptr().add(col),
                    hidden,
                );
            }
        }
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "self-attention"
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
        let q = storage_f32(s1, l1, self.name())?;
        let k = storage_f32(s2, l2, self.name())?;
        let v = storage_f32(s3, l3, self.name())?;
        let (l, hidden) = (self.seq, self.hidden());
        let batch = self.lengths.len();
        let mut ctx = vec![0f32; batch * l * hidden];
        let mut probs = vec![0f32; batch * self.heads * l * l];
        ctx.par_chunks_mut(l * hidden)
            .zip(probs.par_chunks_mut(self.heads * l * l))
            .enumerate()
            .for_each(|(b, (c, p))| self.forward_row(b, (q, k, v), c, p));
        *self.probs.lock().expect("probs lock") = Some(probs);
        Ok((CpuStorage::F32(ctx), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let guard = self.probs.lock().expect("probs lock");
        let probs = guard
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("backward before forward".into()))?;
        let (l, hidden) = (self.seq, self.hidden());
        let n = self.lengths.len() * l * hidden;
        let (mut dq, mut dk, mut dv) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        contiguous_f32(q, |q| {
            contiguous_f32(k, |k| {
                contiguous_f32(v, |v| {
                    contiguous_f32(grad_res, |dc| {
                        dq.par_chunks_mut(l * hidden)
                            .zip(dk.par_chunks_mut(l * hidden))
                            .zip(dv.par_chunks_mut(l * hidden))
                            .zip(dc.par_chunks(l * hidden))
                            .enumerate()
                            .for_each(|(b, (((dq, dk), dv), dc))| {
                                self.backward_row(b, (q, k, v, dc), probs, (dq, dk, dv))
                            })
                    })
                })
            })
        })????;
        let tensor = |g: Vec<f32>| Tensor::from_vec(g, q.shape(), q.device());
        Ok((Some(tensor(dq)?), Some(tensor(dk)?), Some(tensor(dv)?)))
    }
}

/// Self-attention over `q`, `k`, `v` (`[batch·seq, hidden]`, f32, CPU, the projections with
/// their biases), `heads` heads, each sequence attending only within its first `lengths[b]`
/// tokens; attention dropout with probability `p` from `seed` (`None`: none). Returns the
/// context `[batch·seq, hidden]` (zero at padding rows). Differentiable in `q`, `k` and `v`.
pub(crate) fn self_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    lengths: &[usize],
    heads: usize,
    dropout: Option<(f32, u64)>,
) -> Result<Tensor> {
    let (rows, hidden) = q.dims2()?;
    let seq = rows / lengths.len().max(1);
    let head_dim = hidden / heads;
    q.contiguous()?.apply_op3(
        &k.contiguous()?,
        &v.contiguous()?,
        Attention {
            lengths: lengths.to_vec(),
            seq,
            heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            dropout: dropout.filter(|(p, _)| *p > 0.0),
            probs: Mutex::new(None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{masked_softmax_dropout, max_diff};
    use candle_core::{Device, Var};

    /// candle's composed attention with the masked softmax + dropout op in the middle.
    fn composed(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        lengths: &[usize],
        heads: usize,
        dropout: Option<(f32, u64)>,
    ) -> Tensor {
        let (rows, hidden) = q.dims2().unwrap();
        let (b, hd) = (lengths.len(), hidden / heads);
        let l = rows / b;
        let split = |t: &Tensor| {
            t.reshape((b, l, heads, hd))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let scores = (split(q) * (1.0 / (hd as f64).sqrt()))
            .unwrap()
            .matmul(&split(k).t().unwrap())
            .unwrap();
        let probs =
            masked_softmax_dropout(&scores.contiguous().unwrap(), lengths, dropout).unwrap();
        let ctx = probs
            .matmul(&split(v))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((rows, hidden))
            .unwrap();
        // Padding query rows: the fused op leaves them at zero.
        let keep: Vec<f32> = lengths
            .iter()
            .flat_map(|&n| (0..l).map(move |i| if i < n { 1.0 } else { 0.0 }))
            .collect();
        let keep = Tensor::from_vec(keep, (rows, 1), q.device()).unwrap();
        ctx.broadcast_mul(&keep).unwrap()
    }

    #[test]
    fn matches_composed_attention_in_value_and_gradients() {
        let dev = Device::Cpu;
        let (b, l, heads, hidden) = (3, 7, 2, 8);
        let lengths = [7usize, 4, 1];
        let var = || Var::from_tensor(&Tensor::randn(0f32, 1.5, (b * l, hidden), &dev).unwrap());
        let (q, k, v) = (var().unwrap(), var().unwrap(), var().unwrap());
        let w = Tensor::randn(0f32, 1.0, (b * l, hidden), &dev).unwrap();
        for dropout in [None, Some((0.3f32, 77u64))] {
            let ours = self_attention(&q, &k, &v, &lengths, heads, dropout).unwrap();
            let reference = composed(&q, &k, &v, &lengths, heads, dropout);
            assert!(max_diff(&ours, &reference) < 1e-5, "{dropout:?}");
            let go = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let gr = (reference * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (name, t) in [("q", &q), ("k", &k), ("v", &v)] {
                let d = max_diff(go.get(t).unwrap(), gr.get(t).unwrap());
                assert!(d < 1e-4, "d{name} differs by {d} ({dropout:?})");
            }
        }
    }
}
