//! Choosing a reader for a corpus path and checking what it read.

use std::collections::HashSet;
use std::path::Path;

pub use crate::jsonl::JsonFields;
use crate::{jsonl, parquet_docs, text, CorpusError, Document, Result};

/// The on-disk layout of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CorpusFormat {
    /// Decide from the path: a folder is BEIR, then by extension (`.jsonl`/`.json`/`.ndjson`,
    /// `.parquet`/`.pq`, anything else is plain text).
    #[default]
    Auto,
    /// A BEIR folder: `corpus.jsonl` with `_id`, `title`, `text`.
    Beir,
    /// JSON Lines with configurable field names.
    Jsonl,
    /// Parquet with configurable column names.
    Parquet,
    /// One document per line.
    Text,
}

/// How to read a corpus.
#[derive(Debug, Clone)]
pub struct CorpusOptions {
    pub format: CorpusFormat,
    /// Field (JSONL) or column (Parquet) names.
    pub fields: JsonFields,
}

impl Default for CorpusOptions {
    fn default() -> Self {
        CorpusOptions {
            format: CorpusFormat::Auto,
            fields: JsonFields {
                id: "_id".into(),
                title: "title".into(),
                text: "text".into(),
            },
        }
    }
}

impl CorpusFormat {
    /// The concrete format for `path` (never `Auto`).
    pub fn resolve(self, path: &Path) -> CorpusFormat {
        if self != CorpusFormat::Auto {
            return self;
        }
        if path.is_dir() {
            return CorpusFormat::Beir;
        }
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("jsonl" | "json" | "ndjson") => CorpusFormat::Jsonl,
            Some("parquet" | "pq") => CorpusFormat::Parquet,
            _ => CorpusFormat::Text,
        }
    }
}

/// Reads every document of a corpus. Fails on an empty corpus and on duplicate ids.
pub fn read_corpus(path: &Path, options: &CorpusOptions) -> Result<Vec<Document>> {
    if !path.exists() {
        return Err(CorpusError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        ));
    }
    let (file, docs) = match options.format.resolve(path) {
        CorpusFormat::Beir => {
            let file = path.join("corpus.jsonl");
            if !file.is_file() {
                return Err(CorpusError::UnknownFormat {
                    path: path.to_path_buf(),
                    hint: "a corpus folder must hold corpus.jsonl (BEIR layout)",
                });
            }
            let docs = jsonl::read_documents(&file, &CorpusOptions::default().fields)?;
            (file, docs)
        }
        CorpusFormat::Jsonl => (
            path.to_path_buf(),
            jsonl::read_documents(path, &options.fields)?,
        ),
        CorpusFormat::Parquet => (
            path.to_path_buf(),
            parquet_docs::read_documents(path, &options.fields)?,
        ),
        CorpusFormat::Text => (path.to_path_buf(), text::read_documents(path)?),
        CorpusFormat::Auto => unreachable!("resolve never returns Auto"),
    };
    if docs.is_empty() {
        return Err(CorpusError::Empty {
            path: file,
            what: "documents",
        });
    }
    let mut seen = HashSet::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        if !seen.insert(d.id.as_str()) {
            return Err(CorpusError::DuplicateId {
                path: file,
                line: i + 1,
                id: d.id.clone(),
            });
        }
    }
    Ok(docs)
}
