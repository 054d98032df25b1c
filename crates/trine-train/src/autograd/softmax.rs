//! Masked softmax + dropout over `[batch, heads, seq, seq]` scores as one op with its own
//! backward: the middle of the composed attention that `attention`'s tests check the fused op
//! against (test builds only).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;
use super::dropout::dropout_scales;
use trine_kernels::vmath;

struct SoftmaxDropout {
    /// Real (unpadded) length of each sequence of the batch.
    lengths: Vec<usize>,
    heads: usize,
    /// Drop probability and the seed of the masks (`None`: no dropout).
    dropout: Option<(f32, u64)>,
    /// Softmax output before dropout, kept for the backward pass.
    probs: Mutex<Option<Vec<f32>>>,
}

impl SoftmaxDropout {
    fn keep_scale(&self, row: usize, len: usize, out: &mut [f32]) {
        dropout_scales(self.dropout, row, len, out)
    }
}

impl CustomOp1 for SoftmaxDropout {
    fn name(&self) -> &'static str {
        "masked-softmax-dropout"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("attention scores must be contiguous".into()))?;
        let x = &storage.as_slice::<f32>()?[start..end];
        let dims = layout.shape().dims();
        let l = *dims.last().expect("scores have a last dimension");
        let per_seq = self.heads * l;
        let mut probs = vec![0f32; x.len()];
        let mut out = vec![0f32; x.len()];
        probs
            .par_chunks_mut(l)
            .zip(out.par_chunks_mut(l))
            .enumerate()
            .for_each(|(r, (p, o))| {
                let len = self.lengths[r / per_seq].clamp(1, l);
                let xr = &x[r * l..r * l + len];
                let max = vmath::max(xr);
                for (pj, &xj) in p.iter_mut().zip(xr) {
                    *pj = vmath::exp(xj - max);
                }
                let inv = 1.0 / vmath::sum(&p[..len]);
                p[..len].iter_mut().for_each(|v| *v *= inv);
                self.keep_scale(r, len, o);
                for (oj, &pj) in o[..len].iter_mut().zip(p.iter()) {
                    *oj *= pj;
                }
            });
        *self.probs.lock().expect("probs lock") = Some(probs);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let guard = self.probs.lock().expect("probs lock");
        let probs = guard
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("backward before forward".into()))?;
        let dims = grad_res.dims();
        let l = *dims.last().expect("last dimension");
        let per_seq = self.heads * l;
        let dx = contiguous_f32(grad_res, |g| {
            let mut dx = vec![0f32; g.len()];
            dx.par_chunks_mut(l).enumerate().for_each(|(r, d)| {
                let len = self.lengths[r / per_seq].clamp(1, l);
                let y = &probs[r * l..r * l + len];
                self.keep_scale(r, len, d);
                let gr = &g[r * l..r * l + len];
                let mut dot = 0f32;
                for j in 0..len {
                    d[j] *= gr[j];
                    dot += d[j] * y[j];
                }
                for j in 0..len {
                    d[j] = y[j] * (d[j] - dot);
                }
            });
            dx
        })?;
        Ok(Some(Tensor::from_vec(dx, dims, grad_res.device())?))
    }
}

/// Softmax over the last dimension of `scores` (`[batch, heads, seq, seq]`, f32, contiguous)
/// with keys at or beyond each sequence's length masked out, then dropout with probability `p`
/// from `seed` (`None`: no dropout). Differentiable.
pub(crate) fn masked_softmax_dropout(
    scores: &Tensor,
    lengths: &[usize],
    dropout: Option<(f32, u64)>,
) -> Result<Tensor> {
    let heads = scores.dim(1)?;
    scores.apply_op1_arc(std::sync::Arc::new(Box::new(SoftmaxDropout {
        lengths: lengths.to_vec(),
        heads,
        dropout: dropout.filter(|(p, _)| *p > 0.0),
        probs: Mutex::new(None),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    #[test]
    fn matches_composed_masked_softmax_and_its_gradient() {
        let (b, h, l) = (2, 3, 5);
        let v: Vec<f32> = (0..b * h * l * l)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let x =
            Var::from_tensor(&Tensor::from_vec(v, (b, h, l, l), &Device::Cpu).unwrap()).unwrap();
        let lengths = [5usize, 3];
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&n| (0..l).map(move |j| if j < n { 0.0 } else { -1e9 }))
            .collect();
        let bias = Tensor::from_vec(mask, (b, 1, 1, l), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(
            (0..b * h * l * l)
                .map(|i| (i % 7) as f32 - 3.0)
                .collect::<Vec<_>>(),
            (b, h, l, l),
            &Device::Cpu,
        )
        .unwrap();
        let reference =
            candle_nn::ops::softmax(&x.broadcast_add(&bias).unwrap(), D::Minus1).unwrap();
        let fused = masked_softmax_dropout(x.as_tensor(), &lengths, None).unwrap();
        let diff = (&reference - &fused)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
        let g1 = (reference * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (g1, g2) = (
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
        );
        let diff = (g1 - g2).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn dropout_is_seeded_and_scaled() {
        let x = Tensor::zeros((1, 2, 64, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
        let a = masked_softmax_dropout(&x, &[64], Some((0.25, 9))).unwrap();
        let b = masked_softmax_dropout(&x, &[64], Some((0.25, 9))).unwrap();
        let c = masked_softmax_dropout(&x, &[64], Some((0.25, 10))).unwrap();
        let va: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(va, b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_ne!(va, c.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let dropped = va.iter().filter(|&&v| v == 0.0).count() as f64 / va.len() as f64;
        assert!((dropped - 0.25).abs() < 0.03, "{dropped}");
        let kept = va.iter().find(|&&v| v > 0.0).unwrap();
        assert!((kept - (1.0 / 64.0) / 0.75).abs() < 1e-7);
    }
}
