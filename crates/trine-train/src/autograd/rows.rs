//! Element-wise row helpers, compiled for AVX-512 and AVX2 with run-time dispatch: the binary
//! targets baseline x86-64, so loops in plain functions only get SSE (perf of a training step:
//! 6% in SSE loops inside rayon closures).

/// `d ← p ⊙ m`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn mul_into(d: &mut [f32], p: &[f32], m: &[f32]) {
    for ((dj, &pj), &mj) in d.iter_mut().zip(p).zip(m) {
        *dj = pj * mj;
    }
}

/// `d ← d ⊙ m`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn mul_assign(d: &mut [f32], m: &[f32]) {
    d.iter_mut().zip(m).for_each(|(x, &y)| *x *= y);
}

/// `d ← d + a`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(super) fn add_assign(d: &mut [f32], a: &[f32]) {
    d.iter_mut().zip(a).for_each(|(x, &y)| *x += y);
}
