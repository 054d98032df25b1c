//! Mining over a real index (tantivy + vectors on disk) with hand-placed vectors, so every
//! dense score, and with it every guard's decision, is known in advance.

use std::collections::HashMap;

use trine_corpus::beir::{Qrels, Query, Split};
use trine_corpus::Document;
use trine_index::{Index, Mode, ModelInfo};
use trine_train::mine::{mine, MineOptions, PositiveChoice, Sampling};

/// Six documents whose cosines with the query (1, 0) are those given; the query judges d0
/// (grade 2), d1 (grade 1) and d2 (grade 0).
fn setup(dir: &std::path::Path) -> (Index, Split, Vec<f32>) {
    let cosines = [0.9f32, 0.5, 0.95, 0.8, 0.4, 0.1];
    let docs: Vec<Document> = (0..6)
        .map(|i| Document {
            id: format!("d{i}"),
            title: String::new(),
            text: format!("document number {i}"),
        })
        .collect();
    let vectors: Vec<f32> = cosines
        .iter()
        .flat_map(|&c| [c, (1.0 - c * c).sqrt()])
        .collect();
    let info = ModelInfo {
        name: "hand".into(),
        fingerprint: "hand".into(),
        dim: 2,
        ..Default::default()
    };
    let index = Index::build(dir, &docs, &vectors, info, false).unwrap();
    let mut qrels = Qrels::new();
    qrels.insert(
        "q0".into(),
        HashMap::from([("d0".into(), 2), ("d1".into(), 1), ("d2".into(), 0)]),
    );
    let split = Split {
        queries: vec![Query {
            id: "q0".into(),
            text: "document".into(),
        }],
        qrels,
    };
    (index, split, vec![1.0, 0.0])
}

fn dense(overrides: MineOptions) -> MineOptions {
    MineOptions {
        retriever: Mode::Dense,
        negatives: 2,
        depth: 6,
        sampling: Sampling::Top,
        ..overrides
    }
}

fn negatives_of(mined: &trine_train::mine::Mined, positive: &str) -> Vec<String> {
    mined
        .triplets
        .iter()
        .filter(|t| t.positive_id.as_deref() == Some(positive))
        .map(|t| t.negative_id.clone().unwrap())
        .collect()
}

#[test]
fn judged_documents_of_any_grade_are_never_negatives() {
    let dir = tempfile::tempdir().unwrap();
    let (index, split, qv) = setup(dir.path());
    let m = mine(
        &split,
        &index,
        &qv,
        &dense(MineOptions::default()),
        &mut |_| {},
    )
    .unwrap();
    // Dense order: d2 .95, d0 .9, d3 .8, d1 .5, d4 .4, d5 .1; d0, d1, d2 are judged.
    assert_eq!(negatives_of(&m, "d0"), ["d3", "d4"]);
    assert_eq!(negatives_of(&m, "d1"), ["d3", "d4"]);
    assert!(
        negatives_of(&m, "d2").is_empty(),
        "grade 0 is not a positive"
    );
    assert_eq!(m.counts.pairs, 2);
    assert_eq!(m.counts.judged, 6); // three judged candidates seen for each pair
}

#[test]
fn the_positive_aware_filter_uses_each_positives_dense_score() {
    let dir = tempfile::tempdir().unwrap();
    let (index, split, qv) = setup(dir.path());
    let opts = dense(MineOptions {
        max_score_ratio: Some(0.9),
        ..Default::default()
    });
    let m = mine(&split, &index, &qv, &opts, &mut |_| {}).unwrap();
    // d0 scores 0.9: the bar is 0.81, so d3 (0.8) stays. d1 scores 0.5: the bar is 0.45, so d3
    // goes and d4 (0.4), d5 (0.1) are taken.
    assert_eq!(negatives_of(&m, "d0"), ["d3", "d4"]);
    assert_eq!(negatives_of(&m, "d1"), ["d4", "d5"]);
    assert_eq!(m.counts.above_ratio, 1);
}

#[test]
fn grade_floor_window_and_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (index, split, qv) = setup(dir.path());
    let graded = dense(MineOptions {
        min_grade: 2,
        ..Default::default()
    });
    let m = mine(&split, &index, &qv, &graded, &mut |_| {}).unwrap();
    assert_eq!(m.counts.pairs, 1);
    assert_eq!(m.counts.below_grade, 1);
    // Skipping the first three ranks (d2, d0, d3) leaves d4 and d5.
    let window = dense(MineOptions {
        skip_top: 3,
        ..Default::default()
    });
    let m = mine(&split, &index, &qv, &window, &mut |_| {}).unwrap();
    assert_eq!(negatives_of(&m, "d0"), ["d4", "d5"]);
    // One pair per query: `best` keeps the grade-2 positive.
    let capped = dense(MineOptions {
        max_pairs_per_query: Some(1),
        positives: PositiveChoice::Best,
        ..Default::default()
    });
    let m = mine(&split, &index, &qv, &capped, &mut |_| {}).unwrap();
    assert_eq!(m.counts.pairs, 1);
    assert_eq!(m.counts.capped, 1);
    assert!(m
        .triplets
        .iter()
        .all(|t| t.positive_id.as_deref() == Some("d0")));
}

#[test]
fn query_vectors_must_match_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let (index, split, _) = setup(dir.path());
    let err = mine(
        &split,
        &index,
        &[1.0],
        &dense(MineOptions::default()),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("query vectors"), "{err}");
}
