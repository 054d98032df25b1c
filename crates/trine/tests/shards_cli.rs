//! `index build --shards N` end to end with the tiny model: the set's metrics and hits equal one
//! index's over the same documents (dense, lexical, hybrid), vectors read from a folder of
//! embeddings files by id, and bad requests refused before anything is written.

mod common;

use common::{stderr, tiny_beir, tiny_model, trine};

fn ok(args: &[&str]) -> std::process::Output {
    let o = trine(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

#[test]
fn a_shard_set_scores_as_one_index() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let beir = dir.path().join("beir");
    std::fs::create_dir_all(&beir).unwrap();
    tiny_beir(&beir, |i| vec![i, (i + 3) % 12], false);
    let beir = beir.to_string_lossy().into_owned();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (one, set) = (path("one"), path("set"));
    ok(&["index", "build", "--corpus", &beir, "--out", &one, "--model", &model]);
    ok(&["index", "build", "--corpus", &beir, "--out", &set, "--model", &model, "--shards", "3"]);
    let listing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("set/shards.json")).unwrap()).unwrap();
    let sizes: Vec<u64> = listing["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["documents"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [4, 4, 4]);
    for mode in ["lexical", "dense", "hybrid"] {
        let eval = |idx: &str| {
            let o = ok(&[
                "eval", "--data", &beir, "--split", "train", "--index", idx, "--model", &model,
                "--retriever", mode, "--json", "--out-dir", &path("runs"),
            ]);
            serde_json::from_slice::<serde_json::Value>(o.stdout.trim_ascii()).unwrap()
        };
        assert_eq!(eval(&set), eval(&one), "{mode}");
        let search = |idx: &str| {
            let o = ok(&[
                "search", idx, "the cat is big", "--model", &model, "--mode", mode, "--k", "5",
                "--json",
            ]);
            let hits: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
            hits.iter()
                .map(|h| (h["id"].as_str().unwrap().to_string(), h["score"].as_f64().unwrap()))
                .collect::<Vec<_>>()
        };
        let (a, b) = (search(&set), search(&one));
        assert_eq!(a.len(), b.len(), "{mode}");
        assert!(a.len() >= 4, "{mode}: {} hits", a.len());
        for ((ia, sa), (ib, sb)) in a.iter().zip(&b) {
            assert_eq!(ia, ib, "{mode}");
            assert!((sa - sb).abs() < 1e-5, "{mode}: {sa} vs {sb}");
        }
    }
}

#[test]
fn shards_from_a_folder_of_embeddings_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let beir = dir.path().join("beir");
    std::fs::create_dir_all(&beir).unwrap();
    tiny_beir(&beir, |i| vec![i], false);
    let beir = beir.to_string_lossy().into_owned();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let emb = path("emb");
    std::fs::create_dir_all(&emb).unwrap();
    ok(&["embed", "--model", &model, "--input", &beir, "--output", &format!("{emb}/all.parquet")]);
    let set = path("set");
    ok(&[
        "index", "build", "--corpus", &beir, "--out", &set, "--model", &model, "--shards", "2",
        "--embeddings", &emb,
    ]);
    let o = ok(&["search", &set, "the cat", "--model", &model, "--mode", "dense", "--json"]);
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!hits.is_empty());

    // More shards than documents, and a folder lacking a document's vector: refused, no set.
    let o = trine(&[
        "index", "build", "--corpus", &beir, "--out", &path("many"), "--model", &model,
        "--shards", "13",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot split 12 documents into 13 shards"), "{}", stderr(&o));
    assert!(!dir.path().join("many/shards.json").exists());
    let part = path("part");
    std::fs::create_dir_all(&part).unwrap();
    ok(&[
        "embed", "--model", &model, "--input", &beir, "--output", &format!("{part}/p.parquet"),
        "--limit", "5",
    ]);
    let o = trine(&[
        "index", "build", "--corpus", &beir, "--out", &path("gap"), "--model", &model,
        "--shards", "2", "--embeddings", &part,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no embedding for document \"d5\""), "{}", stderr(&o));
    assert!(!dir.path().join("gap/shards.json").exists());
    let dup = path("dup");
    std::fs::create_dir_all(&dup).unwrap();
    for name in ["a.parquet", "b.parquet"] {
        std::fs::copy(format!("{emb}/all.parquet"), format!("{dup}/{name}")).unwrap();
    }
    let o = trine(&[
        "index", "build", "--corpus", &beir, "--out", &path("twice"), "--model", &model,
        "--shards", "2", "--embeddings", &dup,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("has embeddings in both"), "{}", stderr(&o));
    let o = trine(&[
        "index", "build", "--corpus", &beir, "--out", &path("zero"), "--model", &model,
        "--shards", "0",
    ]);
    assert!(!o.status.success());
}
