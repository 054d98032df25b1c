//! Test support: compares candle's backward pass with central finite differences (in f64).

use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A `rows × cols` f64 variable with values uniform in [-1, 1), from `seed`.
pub fn random_var(rows: usize, cols: usize, seed: u64) -> Var {
    let mut rng = StdRng::seed_from_u64(seed);
    let v: Vec<f64> = (0..rows * cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Var::from_tensor(&Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()).unwrap()
}

/// Asserts that the gradient of `loss(inputs)` with respect to every input element matches
/// `(loss(x + h) − loss(x − h)) / 2h` within `tol` (absolute, or relative for large values).
pub fn check(inputs: &[Var], loss: impl Fn(&[Tensor]) -> Tensor, tol: f64) {
    let tensors: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let value = loss(&tensors);
    assert_eq!(value.dtype(), DType::F64);
    let grads = value.backward().unwrap();
    let h = 1e-6;
    for (k, var) in inputs.iter().enumerate() {
        let analytic: Vec<f64> = grads
            .get(var.as_tensor())
            .map(|g| g.flatten_all().unwrap().to_vec1().unwrap())
            .unwrap_or_else(|| vec![0.0; var.elem_count()]);
        let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for i in 0..base.len() {
            let at = |delta: f64| {
                let mut moved = base.clone();
                moved[i] += delta;
                let t = Tensor::from_vec(moved, var.shape(), &Device::Cpu).unwrap();
                let mut args = tensors.clone();
                args[k] = t;
                loss(&args).to_scalar::<f64>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            let scale = 1f64.max(numeric.abs());
            assert!(
                (numeric - analytic[i]).abs() <= tol * scale,
                "input {k} element {i}: backward {} vs finite difference {numeric}",
                analytic[i]
            );
        }
    }
}
