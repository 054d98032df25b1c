//! `index build --vectors int8|binary` end to end with the tiny model: the manifest records the
//! codes, a first pass that rescores every document answers as the f32 scan does, `index add`
//! keeps the codes, and a rescore count of 0 is refused before anything is written.

mod common;

use common::{stderr, tiny_model, trine};

fn corpus(dir: &std::path::Path, name: &str, rows: &[(&str, &str)]) -> String {
    let p = dir.join(name);
    let lines: String = rows
        .iter()
        .map(|(id, text)| format!("{{\"_id\":\"{id}\",\"title\":\"\",\"text\":\"{text}\"}}\n"))
        .collect();
    std::fs::write(&p, lines).unwrap();
    p.to_string_lossy().into_owned()
}

fn dense(idx: &str, model: &str, query: &str) -> serde_json::Value {
    let o = trine(&[
        "search", idx, query, "--model", model, "--mode", "dense", "--k", "4", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn quantised_vectors_answer_as_the_f32_scan_and_survive_add() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let docs = corpus(
        dir.path(),
        "docs.jsonl",
        &[
            ("d0", "the cat sat on the mat"),
            ("d1", "the sun is big"),
            ("d2", "the moon is small"),
            ("d3", "a blue car"),
        ],
    );
    let build = |name: &str, extra: &[&str]| {
        let idx = dir.path().join(name).to_string_lossy().into_owned();
        let mut args = vec![
            "index", "build", "--corpus", &docs, "--out", &idx, "--model", &model,
        ];
        args.extend_from_slice(extra);
        let o = trine(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        idx
    };
    let plain = build("f32", &[]);
    for format in ["int8", "binary"] {
        let idx = build(format, &["--vectors", format, "--rescore", "4"]);
        let o = trine(&["index", "info", &idx, "--json"]);
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(info["quantized"]["format"], format);
        assert_eq!(info["quantized"]["rescore"], 4);
        for q in ["a cat on a mat", "the big sun", "blue"] {
            assert_eq!(
                dense(&idx, &model, q),
                dense(&plain, &model, q),
                "{format}: {q}"
            );
        }
        let more = corpus(dir.path(), "more.jsonl", &[("d4", "a red bus")]);
        let o = trine(&["index", "add", &idx, "--corpus", &more, "--model", &model]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = trine(&["index", "info", &idx, "--json"]);
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(info["quantized"]["format"], format, "add keeps the codes");
        let hits = dense(&idx, &model, "a red bus");
        assert_eq!(hits[0]["id"], "d4", "{hits}");
    }
    let refused = dir.path().join("zero");
    let o = trine(&[
        "index",
        "build",
        "--corpus",
        &docs,
        "--out",
        refused.to_str().unwrap(),
        "--model",
        &model,
        "--vectors",
        "int8",
        "--rescore",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--rescore"), "{}", stderr(&o));
    assert!(!refused.exists(), "nothing may be written");
}
