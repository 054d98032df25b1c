//! Synthetic unit vectors for benchmarks and tests of dense search.
//!
//! Real sentence embeddings are not uniform on the sphere: they gather around topics and vary
//! along far fewer directions than they have coordinates (a low intrinsic dimension). The
//! [`Shape::Latent`] generator mimics that (a random linear map of a low-dimensional Gaussian plus
//! isotropic noise, then normalised); [`Shape::Clustered`] puts Gaussian blobs around random
//! centres; [`Shape::Uniform`] is the worst case for any graph index, where every point is almost
//! equally far from every other.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// How the synthetic points are spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Uniform on the unit sphere.
    Uniform,
    /// `centres` Gaussian blobs; each coordinate of a point is its centre's plus noise of
    /// standard deviation `spread` (centres have coordinates of standard deviation 1).
    Clustered { centres: usize, spread: f32 },
    /// `W z + noise · e`: `z` standard normal in `dims` dimensions, `W` a fixed random
    /// `dim × dims` map, `e` standard normal in all `dim` coordinates.
    Latent { dims: usize, noise: f32 },
}

/// `n` unit vectors of width `dim`, row-major, the same for the same `seed`.
pub fn unit_vectors(n: usize, dim: usize, shape: Shape, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let gauss = |rng: &mut rand::rngs::StdRng| -> f32 { StandardNormal.sample(rng) };
    let centres: Vec<f32> = match shape {
        Shape::Uniform => Vec::new(),
        Shape::Clustered { centres, .. } => {
            (0..centres.max(1) * dim).map(|_| gauss(&mut rng)).collect()
        }
        Shape::Latent { dims, .. } => (0..dims.max(1) * dim).map(|_| gauss(&mut rng)).collect(),
    };
    let mut z = Vec::new();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let start = out.len();
        match shape {
            Shape::Uniform => out.extend((0..dim).map(|_| gauss(&mut rng))),
            Shape::Clustered { spread, .. } => {
                let c = rng.random_range(0..centres.len() / dim);
                let centre = &centres[c * dim..(c + 1) * dim];
                out.extend(centre.iter().map(|&x| x + spread * gauss(&mut rng)));
            }
            Shape::Latent { noise, .. } => {
                z.clear();
                z.extend((0..centres.len() / dim).map(|_| gauss(&mut rng)));
                for d in 0..dim {
                    let w = &centres[d * z.len()..(d + 1) * z.len()];
                    let x: f32 = w.iter().zip(&z).map(|(a, b)| a * b).sum();
                    out.push(x + noise * gauss(&mut rng));
                }
            }
        }
        let row = &mut out[start..];
        let norm = row
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    out
}
