//! Clustering algorithms, metrics, keywords and projections on small cases with known answers
//! (reference values from scikit-learn 1.x where noted).

use trine_cluster::metrics::{ari, nmi, silhouette, v_measure, Metric};
use trine_cluster::{cluster, Algorithm, ClusterError, KMeansOptions};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("d{i}")).collect()
}

#[test]
fn external_metrics_match_scikit_learn() {
    // sklearn: homogeneity_completeness_v_measure, normalized_mutual_info_score,
    // adjusted_rand_score.
    let t = [0, 0, 0, 1, 1, 1];
    let p = [0, 0, 1, 1, 2, 2];
    let (h, c, v) = v_measure(&t, &p).unwrap();
    assert!(close(h, 0.6666666666666669) && close(c, 0.420619835714305));
    assert!(close(v, 0.5158037429793889));
    assert!(close(nmi(&t, &p).unwrap(), 0.5158037429793889));
    assert!(close(ari(&t, &p).unwrap(), 0.24242424242424243));
    let t2 = ["a", "a", "b", "b", "c", "c", "c"];
    let p2 = [1, 1, 1, 2, 2, 3, 3];
    assert!(close(v_measure(&t2, &p2).unwrap().2, 0.5636355530993447));
    assert!(close(ari(&t2, &p2).unwrap(), 0.2125));
    // Renaming clusters changes nothing; a perfect match scores 1.
    assert!(close(ari(&t, &[5, 5, 5, 9, 9, 9]).unwrap(), 1.0));
    assert!(close(v_measure(&t, &[1, 1, 1, 0, 0, 0]).unwrap().2, 1.0));
    assert!(matches!(
        ari(&t, &p[..5]),
        Err(ClusterError::Labels(m)) if m.contains("6 gold labels for 5")
    ));
}

#[test]
fn silhouette_matches_scikit_learn() {
    let x: Vec<f32> = [
        [0., 0.],
        [0., 1.],
        [1., 0.],
        [5., 5.],
        [5., 6.],
        [6., 5.],
        [6., 6.],
        [0., 5.],
    ]
    .concat();
    let l = [0, 0, 0, 1, 1, 1, 1, 0];
    let s = silhouette(&x, 2, &l, Metric::Euclidean, 10_000, 0).unwrap();
    assert!((s - 0.6922779343944223).abs() < 1e-6, "{s}");
    let shifted: Vec<f32> = x.iter().map(|v| v + 0.5).collect();
    let s = silhouette(&shifted, 2, &l, Metric::Cosine, 10_000, 0).unwrap();
    assert!((s - 0.1946746043261679).abs() < 1e-6, "{s}");
    assert!(silhouette(&x, 2, &[0; 8], Metric::Euclidean, 10_000, 0).is_err());
}

/// Three well-separated blobs around axis directions in 8-d, 30 points each.
fn blobs() -> (Vec<f32>, Vec<usize>) {
    let mut v = Vec::new();
    let mut truth = Vec::new();
    for c in 0..3 {
        for i in 0..30 {
            let mut p = [0f32; 8];
            p[c] = 10.0;
            for (d, x) in p.iter_mut().enumerate() {
                *x += (((i * 7 + d * 13 + c * 3) % 17) as f32 - 8.0) / 8.0;
            }
            v.extend_from_slice(&p);
            truth.push(c);
        }
    }
    (v, truth)
}

#[test]
fn kmeans_recovers_blobs_with_the_optimal_inertia() {
    let (v, truth) = blobs();
    for spherical in [false, true] {
        for mini_batch in [None, Some(32)] {
            let opts = KMeansOptions {
                k: 3,
                spherical,
                mini_batch,
                max_iter: if mini_batch.is_some() { 50 } else { 300 },
                ..KMeansOptions::default()
            };
            let c = cluster(&ids(90), &v, 8, &Algorithm::KMeans(opts)).unwrap();
            let pred: Vec<usize> = c.labels.iter().map(|l| l.unwrap()).collect();
            assert!(
                close(ari(&truth, &pred).unwrap(), 1.0),
                "{spherical} {mini_batch:?}"
            );
            assert!(c.scores.iter().all(|&s| s > 0.9));
        }
    }
    // Lloyd's inertia is the within-blob sum of squares around the blob means.
    let km = trine_cluster::kmeans::kmeans(
        &v,
        8,
        &KMeansOptions {
            k: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let mut expected = 0f64;
    for c in 0..3 {
        let rows: Vec<&[f32]> = v.chunks(8).skip(c * 30).take(30).collect();
        for d in 0..8 {
            let mean = rows.iter().map(|r| r[d] as f64).sum::<f64>() / 30.0;
            expected += rows
                .iter()
                .map(|r| (r[d] as f64 - mean).powi(2))
                .sum::<f64>();
        }
    }
    assert!(
        (km.inertia - expected).abs() < 1e-3 * expected,
        "{} vs {expected}",
        km.inertia
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let (v, _) = blobs();
    let km = |k| {
        Algorithm::KMeans(KMeansOptions {
            k,
            ..Default::default()
        })
    };
    assert!(matches!(
        cluster(&ids(90), &v, 8, &km(91)),
        Err(ClusterError::TooManyClusters { k: 91, n: 90 })
    ));
    assert!(matches!(
        cluster(&[], &[], 8, &km(2)),
        Err(ClusterError::Empty)
    ));
    let mut nan = v.clone();
    nan[8 * 5 + 2] = f32::NAN;
    let err = cluster(&ids(90), &nan, 8, &km(2)).unwrap_err();
    assert!(
        err.to_string().contains("vector 5 (id `d5`)") && err.to_string().contains("dimension 2"),
        "{err}"
    );
    assert!(matches!(
        cluster(&ids(90), &v[..700], 8, &km(2)),
        Err(ClusterError::Shape(_))
    ));
    assert!(matches!(
        cluster(&ids(90), &v, 8, &km(0)),
        Err(ClusterError::Invalid(_))
    ));
}

#[test]
fn agglomerative_cuts_average_linkage_at_the_threshold() {
    // Directions at 0°, 10°, 25° and 90°, 95° in the plane. Cosine distances: 0°–10° 0.0152,
    // 10°–25° 0.0341, 0°–25° 0.0937; 90°–95° 0.0038; the two groups are ≥ 0.58 apart.
    let pts: Vec<f32> = [0f32, 10., 25., 90., 95.]
        .iter()
        .flat_map(|deg| {
            let r = deg.to_radians();
            [r.cos(), r.sin()]
        })
        .collect();
    let c = cluster(
        &ids(5),
        &pts,
        2,
        &Algorithm::Agglomerative { threshold: 0.1 },
    )
    .unwrap();
    let l: Vec<usize> = c.labels.iter().map(|l| l.unwrap()).collect();
    assert_eq!(l, vec![0, 0, 0, 1, 1]);
    // Average linkage: {0°,10°} to 25° averages 0.0937 and 0.0341 = 0.0639 > 0.03.
    let c = cluster(
        &ids(5),
        &pts,
        2,
        &Algorithm::Agglomerative { threshold: 0.03 },
    )
    .unwrap();
    let l: Vec<usize> = c.labels.iter().map(|l| l.unwrap()).collect();
    assert_eq!(l, vec![0, 0, 1, 2, 2]);
    let c = cluster(
        &ids(5),
        &pts,
        2,
        &Algorithm::Agglomerative { threshold: 1.5 },
    )
    .unwrap();
    assert_eq!(c.k, 1);
}

#[test]
fn communities_take_largest_neighbourhoods_first_and_leave_noise() {
    // Four points near 0°, three near 60°, one alone at 180°.
    let pts: Vec<f32> = [0f32, 3., 6., 9., 60., 63., 66., 180.]
        .iter()
        .flat_map(|deg| {
            let r = deg.to_radians();
            [r.cos(), r.sin()]
        })
        .collect();
    let algo = Algorithm::Community {
        threshold: 0.95,
        min_size: 3,
    };
    let c = cluster(&ids(8), &pts, 2, &algo).unwrap();
    assert_eq!(c.labels_i64(), vec![0, 0, 0, 0, 1, 1, 1, -1]);
    assert_eq!(c.noise(), 1);
    let algo = Algorithm::Community {
        threshold: 0.95,
        min_size: 4,
    };
    let c = cluster(&ids(8), &pts, 2, &algo).unwrap();
    assert_eq!(c.labels_i64(), vec![0, 0, 0, 0, -1, -1, -1, -1]);
}

#[test]
fn ctfidf_prefers_words_specific_to_a_cluster() {
    let texts = [
        "rocket launch orbit the",
        "rocket orbit satellite",
        "pasta sauce the",
        "pasta recipe sauce orbit",
    ];
    let labels = [Some(0), Some(0), Some(1), Some(1)];
    let kw = trine_cluster::keywords::ctfidf(&texts, &labels, 2, 3);
    assert_eq!(kw[0][0].0, "rocket");
    assert_eq!(kw[1][0].0, "pasta");
    assert!(
        kw.iter().flatten().all(|(w, _)| w != "the"),
        "stop words dropped"
    );
    // rocket: 2 of the 6 words left in cluster 0; A = 6 words per cluster, f = 2:
    // 1/3 · ln(1 + 6/2).
    assert!((kw[0][0].1 - (1.0f64 + 3.0).ln() / 3.0).abs() < 1e-12);
}

#[test]
fn pca_recovers_the_axes_of_a_plane() {
    // Points a·u + b·w + offset with var(a) ≫ var(b) and a, b uncorrelated (a antisymmetric,
    // b symmetric about the middle): PC1 = ±(a − mean a), PC2 = ±(b − mean b).
    let u = [0.6f32, 0.8, 0.0];
    let w = [0.0f32, 0.0, 1.0];
    let ab: Vec<(f32, f32)> = (0..50)
        .map(|i| {
            let b = ((i.min(49 - i) * 7 % 11) as f32 - 5.0) * 0.3;
            ((i as f32 - 24.5) * 2.0, b)
        })
        .collect();
    let x: Vec<f32> = ab
        .iter()
        .flat_map(|&(a, b)| (0..3).map(move |d| a * u[d] + b * w[d] + 1.0))
        .collect();
    let p = trine_cluster::pca::pca(&x, 3, 2);
    let mb = ab.iter().map(|x| x.1).sum::<f32>() / 50.0;
    let s1 = (p[0] / ab[0].0).signum();
    let s2 = (p[1] / (ab[0].1 - mb)).signum();
    for (i, &(a, b)) in ab.iter().enumerate() {
        assert!((p[2 * i] - s1 * a).abs() < 1e-3, "pc1 {i}");
        assert!(
            (p[2 * i + 1] - s2 * (b - mb)).abs() < 1e-3,
            "pc2 {i}: {} vs {}",
            p[2 * i + 1],
            s2 * (b - mb)
        );
    }
}
