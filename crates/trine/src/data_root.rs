//! Resolving dataset names against the data root.

use std::path::{Path, PathBuf};

/// `path` itself when it exists; otherwise `root/path` when that exists (so `--data scifact` finds
/// `../shared/corpora/scifact`); otherwise `path` unchanged, for the reader to report.
pub fn resolve(root: &Path, path: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let under_root = root.join(path);
    if under_root.exists() {
        under_root
    } else {
        path.to_path_buf()
    }
}
