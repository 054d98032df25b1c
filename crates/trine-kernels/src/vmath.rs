//! Branch-free `exp` and `erf` on f32 that the compiler can vectorise inside loops.

/// e^x to about 2 ulp for x in [-87, 88] (Cephes `expf` polynomial); 0 below, +large above.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    let x = x.clamp(-87.3, 88.7);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // SAFETY: after the clamp, n lies in [-126, 128], so the conversion is exact and in range;
    // unlike `as`, it compiles to one vector instruction instead of a per-lane NaN check.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let scale = f32::from_bits(((n + 127) as u32) << 23);
    y * scale
}

/// erf(x) with absolute error below 2e-7 (Abramowitz & Stegun 7.1.26 form with the exp above).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_72) * t
        + 0.254_829_6)
        * t;
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

const LANES: usize = 16;

/// Maximum of a slice (−∞ when empty), with independent lanes so it vectorises.
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    tail.iter()
        .chain(acc.iter())
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Sum of a slice, with independent lanes so it vectorises.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

/// Dot product of two slices of equal length, lane-wise.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ (x − c)²`, lane-wise.
#[inline(always)]
pub fn sum_squared_deviations(x: &[f32], c: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| (v - c) * (v - c)).sum();
    for ch in chunks {
        for i in 0..LANES {
            acc[i] += (ch[i] - c) * (ch[i] - c);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Sum of squares of a slice, lane-wise.
#[inline(always)]
pub fn sum_squares(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i] * c[i];
        }
    }
    acc.iter().sum::<f32>() + tail.iter().map(|v| v * v).sum::<f32>()
}

/// GELU with the exact (erf) form BERT uses: x/2 · (1 + erf(x/√2)).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf64(x: f64) -> f64 {
        // Series / continued fraction free reference: integrate exp(-t^2) with Simpson's rule.
        let n = 20_000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        let mut worst = 0f64;
        for i in 0..=20_000 {
            let x = -87.0 + i as f32 * (87.0 + 10.0) / 20_000.0;
            let rel = ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp(-1000.0), 0.0_f32.max(exp(-1000.0)));
        assert!(exp(-1000.0) < 1e-37);
    }

    #[test]
    fn lane_reductions_match_sequential_ones() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        assert_eq!(max(&x), x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        assert!((sum(&x) - x.iter().sum::<f32>()).abs() < 1e-4);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
        let y: Vec<f32> = x.iter().map(|v| v * 0.5 + 3.0).collect();
        let want: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &y) - want).abs() < 1e-3 * want.abs());
        let want: f32 = x.iter().map(|v| (v - 2.5) * (v - 2.5)).sum();
        assert!((sum_squared_deviations(&x, 2.5) - want).abs() < 1e-3 * want);
    }

    #[test]
    fn erf_and_gelu_are_accurate() {
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let want = erf64(x as f64);
            assert!(
                (erf(x) as f64 - want).abs() < 3e-7,
                "erf({x}) = {} vs {want}",
                erf(x)
            );
            let g = 0.5 * x as f64 * (1.0 + erf64(x as f64 / 2f64.sqrt()));
            assert!((gelu(x) as f64 - g).abs() < 1e-6, "gelu({x})");
        }
        assert_eq!(gelu(-20.0), -0.0);
        assert!((gelu(20.0) - 20.0).abs() < 1e-6);
    }
}
