//! SIGKILL in the middle of `trine index build` (rebuild with --force) and `trine index add`: the
//! previous index must open whole and consistent afterwards, whatever moment the kill hit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trine_encoder::tiny::{write_tiny_model, TinySpec};
use trine_index::Index;

fn trine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trine"))
}

fn corpus(path: &Path, n: usize, prefix: &str) {
    let words = [
        "the", "cat", "dog", "sat", "on", "mat", "red", "blue", "car", "sun", "moon", "ran",
    ];
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let text: Vec<&str> = (0..12)
                .map(|j| words[(i * 7 + j * 3) % words.len()])
                .collect();
            format!(
                "{{\"_id\":\"{prefix}{i}\",\"text\":\"{}\"}}",
                text.join(" ")
            )
        })
        .collect();
    std::fs::write(path, lines.join("\n")).unwrap();
}

/// Starts `args`, kills it with SIGKILL after `delay`, and returns whether it had already finished.
fn kill_after(args: &[&str], delay: Duration) -> bool {
    let mut child = trine().args(args).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    false
}

fn assert_whole(root: &Path, allowed: &[usize]) -> usize {
    let index = Index::open(root).unwrap_or_else(|e| panic!("index did not survive: {e}"));
    assert!(
        allowed.contains(&index.len()),
        "unexpected size {}",
        index.len()
    );
    // every document is findable through both retrievers' data
    let d = index.document(index.len() - 1);
    assert_eq!(index.row_of(&d.id), Some(index.len() - 1));
    assert!(!index.search_lexical("cat dog", 5).unwrap().is_empty());
    index.len()
}

#[test]
fn killed_build_and_add_leave_the_previous_index_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("model");
    write_tiny_model(&model, &TinySpec::default()).unwrap();
    let (small, big, extra) = (
        d.join("small.jsonl"),
        d.join("big.jsonl"),
        d.join("extra.jsonl"),
    );
    corpus(&small, 50, "s");
    corpus(&big, 20_000, "b");
    corpus(&extra, 20_000, "e");
    let root = d.join("idx");
    let (m, r) = (model.to_str().unwrap(), root.to_str().unwrap());
    let st = trine()
        .args([
            "index",
            "build",
            "--model",
            m,
            "--corpus",
            small.to_str().unwrap(),
            "--out",
            r,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    assert_whole(&root, &[50]);

    let mut finished = 0;
    for ms in [40, 150, 400, 900, 1600, 2500] {
        let args = [
            "index",
            "build",
            "--force",
            "--model",
            m,
            "--corpus",
            big.to_str().unwrap(),
            "--out",
            r,
        ];
        finished += kill_after(&args, Duration::from_millis(ms)) as usize;
        assert_whole(&root, &[50, 20_000]);
    }
    let size = Index::open(&root).unwrap().len();
    for ms in [40, 150, 400, 900, 1600, 2500] {
        let args = [
            "index",
            "add",
            r,
            "--model",
            m,
            "--corpus",
            extra.to_str().unwrap(),
        ];
        finished += kill_after(&args, Duration::from_millis(ms)) as usize;
        let now = assert_whole(&root, &[size, size + 20_000]);
        if now != size {
            break; // the add completed; later adds would be rejected as duplicates
        }
    }
    assert!(
        finished < 12,
        "every run finished before its kill; the test did not test anything"
    );
}

fn add_args<'a>(root: &'a str, model: &'a str, corpus: &'a str) -> Vec<&'a str> {
    vec!["index", "add", root, "--model", model, "--corpus", corpus]
}

#[test]
fn writers_queue_with_wait_are_refused_without_and_a_killed_writer_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("model");
    write_tiny_model(&model, &TinySpec::default()).unwrap();
    let small = d.join("small.jsonl");
    corpus(&small, 50, "s");
    let root = d.join("idx");
    let (m, r) = (model.to_str().unwrap(), root.to_str().unwrap());
    let st = trine()
        .args([
            "index",
            "build",
            "--model",
            m,
            "--corpus",
            small.to_str().unwrap(),
            "--out",
            r,
        ])
        .status()
        .unwrap();
    assert!(st.success());

    // Four adds started together with --wait: all land, one after the other.
    let parts: Vec<String> = (0..4)
        .map(|k| {
            let p = d.join(format!("part{k}.jsonl"));
            corpus(&p, 30, &format!("p{k}-"));
            p.to_str().unwrap().to_string()
        })
        .collect();
    let children: Vec<_> = parts
        .iter()
        .map(|p| {
            let mut args = add_args(r, m, p);
            args.push("--wait");
            trine().args(&args).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
    }
    assert_whole(&root, &[50 + 4 * 30]);

    // Another process holds the lock (flock(1) takes the same kernel lock): a writer without
    // --wait is refused naming it and changes nothing; with --wait it goes once the lock is free.
    let lock = root.join(trine_index::lock::WRITER_LOCK);
    std::fs::write(&lock, "4242").unwrap();
    let mut holder = Command::new("flock")
        .args([lock.to_str().unwrap(), "sleep", "2"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let extra = d.join("extra.jsonl");
    corpus(&extra, 10, "x");
    let x = extra.to_str().unwrap();
    let out = trine().args(add_args(r, m, x)).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("being written by process 4242"), "{err}");
    assert_whole(&root, &[170]);
    let mut args = add_args(r, m, x);
    args.push("--wait");
    let out = trine().args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waiting for process 4242"), "{err}");
    holder.wait().unwrap();
    // flock(1) ended without clearing the pid, as a killed writer would: the next one says so.
    assert!(
        err.contains("took over the writer lock of process 4242"),
        "{err}"
    );
    assert_whole(&root, &[180]);
}
