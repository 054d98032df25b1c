//! One writer at a time: a second writer fails naming the holder or queues with `Wait::Yes`, a
//! lock left by a killed writer is taken over, and readers never wait.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use trine_corpus::Document;
use trine_index::{AddPolicy, Index, IndexError, ModelInfo, Wait, WriterLock};

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
    let docs = [doc("a", "apples"), doc("b", "boats")];
    Index::build(root, &docs, &[1.0, 0.0, 0.0, 1.0], model(), false).unwrap();
}

fn add(root: &Path, id: &str) -> trine_index::Result<Index> {
    Index::add(
        root,
        &[doc(id, "cherries")],
        &[0.6, 0.8],
        &model(),
        AddPolicy::Reject,
    )
}

#[test]
fn a_second_writer_is_told_who_holds_the_lock_and_readers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    fresh(&root);
    let lock = WriterLock::acquire(&root, Wait::No).unwrap();
    let other = root.clone();
    let (err, read) = std::thread::spawn(move || {
        let err = add(&other, "c")
            .err()
            .expect("a second writer must be refused");
        let index = Index::open(&other).unwrap();
        (err, index.search_lexical("apples", 5).unwrap().len())
    })
    .join()
    .unwrap();
    match &err {
        IndexError::Locked { holder, .. } => assert_eq!(*holder, Some(std::process::id())),
        e => panic!("expected Locked, got {e}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!("process {}", std::process::id())) && message.contains("--wait"),
        "{message}"
    );
    assert_eq!(read, 1, "a reader is not blocked by the writer lock");
    // The holder's own thread writes under the lock it holds.
    assert_eq!(add(&root, "c").unwrap().len(), 3);
    drop(lock);
    assert_eq!(add(&root, "d").unwrap().len(), 4);
}

#[test]
fn with_wait_a_writer_queues_until_the_holder_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    fresh(&root);
    let lock = WriterLock::acquire(&root, Wait::No).unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let (other, flag) = (root.clone(), released.clone());
    let waiter = std::thread::spawn(move || {
        let _lock = WriterLock::acquire(&other, Wait::Yes).unwrap();
        let saw_release = flag.load(Ordering::SeqCst);
        (saw_release, add(&other, "c").unwrap().len())
    });
    std::thread::sleep(Duration::from_millis(300));
    add(&root, "z").unwrap();
    released.store(true, Ordering::SeqCst);
    drop(lock);
    let (saw_release, len) = waiter.join().unwrap();
    assert!(
        saw_release,
        "the waiter got the lock before the holder let go"
    );
    assert_eq!(len, 4, "both writes landed, one after the other");
}

#[test]
fn a_lock_left_by_a_killed_writer_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    fresh(&root);
    // What a writer killed mid-write leaves: its pid in the file, no kernel lock held.
    std::fs::write(root.join(trine_index::lock::WRITER_LOCK), "999999").unwrap();
    let lock = WriterLock::acquire(&root, Wait::No).unwrap();
    assert_eq!(lock.took_over_from(), Some(999_999));
    drop(lock);
    assert_eq!(
        std::fs::read_to_string(root.join(trine_index::lock::WRITER_LOCK)).unwrap(),
        "",
        "a writer that finishes leaves no pid behind"
    );
    assert_eq!(
        WriterLock::acquire(&root, Wait::No)
            .unwrap()
            .took_over_from(),
        None
    );
}

#[test]
fn a_generation_a_reader_holds_stays_until_it_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    fresh(&root);
    let reader = Index::open(&root).unwrap();
    assert_eq!(Index::live_generation(&root).unwrap(), 1);
    add(&root, "c").unwrap();
    assert_eq!(Index::live_generation(&root).unwrap(), 2);
    assert!(root.join("gen-000001").is_dir(), "removed under a reader");
    assert_eq!(reader.search_lexical("apples", 5).unwrap().len(), 1);
    assert_eq!(reader.len(), 2, "the reader stays on its generation");
    drop(reader);
    add(&root, "d").unwrap();
    assert!(
        !root.join("gen-000001").exists(),
        "a free old generation is removed"
    );
    assert!(!root.join("gen-000002").exists());
    assert_eq!(Index::open(&root).unwrap().len(), 4);
}

#[test]
fn non_finite_vectors_are_refused_naming_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    fresh(&root);
    for bad in [f32::NAN, f32::INFINITY] {
        let err = Index::add(
            &root,
            &[doc("c", "x")],
            &[0.5, bad],
            &model(),
            AddPolicy::Reject,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("`c`") && err.contains("dimension 1"), "{err}");
    }
    let err = Index::build(
        &dir.path().join("b"),
        &[doc("n", "x")],
        &[f32::NAN, 0.0],
        model(),
        false,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("`n`") && err.contains("NaN"), "{err}");
    assert_eq!(Index::open(&root).unwrap().len(), 2);
}
