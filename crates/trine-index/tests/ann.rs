//! The HNSW path against the exact scan: recall, exact scores, and staying whole through add,
//! delete and damage.

mod common;

use std::path::Path;

use trine_corpus::Document;
use trine_index::synthetic::{unit_vectors, Shape};
use trine_index::{
    AddPolicy, AnnPolicy, AnnSettings, BuildOptions, DenseMethod, Index, IndexError, ModelInfo,
};

const DIM: usize = 32;

fn model() -> ModelInfo {
    common::model(DIM)
}

fn docs(range: std::ops::Range<usize>) -> Vec<Document> {
    common::numbered_docs(range)
}

fn shape() -> Shape {
    Shape::Clustered {
        centres: 20,
        spread: 0.6,
    }
}

fn build(root: &Path, n: usize, policy: AnnPolicy) -> Index {
    let vectors = unit_vectors(n, DIM, shape(), 7);
    let options = BuildOptions {
        ann: policy,
        ..BuildOptions::default()
    };
    Index::build_with(root, &docs(0..n), &vectors, model(), &options).unwrap()
}

fn recall_at_10(index: &Index, queries: &[f32]) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for q in queries.chunks_exact(DIM) {
        let exact = index.search_dense_with(q, 10, DenseMethod::Exact).unwrap();
        let approx = index.search_dense_with(q, 10, DenseMethod::Ann).unwrap();
        for (row, score) in &approx {
            let same = exact.iter().find(|h| h.0 == *row);
            if let Some((_, s)) = same {
                assert_eq!(s, score, "ANN scores are the exact cosines");
            }
        }
        found += approx
            .iter()
            .filter(|h| exact.iter().any(|e| e.0 == h.0))
            .count();
        total += exact.len();
    }
    found as f64 / total as f64
}

#[test]
fn ann_recall_against_exact_and_policy_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), 4000, AnnPolicy::Always);
    assert_eq!(index.manifest().ann, Some(AnnSettings::default()));
    assert_eq!(index.ann().unwrap().len(), 4000);
    let queries = unit_vectors(100, DIM, shape(), 99);
    let recall = recall_at_10(&index, &queries);
    assert!(recall >= 0.95, "recall@10 {recall}");
    // Auto is the default: the graph answers; Exact still scans.
    let q = &queries[..DIM];
    assert_eq!(
        index.search_dense(q, 10).unwrap(),
        index.search_dense_with(q, 10, DenseMethod::Ann).unwrap()
    );

    let small = tempfile::tempdir().unwrap();
    let index = build(small.path(), 500, AnnPolicy::Auto);
    assert!(
        index.ann().is_none(),
        "small collections are scanned exactly"
    );
    assert!(matches!(
        index.search_dense_with(q, 10, DenseMethod::Ann),
        Err(IndexError::Shape { .. })
    ));
}

#[test]
fn add_extends_the_graph_and_delete_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build(root, 1000, AnnPolicy::Always);
    let extra = unit_vectors(50, DIM, Shape::Uniform, 3);
    let index = Index::add(root, &docs(1000..1050), &extra, &model(), AddPolicy::Reject).unwrap();
    assert_eq!(index.ann().unwrap().len(), 1050);
    // Each new vector finds itself first through the graph.
    for (i, v) in extra.chunks_exact(DIM).enumerate() {
        let hits = index.search_dense_with(v, 1, DenseMethod::Ann).unwrap();
        assert_eq!(index.document(hits[0].0).id, format!("doc{:05}", 1000 + i));
    }
    let gone: Vec<String> = (0..1000).step_by(2).map(|i| format!("doc{i:05}")).collect();
    let (index, removed) = Index::delete(root, &gone).unwrap();
    assert_eq!(removed, 500);
    assert_eq!(index.ann().unwrap().len(), 550);
    let queries = unit_vectors(50, DIM, shape(), 5);
    for q in queries.chunks_exact(DIM) {
        for (row, _) in index.search_dense_with(q, 10, DenseMethod::Ann).unwrap() {
            let id = &index.document(row).id;
            assert!(!gone.contains(id), "deleted {id} came back");
        }
    }
    assert!(recall_at_10(&index, &queries) >= 0.95);
    // A fusion change copies the graph into the new generation.
    let index = Index::set_default_fusion(root, trine_index::Fusion::Rrf { k: 20.0 }).unwrap();
    assert_eq!(index.ann().unwrap().len(), 550);
}

#[test]
fn missing_or_damaged_graph_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build(root, 300, AnnPolicy::Always);
    let current = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let graph = root.join(current.trim()).join("ann.usearch");
    let bytes = std::fs::read(&graph).unwrap();
    std::fs::write(&graph, &bytes[..bytes.len() / 2]).unwrap();
    let err = Index::open(root)
        .err()
        .expect("truncated graph must not open");
    assert!(err.to_string().contains("ann.usearch"), "{err}");
    std::fs::remove_file(&graph).unwrap();
    let err = Index::open(root)
        .err()
        .expect("missing graph must not open");
    assert!(
        matches!(err, IndexError::Missing { .. }) && err.to_string().contains("ann.usearch"),
        "{err}"
    );
}
