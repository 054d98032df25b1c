//! Map layouts and their quality figures against scikit-learn.

use trine_cluster::layout::{layout, neighbours_kept, trustworthiness, Layout};
use trine_cluster::vectors::normalize_rows;
use trine_index::synthetic::{unit_vectors, Shape};

/// 40 unit vectors in 5-D and a 2-D map of them, from formulas the Python reference repeats.
fn fixture() -> (Vec<f32>, Vec<f32>) {
    let (n, d) = (40, 5);
    let x: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..d).map(move |j| ((i as f64 * 1.3 + j as f64 * 0.7).sin() + 0.1 * j as f64) as f32)
        })
        .collect();
    let y: Vec<f32> = (0..n)
        .flat_map(|i| [(i as f64 * 0.4).cos() as f32, (i as f64 * 0.9).sin() as f32])
        .collect();
    (normalize_rows(&x, d), y)
}

#[test]
fn trustworthiness_and_neighbours_kept_match_scikit_learn() {
    // sklearn 1.9.1: trustworthiness(X, Y, n_neighbors=5) = 0.5840624999999999, and
    // trustworthiness(X, X[:, :2], 5) = 0.99546875; NearestNeighbors(5) overlap 0.06.
    let (x, y) = fixture();
    let t = trustworthiness(&x, 5, &y, 5).unwrap();
    assert!((t - 0.5840624999999999).abs() < 1e-9, "{t}");
    let first_two: Vec<f32> = x.chunks_exact(5).flat_map(|r| [r[0], r[1]]).collect();
    let t = trustworthiness(&x, 5, &first_two, 5).unwrap();
    assert!((t - 0.99546875).abs() < 1e-9, "{t}");
    let kept = neighbours_kept(&x, 5, &y, 5).unwrap();
    assert!((kept - 0.06).abs() < 1e-12, "{kept}");
    assert!(
        trustworthiness(&x, 5, &y[..10], 5).is_err(),
        "a map of the wrong size"
    );
    assert!(
        trustworthiness(&x, 5, &y, 20).is_err(),
        "k must stay below n / 2"
    );
}

#[test]
fn tsne_keeps_neighbourhoods_that_pca_loses() {
    // 400 points around 12 centres in 32-D: the first two principal components cannot
    // separate twelve groups, t-SNE can.
    let dim = 32;
    let unit = unit_vectors(
        400,
        dim,
        Shape::Clustered {
            centres: 12,
            spread: 0.35,
        },
        3,
    );
    let pca = layout(&unit, dim, Layout::Pca, &mut |_| {}).unwrap();
    let mut steps = 0;
    let tsne = layout(
        &unit,
        dim,
        Layout::Tsne {
            perplexity: 30.0,
            epochs: 500,
        },
        &mut |s| steps = s,
    )
    .unwrap();
    assert_eq!(steps, 500, "progress reports every step");
    assert_eq!(tsne.len(), 800);
    assert!(tsne.iter().all(|v| v.is_finite()));
    let (tp, tt) = (
        trustworthiness(&unit, dim, &pca, 10).unwrap(),
        trustworthiness(&unit, dim, &tsne, 10).unwrap(),
    );
    assert!(tt >= 0.9 && tt > tp, "t-SNE {tt} against PCA {tp}");
    let (kp, kt) = (
        neighbours_kept(&unit, dim, &pca, 10).unwrap(),
        neighbours_kept(&unit, dim, &tsne, 10).unwrap(),
    );
    assert!(kt > kp, "10-NN kept: t-SNE {kt}, PCA {kp}");
    // Too few points for the perplexity: the layout falls back to PCA instead of failing.
    let few = layout(&unit[..5 * dim], dim, Layout::tsne(), &mut |_| {}).unwrap();
    assert_eq!(
        few,
        layout(&unit[..5 * dim], dim, Layout::Pca, &mut |_| {}).unwrap()
    );
}
