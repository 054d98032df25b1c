//! Crash safety, tantivy-style: every step of every write (temporary file, fsync, rename, folder
//! sync) is made to fail in turn, at each of its passages, and the index must still open whole
//! on the old generation or the new one (never a mix), and the next write must succeed.

use std::path::Path;

use trine_corpus::Document;
use trine_index::{AddPolicy, Index, ModelInfo};

const POINTS: [&str; 4] = [
    "atomic::write",
    "atomic::fsync",
    "atomic::rename",
    "atomic::sync-dir",
];

fn doc(id: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: String::new(),
        text: text.into(),
    }
}

fn model() -> ModelInfo {
    ModelInfo {
        name: "toy".into(),
        fingerprint: "f".repeat(64),
        dim: 2,
        ..Default::default()
    }
}

fn fresh(root: &Path) {
    let docs = [doc("a", "apples and pears"), doc("b", "boats on rivers")];
    Index::build(root, &docs, &[1.0, 0.0, 0.0, 1.0], model(), false).unwrap();
}

/// The ids an index serves, checked against its lexical and dense parts.
fn state(root: &Path) -> Vec<String> {
    let index = Index::open(root).unwrap_or_else(|e| panic!("index does not open: {e}"));
    let ids: Vec<String> = (0..index.len())
        .map(|r| index.document(r).id.clone())
        .collect();
    let lexical = index.search_lexical("cherries apples boats", 10).unwrap();
    assert_eq!(
        lexical.len(),
        ids.len(),
        "lexical part disagrees with {ids:?}"
    );
    assert_eq!(
        index.search_dense(&[1.0, 1.0], 10).unwrap().len(),
        ids.len()
    );
    ids
}

type Write = fn(&Path) -> trine_index::Result<()>;

fn add(root: &Path) -> trine_index::Result<()> {
    let new = [doc("c", "cherries")];
    Index::add(root, &new, &[0.6, 0.8], &model(), AddPolicy::Reject).map(drop)
}

fn delete(root: &Path) -> trine_index::Result<()> {
    Index::delete(root, &["b".to_string()]).map(drop)
}

fn rebuild(root: &Path) -> trine_index::Result<()> {
    let docs = [doc("x", "apples again"), doc("y", "cherries and boats")];
    Index::build(root, &docs, &[0.0, 1.0, 1.0, 0.0], model(), true).map(drop)
}

#[test]
fn a_failure_at_any_step_of_a_write_leaves_the_old_or_the_new_generation() {
    let scenario = fail::FailScenario::setup();
    let writes: [(&str, Write, &[&str]); 3] = [
        ("add", add, &["a", "b", "c"]),
        ("delete", delete, &["a"]),
        ("build --force", rebuild, &["x", "y"]),
    ];
    let (mut tried, mut lost) = (0, 0);
    for (name, write, after) in writes {
        for point in POINTS {
            let mut failed_at = 0;
            for n in 0.. {
                let dir = tempfile::tempdir().unwrap();
                let root = dir.path().join("idx");
                fresh(&root);
                fail::cfg(point, &format!("{n}*off->1*return->off")).unwrap();
                let result = write(&root);
                fail::remove(point);
                tried += 1;
                let ids = state(&root);
                lost += usize::from(ids != ["a", "b"] && ids != after);
                match result {
                    Ok(()) => {
                        assert_eq!(ids, after, "{name}, {point} passage {n}");
                        break;
                    }
                    Err(e) => {
                        assert!(e.to_string().contains(point), "{name}: {e}");
                        assert!(
                            ids == ["a", "b"] || ids == after,
                            "{name}, {point} failing at passage {n}: {ids:?}"
                        );
                        failed_at += 1;
                        if ids != after {
                            write(&root)
                                .unwrap_or_else(|e| panic!("{name} retry after {point}: {e}"));
                            assert_eq!(state(&root), after, "{name} retry after {point} #{n}");
                        }
                    }
                }
                assert!(n < 500, "{point} never stopped failing");
            }
            assert!(failed_at > 0, "{name} never passes {point}");
        }
    }
    println!("failpoint table: {tried} injected failures, states lost {lost}");
    scenario.teardown();
}
