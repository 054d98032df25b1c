//! Training rows made ready for the loop: tokenized once, with the keys the batch sampler and
//! the InfoNCE mask compare, and the class labels the label-based losses need.

use std::collections::{HashMap, HashSet};

use trine_corpus::triplets::Triplet;

use crate::data::{class_ids, Judgements, TrainData};
use crate::labels::{self, Labels};
use crate::model::TrainableModel;
use crate::{Result, TrainError};

/// Triplet rows, tokenized.
pub(crate) struct TripletRows {
    pub query: Vec<Vec<u32>>,
    pub positive: Vec<Vec<u32>>,
    /// `None` for (query, positive) pairs.
    pub negative: Option<Vec<Vec<u32>>>,
    pub labels: Labels,
    /// Per row: interned keys of the query, the positive and the negative document (the
    /// positive's again for pairs).
    pub keys: Vec<[u32; 3]>,
    /// (query key, document key) pairs judged in the split, when judgements were given.
    pub judged: Option<HashSet<(u32, u32)>>,
}

/// Labelled rows, tokenized.
pub(crate) struct LabelledRows {
    pub tokens: Vec<Vec<u32>>,
    pub labels: Vec<u32>,
    pub classes: usize,
}

pub(crate) enum Prepared {
    Triplets(TripletRows),
    Labelled(LabelledRows),
}

fn query_key(t: &Triplet) -> String {
    match &t.query_id {
        Some(id) => format!("q:{id}"),
        None => format!("qt:{}", t.query),
    }
}

fn doc_key(id: &Option<String>, text: &str) -> String {
    match id {
        Some(id) => format!("d:{id}"),
        None => format!("t:{text}"),
    }
}

impl Prepared {
    pub fn new(model: &TrainableModel, data: &TrainData) -> Result<Prepared> {
        Ok(match data {
            TrainData::Triplets { rows, judged } => {
                Prepared::Triplets(triplet_rows(model, rows, judged.as_ref())?)
            }
            TrainData::Labelled { rows } => {
                let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
                let (labels, names) = class_ids(rows);
                Prepared::Labelled(LabelledRows {
                    tokens: model.tokenize(&texts)?,
                    labels,
                    classes: names.len(),
                })
            }
        })
    }

    /// Number of classes (the proxies' count).
    pub fn classes(&self) -> usize {
        match self {
            Prepared::Triplets(t) => t.labels.classes,
            Prepared::Labelled(l) => l.classes,
        }
    }
}

fn triplet_rows(
    model: &TrainableModel,
    rows: &[Triplet],
    judgements: Option<&Judgements>,
) -> Result<TripletRows> {
    let texts = |f: fn(&Triplet) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let mut interned: HashMap<String, u32> = HashMap::new();
    let mut intern = |k: String| -> u32 {
        let next = interned.len() as u32;
        *interned.entry(k).or_insert(next)
    };
    let with_negative = rows.iter().filter(|t| t.negative.is_some()).count();
    if with_negative != 0 && with_negative != rows.len() {
        return Err(TrainError::Settings(format!(
            "{with_negative} of {} rows have a negative: train on triplets or on pairs, not both",
            rows.len()
        )));
    }
    let keys: Vec<[u32; 3]> = rows
        .iter()
        .map(|t| {
            let p = intern(doc_key(&t.positive_id, &t.positive));
            let n = match &t.negative {
                Some(text) => intern(doc_key(&t.negative_id, text)),
                None => p,
            };
            [intern(query_key(t)), p, n]
        })
        .collect();
    let judged = match judgements {
        None => None,
        Some(j) => {
            if let Some(row) = rows.iter().position(|t| t.query_id.is_none()) {
                return Err(TrainError::Settings(format!(
                    "judgements were given, but triplet row {row} has no query_id to look them up by"
                )));
            }
            let mut pairs = HashSet::new();
            for (t, k) in rows.iter().zip(&keys) {
                let Some(docs) = j.get(t.query_id.as_deref().unwrap_or_default()) else {
                    continue;
                };
                for d in docs {
                    if let Some(&dk) = interned.get(&format!("d:{d}")) {
                        pairs.insert((k[0], dk));
                    }
                }
            }
            Some(pairs)
        }
    };
    Ok(TripletRows {
        query: model.tokenize(&texts(|t| &t.query))?,
        positive: model.tokenize(&texts(|t| &t.positive))?,
        negative: if with_negative > 0 {
            let negatives: Vec<&str> = rows.iter().flat_map(|t| t.negative.as_deref()).collect();
            Some(model.tokenize(&negatives)?)
        } else {
            None
        },
        labels: labels::assign(rows),
        keys,
        judged,
    })
}

impl TripletRows {
    /// The `[b, m]` exclusion mask of a batch (candidates: the `b` positives, then the
    /// negatives of triplets), from the judgements: candidate `j` is excluded for query `i` when
    /// it is the same document as `i`'s positive or judged for `i`'s query. `None` without
    /// judgements.
    pub fn exclusion(&self, rows: &[usize]) -> Option<Vec<f32>> {
        let judged = self.judged.as_ref()?;
        let docs: Vec<u32> = rows
            .iter()
            .map(|&r| self.keys[r][1])
            .chain(
                rows.iter()
                    .filter(|_| self.negative.is_some())
                    .map(|&r| self.keys[r][2]),
            )
            .collect();
        let m = docs.len();
        let mut mask = vec![0f32; rows.len() * m];
        for (i, &r) in rows.iter().enumerate() {
            let [q, p, _] = self.keys[r];
            for (j, &d) in docs.iter().enumerate() {
                if j != i && (d == p || judged.contains(&(q, d))) {
                    mask[i * m + j] = 1.0;
                }
            }
        }
        Some(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Triplet> {
        let t = |q: &str, p: &str, n: &str| Triplet {
            query: format!("query {q}"),
            positive: format!("doc {p}"),
            negative: Some(format!("doc {n}")),
            query_id: Some(q.into()),
            positive_id: Some(p.into()),
            negative_id: Some(n.into()),
            label: None,
        };
        vec![
            t("q1", "d1", "d5"),
            t("q2", "d2", "d6"),
            t("q3", "d3", "d1"),
        ]
    }

    #[test]
    fn the_mask_excludes_every_judged_candidate() {
        let rows = rows();
        let judgements: Judgements = [
            ("q1".to_string(), ["d1", "d6"].map(String::from).into()),
            ("q2".to_string(), ["d2"].map(String::from).into()),
            ("q3".to_string(), ["d3", "d2"].map(String::from).into()),
        ]
        .into();
        let (_dir, model) = crate::test_support::tiny_model(Default::default());
        let t = triplet_rows(&model, &rows, Some(&judgements)).unwrap();
        let m = t.exclusion(&[0, 1, 2]).unwrap();
        // Candidates: d1 d2 d3 | d5 d6 d1.
        // q1: its target d1 (j = 0) stays; d6 (j = 4) judged; d1 again as row 2's negative (j = 5).
        assert_eq!(&m[0..6], &[0., 0., 0., 0., 1., 1.]);
        // q2: nothing else judged.
        assert_eq!(&m[6..12], &[0., 0., 0., 0., 0., 0.]);
        // q3: d2 (j = 1) judged.
        assert_eq!(&m[12..18], &[0., 1., 0., 0., 0., 0.]);
        assert!(triplet_rows(&model, &rows, None)
            .unwrap()
            .exclusion(&[0])
            .is_none());
        // As pairs, the candidates are the positives alone: d1 d2 d3.
        let pairs: Vec<Triplet> = rows
            .iter()
            .map(|t| Triplet {
                negative: None,
                ..t.clone()
            })
            .collect();
        let t = triplet_rows(&model, &pairs, Some(&judgements)).unwrap();
        assert_eq!(
            t.exclusion(&[0, 1, 2]).unwrap(),
            [0., 0., 0., 0., 0., 0., 0., 1., 0.]
        );
        let mut mixed = pairs;
        mixed[0].negative = Some("doc d5".into());
        assert!(triplet_rows(&model, &mixed, None).is_err());
    }
}
