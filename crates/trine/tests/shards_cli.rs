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
    ok(&[
        "index", "build", "--corpus", &beir, "--out", &one, "--model", &model,
    ]);
    ok(&[
        "index", "build", "--corpus", &beir, "--out", &set, "--model", &model, "--shards", "3",
    ]);
    let listing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("set/shards.json")).unwrap())
            .unwrap();
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
                "eval",
                "--data",
                &beir,
                "--split",
                "train",
                "--index",
                idx,
                "--model",
                &model,
                "--retriever",
                mode,
                "--json",
                "--out-dir",
                &path("runs"),
            ]);
            serde_json::from_slice::<serde_json::Value>(o.stdout.trim_ascii()).unwrap()
        };
        assert_eq!(eval(&set), eval(&one), "{mode}");
        let search = |idx: &str| {
            let o = ok(&[
                "search",
                idx,
                "the cat is big",
                "--model",
                &model,
                "--mode",
                mode,
                "--k",
                "5",
                "--json",
            ]);
            let hits: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
            hits.iter()
                .map(|h| {
                    (
                        h["id"].as_str().unwrap().to_string(),
                        h["score"].as_f64().unwrap(),
                    )
                })
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
    ok(&[
        "embed",
        "--model",
        &model,
        "--input",
        &beir,
        "--output",
        &format!("{emb}/all.parquet"),
    ]);
    let set = path("set");
    ok(&[
        "index",
        "build",
        "--corpus",
        &beir,
        "--out",
        &set,
        "--model",
        &model,
        "--shards",
        "2",
        "--embeddings",
        &emb,
    ]);
    let o = ok(&[
        "search", &set, "the cat", "--model", &model, "--mode", "dense", "--json",
    ]);
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!hits.is_empty());

    // Each refused before a set is written: more shards than documents, no vector for a
    // document, a document with vectors in two files, zero shards.
    let refused = |out: &str, shards: &str, embeddings: Option<&str>, says: &str| {
        let out = path(out);
        let mut args = vec![
            "index", "build", "--corpus", &beir, "--out", &out, "--model", &model, "--shards",
            shards,
        ];
        args.extend(embeddings.iter().flat_map(|e| ["--embeddings", *e]));
        let o = trine(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!std::path::Path::new(&out).join("shards.json").exists());
    };
    refused(
        "many",
        "13",
        None,
        "cannot split 12 documents into 13 shards",
    );
    let part = path("part");
    std::fs::create_dir_all(&part).unwrap();
    ok(&[
        "embed",
        "--model",
        &model,
        "--input",
        &beir,
        "--output",
        &format!("{part}/p.parquet"),
        "--limit",
        "5",
    ]);
    refused("gap", "2", Some(&part), "no embedding for document \"d5\"");
    let dup = path("dup");
    std::fs::create_dir_all(&dup).unwrap();
    for name in ["a.parquet", "b.parquet"] {
        std::fs::copy(format!("{emb}/all.parquet"), format!("{dup}/{name}")).unwrap();
    }
    refused("twice", "2", Some(&dup), "has embeddings in both");
    refused("zero", "0", None, "--shards");
}
