//! Class labels: gold labels for clustering evaluation (a field of a JSON Lines corpus, or a
//! tab-separated `id<TAB>label` file, matched to documents by id), and labelled collections for
//! class-based fine-tuning ([`read_labelled`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::{CorpusError, Result};

/// Reads `(id, label)` pairs: JSONL objects with `id_field` and `label_field` (string or
/// number), or, for `.tsv`/`.txt` files, `id<TAB>label` lines.
pub fn read_labels(
    path: &Path,
    id_field: &str,
    label_field: &str,
) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let tsv = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("tsv") | Some("txt")
    );
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line_no = i + 1;
        let bytes = line.map_err(|e| CorpusError::io(path, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| CorpusError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: line_no,
            byte: e.valid_up_to(),
        })?;
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        if tsv {
            let Some((id, label)) = text.split_once('\t') else {
                return Err(CorpusError::Malformed {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: "expected `id<TAB>label`".into(),
                });
            };
            out.push((id.to_string(), label.trim().to_string()));
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| CorpusError::Json {
                path: path.to_path_buf(),
                line: line_no,
                source,
            })?;
        let obj = value.as_object().ok_or(CorpusError::NotAnObject {
            path: path.to_path_buf(),
            line: line_no,
        })?;
        let field = |name: &str| -> Result<String> {
            match obj.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                Some(_) => Err(CorpusError::FieldType {
                    path: path.to_path_buf(),
                    line: line_no,
                    field: name.to_string(),
                    expected: "a string or a number",
                }),
                None => Err(CorpusError::MissingField {
                    path: path.to_path_buf(),
                    line: line_no,
                    field: name.to_string(),
                }),
            }
        };
        out.push((field(id_field)?, field(label_field)?));
    }
    if out.is_empty() {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
            what: "labels",
        });
    }
    Ok(out)
}

/// The label of each of `ids`, in order; every id needs exactly one label and every label an id.
pub fn match_labels(
    path: &Path,
    ids: &[String],
    labels: &[(String, String)],
) -> Result<Vec<String>> {
    let mut by_id: HashMap<&str, &str> = HashMap::with_capacity(labels.len());
    for (id, label) in labels {
        if by_id.insert(id, label).is_some() {
            return Err(CorpusError::Metadata {
                path: path.to_path_buf(),
                message: format!("id `{id}` has more than one label"),
            });
        }
    }
    let missing: Vec<&String> = ids
        .iter()
        .filter(|i| !by_id.contains_key(i.as_str()))
        .collect();
    if let Some(first) = missing.first() {
        return Err(CorpusError::Metadata {
            path: path.to_path_buf(),
            message: format!(
                "no label for document `{first}` ({} of {} documents have none)",
                missing.len(),
                ids.len()
            ),
        });
    }
    if labels.len() != ids.len() {
        let known: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let extra = labels.iter().find(|(i, _)| !known.contains(i.as_str()));
        return Err(CorpusError::Metadata {
            path: path.to_path_buf(),
            message: format!(
                "{} labels for {} documents; first unknown id: `{}`",
                labels.len(),
                ids.len(),
                extra.map_or("", |e| e.0.as_str())
            ),
        });
    }
    Ok(ids.iter().map(|i| by_id[i.as_str()].to_string()).collect())
}

/// Most problems listed in one error message.
const MAX_LISTED: usize = 20;

/// Reads a labelled collection: the documents of a JSON Lines or Parquet corpus (as
/// [`crate::read_corpus`] reads them) with the `label_field` of each (a string or a number).
/// Every row without a label is reported at once, with its line (JSONL) or 0-based row (Parquet).
pub fn read_labelled(
    path: &Path,
    options: &crate::CorpusOptions,
    label_field: &str,
) -> Result<Vec<(crate::Document, String)>> {
    let docs = crate::read_corpus(path, options)?;
    let mut labels: Vec<Option<String>> = Vec::with_capacity(docs.len());
    let mut places: Vec<String> = Vec::with_capacity(docs.len());
    match options.format.resolve(path) {
        crate::CorpusFormat::Jsonl => {
            crate::jsonl::for_each_object(path, |line, obj| {
                labels.push(match obj.get(label_field) {
                    Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                        Some(s.trim().to_string())
                    }
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                });
                places.push(format!("line {line}"));
                Ok(())
            })?;
        }
        crate::CorpusFormat::Parquet => {
            let cols = crate::read_string_columns(
                path,
                &[crate::ColumnRequest {
                    name: label_field,
                    required: true,
                }],
            )?;
            for (row, v) in cols[0].iter().flatten().enumerate() {
                labels.push(
                    v.as_ref()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
                places.push(format!("row {row}"));
            }
        }
        _ => {
            return Err(CorpusError::UnknownFormat {
                path: path.to_path_buf(),
                hint: "a labelled collection is a .jsonl or .parquet file with a label field",
            })
        }
    }
    let missing: Vec<String> = labels
        .iter()
        .zip(&places)
        .filter(|(l, _)| l.is_none())
        .map(|(_, p)| format!("{p}: no `{label_field}`"))
        .collect();
    if !missing.is_empty() {
        return Err(CorpusError::InvalidRows {
            path: path.to_path_buf(),
            total: missing.len(),
            problems: missing.into_iter().take(MAX_LISTED).collect(),
        });
    }
    debug_assert_eq!(labels.len(), docs.len());
    Ok(docs.into_iter().zip(labels.into_iter().flatten()).collect())
}
