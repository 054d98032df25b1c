//! What a run trains on: retrieval triplets (with the split's judgements, when known) or texts
//! with class labels.

use std::collections::{BTreeMap, HashMap, HashSet};

use trine_corpus::beir::Qrels;
use trine_corpus::triplets::Triplet;

use crate::{Result, TrainError};

/// Query id → every document judged for it (any grade). A judged document is never treated as
/// a negative of that query, mined or in-batch.
pub type Judgements = HashMap<String, HashSet<String>>;

/// The judgements of a split as [`Judgements`].
pub fn judgements(qrels: &Qrels) -> Judgements {
    qrels
        .iter()
        .map(|(q, docs)| (q.clone(), docs.keys().cloned().collect()))
        .collect()
}

/// A text with its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledText {
    pub text: String,
    pub label: String,
}

/// Training data.
#[derive(Debug, Clone)]
pub enum TrainData {
    /// (query, positive, negative) rows, or (query, positive) pairs when no row has a negative.
    /// With `judged`, the InfoNCE mask excludes every in-batch candidate judged for a row's
    /// query (rows need `query_id` and document ids for that).
    Triplets {
        rows: Vec<Triplet>,
        judged: Option<Judgements>,
    },
    /// Texts with class labels; batches hold P classes × K texts each.
    Labelled { rows: Vec<LabelledText> },
}

impl TrainData {
    /// Number of training rows.
    pub fn len(&self) -> usize {
        match self {
            TrainData::Triplets { rows, .. } => rows.len(),
            TrainData::Labelled { rows } => rows.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether rows carry class labels (rather than being triplets).
    pub fn is_labelled(&self) -> bool {
        matches!(self, TrainData::Labelled { .. })
    }

    /// Every text of the rows, in a fixed order (for the resume digest).
    pub(crate) fn texts(&self) -> Vec<&str> {
        match self {
            TrainData::Triplets { rows, .. } => rows
                .iter()
                .flat_map(|t| {
                    [t.query.as_str(), t.positive.as_str()]
                        .into_iter()
                        .chain(t.negative.as_deref())
                })
                .collect(),
            TrainData::Labelled { rows } => rows
                .iter()
                .flat_map(|r| [r.text.as_str(), r.label.as_str()])
                .collect(),
        }
    }
}

/// Checks a labelled collection before any training: at least two classes, and at least
/// `per_class` texts in every class (batches draw K of each class). `source` names the file.
pub fn check_labelled(rows: &[LabelledText], per_class: usize, source: &str) -> Result<()> {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *sizes.entry(r.label.as_str()).or_default() += 1;
    }
    if sizes.len() < 2 {
        return Err(TrainError::Data(format!(
            "{source}: {} class(es) ({}); class-based fine-tuning needs at least two",
            sizes.len(),
            sizes.keys().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let small: Vec<String> = sizes
        .iter()
        .filter(|(_, &n)| n < per_class)
        .map(|(l, n)| format!("`{l}` ({n})"))
        .collect();
    if !small.is_empty() {
        return Err(TrainError::Data(format!(
            "{source}: {} class(es) have fewer than K = {per_class} examples: {}; every batch takes \
             K examples of each of its classes, and in-batch triplets need K ≥ 2 (give those \
             classes more examples, drop them, or lower --per-class)",
            small.len(),
            small.join(", ")
        )));
    }
    Ok(())
}

/// Dense class ids of labelled rows (in order of first appearance) and the class names.
pub fn class_ids(rows: &[LabelledText]) -> (Vec<u32>, Vec<String>) {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut names = Vec::new();
    let labels = rows
        .iter()
        .map(|r| {
            *ids.entry(r.label.as_str()).or_insert_with(|| {
                names.push(r.label.clone());
                names.len() as u32 - 1
            })
        })
        .collect();
    (labels, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(labels: &[&str]) -> Vec<LabelledText> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| LabelledText {
                text: format!("text {i}"),
                label: l.to_string(),
            })
            .collect()
    }

    #[test]
    fn one_class_and_small_classes_are_refused_with_their_names() {
        let e = check_labelled(&rows(&["a", "a", "a"]), 2, "f.jsonl").unwrap_err();
        assert!(e.to_string().contains("1 class(es) (a)"), "{e}");
        let e = check_labelled(&rows(&["a", "a", "b"]), 2, "f.jsonl").unwrap_err();
        assert!(e.to_string().contains("`b` (1)"), "{e}");
        assert!(e.to_string().contains("K ≥ 2"), "{e}");
        check_labelled(&rows(&["a", "a", "b", "b"]), 2, "f.jsonl").unwrap();
    }

    #[test]
    fn class_ids_follow_first_appearance() {
        let (ids, names) = class_ids(&rows(&["x", "y", "x", "z"]));
        assert_eq!(ids, vec![0, 1, 0, 2]);
        assert_eq!(names, vec!["x", "y", "z"]);
    }
}
