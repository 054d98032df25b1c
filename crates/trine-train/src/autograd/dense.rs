//! A fully connected layer as one autograd node: `y = drop(act(x·Wᵀ + b))`, with `act` the
//! identity or GELU (erf form) and `drop` dropout with a mask recomputed from (seed, row).
//! Backward, with `g = dy ⊙ mask ⊙ act'(x·Wᵀ + b)`: `dx = g·W`, `dW = gᵀ·x`, `db = Σ_rows g`.
//!
//! Composed from candle's matmul, transpose and broadcast add, a layer is three nodes, and each
//! node's gradient is zero-filled then added to; the bias gradient is a strided sum over rows on
//! one thread (perf of a SciFact training step: 8% in that sum, 15% in gradient zero-fill and
//! adds). Here all three products run as single-threaded MKL calls over row blocks in parallel.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::dropout::dropout_scales;
use super::gelu;
use super::rows::{add_assign, mul_assign};
use super::{contiguous_f32, storage_f32};
use trine_kernels::blas::{Element, Operand};
use trine_kernels::{assume_init, bf16_vec, filled};

/// Rows per parallel task (products for `y` and `dx`, bias-gradient partial sums); fixed, so
/// the order of the sums never changes and a resumed run repeats bit for bit.
const ROWS: usize = 128;
/// Output features per parallel task of the weight gradient.
const FEATURES: usize = 64;

/// The activation applied after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Identity,
    GeluErf,
}

struct Dense {
    activation: Activation,
    /// Matrix products on bf16-rounded operands with f32 accumulation (mixed precision).
    bf16: bool,
    dropout: Option<(f32, u64)>,
    /// `x·Wᵀ + b` before the activation, kept for its derivative (GELU only).
    pre: Mutex<Option<Vec<f32>>>,
}

/// `c[rows, n] = a[rows, k] · b` on the calling thread, `b` given as an operand.
///
/// # Safety
/// `c` must hold `rows × n` floats (with `rows = a.len() / k`).
unsafe fn product<T: Element>(
    c: &mut [MaybeUninit<f32>],
    a: &[T],
    k: usize,
    b: Operand<T>,
    n: usize,
) {
    let rows = a.len() / k;
    let a = Operand {
        data: a,
        ld: k,
        trans: false,
    };
    T::gemm(rows, n, k, a, b, c.as_mut_ptr().cast(), n);
}

/// `x·Wᵀ + b` for `x` `[rows, k]` and `W` `[n, k]`, over row blocks in parallel.
fn affine<T: Element>(x: &[T], w: &[T], b: &[f32], k: usize, n: usize) -> Vec<f32> {
    let rows = x.len() / k;
    let wt = Operand {
        data: w,
        ld: k,
        trans: true,
    };
    // SAFETY: the blocks tile the output and each product writes its block in full.
    unsafe {
        filled(rows * n, |out| {
            out.par_chunks_mut(ROWS * n)
                .zip(x.par_chunks(ROWS * k))
                .for_each(|(o, xs)| {
                    product(o, xs, k, wt, n);
                    for row in assume_init(o).chunks_exact_mut(n) {
                        add_assign(row, b);
                    }
                })
        })
    }
}

/// `(dx, dW) = (g·W, gᵀ·x)` for `g` `[rows, n]`, `W` `[n, k]`, `x` `[rows, k]`.
fn input_and_weight_grads<T: Element>(
    g: &[T],
    w: &[T],
    x: &[T],
    rows: usize,
    k: usize,
    n: usize,
) -> (Vec<f32>, Vec<f32>) {
    let w_op = Operand {
        data: w,
        ld: k,
        trans: false,
    };
    // SAFETY (both): the blocks tile the output and each product writes its block in full.
    let dx = unsafe {
        filled(rows * k, |dx| {
            dx.par_chunks_mut(ROWS * k)
                .zip(g.par_chunks(ROWS * n))
                .for_each(|(d, g)| product(d, g, n, w_op, k))
        })
    };
    let dw = unsafe {
        filled(n * k, |dw| {
            dw.par_chunks_mut(FEATURES * k)
                .enumerate()
                .for_each(|(block, d)| {
                    let first = block * FEATURES;
                    let features = d.len() / k;
                    let gt = Operand {
                        data: &g[first..],
                        ld: n,
                        trans: true,
                    };
                    let xs = Operand {
                        data: x,
                        ld: k,
                        trans: false,
                    };
                    T::gemm(features, k, rows, gt, xs, d.as_mut_ptr().cast(), k);
                })
        })
    };
    (dx, dw)
}

impl Dense {
    /// Dropout multipliers of row `row` into `scales` (length `n`).
    fn scales(&self, row: usize, scales: &mut [f32]) {
        dropout_scales(self.dropout, row, scales.len(), scales);
    }
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "dense"
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
        let w = storage_f32(s2, l2, self.name())?;
        let b = storage_f32(s3, l3, self.name())?;
        let (rows, k) = l1.shape().dims2()?;
        let (n, wk) = l2.shape().dims2()?;
        if wk != k || b.len() != n {
            candle_core::bail!(
                "dense: x {:?}, W {:?}, b {:?}",
                l1.shape(),
                l2.shape(),
                l3.shape()
            )
        }
        let gelu = self.activation == Activation::GeluErf;
        let mut pre = if self.bf16 {
            affine(&bf16_vec(x), &bf16_vec(w), b, k, n)
        } else {
            affine(x, w, b, k, n)
        };
        let mut out = if gelu {
            // SAFETY: `forward_into` writes each chunk in full.
            unsafe {
                filled(rows * n, |out| {
                    out.par_chunks_mut(ROWS * n)
                        .zip(pre.par_chunks(ROWS * n))
                        .for_each(|(o, p)| gelu::forward_into(o, p))
                })
            }
        } else {
            std::mem::take(&mut pre)
        };
        if self.dropout.is_some() {
            out.par_chunks_mut(ROWS * n)
                .enumerate()
                .for_each(|(block, o)| {
                    let mut scales = vec![0f32; n];
                    for (i, row) in o.chunks_exact_mut(n).enumerate() {
                        self.scales(block * ROWS + i, &mut scales);
                        mul_assign(row, &scales);
                    }
                });
        }
        if gelu {
            *self.pre.lock().expect("dense pre-activation lock") = Some(pre);
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (rows, k) = x.dims2()?;
        let n = w.dim(0)?;
        let pre = self.pre.lock().expect("dense pre-activation lock").take();
        let (dx, dw, db) = contiguous_f32(x, |x| {
            contiguous_f32(w, |w| {
                contiguous_f32(grad_res, |dy| {
                    self.backward(x, w, dy, pre.as_deref(), rows, k, n)
                })
            })
        })????;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (rows, k), dev)?),
            Some(Tensor::from_vec(dw, (n, k), dev)?),
            Some(Tensor::from_vec(db, b.shape(), dev)?),
        ))
    }
}

impl Dense {
    /// `(dx, dW, db)` from the output gradient `dy` `[rows, n]`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        pre: Option<&[f32]>,
        rows: usize,
        k: usize,
        n: usize,
    ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        if self.activation == Activation::GeluErf && pre.is_none() {
            candle_core::bail!("dense: backward without a forward pass")
        }
        // g = dy ⊙ mask ⊙ act'(pre), with per-block column sums for db.
        let transformed = self.dropout.is_some() || pre.is_some();
        let mut g_owned = Vec::new();
        let partials: Vec<Vec<f32>> = if transformed {
            // SAFETY: every block writes all of its rows.
            let mut partials = Vec::new();
            g_owned = unsafe {
                filled(rows * n, |g| {
                    partials = g
                        .par_chunks_mut(ROWS * n)
                        .zip(dy.par_chunks(ROWS * n))
                        .enumerate()
                        .map(|(block, (g, dy))| {
                            let g = assume_init_copy(g, dy);
                            self.transform_block(g, block, pre, n);
                            column_sums(g, n)
                        })
                        .collect()
                })
            };
            partials
        } else {
            dy.par_chunks(ROWS * n).map(|g| column_sums(g, n)).collect()
        };
        let g: &[f32] = if transformed { &g_owned } else { dy };
        let mut db = vec![0f32; n];
        for p in partials {
            db.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        let (dx, dw) = if self.bf16 {
            input_and_weight_grads(&bf16_vec(g), &bf16_vec(w), &bf16_vec(x), rows, k, n)
        } else {
            input_and_weight_grads(g, w, x, rows, k, n)
        };
        Ok((dx, dw, db))
    }

    /// Turns a block of `dy` rows (first row `block * ROWS`) into `g` in place.
    fn transform_block(&self, g: &mut [f32], block: usize, pre: Option<&[f32]>, n: usize) {
        if let Some(pre) = pre {
            let start = block * ROWS * n;
            let p = &pre[start..start + g.len()];
            gelu::backward_in_place(g, p);
        }
        if self.dropout.is_some() {
            let mut scales = vec![0f32; n];
            for (i, row) in g.chunks_exact_mut(n).enumerate() {
                self.scales(block * ROWS + i, &mut scales);
                mul_assign(row, &scales);
            }
        }
    }
}

/// Copies `src` into the uninitialised `dst` (same length) and returns it initialised.
fn assume_init_copy<'a>(dst: &'a mut [MaybeUninit<f32>], src: &[f32]) -> &'a mut [f32] {
    assert_eq!(dst.len(), src.len());
    // SAFETY: same length, distinct buffers; every element is then written.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<f32>(), src.len());
        assume_init(dst)
    }
}

/// Sums of each of the `n` columns over the rows of `g`.
fn column_sums(g: &[f32], n: usize) -> Vec<f32> {
    let mut sums = vec![0f32; n];
    for row in g.chunks_exact(n) {
        add_assign(&mut sums, row);
    }
    sums
}

/// `drop(act(x·Wᵀ + b))` for `x` `[rows, k]`, `weight` `[n, k]` and `bias` `[n]` (f32, CPU),
/// differentiable in all three; `dropout` is `(p, seed)`; `bf16` runs the three matrix
/// products on bf16-rounded operands (f32 accumulation, f32 results).
pub(crate) fn dense(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    activation: Activation,
    dropout: Option<(f32, u64)>,
    bf16: bool,
) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        Dense {
            activation,
            bf16,
            dropout: dropout.filter(|(p, _)| *p > 0.0),
            pre: Mutex::new(None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::max_diff;
    use candle_core::{Device, Var};

    /// candle's composed ops with the same dropout mask.
    fn reference(
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        activation: Activation,
        dropout: Option<(f32, u64)>,
    ) -> Tensor {
        let (rows, _) = x.dims2().unwrap();
        let n = w.dim(0).unwrap();
        let y = x.matmul(&w.t().unwrap()).unwrap().broadcast_add(b).unwrap();
        let y = match activation {
            Activation::Identity => y,
            Activation::GeluErf => y.gelu_erf().unwrap(),
        };
        let mut mask = vec![1f32; rows * n];
        for (row, m) in mask.chunks_exact_mut(n).enumerate() {
            dropout_scales(dropout, row, n, m);
        }
        (y * Tensor::from_vec(mask, (rows, n), &Device::Cpu).unwrap()).unwrap()
    }

    /// Gradients of `Σ up ⊙ a` and `Σ up ⊙ b` with respect to x, W and b: for each, the
    /// largest difference and the largest magnitude of `b`'s.
    fn gradient_gaps(
        a: Tensor,
        b: Tensor,
        up: &Tensor,
        vars: [(&'static str, &Var); 3],
    ) -> Vec<(&'static str, f32, f32)> {
        let ga = (a * up).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (b * up).unwrap().sum_all().unwrap().backward().unwrap();
        vars.into_iter()
            .map(|(name, v)| {
                let (x, r) = (ga.get(v).unwrap(), gb.get(v).unwrap());
                let scale = r
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                (name, max_diff(x, r), scale)
            })
            .collect()
    }

    fn check(rows: usize, k: usize, n: usize, activation: Activation, dropout: Option<(f32, u64)>) {
        let dev = Device::Cpu;
        let var = |shape: &[usize], std: f32| {
            Var::from_tensor(&Tensor::randn(0f32, std, shape, &dev).unwrap()).unwrap()
        };
        let (x, w, b) = (var(&[rows, k], 1.0), var(&[n, k], 0.2), var(&[n], 0.5));
        let up = Tensor::randn(0f32, 1.0, (rows, n), &dev).unwrap();
        let ours = dense(&x, &w, &b, activation, dropout, false).unwrap();
        let theirs = reference(&x, &w, &b, activation, dropout);
        assert!(
            max_diff(&ours, &theirs) < 1e-5,
            "value {}",
            max_diff(&ours, &theirs)
        );
        let vars = [("x", &x), ("W", &w), ("b", &b)];
        for (name, diff, scale) in gradient_gaps(ours, theirs, &up, vars) {
            assert!(
                diff < 1e-5 * scale.max(1.0),
                "d{name} differs by {diff} ({activation:?}, {dropout:?})"
            );
        }
    }

    #[test]
    fn matches_candles_composed_linear_in_value_and_gradients() {
        // More rows than one block, a ragged last block, features not a multiple of a task.
        check(300, 48, 70, Activation::Identity, None);
        check(300, 48, 70, Activation::Identity, Some((0.1, 7)));
        check(131, 64, 150, Activation::GeluErf, None);
        check(131, 64, 150, Activation::GeluErf, Some((0.25, 11)));
    }

    /// `t` with every value rounded to bf16.
    fn rounded(t: &Tensor) -> Tensor {
        t.to_dtype(candle_core::DType::BF16)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap()
    }

    /// bf16 products: the value is candle's f32 layer on bf16-rounded x and W (up to the order
    /// of the f32 sums), and the gradients stay within bf16's relative precision (2⁻⁸) of f32's.
    #[test]
    fn bf16_products_match_candle_on_rounded_inputs_and_f32_gradients_to_bf16_precision() {
        let dev = Device::Cpu;
        let (rows, k, n) = (300, 96, 130);
        let var = |shape: &[usize], std: f32| {
            Var::from_tensor(&Tensor::randn(0f32, std, shape, &dev).unwrap()).unwrap()
        };
        let (x, w, b) = (var(&[rows, k], 1.0), var(&[n, k], 0.2), var(&[n], 0.5));
        for activation in [Activation::Identity, Activation::GeluErf] {
            let ours = dense(&x, &w, &b, activation, Some((0.1, 5)), true).unwrap();
            let on_rounded = reference(&rounded(&x), &rounded(&w), &b, activation, Some((0.1, 5)));
            let diff = max_diff(&ours, &on_rounded);
            assert!(diff < 1e-4, "value differs by {diff} ({activation:?})");
            let up = Tensor::randn(0f32, 1.0, (rows, n), &dev).unwrap();
            let f32_out = dense(&x, &w, &b, activation, Some((0.1, 5)), false).unwrap();
            let vars = [("x", &x), ("W", &w), ("b", &b)];
            for (name, diff, scale) in gradient_gaps(ours, f32_out, &up, vars) {
                assert!(diff > 0.0 || name == "b", "d{name}: bf16 changed nothing");
                assert!(
                    diff < 2e-2 * scale,
                    "d{name} differs by {diff}, max |d{name}| {scale} ({activation:?})"
                );
            }
        }
    }

    #[test]
    fn dropout_zeroes_about_p_of_the_outputs_and_scales_the_rest() {
        let dev = Device::Cpu;
        let x = Tensor::ones((200, 8), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::ones((100, 8), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros(100, candle_core::DType::F32, &dev).unwrap();
        let y: Vec<f32> = dense(&x, &w, &b, Activation::Identity, Some((0.1, 3)), false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.1).abs() < 0.01, "dropped {dropped}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 8.0 / 0.9).abs() < 1e-4));
    }
}
