//! The BEIR dataset layout: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::jsonl::{for_each_line, for_each_object, id_field, string_field};
use crate::{CorpusError, Result};

/// A query: id and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: String,
    pub text: String,
}

/// Relevance judgements: query id → (document id → graded relevance).
pub type Qrels = BTreeMap<String, HashMap<String, i32>>;

/// Paths of a BEIR dataset folder.
#[derive(Debug, Clone)]
pub struct BeirPaths {
    pub root: PathBuf,
}

impl BeirPaths {
    /// A BEIR folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BeirPaths { root: root.into() }
    }
    /// `corpus.jsonl`.
    pub fn corpus(&self) -> PathBuf {
        self.root.join("corpus.jsonl")
    }
    /// `queries.jsonl`.
    pub fn queries(&self) -> PathBuf {
        self.root.join("queries.jsonl")
    }
    /// `qrels/<split>.tsv`.
    pub fn qrels(&self, split: &str) -> PathBuf {
        self.root.join("qrels").join(format!("{split}.tsv"))
    }
}

/// Reads `queries.jsonl` (`_id`, `text`).
pub fn read_queries(path: &Path) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    for_each_object(path, |line, obj| {
        let field = |name: &str| {
            let value = if name == "_id" {
                id_field(path, line, &obj, name)?
            } else {
                string_field(path, line, &obj, name)?
            };
            value.ok_or_else(|| CorpusError::MissingField {
                path: path.to_path_buf(),
                line,
                field: name.to_string(),
            })
        };
        out.push(Query {
            id: field("_id")?,
            text: field("text")?,
        });
        Ok(())
    })?;
    if out.is_empty() {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
            what: "queries",
        });
    }
    Ok(out)
}

/// Reads a qrels TSV (`query-id`, `corpus-id`, `score`; a header line is skipped).
///
/// Every query id must be one of `known_queries`: a qrels file that names a query the queries file
/// lacks is the wrong file, and silently skipping it would inflate the metrics.
pub fn read_qrels(path: &Path, known_queries: &[Query]) -> Result<Qrels> {
    let known: std::collections::HashSet<&str> =
        known_queries.iter().map(|q| q.id.as_str()).collect();
    let mut qrels = Qrels::new();
    for_each_line(path, |line_no, line| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let malformed = |message: String| CorpusError::Malformed {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        if cols.len() < 3 {
            return Err(malformed(format!(
                "expected 3 tab-separated columns (query-id, corpus-id, score), found {}",
                cols.len()
            )));
        }
        // TREC qrels have 4 columns: qid, iteration, docid, relevance.
        let (qid, did, score) = if cols.len() >= 4 {
            (cols[0], cols[2], cols[3])
        } else {
            (cols[0], cols[1], cols[2])
        };
        let score: i32 = match score.trim().parse::<f64>() {
            Ok(s) if s.fract() == 0.0 => s as i32,
            _ if line_no == 1 => return Ok(()), // header
            _ => return Err(malformed(format!("score `{score}` is not an integer"))),
        };
        if !known.contains(qid) {
            return Err(CorpusError::UnknownQuery {
                path: path.to_path_buf(),
                line: line_no,
                query_id: qid.to_string(),
            });
        }
        qrels
            .entry(qid.to_string())
            .or_default()
            .insert(did.to_string(), score);
        Ok(())
    })?;
    if qrels.is_empty() {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
            what: "relevance judgements",
        });
    }
    Ok(qrels)
}

/// Queries of one split, with their judgements: the queries file filtered to the ids in the qrels.
#[derive(Debug, Clone)]
pub struct Split {
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

/// Loads the queries and judgements of `split` from a BEIR folder.
pub fn load_split(root: &Path, split: &str) -> Result<Split> {
    let paths = BeirPaths::new(root);
    let all = read_queries(&paths.queries())?;
    let qrels = read_qrels(&paths.qrels(split), &all)?;
    let queries = all
        .into_iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
    Ok(Split { queries, qrels })
}
