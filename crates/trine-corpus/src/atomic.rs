//! Durable, atomic file-system changes: the one place trine writes, syncs and renames.
//!
//! A file is written to a temporary sibling, flushed, fsynced, renamed over its destination, and
//! the folder is fsynced, so after a crash or power cut the path holds either the old content or
//! the new, never a mix; a folder (an index generation, a checkpoint) is filled, synced as a
//! tree and renamed into place the same way.
//!
//! Each step passes a failpoint (the `fail` crate, as tantivy uses): `atomic::write`,
//! `atomic::fsync`, `atomic::rename` and `atomic::sync-dir`. Tests make the n-th passage of a
//! point fail (`fail::cfg("atomic::rename", "2*off->return")`) to show that whatever step a crash
//! hits, the previous state opens whole; `FAILPOINTS` does the same for the binary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{CorpusError, Result};

/// An injected failure, as the failpoint `name` reports it.
fn injected(name: &str, path: &Path) -> CorpusError {
    CorpusError::io(
        path,
        std::io::Error::other(format!("failpoint {name} (injected failure)")),
    )
}

/// Passes failpoint `name`; an error when a test made it fail.
fn point(name: &str, path: &Path) -> Result<()> {
    fail::fail_point!(name, |_| Err(injected(name, path)));
    Ok(())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs a file.
pub fn fsync(file: &File, path: &Path) -> Result<()> {
    point("atomic::fsync", path)?;
    file.sync_all().map_err(|e| CorpusError::io(path, e))
}

/// fsyncs a folder, so that the names created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    point("atomic::sync-dir", dir)?;
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| CorpusError::io(dir, e))
}

/// fsyncs every file below `dir`, then every folder, so that a tree is durable before it is
/// renamed into place.
pub fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| CorpusError::io(dir, e))? {
        let path = entry.map_err(|e| CorpusError::io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            let file = File::open(&path).map_err(|e| CorpusError::io(&path, e))?;
            fsync(&file, &path)?;
        }
    }
    sync_dir(dir)
}

/// Renames `from` to `to` (files or folders on one file system; an existing file at `to` is
/// replaced) and fsyncs the destination folder.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    point("atomic::rename", to)?;
    std::fs::rename(from, to).map_err(|e| CorpusError::io(to, e))?;
    sync_dir(parent(to))
}

/// A temporary file beside `path` (its folder created if needed), removed unless persisted.
fn temp_sibling(path: &Path) -> Result<(&Path, tempfile::NamedTempFile)> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).map_err(|e| CorpusError::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".trine-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| CorpusError::io(dir, e))?;
    Ok((dir, tmp))
}

/// Writes `path` by calling `fill` on a temporary file in the same folder, then renaming it over `path`.
///
/// If `fill` fails or the process dies, `path` keeps its previous content (or stays absent) and the
/// temporary file is removed (or, after a crash, left with a `.tmp` suffix that nothing reads).
pub fn write_file<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let (dir, tmp) = temp_sibling(path)?;
    let file = tmp.reopen().map_err(|e| CorpusError::io(tmp.path(), e))?;
    let mut writer = BufWriter::new(file);
    point("atomic::write", path)?;
    fill(&mut writer)?;
    writer.flush().map_err(|e| CorpusError::io(path, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| CorpusError::io(path, e.into_error()))?;
    fsync(&file, path)?;
    point("atomic::rename", path)?;
    tmp.persist(path)
        .map_err(|e| CorpusError::io(path, e.error))?;
    sync_dir(dir)
}

/// Writes `path` through a library that writes by path (candle's safetensors, plotters' SVG):
/// `write(tmp)` fills a temporary sibling, which is then fsynced and renamed over `path`.
pub fn write_via<F, E>(path: &Path, write: F) -> std::result::Result<(), E>
where
    F: FnOnce(&Path) -> std::result::Result<(), E>,
    E: From<CorpusError>,
{
    let (dir, tmp) = temp_sibling(path)?;
    point("atomic::write", path)?;
    write(tmp.path())?;
    let file = File::open(tmp.path()).map_err(|e| CorpusError::io(tmp.path(), e))?;
    fsync(&file, path)?;
    point("atomic::rename", path)?;
    tmp.persist(path)
        .map_err(|e| CorpusError::io(path, e.error))?;
    sync_dir(dir)?;
    Ok(())
}

/// [`write_file`] with the whole content at hand.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, |w| {
        w.write_all(bytes).map_err(|e| CorpusError::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_previous_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_bytes(&p, b"first").unwrap();
        let err = write_file(&p, |w| {
            w.write_all(b"partial").unwrap();
            Err(CorpusError::Empty {
                path: "x".into(),
                what: "documents",
            })
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "first");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
    }
}
