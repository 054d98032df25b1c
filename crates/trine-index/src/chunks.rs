//! Long documents as several vectors: which rows of `vectors.f32` belong to which document, the
//! byte span of each chunk in the document's text, and how chunk scores make a document's score
//! (MaxP, the best chunk, as Dai & Callan 2019; or their mean).
//!
//! `chunks.bin` (little-endian): `u64` documents `n`, `u64` chunks `c`, `n + 1` `u64` offsets
//! (document `d` owns vector rows `offsets[d]..offsets[d + 1]`, at least one), then `c` pairs of
//! `u32` byte offsets `[start, end)` into the document's full text (title + " " + text).

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{IndexError, Result};

/// How a document's dense score comes from its chunks' cosines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// The best chunk's (MaxP).
    #[default]
    Max,
    /// The mean over the document's chunks.
    Mean,
}

impl Aggregate {
    /// The document score of its chunks' `scores` (at least one).
    pub fn apply(self, scores: impl Iterator<Item = f32>) -> f32 {
        match self {
            Aggregate::Max => scores.fold(f32::NEG_INFINITY, f32::max),
            Aggregate::Mean => {
                let (sum, n) = scores.fold((0f64, 0usize), |(s, n), x| (s + x as f64, n + 1));
                (sum / n.max(1) as f64) as f32
            }
        }
    }
}

/// How the documents of an index were split (recorded in the manifest; the encoder's tokens
/// and overlap, this crate's aggregation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSettings {
    /// Most tokens per chunk, special tokens included.
    pub tokens: usize,
    /// Tokens each chunk repeats from the one before.
    pub overlap: usize,
    pub aggregate: Aggregate,
}

/// The chunks of every document: their vector rows and text spans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkMap {
    offsets: Vec<usize>,
    spans: Vec<(u32, u32)>,
}

impl ChunkMap {
    /// From each document's chunk spans, in document order; every document needs at least one.
    pub fn new(per_doc: &[Vec<(u32, u32)>]) -> Result<Self> {
        let mut offsets = Vec::with_capacity(per_doc.len() + 1);
        offsets.push(0);
        let mut spans = Vec::new();
        for (d, s) in per_doc.iter().enumerate() {
            if s.is_empty() {
                return Err(IndexError::Shape {
                    message: format!("document {d} has no chunks; every document needs one"),
                });
            }
            if let Some(&(a, b)) = s.iter().find(|(a, b)| a > b) {
                return Err(IndexError::Shape {
                    message: format!("document {d}: chunk span {a}..{b} ends before it starts"),
                });
            }
            spans.extend_from_slice(s);
            offsets.push(spans.len());
        }
        Ok(ChunkMap { offsets, spans })
    }

    /// Number of documents.
    pub fn documents(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of chunks (vector rows).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no chunks.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Vector rows of document `doc`.
    pub fn rows(&self, doc: usize) -> Range<usize> {
        self.offsets[doc]..self.offsets[doc + 1]
    }

    /// The document that owns vector row `chunk`.
    pub fn document_of(&self, chunk: usize) -> usize {
        self.offsets.partition_point(|&o| o <= chunk) - 1
    }

    /// Byte span `[start, end)` of vector row `chunk` in its document's full text.
    pub fn span(&self, chunk: usize) -> (u32, u32) {
        self.spans[chunk]
    }

    /// The chunks of `docs` (document rows, in this order) as a new map.
    pub fn select(&self, docs: impl Iterator<Item = usize>) -> ChunkMap {
        let mut out = ChunkMap {
            offsets: vec![0],
            spans: Vec::new(),
        };
        for d in docs {
            out.spans.extend_from_slice(&self.spans[self.rows(d)]);
            out.offsets.push(out.spans.len());
        }
        out
    }

    /// `self` followed by `other`'s documents.
    pub fn extend(&mut self, other: &ChunkMap) {
        let base = self.spans.len();
        self.spans.extend_from_slice(&other.spans);
        self.offsets
            .extend(other.offsets[1..].iter().map(|o| o + base));
    }

    /// Writes `chunks.bin`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::with_capacity(16 + self.offsets.len() * 8 + self.spans.len() * 8);
        bytes.extend_from_slice(&(self.documents() as u64).to_le_bytes());
        bytes.extend_from_slice(&(self.len() as u64).to_le_bytes());
        for &o in &self.offsets {
            bytes.extend_from_slice(&(o as u64).to_le_bytes());
        }
        for &(a, b) in &self.spans {
            bytes.extend_from_slice(&a.to_le_bytes());
            bytes.extend_from_slice(&b.to_le_bytes());
        }
        Ok(trine_corpus::atomic::write_bytes(path, &bytes)?)
    }

    /// Reads `chunks.bin`, checking it against the manifest's document count.
    pub fn read(path: &Path, documents: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| IndexError::Missing {
            path: path.to_path_buf(),
            message: format!("chunk map: {e}"),
        })?;
        let corrupt = |message: String| IndexError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let u64_at = |i: usize| -> Option<u64> {
            bytes
                .get(i..i + 8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        };
        let (Some(n), Some(c)) = (u64_at(0), u64_at(8)) else {
            return Err(corrupt("shorter than its header".into()));
        };
        let (n, c) = (n as usize, c as usize);
        if n != documents {
            return Err(corrupt(format!(
                "chunks of {n} documents, manifest says {documents}"
            )));
        }
        let want = 16 + (n + 1) * 8 + c * 8;
        if bytes.len() != want {
            return Err(corrupt(format!(
                "{} bytes, expected {want} for {n} documents and {c} chunks",
                bytes.len()
            )));
        }
        let offsets: Vec<usize> = (0..=n)
            .map(|i| u64_at(16 + i * 8).expect("length checked") as usize)
            .collect();
        if offsets[0] != 0 || offsets[n] != c || offsets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt(
                "chunk offsets must rise from 0 to the chunk count, one chunk or more per document"
                    .into(),
            ));
        }
        let base = 16 + (n + 1) * 8;
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let spans = (0..c)
            .map(|i| (u32_at(base + i * 8), u32_at(base + i * 8 + 4)))
            .collect();
        Ok(ChunkMap { offsets, spans })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ChunkMap {
        ChunkMap::new(&[vec![(0, 5)], vec![(0, 4), (3, 9), (8, 12)], vec![(0, 0)]]).unwrap()
    }

    #[test]
    fn rows_owners_and_spans_follow_the_documents() {
        let m = map();
        assert_eq!((m.documents(), m.len()), (3, 5));
        assert_eq!(m.rows(1), 1..4);
        let owners: Vec<usize> = (0..5).map(|c| m.document_of(c)).collect();
        assert_eq!(owners, vec![0, 1, 1, 1, 2]);
        assert_eq!(m.span(2), (3, 9));
    }

    #[test]
    fn select_and_extend_keep_each_documents_chunks() {
        let m = map();
        let mut s = m.select([2, 1].into_iter());
        assert_eq!(s.rows(0), 0..1);
        assert_eq!(s.rows(1), 1..4);
        s.extend(&m.select([0].into_iter()));
        assert_eq!(s.documents(), 3);
        assert_eq!(s.span(4), (0, 5));
    }

    #[test]
    fn the_file_round_trips_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("chunks.bin");
        let m = map();
        m.write(&p).unwrap();
        assert_eq!(ChunkMap::read(&p, 3).unwrap(), m);
        let err = ChunkMap::read(&p, 4).unwrap_err().to_string();
        assert!(
            err.contains("chunks of 3 documents, manifest says 4"),
            "{err}"
        );
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, &bytes).unwrap();
        let err = ChunkMap::read(&p, 3).unwrap_err().to_string();
        assert!(
            err.contains("corrupt index") && err.contains("bytes, expected"),
            "{err}"
        );
    }

    #[test]
    fn a_document_without_chunks_is_refused() {
        assert!(ChunkMap::new(&[vec![(0, 1)], vec![]]).is_err());
    }

    #[test]
    fn max_is_the_best_chunk_and_mean_the_average() {
        let s = [0.2f32, 0.8, 0.5];
        assert_eq!(Aggregate::Max.apply(s.iter().copied()), 0.8);
        assert!((Aggregate::Mean.apply(s.iter().copied()) - 0.5).abs() < 1e-7);
    }
}
