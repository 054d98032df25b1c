//! The `trine` binary end to end: real model, real files, bad input.

use std::path::{Path, PathBuf};

mod common;
use common::{repo_root, stderr, tiny_model, trine};

fn real_model() -> PathBuf {
    let m = std::env::var_os("TRINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-MiniLM-L6-v2"));
    assert!(
        m.join("model.safetensors").is_file(),
        "{}: run `make model`",
        m.display()
    );
    m
}

/// Runs `embed` on `input` with the tiny model and expects failure naming `needle`, with no output.
fn expect_embed_error(dir: &Path, input: &Path, extra: &[&str], needle: &str) {
    let model = tiny_model(dir);
    let out = dir.join("out.parquet");
    let mut args = vec![
        "embed",
        "--model",
        &model,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = trine(&args);
    assert!(
        !o.status.success(),
        "expected failure for {}",
        input.display()
    );
    let err = stderr(&o);
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(!out.exists(), "a failed run left an output file");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn embed_writes_parquet_with_ids_vectors_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.jsonl");
    std::fs::write(
        &input,
        "{\"_id\":\"a\",\"title\":\"Cats\",\"text\":\"The cat sat on the mat.\"}\n{\"_id\":\"b\",\"text\":\"Stock markets fell sharply today.\"}\n{\"_id\":\"c\",\"text\":\"A kitten rested on the rug.\"}\n",
    )
    .unwrap();
    let out = dir.path().join("emb.parquet");
    let model = real_model();
    let o = trine(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let emb = trine_corpus::embeddings::read(&out).unwrap();
    assert_eq!(emb.ids, ["a", "b", "c"]);
    assert_eq!(emb.dim, 384);
    assert_eq!(emb.model, "all-MiniLM-L6-v2");
    assert_eq!(emb.fingerprint.len(), 64);
    let cos =
        |i: usize, j: usize| -> f32 { emb.row(i).iter().zip(emb.row(j)).map(|(x, y)| x * y).sum() };
    assert!(
        cos(0, 2) > cos(0, 1) + 0.2,
        "cat/kitten should be closer than cat/stocks"
    );
}

#[test]
fn encode_prints_token_counts_and_unit_vectors() {
    let model = real_model();
    let o = trine(&[
        "encode",
        "--model",
        model.to_str().unwrap(),
        "hello world",
        "",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["n_tokens"], 4);
    assert_eq!(lines[1]["n_tokens"], 2);
    let v: Vec<f64> = lines[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-5);
}

#[test]
fn bad_inputs_fail_cleanly_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("notjson.jsonl");
    std::fs::write(&p, "{\"_id\":\"1\",\"text\":\"ok\"}\nnot json\n").unwrap();
    expect_embed_error(d, &p, &[], "notjson.jsonl:2:");
    let p = d.join("notext.jsonl");
    std::fs::write(&p, "{\"_id\":\"1\",\"body\":\"x\"}\n").unwrap();
    expect_embed_error(d, &p, &[], "notext.jsonl:1: missing field `text`");
    let p = d.join("utf8.txt");
    std::fs::write(&p, b"ok\n\xff\n").unwrap();
    expect_embed_error(d, &p, &[], "utf8.txt:2: invalid UTF-8");
    let p = d.join("empty.jsonl");
    std::fs::write(&p, "").unwrap();
    expect_embed_error(d, &p, &[], "no documents");
    let p = d.join("emb.parquet");
    trine_corpus::embeddings::write(
        &p,
        &trine_corpus::embeddings::Embeddings {
            ids: vec!["x".into()],
            dim: 1,
            values: vec![1.0],
            model: "m".into(),
            fingerprint: String::new(),
        },
    )
    .unwrap();
    expect_embed_error(d, &p, &[], "no column `text`; the file has: id, embedding");
}

#[test]
fn missing_or_corrupt_model_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let model = tiny_model(dir.path());
    std::fs::write(Path::new(&model).join("model.safetensors"), b"garbage").unwrap();
    let out = dir.path().join("out.parquet");
    let o = trine(&[
        "embed",
        "--model",
        &model,
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("model.safetensors"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn eval_rejects_qrels_with_unknown_queries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("corpus.jsonl"),
        "{\"_id\":\"d1\",\"title\":\"\",\"text\":\"the cat\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("queries.jsonl"),
        "{\"_id\":\"q1\",\"text\":\"cat\"}\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("qrels")).unwrap();
    std::fs::write(
        d.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq7\td1\t1\n",
    )
    .unwrap();
    let model = tiny_model(d);
    let o = trine(&[
        "eval",
        "--data",
        d.to_str().unwrap(),
        "--model",
        &model,
        "--out-dir",
        d.join("runs").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("test.tsv:3: unknown query id `q7`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_on_a_small_beir_set_scores_and_writes_run_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("corpus.jsonl"),
        "{\"_id\":\"d1\",\"title\":\"Cats\",\"text\":\"Cats are small domesticated felines that purr.\"}\n\
         {\"_id\":\"d2\",\"title\":\"Rockets\",\"text\":\"Rockets burn propellant to reach orbit.\"}\n\
         {\"_id\":\"d3\",\"title\":\"Bread\",\"text\":\"Bread is baked from flour, water and yeast.\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("queries.jsonl"),
        "{\"_id\":\"q1\",\"text\":\"how do spacecraft get to orbit\"}\n{\"_id\":\"q2\",\"text\":\"pet kitten purring\"}\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("qrels")).unwrap();
    std::fs::write(
        d.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\n",
    )
    .unwrap();
    let model = real_model();
    let runs = d.join("runs");
    let o = trine(&[
        "eval",
        "--data",
        d.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--json",
        "--out-dir",
        runs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "ndcg@10",
        "ndcg@100",
        "recall@10",
        "recall@100",
        "mrr@10",
        "map@100",
    ] {
        assert!(keys.contains(&k), "missing {k} in {m}");
    }
    assert_eq!(
        m["mrr@10"], 1.0,
        "both queries should rank their document first: {m}"
    );
    let name = d.file_name().unwrap().to_string_lossy();
    let run = std::fs::read_to_string(runs.join(format!("{name}.test.dense.trec"))).unwrap();
    assert!(
        run.lines().next().unwrap().starts_with("q1 Q0 d2 1 "),
        "{run}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs.join(format!("{name}.test.dense.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(report["queries"], 2);
}

/// The first embedding `trine encode` prints.
fn encoded(o: &std::process::Output) -> Vec<f64> {
    assert!(o.status.success(), "{}", stderr(o));
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn encode_applies_the_models_prompts_and_truncation() {
    // An XLM-RoBERTa folder with `query: ` (the default) and `passage: ` prompts, and
    // sentence-transformers' embeddings of its texts with each prompt.
    let model = repo_root().join("crates/trine-encoder/tests/fixtures/xlm-roberta-mean-prompts");
    let m = model.to_str().unwrap();
    let reference: serde_json::Value = std::fs::read_to_string(model.join("reference.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["text"] == "hello")
        .unwrap();
    let want = |key: &str| -> Vec<f64> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let default = encoded(&trine(&["encode", "--model", m, "hello"]));
    assert!(cosine(&default, &want("embedding_query")) > 0.99999);
    let doc = encoded(&trine(&[
        "encode",
        "--model",
        m,
        "--prompt-name",
        "document",
        "hello",
    ]));
    assert!(cosine(&doc, &want("embedding_document")) > 0.99999);
    let plain = encoded(&trine(&["encode", "--model", m, "--prompt", "", "hello"]));
    assert!(cosine(&plain, &want("embedding")) > 0.99999);
    let cut = encoded(&trine(&[
        "encode",
        "--model",
        m,
        "--truncate-dim",
        "8",
        "hello",
    ]));
    assert_eq!(cut.len(), 8);
    assert!((cut.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-5);

    let o = trine(&["encode", "--model", m, "--prompt-name", "nope", "hello"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("`nope`") && e.contains("document, query") && !e.contains("panicked"),
        "{e}"
    );
    let o = trine(&["encode", "--model", m, "--truncate-dim", "64", "hello"]);
    assert!(
        !o.status.success() && stderr(&o).contains("1..=32"),
        "{}",
        stderr(&o)
    );
}

/// `--max-batch-tokens` and `--dtype int8` encode what the default does (token budgets change
/// only which texts share a batch; int8 stays close), and a zero budget or batch bound is refused
/// naming the flag.
#[test]
fn batching_and_int8_flags_and_their_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let texts = ["the cat sat", "a dog ran fast on the red mat", "sun"];
    let run = |extra: &[&str]| {
        let mut args = vec!["encode", "--model", &model];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(&texts);
        encoded(&trine(&args))
    };
    let base = run(&[]);
    let budget = run(&["--max-batch-tokens", "8"]);
    assert!(base.iter().zip(&budget).all(|(a, b)| (a - b).abs() < 1e-5));
    assert!(cosine(&base, &run(&["--dtype", "int8"])) > 0.98);
    let o = trine(&["encode", "--model", &model, "--max-batch-tokens", "0", "x"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--max-batch-tokens"), "{}", stderr(&o));

    common::tiny_beir(dir.path(), |i| vec![i], false);
    let idx = dir.path().join("idx");
    let d = dir.path().to_str().unwrap();
    let o = trine(&[
        "index",
        "build",
        "--model",
        &model,
        "--corpus",
        d,
        "--out",
        idx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trine(&[
        "serve",
        idx.to_str().unwrap(),
        "--model",
        &model,
        "--addr",
        "127.0.0.1:0",
        "--max-batch-texts",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--max-batch-texts"), "{}", stderr(&o));
}
