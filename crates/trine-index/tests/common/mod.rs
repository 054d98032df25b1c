//! What several of trine-index's test files build indexes from.
#![allow(dead_code)]

use trine_corpus::Document;
use trine_index::ModelInfo;

/// A made-up model of vectors `dim` wide (no encoder: the tests bring their own vectors).
pub fn model(dim: usize) -> ModelInfo {
    ModelInfo {
        name: "synthetic".into(),
        fingerprint: "b".repeat(64),
        dim,
        ..Default::default()
    }
}

/// Documents `doc{i:05}` with the text "document number i", for each i of `range`.
pub fn numbered_docs(range: std::ops::Range<usize>) -> Vec<Document> {
    range
        .map(|i| Document {
            id: format!("doc{i:05}"),
            title: String::new(),
            text: format!("document number {i}"),
        })
        .collect()
}
