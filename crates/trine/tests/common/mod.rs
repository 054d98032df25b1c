//! Helpers shared by the binary's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trine_encoder::tiny::{write_tiny_model, TinySpec};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the shared corpora are (`TRINE_DATA_ROOT`, else `../shared/corpora`).
pub fn data_root() -> PathBuf {
    std::env::var_os("TRINE_DATA_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpora"))
}

/// Runs the `trine` binary with the data root set.
pub fn trine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trine"))
        .args(args)
        .env("TRINE_DATA_ROOT", data_root())
        .output()
        .expect("run trine")
}

/// A run's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes the tiny random-weight model under `dir`; returns its path.
pub fn tiny_model(dir: &Path) -> String {
    let m = dir.join("tiny");
    write_tiny_model(&m, &TinySpec::default()).unwrap();
    m.to_string_lossy().into_owned()
}

/// Words of the tiny model's vocabulary the test corpora are made of.
pub const WORDS: &[&str] = &[
    "cat", "dog", "sun", "moon", "car", "mat", "red", "blue", "big", "small", "fast", "slow",
];

/// A BEIR folder of 12 documents; queries q0..q7 judge d_i (and, per `train_qrels`, more) in
/// `qrels/train.tsv`; with `dev`, queries q8..q10 judge d_i (grade 2) and d_{i+1} in
/// `qrels/dev.tsv`.
pub fn tiny_beir(d: &Path, train_qrels: impl Fn(usize) -> Vec<usize>, dev: bool) {
    let mut corpus = String::new();
    for (i, w) in WORDS.iter().enumerate() {
        let next = WORDS[(i + 1) % WORDS.len()];
        corpus.push_str(&format!(
            "{{\"_id\":\"d{i}\",\"title\":\"{w}\",\"text\":\"the {w} sat on the {next} .\"}}\n"
        ));
    }
    std::fs::write(d.join("corpus.jsonl"), corpus).unwrap();
    let mut queries = String::new();
    let mut train = String::from("query-id\tcorpus-id\tscore\n");
    let mut dev_qrels = String::from("query-id\tcorpus-id\tscore\n");
    for i in 0..11 {
        queries.push_str(&format!(
            "{{\"_id\":\"q{i}\",\"text\":\"a {} is {}\"}}\n",
            WORDS[i],
            WORDS[i + 1]
        ));
        if i < 8 {
            for doc in train_qrels(i) {
                train.push_str(&format!("q{i}\td{doc}\t1\n"));
            }
        } else {
            dev_qrels.push_str(&format!("q{i}\td{i}\t2\nq{i}\td{}\t1\n", i + 1));
        }
    }
    std::fs::write(d.join("queries.jsonl"), queries).unwrap();
    std::fs::create_dir_all(d.join("qrels")).unwrap();
    std::fs::write(d.join("qrels/train.tsv"), train).unwrap();
    if dev {
        std::fs::write(d.join("qrels/dev.tsv"), dev_qrels).unwrap();
    }
}
