//! Property-based fuzzing of every reader: random bytes, and valid files with bytes flipped,
//! inserted or cut off, must give a document list or an error, never a panic. The number of
//! inputs per reader is `PROPTEST_CASES` (256 by default; `make bench` runs many more and
//! prints the executions).

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use trine_corpus::embeddings::{self, Embeddings};
use trine_corpus::triplets::{read_triplets, write_triplets, Triplet};
use trine_corpus::{beir, read_corpus, CorpusOptions};

/// A valid file with random damage: flipped bytes, an inserted run, a cut-off end.
fn damaged(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    (
        prop::collection::vec((0..n, any::<u8>()), 0..8),
        prop::collection::vec(any::<u8>(), 0..16),
        0..n,
        0..=n,
    )
        .prop_map(move |(flips, insert, at, cut)| {
            let mut b = valid.clone();
            for (i, v) in flips {
                b[i] = v;
            }
            b.truncate(cut.max(1));
            let at = at.min(b.len());
            b.splice(at..at, insert);
            b
        })
}

/// Random bytes or a damaged valid file.
fn inputs(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), damaged(valid)]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

/// Runs `read` on every input written to `path`; returns the count of inputs that parsed.
fn fuzz(name: &str, valid: Vec<u8>, path: &Path, read: impl Fn(&Path) -> bool) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let parsed = std::cell::Cell::new(0usize);
    runner
        .run(&inputs(valid), |bytes| {
            std::fs::write(path, &bytes).unwrap();
            if read(path) {
                parsed.set(parsed.get() + 1);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    println!(
        "fuzz {name}: {} executions, {} parsed, 0 panics",
        cases(),
        parsed.get()
    );
}

#[test]
fn corpus_readers_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = b"{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"a b\"}\n{\"_id\": \"d2\", \"text\": \"c\"}\n";
    let opts = CorpusOptions::default();
    fuzz(
        "corpus.jsonl",
        jsonl.to_vec(),
        &dir.path().join("c.jsonl"),
        |p| read_corpus(p, &opts).is_ok(),
    );
    fuzz(
        "corpus.txt",
        b"one\ntwo\n".to_vec(),
        &dir.path().join("c.txt"),
        |p| read_corpus(p, &opts).is_ok(),
    );
}

#[test]
fn parquet_readers_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("valid-t.parquet");
    let rows = vec![
        Triplet {
            query: "q".into(),
            positive: "p".into(),
            negative: Some("n".into()),
            query_id: Some("1".into()),
            positive_id: None,
            negative_id: None,
            label: None,
        };
        3
    ];
    write_triplets(&t, &rows).unwrap();
    fuzz(
        "triplets.parquet",
        std::fs::read(&t).unwrap(),
        &dir.path().join("t.parquet"),
        |p| read_triplets(p).is_ok(),
    );
    let e = dir.path().join("valid-e.parquet");
    let emb = Embeddings {
        ids: vec!["a".into(), "b".into()],
        dim: 2,
        values: vec![1.0, 0.0, 0.0, 1.0],
        model: "m".into(),
        fingerprint: "f".into(),
    };
    embeddings::write(&e, &emb).unwrap();
    fuzz(
        "embeddings.parquet",
        std::fs::read(&e).unwrap(),
        &dir.path().join("e.parquet"),
        |p| embeddings::read(p).is_ok(),
    );
    fuzz(
        "corpus.parquet",
        std::fs::read(&t).unwrap(),
        &dir.path().join("c.parquet"),
        |p| read_corpus(p, &CorpusOptions::default()).is_ok(),
    );
}

#[test]
fn beir_readers_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("qrels")).unwrap();
    std::fs::write(
        root.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q2\", \"text\": \"b\"}\n",
    )
    .unwrap();
    let qrels = b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n".to_vec();
    fuzz("qrels.tsv", qrels, &root.join("qrels/test.tsv"), |_| {
        beir::load_split(root, "test").is_ok()
    });
}
