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
