//! Indexes of chunked documents with hand-made vectors: a document's dense score is its best
//! chunk's (or their mean), hits name the chunk, and add / delete / damage keep the chunk map
//! whole.

use std::path::Path;

use trine_corpus::Document;
use trine_index::synthetic::{unit_vectors, Shape};
use trine_index::{
    Aggregate, AnnPolicy, BuildOptions, ChunkMap, ChunkSettings, DenseMethod, Index, Mode,
    ModelInfo,
};

fn model() -> ModelInfo {
    ModelInfo {
        name: "toy".into(),
        fingerprint: "c".repeat(64),
        dim: 2,
        ..Default::default()
    }
}

fn doc(id: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: String::new(),
        text: text.into(),
    }
}

fn settings(aggregate: Aggregate) -> ChunkSettings {
    ChunkSettings {
        tokens: 8,
        overlap: 2,
        aggregate,
    }
}

/// d1: one chunk at 0°; d2: chunks at 90° and 30°; d3: chunks at 60°, 60° and 180°.
fn corpus() -> (Vec<Document>, Vec<f32>, ChunkMap) {
    let docs = vec![
        doc("d1", "alpha"),
        doc("d2", "beta gamma"),
        doc("d3", "delta epsilon zeta"),
    ];
    let deg = |d: f32| [d.to_radians().cos(), d.to_radians().sin()];
    let vectors: Vec<f32> = [0.0, 90.0, 30.0, 60.0, 60.0, 180.0]
        .iter()
        .flat_map(|&d| deg(d))
        .collect();
    let map = ChunkMap::new(&[
        vec![(0, 5)],
        vec![(0, 4), (5, 10)],
        vec![(0, 5), (6, 13), (14, 18)],
    ])
    .unwrap();
    (docs, vectors, map)
}

fn build(root: &Path, aggregate: Aggregate) -> Index {
    let (docs, vectors, map) = corpus();
    let options = BuildOptions {
        chunking: Some((settings(aggregate), &map)),
        ..Default::default()
    };
    Index::build_with(root, &docs, &vectors, model(), &options).unwrap()
}

fn ranked(index: &Index, hits: &[(usize, f32)]) -> Vec<(String, f32)> {
    hits.iter()
        .map(|&(r, s)| (index.document(r).id.clone(), (s * 1e4).round() / 1e4))
        .collect()
}

#[test]
fn maxp_scores_a_document_by_its_best_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(&dir.path().join("idx"), Aggregate::Max);
    // Query at 0°: d1 cos 0° = 1; d2 best chunk 30° → 0.8660; d3 best chunk 60° → 0.5.
    let hits = index.search_dense(&[1.0, 0.0], 3).unwrap();
    assert_eq!(
        ranked(&index, &hits),
        [("d1".into(), 1.0), ("d2".into(), 0.866), ("d3".into(), 0.5)]
    );
    let best = index.best_chunk(&[1.0, 0.0], 1).unwrap();
    assert_eq!((best.chunk, best.span), (1, (5, 10)));
    assert_eq!(index.manifest().chunking, Some(settings(Aggregate::Max)));
}

#[test]
fn mean_scores_a_document_by_the_average_of_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(&dir.path().join("idx"), Aggregate::Mean);
    // Query at 90°: d1 0; d2 (1 + 0.5) / 2 = 0.75; d3 (0.8660 + 0.8660 + 0) / 3 = 0.5774.
    let hits = index.search_dense(&[0.0, 1.0], 3).unwrap();
    assert_eq!(
        ranked(&index, &hits),
        [
            ("d2".into(), 0.75),
            ("d3".into(), 0.5774),
            ("d1".into(), 0.0)
        ]
    );
    // Hybrid search scores its lexical-only candidates the same way.
    let fused = index
        .search(
            Mode::Hybrid,
            "epsilon",
            &[0.0, 1.0],
            3,
            3,
            Default::default(),
        )
        .unwrap();
    let d3 = fused.iter().find(|h| h.row == 2).unwrap();
    assert!((d3.dense_score - 0.5774).abs() < 1e-4, "{}", d3.dense_score);
}

#[test]
fn add_and_delete_carry_each_documents_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    build(&root, Aggregate::Max);
    let (index, removed) = Index::delete(&root, &["d2".into()]).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(index.chunks().unwrap().len(), 4);
    let hits = index.search_dense(&[1.0, 0.0], 2).unwrap();
    assert_eq!(
        ranked(&index, &hits),
        [("d1".into(), 1.0), ("d3".into(), 0.5)]
    );
    drop(index);

    let new = [doc("d4", "eta theta")];
    let map = ChunkMap::new(&[vec![(0, 3), (4, 9)]]).unwrap();
    let vectors = [0.0, -1.0, 0.6, 0.8];
    let index = Index::add_chunked(
        &root,
        &new,
        &vectors,
        Some(&map),
        &model(),
        trine_index::AddPolicy::Reject,
    )
    .unwrap();
    // Query at 53.13° (0.6, 0.8): d4's second chunk is the query itself.
    let hits = index.search_dense(&[0.6, 0.8], 1).unwrap();
    assert_eq!(ranked(&index, &hits), [("d4".into(), 1.0)]);
    assert_eq!(
        index.best_chunk(&[0.6, 0.8], hits[0].0).unwrap().span,
        (4, 9)
    );
    drop(index);

    let err = Index::add(
        &root,
        &[doc("d5", "iota")],
        &[1.0, 0.0],
        &model(),
        trine_index::AddPolicy::Reject,
    )
    .err()
    .expect("an unsplit document in a chunked index")
    .to_string();
    assert!(
        err.contains("splits documents into chunks of 8 tokens"),
        "{err}"
    );
}

#[test]
fn a_damaged_chunk_map_is_named_when_the_index_opens() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    build(&root, Aggregate::Max);
    let generation = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let path = root.join(generation.trim()).join("chunks.bin");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let err = Index::open(&root).err().unwrap().to_string();
    assert!(
        err.contains("chunks.bin") && err.contains("corrupt index"),
        "{err}"
    );
}

#[test]
fn ann_over_chunks_finds_what_the_exact_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    let n = 300;
    let per_doc: Vec<Vec<(u32, u32)>> = (0..n).map(|i| vec![(0, 1); 1 + i % 3]).collect();
    let map = ChunkMap::new(&per_doc).unwrap();
    let vectors = unit_vectors(
        map.len(),
        dim,
        Shape::Clustered {
            centres: 10,
            spread: 0.6,
        },
        3,
    );
    let docs: Vec<Document> = (0..n).map(|i| doc(&format!("doc{i:04}"), "x")).collect();
    let options = BuildOptions {
        ann: AnnPolicy::Always,
        chunking: Some((settings(Aggregate::Max), &map)),
        ..Default::default()
    };
    let info = ModelInfo { dim, ..model() };
    let index =
        Index::build_with(&dir.path().join("idx"), &docs, &vectors, info, &options).unwrap();
    let queries = unit_vectors(
        20,
        dim,
        Shape::Clustered {
            centres: 10,
            spread: 0.6,
        },
        11,
    );
    let mut same = 0;
    for q in queries.chunks_exact(dim) {
        let exact = index.search_dense_with(q, 10, DenseMethod::Exact).unwrap();
        let ann = index.search_dense_with(q, 10, DenseMethod::Ann).unwrap();
        same += ann.iter().filter(|h| exact.contains(h)).count();
    }
    assert!(same >= 190, "{same} of 200 ANN hits match the exact scan");
}
