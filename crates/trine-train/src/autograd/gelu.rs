//! GELU in its exact (erf) form for the dense op, `gelu(x) = x · Φ(x)`, and its derivative
//! `gelu'(x) = Φ(x) + x · φ(x)` with `Φ(x) = (1 + erf(x/√2)) / 2` and `φ(x) = e^(−x²/2) / √(2π)`.

use std::mem::MaybeUninit;

use trine_kernels::vmath;

/// `gelu'(v)`.
#[inline(always)]
fn derivative(v: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + vmath::erf(v * std::f32::consts::FRAC_1_SQRT_2));
    let pdf = INV_SQRT_2PI * vmath::exp(-0.5 * v * v);
    cdf + v * pdf
}

/// Writes `gelu(x)` into the uninitialised `out` (same length).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn forward_into(out: &mut [MaybeUninit<f32>], x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(vmath::gelu(v));
    }
}

/// Multiplies the gradient `g` by `gelu'(x)` in place.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn backward_in_place(g: &mut [f32], x: &[f32]) {
    for (g, &v) in g.iter_mut().zip(x) {
        *g *= derivative(v);
    }
}
