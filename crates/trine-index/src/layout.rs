//! Generation folders and the `CURRENT` pointer that makes a generation live.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{IndexError, Result};

pub(crate) const CURRENT: &str = "CURRENT";
pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const DOCS: &str = "docs.parquet";
pub(crate) const VECTORS: &str = "vectors.f32";
pub(crate) const QUANTIZED: &str = "vectors.q";
pub(crate) const LEXICAL: &str = "lexical";
pub(crate) const ANN: &str = "ann.usearch";
pub(crate) const CHUNKS: &str = "chunks.bin";
pub(crate) const TOPICS: &str = "topics.json";
pub(crate) const TOPIC_MAP_SVG: &str = "topics-map.svg";
pub(crate) const TOPIC_MAP_PNG: &str = "topics-map.png";

/// The number of the generation `CURRENT` names.
pub(crate) fn live_generation(root: &Path) -> Result<u64> {
    let dir = current(root)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    name.as_deref()
        .and_then(|n| n.strip_prefix("gen-"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| IndexError::Corrupt {
            path: root.join(CURRENT),
            message: format!("{CURRENT} does not name a numbered generation"),
        })
}

/// Folder name of generation `n`.
pub(crate) fn generation_name(n: u64) -> String {
    format!("gen-{n:06}")
}

/// The live generation's folder, from `CURRENT`.
pub(crate) fn current(root: &Path) -> Result<PathBuf> {
    let pointer = root.join(CURRENT);
    let name = std::fs::read_to_string(&pointer).map_err(|e| IndexError::Missing {
        path: root.to_path_buf(),
        message: if root.is_dir() {
            format!("not a trine index (cannot read {CURRENT}: {e}); was its build interrupted?")
        } else {
            "no such index folder".into()
        },
    })?;
    let name = name.trim();
    if !name.starts_with("gen-") || name.contains('/') {
        return Err(IndexError::Corrupt {
            path: pointer,
            message: format!("{CURRENT} names `{name}`, not a generation"),
        });
    }
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(IndexError::Missing {
            path: dir,
            message: "the live generation folder is missing".into(),
        });
    }
    Ok(dir)
}

/// Syncs every file below `dir` (and the folders), so a generation is durable before it goes live.
pub(crate) fn sync_tree(dir: &Path) -> Result<()> {
    Ok(trine_corpus::atomic::sync_tree(dir)?)
}

/// Makes generation `name` live: `CURRENT` is replaced atomically and durably.
pub(crate) fn switch(root: &Path, name: &str) -> Result<()> {
    Ok(trine_corpus::atomic::write_bytes(
        &root.join(CURRENT),
        name.as_bytes(),
    )?)
}

/// Opens the live generation for reading: its folder, and a shared lock on it (the reader's
/// lease) that keeps writers from removing it while the returned file is open.
pub(crate) fn lease(root: &Path) -> Result<(PathBuf, File)> {
    for _ in 0..8 {
        let dir = current(root)?;
        let Ok(file) = File::open(&dir) else {
            continue; // removed between reading CURRENT and opening it: read CURRENT again
        };
        file.lock_shared().map_err(|e| IndexError::io(&dir, e))?;
        if dir.join(MANIFEST).is_file() {
            return Ok((dir, file));
        }
    }
    Err(IndexError::Missing {
        path: root.to_path_buf(),
        message: "the live generation kept changing while it was opened".into(),
    })
}

/// Removes generation folders other than `keep` that no reader holds (a leased one stays until a
/// later write finds it free), and staging folders a crashed writer left.
pub(crate) fn remove_stale(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == keep {
            continue;
        }
        if name.starts_with(".gen-") {
            let _ = std::fs::remove_dir_all(e.path());
        } else if name.starts_with("gen-") {
            let free = File::open(e.path()).is_ok_and(|f| f.try_lock().is_ok());
            if free {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Copies a folder tree (used to start a new generation's lexical index from the old one).
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| IndexError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| IndexError::io(from, e))? {
        let entry = entry.map_err(|e| IndexError::io(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else if entry.file_name() != ".tantivy-writer.lock"
            && entry.file_name() != ".tantivy-meta.lock"
        {
            std::fs::copy(&src, &dst).map_err(|e| IndexError::io(&src, e))?;
        }
    }
    Ok(())
}
