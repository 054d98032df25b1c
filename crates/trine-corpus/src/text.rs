//! Plain text corpora: one document per line.

use std::path::Path;

use crate::jsonl::for_each_line;
use crate::{Document, Result};

/// Reads one document per non-blank line; the id is the 1-based line number, so hits can be traced
/// back to the file.
pub(crate) fn read_documents(path: &Path) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for_each_line(path, |line_no, line| {
        if !line.trim().is_empty() {
            docs.push(Document {
                id: line_no.to_string(),
                title: String::new(),
                text: line.to_string(),
            });
        }
        Ok(())
    })?;
    Ok(docs)
}
