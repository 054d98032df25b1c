//! `--chunk-tokens` end to end with the tiny model: an index of chunked documents, hits that
//! name their chunk, `index add` splitting as the index does, and settings the model cannot take.

mod common;

use common::{stderr, tiny_model, trine};

/// Four documents; d0 has 14 tokens, so chunks of 8 tokens (6 words between [CLS] and [SEP])
/// split it into several.
fn corpus(dir: &std::path::Path) -> String {
    let p = dir.join("docs.jsonl");
    std::fs::write(
        &p,
        concat!(
            "{\"_id\":\"d0\",\"title\":\"\",\"text\":\"the cat sat on the mat . the dog ran fast on the red car\"}\n",
            "{\"_id\":\"d1\",\"title\":\"\",\"text\":\"the sun is big\"}\n",
            "{\"_id\":\"d2\",\"title\":\"\",\"text\":\"the moon is small\"}\n",
            "{\"_id\":\"d3\",\"title\":\"\",\"text\":\"a blue car\"}\n",
        ),
    )
    .unwrap();
    p.to_string_lossy().into_owned()
}

/// `trine index build` of `docs` into `idx` with the tiny model and `extra` flags.
fn build(model: &str, docs: &str, idx: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "index", "build", "--corpus", docs, "--out", idx, "--model", model,
    ];
    args.extend_from_slice(extra);
    trine(&args)
}

#[test]
fn a_chunked_index_names_the_chunk_each_hit_matched() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let docs = corpus(dir.path());
    let idx = dir.path().join("idx");
    let idx_s = idx.to_string_lossy().into_owned();
    let o = build(
        &model,
        &docs,
        &idx_s,
        &["--chunk-tokens", "8", "--chunk-overlap", "2"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("split 4 documents into"),
        "{}",
        stderr(&o)
    );

    let o = trine(&["index", "info", &idx_s, "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["chunking"]["tokens"], 8);
    assert_eq!(info["chunking"]["overlap"], 2);
    assert_eq!(info["chunking"]["aggregate"], "max");

    let o = trine(&[
        "search",
        &idx_s,
        "the dog ran fast",
        "--model",
        &model,
        "--mode",
        "dense",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hits: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d0 = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "d0")
        .expect("d0 among the hits");
    let span = &d0["chunk"]["span"];
    let (a, b) = (span[0].as_u64().unwrap(), span[1].as_u64().unwrap());
    let text = "the cat sat on the mat . the dog ran fast on the red car";
    assert!(b as usize <= text.len() && a < b, "span {a}..{b}");
    // The span is the chunk's text: whole words of d0's full text (its text: no title).
    let piece = &text[a as usize..b as usize];
    assert!(
        !piece.starts_with(' ') && !piece.ends_with(' '),
        "{piece:?}"
    );

    // Added documents are split as the manifest says.
    let more = dir.path().join("more.jsonl");
    std::fs::write(
        &more,
        "{\"_id\":\"d4\",\"title\":\"\",\"text\":\"the red car is fast . the blue car is slow . a cat\"}\n",
    )
    .unwrap();
    let o = trine(&[
        "index",
        "add",
        &idx_s,
        "--corpus",
        &more.to_string_lossy(),
        "--model",
        &model,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trine(&["index", "info", &idx_s]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("chunks "),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn chunk_settings_the_model_cannot_take_fail_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let docs = corpus(dir.path());
    let idx = dir.path().join("idx");
    let idx_s = idx.to_string_lossy().into_owned();
    let o = build(&model, &docs, &idx_s, &["--chunk-tokens", "64"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--chunk-tokens 64 is outside 1..=16"),
        "{}",
        stderr(&o)
    );
    assert!(!idx.join("CURRENT").exists(), "nothing may be written");
    let o = build(
        &model,
        &docs,
        &idx_s,
        &["--chunk-tokens", "8", "--chunk-overlap", "6"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--chunk-overlap 6 leaves no new tokens"),
        "{}",
        stderr(&o)
    );
    let o = build(&model, &docs, &idx_s, &["--chunk-overlap", "2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--chunk-tokens"), "{}", stderr(&o));
}
