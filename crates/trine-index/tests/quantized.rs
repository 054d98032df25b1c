//! Indexes whose dense search scans an int8 or binary copy of the vectors first and rescores the
//! best candidates in f32: the same hits as the exact scan when the candidates cover the true
//! top k, the codes kept through add and delete, and a damaged file named when the index opens.

mod common;

use std::path::Path;

use trine_corpus::Document;
use trine_index::quantized::{QuantizedSettings, VectorFormat};
use trine_index::synthetic::{unit_vectors, Shape};
use trine_index::{AddPolicy, AnnPolicy, BuildOptions, DenseMethod, Index, IndexError, ModelInfo};

const DIM: usize = 384;

fn model() -> ModelInfo {
    common::model(DIM)
}

fn docs(range: std::ops::Range<usize>) -> Vec<Document> {
    common::numbered_docs(range)
}

/// Shaped like real sentence embeddings (as `examples/ann_bench.rs` matches them to SciFact's).
fn shape() -> Shape {
    Shape::Latent {
        dims: 38,
        noise: 1.0,
    }
}

fn build(root: &Path, n: usize, format: VectorFormat, rescore: usize) -> Index {
    let vectors = unit_vectors(n, DIM, shape(), 11);
    let options = BuildOptions {
        quantized: Some(QuantizedSettings { format, rescore }),
        ann: AnnPolicy::Never,
        ..BuildOptions::default()
    };
    Index::build_with(root, &docs(0..n), &vectors, model(), &options).unwrap()
}

/// Share of the exact top 10 the default (quantised) path finds, asserting its scores are the
/// exact cosines.
fn recall_at_10(index: &Index, queries: &[f32]) -> f64 {
    let mut found = 0;
    for q in queries.chunks_exact(DIM) {
        let exact = index.search_dense_with(q, 10, DenseMethod::Exact).unwrap();
        let got = index.search_dense(q, 10).unwrap();
        for (row, score) in &got {
            if let Some((_, s)) = exact.iter().find(|h| h.0 == *row) {
                assert_eq!(s, score, "rescored scores are the exact cosines");
            }
        }
        found += got
            .iter()
            .filter(|h| exact.iter().any(|e| e.0 == h.0))
            .count();
    }
    found as f64 / (queries.len() / DIM * 10) as f64
}

/// `n` of the index's own vectors, each moved by noise a third of its length and renormalised:
/// queries whose nearest document is known (the one they came from).
fn near_duplicates(index: &Index, n: usize) -> Vec<f32> {
    let noise = unit_vectors(n, DIM, Shape::Uniform, 17);
    (0..n)
        .flat_map(|i| {
            let v: Vec<f32> = index
                .vector(i * 7)
                .iter()
                .zip(&noise[i * DIM..(i + 1) * DIM])
                .map(|(x, e)| x + e / 3.0)
                .collect();
            trine_index::dense::unit(&v)
        })
        .collect()
}

#[test]
fn quantised_first_pass_finds_the_exact_top_k() {
    for (format, rescore, ratio) in [(VectorFormat::Int8, 40, 4), (VectorFormat::Binary, 100, 32)] {
        let dir = tempfile::tempdir().unwrap();
        let index = build(dir.path(), 3000, format, rescore);
        let codes = index.quantized().unwrap();
        assert_eq!((codes.format(), codes.rows()), (format, 3000));
        let f32_bytes = 3000 * DIM * 4;
        assert!(
            codes.memory_bytes() * ratio <= f32_bytes + 8 * DIM * ratio,
            "{format:?}: {} bytes for {f32_bytes} of f32",
            codes.memory_bytes()
        );
        // Every near duplicate finds its source first, through the quantised pass.
        let queries = near_duplicates(&index, 50);
        for (i, q) in queries.chunks_exact(DIM).enumerate() {
            assert_eq!(index.search_dense(q, 1).unwrap()[0].0, i * 7, "{format:?}");
        }
        // Rescoring every row is the exact scan.
        let every = tempfile::tempdir().unwrap();
        let all = build(every.path(), 3000, format, 3000);
        let q = &queries[..DIM];
        assert_eq!(
            all.search_dense(q, 10).unwrap(),
            all.search_dense_with(q, 10, DenseMethod::Exact).unwrap()
        );
    }
    // int8's error is small enough that 40 candidates hold the exact top 10 of queries drawn
    // from the same distribution, where neighbours barely stand out (1.0 measured here).
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), 3000, VectorFormat::Int8, 40);
    let recall = recall_at_10(&index, &unit_vectors(50, DIM, shape(), 5));
    assert!(recall >= 0.99, "int8 recall@10 {recall}");
}

/// The binary pass ranks rows by the number of coordinates whose sign differs from the query's,
/// counted here directly on the f32 values.
#[test]
fn binary_candidates_are_the_hamming_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), 500, VectorFormat::Binary, 20);
    let codes = index.quantized().unwrap();
    let q = &unit_vectors(1, DIM, shape(), 23)[..];
    let mut by_hand: Vec<(usize, usize)> = (0..500)
        .map(|r| {
            let v = index.vector(r);
            let differ = v
                .iter()
                .zip(q)
                .filter(|(a, b)| (**a > 0.0) != (**b > 0.0))
                .count();
            (differ, r)
        })
        .collect();
    by_hand.sort();
    let want: Vec<usize> = by_hand[..20].iter().map(|&(_, r)| r).collect();
    assert_eq!(codes.candidates(q, 20, |r| r), want);
}

#[test]
fn add_and_delete_recode_the_new_generation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build(root, 500, VectorFormat::Int8, 50);
    let extra = unit_vectors(20, DIM, Shape::Uniform, 3);
    let index = Index::add(root, &docs(500..520), &extra, &model(), AddPolicy::Reject).unwrap();
    assert_eq!(index.quantized().unwrap().rows(), 520);
    assert_eq!(
        index.manifest().quantized.unwrap().format,
        VectorFormat::Int8
    );
    for (i, v) in extra.chunks_exact(DIM).enumerate() {
        let hits = index.search_dense(v, 1).unwrap();
        assert_eq!(index.document(hits[0].0).id, format!("doc{:05}", 500 + i));
    }
    let gone: Vec<String> = (0..500).step_by(2).map(|i| format!("doc{i:05}")).collect();
    let (index, _) = Index::delete(root, &gone).unwrap();
    assert_eq!(index.quantized().unwrap().rows(), 270);
}

#[test]
fn a_damaged_quantised_file_is_named_when_the_index_opens() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build(root, 100, VectorFormat::Binary, 20);
    let gen = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let file = root.join(gen.trim()).join("vectors.q");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 8]).unwrap();
    match Index::open(root) {
        Err(IndexError::Corrupt { path, message }) => {
            assert_eq!(path, file);
            assert!(message.contains("expected"), "{message}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a truncated vectors.q opened"),
    }
}
