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
    for key in [
        "v_measure",
        "nmi",
        "ari",
        "silhouette",
        "npmi",
        "topic_diversity",
    ] {
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
    // Twelve points and a legend swatch per cluster; the PNG is the same map.
    assert!(
        svg.starts_with("<svg") && svg.matches("<circle").count() == 12 + 3,
        "{svg}"
    );
    assert!(
        svg.contains(">\ntopics\n</text>"),
        "the legend has its heading"
    );
    assert_eq!(
        &std::fs::read(out.join("map.png")).unwrap()[..4],
        b"\x89PNG"
    );
    assert!(
        v["map"].is_null(),
        "12 points are too few for 10-NN figures: {v}"
    );
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

/// `trine index build` of the labelled corpus with the tiny model.
fn indexed(dir: &Path) -> (String, PathBuf) {
    let model = tiny_model(dir);
    let corpus = labelled_corpus(dir);
    let idx = dir.join("idx");
    let o = trine(&[
        "index",
        "build",
        "--corpus",
        corpus.to_str().unwrap(),
        "--model",
        &model,
        "--out",
        idx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (model, idx)
}

#[test]
fn index_cluster_stores_topics_that_search_filters_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (model, idx) = indexed(dir.path());
    let idx_s = idx.to_str().unwrap();
    let o = trine(&[
        "index", "cluster", idx_s, "--k", "3", "--levels", "2", "--map", "pca",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.contains("keywords") && table.contains("level of 2 groups"),
        "{table}"
    );
    let o = trine(&["index", "info", idx_s]);
    let info = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(info.contains("topics       3 by k-means (k = 3"), "{info}");
    assert!(info.contains("generation 2"), "{info}");
    // Every hit of a filtered search is in the topic; facets count the unfiltered candidates.
    let search = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "search",
            idx_s,
            "pasta sauce",
            "--model",
            &model,
            "--json",
            "--k",
            "12",
        ];
        args.extend_from_slice(extra);
        let o = trine(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let all = search(&["--facets"]);
    let hits = all["hits"].as_array().unwrap();
    let topic = hits[0]["topic"].as_u64().unwrap();
    let in_topic = hits.iter().filter(|h| h["topic"] == topic).count();
    let facet = all["facets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["topic"] == topic)
        .unwrap()["count"]
        .as_u64()
        .unwrap();
    assert_eq!(facet as usize, in_topic);
    let t = topic.to_string();
    let filtered = search(&["--topic", &t]);
    let filtered = filtered.as_array().unwrap();
    assert_eq!(filtered.len(), in_topic);
    assert!(filtered.iter().all(|h| h["topic"] == topic));
    // Documents added later go to a topic; eight new ones put at least three in some topic of
    // at most ten, past a quarter of it: drift.
    let more = dir.path().join("more.jsonl");
    let lines: String = (0..8)
        .map(|i| format!("{{\"_id\": \"new/{i}\", \"text\": \"pasta garlic oven {i}\"}}\n"))
        .collect();
    std::fs::write(&more, lines).unwrap();
    let o = trine(&[
        "index",
        "add",
        idx_s,
        "--corpus",
        more.to_str().unwrap(),
        "--model",
        &model,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("re-clustering is due"),
        "{}",
        stderr(&o)
    );
    let info = String::from_utf8_lossy(&trine(&["index", "info", idx_s]).stdout).into_owned();
    assert!(info.contains("(drifted)"), "{info}");
}

#[test]
fn bad_topic_requests_fail_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (model, idx) = indexed(dir.path());
    let idx_s = idx.to_str().unwrap();
    let fails = |args: &[&str], wanted: &str| {
        let o = trine(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(wanted), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    };
    fails(
        &["search", idx_s, "pasta", "--model", &model, "--topic", "0"],
        "this index has no topics (make them with `trine index cluster`)",
    );
    fails(
        &["index", "cluster", idx_s, "--k", "20"],
        "k = 20 is larger than the number of documents (12)",
    );
    fails(
        &["index", "cluster", idx_s, "--k", "3", "--levels", "3"],
        "a hierarchy level of 3 groups",
    );
    let info = String::from_utf8_lossy(&trine(&["index", "info", idx_s]).stdout).into_owned();
    assert!(
        info.contains("generation 1") && info.contains("topics       none"),
        "{info}"
    );
    let o = trine(&["index", "cluster", idx_s, "--k", "3", "--map", "none"]);
    assert!(o.status.success(), "{}", stderr(&o));
    fails(
        &["search", idx_s, "pasta", "--model", &model, "--topic", "3"],
        "no topic 3: the index has 3 topics (0 to 2)",
    );
    // A damaged topics file: the index refuses to open, naming the file.
    let live = idx.join(std::fs::read_to_string(idx.join("CURRENT")).unwrap());
    std::fs::write(live.join("topics.json"), "{").unwrap();
    fails(&["index", "info", idx_s], "topics.json");
}

#[test]
fn score_topics_scores_given_keywords_and_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = labelled_corpus(dir.path());
    let c = corpus.to_str().unwrap();
    let file = dir.path().join("topics.json");
    // "rocket" and "orbit" share all four space posts: NPMI 1; "pasta" and "engine" never meet: −1.
    std::fs::write(
        &file,
        r#"{"topics": [["rocket", "orbit"], ["pasta", "engine"]]}"#,
    )
    .unwrap();
    let o = trine(&[
        "eval-cluster",
        "--data",
        c,
        "--score-topics",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["npmi"].as_f64().unwrap().abs() < 1e-12,
        "mean of 1 and -1: {v}"
    );
    assert_eq!(v["topic_diversity"], 1.0);
    for bad in [r#"{"topics": []}"#, r#"{"words": 3}"#] {
        std::fs::write(&file, bad).unwrap();
        let o = trine(&[
            "eval-cluster",
            "--data",
            c,
            "--score-topics",
            file.to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{bad} was accepted");
        assert!(stderr(&o).contains("topics.json"), "{}", stderr(&o));
    }
}
