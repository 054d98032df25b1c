//! Ranked results per query, and the TREC run format (`qid Q0 docid rank score tag`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use trine_corpus::{atomic, CorpusError};

use crate::Result;

/// One retrieved document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc_id: String,
    pub score: f32,
}

/// Query id → hits, best first.
pub type Run = BTreeMap<String, Vec<Hit>>;

/// Sorts hits by score descending, equal scores by document id ascending (the project's tie rule,
/// so that figures are reproducible across retrievers).
pub fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.doc_id.cmp(&b.doc_id))
    });
}

/// Writes a TREC run file atomically.
pub fn write_trec(path: &Path, run: &Run, tag: &str) -> Result<()> {
    atomic::write_file(path, |w| {
        for (qid, hits) in run {
            for (rank, hit) in hits.iter().enumerate() {
                writeln!(
                    w,
                    "{qid} Q0 {} {} {} {tag}",
                    hit.doc_id,
                    rank + 1,
                    hit.score
                )
                .map_err(|e| CorpusError::Io {
                    path: path.to_path_buf(),
                    source: e,
                })?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Reads a TREC run file (hits re-sorted by the tie rule).
pub fn read_trec(path: &Path) -> Result<Run> {
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut run = Run::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        let bad = |message: String| crate::EvalError::RunFormat {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        if cols.len() < 5 {
            return Err(bad(format!("expected 6 columns, found {}", cols.len())));
        }
        let score: f32 = cols[4]
            .parse()
            .map_err(|_| bad(format!("score `{}` is not a number", cols[4])))?;
        run.entry(cols[0].to_string()).or_default().push(Hit {
            doc_id: cols[2].to_string(),
            score,
        });
    }
    for hits in run.values_mut() {
        sort_hits(hits);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_doc_id_and_trec_round_trips() {
        let mut hits = vec![
            Hit {
                doc_id: "b".into(),
                score: 1.0,
            },
            Hit {
                doc_id: "c".into(),
                score: 2.0,
            },
            Hit {
                doc_id: "a".into(),
                score: 1.0,
            },
        ];
        sort_hits(&mut hits);
        let ids: Vec<_> = hits.iter().map(|h| h.doc_id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.trec");
        let run = Run::from([("q1".to_string(), hits)]);
        write_trec(&p, &run, "t").unwrap();
        assert_eq!(read_trec(&p).unwrap(), run);
        let first = std::fs::read_to_string(&p).unwrap();
        assert_eq!(first.lines().next().unwrap(), "q1 Q0 c 1 2 t");
    }
}
