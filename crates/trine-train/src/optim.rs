//! AdamW with decoupled weight decay (as `torch.optim.AdamW`), the linear warm-up / decay
//! schedule of `transformers.get_linear_schedule_with_warmup`, and global gradient-norm clipping.

use std::collections::{BTreeMap, HashMap};

use candle_core::{Device, Tensor, Var};

use crate::Result;

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to weights but not to biases or layer-norm parameters
    /// (as sentence-transformers' `fit` groups them).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// First and second moment estimates of one parameter.
#[derive(Debug, Clone, Default)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimizer: settings, the step count and the per-parameter moments.
#[derive(Debug, Clone)]
pub struct AdamW {
    pub config: AdamWConfig,
    /// Updates made so far (for bias correction).
    pub steps: u64,
    state: BTreeMap<String, Moments>,
}

/// One parameter to update: its variable, gradient, learning rate and whether it decays.
pub struct Param<'a> {
    pub name: &'a str,
    pub var: &'a Var,
    pub grad: &'a [f32],
    pub lr: f64,
    pub decay: bool,
}

/// Whether a parameter name gets weight decay (not biases, not layer norms).
pub fn decays(name: &str) -> bool {
    !(name.ends_with("bias")
        || name.contains("LayerNorm")
        || name.ends_with("gamma")
        || name.ends_with("beta"))
}

impl AdamW {
    /// A fresh optimizer.
    pub fn new(config: AdamWConfig) -> Self {
        AdamW {
            config,
            steps: 0,
            state: BTreeMap::new(),
        }
    }

    /// One update of every parameter given.
    pub fn step(&mut self, params: &[Param]) -> Result<()> {
        self.steps += 1;
        let c = self.config;
        let t = self.steps as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        for p in params {
            let mut w: Vec<f32> = p.var.as_tensor().flatten_all()?.to_vec1()?;
            let st = self.state.entry(p.name.to_string()).or_default();
            if st.m.is_empty() {
                st.m = vec![0.0; w.len()];
                st.v = vec![0.0; w.len()];
            }
            let decay = if p.decay {
                1.0 - p.lr * c.weight_decay
            } else {
                1.0
            };
            let step = p.lr / bc1;
            let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
            for (((wi, &g), m), v) in w.iter_mut().zip(p.grad).zip(&mut st.m).zip(&mut st.v) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let denom = ((*v as f64 / bc2).sqrt() + c.eps) as f32;
                *wi = (*wi as f64 * decay) as f32 - (step as f32) * *m / denom;
            }
            p.var
                .set(&Tensor::from_vec(w, p.var.shape(), &Device::Cpu)?)?;
        }
        Ok(())
    }

    /// Moments as tensors named `m.NAME` / `v.NAME`, for checkpoints.
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (name, st) in &self.state {
            let len = st.m.len();
            out.insert(
                format!("m.{name}"),
                Tensor::from_vec(st.m.clone(), len, &Device::Cpu)?,
            );
            out.insert(
                format!("v.{name}"),
                Tensor::from_vec(st.v.clone(), len, &Device::Cpu)?,
            );
        }
        Ok(out)
    }

    /// Restores moments written by [`AdamW::state_tensors`] and the step count.
    pub fn restore(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        self.state.clear();
        self.steps = steps;
        for (key, t) in tensors {
            if let Some(name) = key.strip_prefix("m.") {
                let v = tensors.get(&format!("v.{name}")).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimizer state lacks v.{name}"))
                })?;
                self.state.insert(
                    name.to_string(),
                    Moments {
                        m: t.to_vec1()?,
                        v: v.to_vec1()?,
                    },
                );
            }
        }
        Ok(())
    }
}

/// Learning-rate factor at optimizer step `step` (0-based): linear warm-up from 0 over
/// `warmup` steps, then linear decay to 0 at `total` (transformers' linear schedule).
pub fn schedule(step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        step as f64 / warmup.max(1) as f64
    } else {
        ((total.saturating_sub(step)) as f64 / (total.saturating_sub(warmup)).max(1) as f64)
            .max(0.0)
    }
}

/// Scales all gradients together so their global L2 norm is at most `max_norm`; returns the norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut [&mut Vec<f32>], max_norm: f64) -> f64 {
    let norm = grads
        .iter()
        .map(|g| g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = (max_norm / (norm + 1e-6)) as f32;
        for g in grads.iter_mut() {
            g.iter_mut().for_each(|x| *x *= scale);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adamw_step_moves_each_weight_by_lr() {
        // Bias-corrected first step: m̂ = g, v̂ = g², so the update is lr · g / (|g| + eps).
        let var = Var::from_tensor(&Tensor::new(&[1f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let mut opt = AdamW::new(AdamWConfig {
            weight_decay: 0.1,
            ..Default::default()
        });
        let grad = [0.5f32, -3.0];
        opt.step(&[Param {
            name: "w",
            var: &var,
            grad: &grad,
            lr: 0.01,
            decay: true,
        }])
        .unwrap();
        let w: Vec<f32> = var.as_tensor().to_vec1().unwrap();
        let expect = [1.0 * (1.0 - 0.001) - 0.01, -2.0 * (1.0 - 0.001) + 0.01];
        for (a, b) in w.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        assert_eq!(schedule(0, 10, 100), 0.0);
        assert_eq!(schedule(5, 10, 100), 0.5);
        assert_eq!(schedule(10, 10, 100), 1.0);
        assert_eq!(schedule(55, 10, 100), 0.5);
        assert_eq!(schedule(100, 10, 100), 0.0);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut a = vec![3.0f32];
        let mut b = vec![4.0f32];
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 1.0);
        assert_eq!(norm, 5.0);
        assert!((a[0] - 0.6).abs() < 1e-5 && (b[0] - 0.8).abs() < 1e-5);
    }

    #[test]
    fn decay_excludes_bias_and_layer_norm() {
        assert!(decays("encoder.layer.0.attention.self.query.weight"));
        assert!(!decays("encoder.layer.0.attention.self.query.bias"));
        assert!(!decays("embeddings.LayerNorm.weight"));
    }
}
