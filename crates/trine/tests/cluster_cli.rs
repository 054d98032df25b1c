//! `trine cluster` and `trine eval-cluster` end to end on small files with the tiny model:
//! outputs written, scores printed as JSON, and bad input failing cleanly.

use std::path::{Path, PathBuf};

use trine_corpus::embeddings::{self, Embeddings};

mod common;
use common::{stderr, tiny_model, trine};

/// Twelve posts in three topics, with labels.
fn labelled_corpus(dir: &Path) -> PathBuf {
    let topics = [
        ("space", "rocket launch orbit satellite moon"),
        ("food", "pasta sauce recipe garlic oven"),
        ("cars", "engine wheel brake fuel gearbox"),
    ];
    let mut lines = String::new();
    for (label, words) in topics {
        for i in 0..4 {
            lines.push_str(&format!(
                "{{\"_id\": \"{label}/{i}\", \"text\": \"{words} {words} number {i}\", \"label\": \"{label}\"}}\n"
            ));
        }
    }
    let p = dir.join("docs.jsonl");
    std::fs::write(&p, lines).unwrap();
    p
}

fn write_embeddings(path: &Path, ids: &[&str], values: Vec<f32>, dim: usize) {
    embeddings::write(
        path,
        &Embeddings {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            dim,
            values,
            model: "hand".into(),
            fingerprint: String::new(),
        },
    )
    .unwrap();
}

#[test]
fn eval_cluster_prints_scores_and_writes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let corpus = labelled_corpus(dir.path());
    let out = dir.path().join("clusters");
    let o = trine(&[
        "eval-cluster",
        "--data",
        corpus.to_str().unwrap(),
        "--model",
        &model,
        "--k",
        "3",
        "--json",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["v_measure", "nmi", "ari", "silhouette"] {
        let x = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {v}"));
        assert!((-1.0..=1.0).contains(&x), "{key} = {x}");
    }
    assert_eq!(v["clusters"], 3);
    let a = trine_corpus::assignments::read(&out.join("assignments.parquet")).unwrap();
    assert_eq!(a.ids.len(), 12);
    assert!(a.clusters.iter().all(|&c| (0..3).contains(&c)));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("clusters.json")).unwrap()).unwrap();
    let sizes: u64 = summary["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_u64().unwrap())
        .sum();
    assert_eq!(sizes, 12);
    let svg = std::fs::read_to_string(out.join("map.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<circle").count() == 12);
    assert!(std::fs::read_to_string(out.join("clusters.txt"))
        .unwrap()
        .contains("keywords"));
}

#[test]
fn cluster_on_hand_made_embeddings_finds_the_two_groups() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("emb.parquet");
    write_embeddings(
        &emb,
        &["a", "b", "c", "d"],
        vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9],
        2,
    );
    let out = dir.path().join("out");
    let o = trine(&[
        "cluster",
        "--embeddings",
        emb.to_str().unwrap(),
        "--k",
        "2",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = trine_corpus::assignments::read(&out.join("assignments.parquet")).unwrap();
    assert_eq!(a.clusters[0], a.clusters[1]);
    assert_eq!(a.clusters[2], a.clusters[3]);
    assert_ne!(a.clusters[0], a.clusters[2]);
    assert!(a.scores.iter().all(|&s| s > 0.9));
}

#[test]
fn bad_cluster_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |emb: &Path, extra: &[&str]| {
        let out = d.join("never");
        let mut args = vec![
            "cluster",
            "--embeddings",
            emb.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = trine(&args);
        assert!(!o.status.success());
        assert!(!out.join("assignments.parquet").exists());
        stderr(&o)
    };
    let emb = d.join("two.parquet");
    write_embeddings(&emb, &["a", "b"], vec![1.0, 0.0, 0.0, 1.0], 2);
    let err = run(&emb, &["--k", "3"]);
    assert!(
        err.contains("k = 3 is larger than the number of documents (2)"),
        "{err}"
    );
    let nan = d.join("nan.parquet");
    write_embeddings(&nan, &["a", "b"], vec![1.0, 0.0, f32::NAN, 1.0], 2);
    let err = run(&nan, &["--k", "2"]);
    assert!(
        err.contains("vector 1 (id `b`)") && err.contains("non-finite"),
        "{err}"
    );
    let empty = d.join("empty.parquet");
    write_embeddings(&empty, &[], Vec::new(), 2);
    let err = run(&empty, &["--k", "2"]);
    assert!(err.contains("empty") || err.contains("no vectors"), "{err}");
    let err = run(&d.join("missing.parquet"), &["--k", "2"]);
    assert!(err.contains("missing.parquet"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Labels that do not match the documents.
    let model = tiny_model(d);
    let corpus = labelled_corpus(d);
    let labels = d.join("labels.tsv");
    std::fs::write(&labels, "space/0\tspace\nspace/1\tspace\n").unwrap();
    let o = trine(&[
        "eval-cluster",
        "--data",
        corpus.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--model",
        &model,
        "--k",
        "3",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("labels.tsv") && err.contains("no label for document `space/2`"),
        "{err}"
    );
}
