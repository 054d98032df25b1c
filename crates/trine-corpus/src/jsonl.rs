//! Line-by-line reading with UTF-8 and JSON checks that name the line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

use crate::{CorpusError, Document, Result};

/// Field names used to read documents from JSON objects.
#[derive(Debug, Clone)]
pub struct JsonFields {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// Longest line a text input may have (a document, query or row of 64 MiB is not a document:
/// more likely a file without newlines). Longer lines are refused before they are read whole.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Calls `f(line_number, line)` for every line of a UTF-8 text file (1-based line numbers, newline
/// and a trailing `\r` stripped). Invalid UTF-8 is an error naming the line and byte.
pub(crate) fn for_each_line<F>(path: &Path, mut f: F) -> Result<()>
where
    F: FnMut(usize, &str) -> Result<()>,
{
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CorpusError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        if n > MAX_LINE_BYTES {
            return Err(CorpusError::LineTooLong {
                path: path.to_path_buf(),
                line: line_no,
                limit: MAX_LINE_BYTES,
            });
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = std::str::from_utf8(&buf).map_err(|e| CorpusError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: line_no,
            byte: e.valid_up_to(),
        })?;
        f(line_no, line)?;
    }
}

/// Calls `f(line_number, object)` for every non-blank line of a JSON Lines file.
pub(crate) fn for_each_object<F>(path: &Path, mut f: F) -> Result<()>
where
    F: FnMut(usize, Map<String, Value>) -> Result<()>,
{
    for_each_line(path, |line_no, line| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(line).map_err(|source| CorpusError::Json {
            path: path.to_path_buf(),
            line: line_no,
            source,
        })?;
        match value {
            Value::Object(map) => f(line_no, map),
            _ => Err(CorpusError::NotAnObject {
                path: path.to_path_buf(),
                line: line_no,
            }),
        }
    })
}

/// Reads a string field. Returns `Ok(None)` when the field is absent or null.
pub(crate) fn string_field(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CorpusError::FieldType {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            expected: "a string",
        }),
    }
}

/// Reads an id field: a string, or a number printed as text (BEIR ids are sometimes numeric).
pub(crate) fn id_field(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>> {
    match obj.get(field) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => string_field(path, line, obj, field).map_err(|e| match e {
            CorpusError::FieldType {
                path, line, field, ..
            } => CorpusError::FieldType {
                path,
                line,
                field,
                expected: "a string or a number",
            },
            other => other,
        }),
    }
}

/// Reads documents from a JSON Lines file. The text field is required; a missing id becomes the
/// 1-based line number; a missing title is empty.
pub(crate) fn read_documents(path: &Path, fields: &JsonFields) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for_each_object(path, |line, obj| {
        let text = string_field(path, line, &obj, &fields.text)?.ok_or_else(|| {
            CorpusError::MissingField {
                path: path.to_path_buf(),
                line,
                field: fields.text.clone(),
            }
        })?;
        let id = id_field(path, line, &obj, &fields.id)?.unwrap_or_else(|| line.to_string());
        let title = string_field(path, line, &obj, &fields.title)?.unwrap_or_default();
        docs.push(Document { id, title, text });
        Ok(())
    })?;
    Ok(docs)
}
