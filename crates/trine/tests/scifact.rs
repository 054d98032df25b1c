//! The published figure end to end: all-MiniLM-L6-v2 dense retrieval on SciFact test must give
//! nDCG@10 = 0.645 ± 0.003 (sentence-transformers and MTEB: 0.6451). Embeds all 5,183 documents
//! with the real model, so it takes minutes; it is the check that encoder, corpus convention
//! (title + " " + text), exact search, tie rule and metrics are all right together.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn scifact_dense_ndcg_matches_sentence_transformers() {
    let model = std::env::var_os("TRINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-MiniLM-L6-v2"));
    let data_root = std::env::var_os("TRINE_DATA_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpora"));
    assert!(
        data_root.join("scifact/corpus.jsonl").is_file(),
        "SciFact missing under {}",
        data_root.display()
    );
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_trine"))
        .args([
            "eval",
            "--data",
            "scifact",
            "--split",
            "test",
            "--retriever",
            "dense",
            "--json",
        ])
        .arg("--model")
        .arg(&model)
        .arg("--data-root")
        .arg(&data_root)
        .arg("--out-dir")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ndcg = m["ndcg@10"].as_f64().unwrap();
    assert!(
        (ndcg - 0.645).abs() <= 0.003,
        "nDCG@10 {ndcg} not within 0.645 ± 0.003: {m}"
    );
    let recall = m["recall@100"].as_f64().unwrap();
    assert!(recall > 0.85 && recall <= 1.0, "recall@100 {recall}");
}
