//! Write-then-rename, so that a reader never sees a half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{CorpusError, Result};

/// Writes `path` by calling `fill` on a temporary file in the same folder, then renaming it over `path`.
///
/// If `fill` fails or the process dies, `path` keeps its previous content (or stays absent) and the
/// temporary file is removed (or, after a crash, left with a `.tmp` suffix that nothing reads).
pub fn write_file<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| CorpusError::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".trine-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| CorpusError::io(dir, e))?;
    let file = tmp.reopen().map_err(|e| CorpusError::io(tmp.path(), e))?;
    let mut writer = BufWriter::new(file);
    fill(&mut writer)?;
    writer.flush().map_err(|e| CorpusError::io(path, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| CorpusError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| CorpusError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| CorpusError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_previous_content_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_file(&p, |w| {
            w.write_all(b"first").map_err(|e| CorpusError::io("x", e))
        })
        .unwrap();
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
