//! Bad input through the binary, as a table: each row is a command on a damaged or hostile input.
//! Every row must exit non-zero with a message naming the file, row, field or flag, never panic,
//! and leave the index byte-for-byte as it was. The counts are printed at the end.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{stderr, tiny_model, trine};

/// Every file of an index folder with its bytes (the writer lock's empty file aside).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != ".writer.lock" {
                let key = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(key, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn jsonl(docs: &[(&str, &str)]) -> String {
    docs.iter()
        .map(|(id, text)| format!("{{\"_id\": \"{id}\", \"text\": \"{text}\"}}\n"))
        .collect()
}

#[test]
fn bad_inputs_are_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let p = |name: &str| d.join(name).to_string_lossy().into_owned();
    let good = jsonl(&[("a", "cat dog"), ("b", "sun moon"), ("c", "red car")]);
    std::fs::write(p("good.jsonl"), &good).unwrap();
    let idx = p("idx");
    let out = trine(&[
        "index",
        "build",
        "--model",
        &model,
        "--corpus",
        &p("good.jsonl"),
        "--out",
        &idx,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = trine(&[
        "embed",
        "--model",
        &model,
        "--input",
        &p("good.jsonl"),
        "--output",
        &p("good.parquet"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let parquet = std::fs::read(p("good.parquet")).unwrap();

    std::fs::write(p("empty.jsonl"), "").unwrap();
    std::fs::write(p("truncated.jsonl"), &good.as_bytes()[..good.len() - 9]).unwrap();
    std::fs::write(
        p("latin1.jsonl"),
        b"{\"_id\": \"x\", \"text\": \"caf\xe9\"}\n",
    )
    .unwrap();
    std::fs::write(p("dup.jsonl"), jsonl(&[("x", "cat"), ("x", "dog")])).unwrap();
    std::fs::write(p("existing.jsonl"), jsonl(&[("a", "cat again")])).unwrap();
    std::fs::write(p("notext.jsonl"), "{\"_id\": \"x\", \"body\": \"cat\"}\n").unwrap();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(p("huge.jsonl")).unwrap();
        f.write_all(b"{\"_id\": \"h\", \"text\": \"").unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}\n").unwrap();
    }
    std::fs::write(p("empty.parquet"), "").unwrap();
    std::fs::write(p("truncated.parquet"), &parquet[..parquet.len() / 2]).unwrap();
    std::fs::write(p("notparquet.parquet"), "id,text\nx,cat\n").unwrap();
    let other_model = d.join("other");
    let spec = trine_encoder::tiny::TinySpec {
        hidden: 16,
        ..Default::default()
    };
    trine_encoder::tiny::write_tiny_model(&other_model, &spec).unwrap();
    let out = trine(&[
        "embed",
        "--model",
        other_model.to_str().unwrap(),
        "--input",
        &p("good.jsonl"),
        "--output",
        &p("otherdim.parquet"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(p("big-query.txt"), format!("{}\n", "cat ".repeat(1 << 18))).unwrap();

    let add = |corpus: &str| -> Vec<String> {
        [
            "index",
            "add",
            &idx,
            "--model",
            &model,
            "--corpus",
            &p(corpus),
        ]
        .map(String::from)
        .to_vec()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "zero-byte JSONL",
            add("empty.jsonl"),
            vec!["empty.jsonl", "no documents"],
        ),
        (
            "truncated JSONL",
            add("truncated.jsonl"),
            vec!["truncated.jsonl:3"],
        ),
        (
            "non-UTF-8 JSONL",
            add("latin1.jsonl"),
            vec!["latin1.jsonl:1", "UTF-8"],
        ),
        (
            "duplicate ids",
            add("dup.jsonl"),
            vec!["dup.jsonl:2", "duplicate id `x`"],
        ),
        (
            "id already indexed",
            add("existing.jsonl"),
            vec!["`a`", "--replace"],
        ),
        (
            "missing text field",
            add("notext.jsonl"),
            vec!["notext.jsonl:1", "text"],
        ),
        (
            "100 MB single line",
            add("huge.jsonl"),
            vec!["huge.jsonl:1", "longer than"],
        ),
        (
            "zero-byte Parquet",
            add("empty.parquet"),
            vec!["empty.parquet"],
        ),
        (
            "truncated Parquet",
            add("truncated.parquet"),
            vec!["truncated.parquet"],
        ),
        (
            "CSV named .parquet",
            add("notparquet.parquet"),
            vec!["notparquet.parquet"],
        ),
        (
            "embeddings of another width",
            s(&[
                "index",
                "build",
                "--force",
                "--model",
                &model,
                "--corpus",
                &p("good.jsonl"),
                "--embeddings",
                &p("otherdim.parquet"),
                "--out",
                &idx,
            ]),
            vec!["otherdim.parquet", "made by model `other` (dim 16)"],
        ),
        (
            "zero-byte embeddings",
            s(&[
                "index",
                "build",
                "--force",
                "--model",
                &model,
                "--corpus",
                &p("good.jsonl"),
                "--embeddings",
                &p("empty.parquet"),
                "--out",
                &idx,
            ]),
            vec!["empty.parquet"],
        ),
        (
            "1 MB query",
            s(&[
                "search",
                &idx,
                "--model",
                &model,
                "--queries",
                &p("big-query.txt"),
                "--run",
                &p("run.trec"),
            ]),
            vec!["query", "at most 65536 bytes"],
        ),
        (
            "negative k",
            s(&["search", &idx, "--model", &model, "cat", "--k=-5"]),
            vec!["--k"],
        ),
        (
            "k beyond candidates",
            s(&["search", &idx, "--model", &model, "cat", "--k", "1000000"]),
            vec!["candidates (100) must be at least k (1000000)"],
        ),
        (
            "RRF k below zero",
            s(&[
                "search",
                &idx,
                "--model",
                &model,
                "cat",
                "--fusion",
                "rrf",
                "--rrf-k=-60",
            ]),
            vec!["RRF's k must be above 0"],
        ),
        (
            "alpha above 1",
            s(&[
                "search", &idx, "--model", &model, "cat", "--fusion", "convex", "--alpha", "1.5",
            ]),
            vec!["alpha must be between 0 and 1"],
        ),
        (
            "not an index",
            s(&["search", &p("nowhere"), "--model", &model, "cat"]),
            vec!["nowhere"],
        ),
        (
            "delete from a missing index",
            s(&["index", "delete", &p("nowhere"), "--ids", "a"]),
            vec!["nowhere"],
        ),
    ];
    let before = snapshot(Path::new(&idx));
    let (mut panics, mut lost) = (0, 0);
    for (name, args, needles) in &cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = trine(&refs);
        let err = stderr(&out);
        let short = &err[..err.len().min(400)];
        if err.contains("panicked") || out.status.code() == Some(101) {
            panics += 1;
        }
        assert!(!out.status.success(), "{name}: succeeded\n{short}");
        for n in needles {
            assert!(err.contains(n), "{name}: `{n}` not in:\n{short}");
        }
        if snapshot(Path::new(&idx)) != before {
            lost += 1;
        }
    }
    println!(
        "bad-input table: {} inputs tried, panics {panics}, states lost {lost}",
        cases.len()
    );
    assert_eq!((panics, lost), (0, 0));
    // The index still serves what it held.
    let out = trine(&[
        "search", &idx, "--model", &model, "cat", "--mode", "lexical",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}
