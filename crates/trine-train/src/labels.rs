//! Class labels for triplets, which the label-based losses (in-batch mining, proxies, the
//! InfoNCE false-negative mask) need.
//!
//! With a `label` column, the anchor and positive take that label. Without one, rows are grouped
//! like retrieval data: rows that share a `query_id` or a `positive_id` (or, without ids, the
//! same query or positive text) form one class, found with union-find. A negative takes the class
//! of the same document when that document is some row's positive, and a class of its own
//! otherwise.

use std::collections::HashMap;

use trine_corpus::triplets::Triplet;

/// The negative label of a row without a negative (a pair).
pub const NO_NEGATIVE: u32 = u32::MAX;

/// Per-row labels, dense in `0..classes` (negatives of pairs: [`NO_NEGATIVE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Label of each row's query and positive.
    pub anchor: Vec<u32>,
    /// Label of each row's negative.
    pub negative: Vec<u32>,
    /// Number of distinct labels.
    pub classes: usize,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Labels for `triplets` as described in the module documentation.
pub fn assign(triplets: &[Triplet]) -> Labels {
    let n = triplets.len();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut next = 0u32;
    let mut intern = |key: String, ids: &mut HashMap<String, u32>| -> u32 {
        *ids.entry(key).or_insert_with(|| {
            next += 1;
            next - 1
        })
    };
    let doc_key = |id: &Option<String>, text: &str| match id {
        Some(id) => format!("d:{id}"),
        None => format!("t:{text}"),
    };
    let mut anchor_root = vec![0usize; n];
    if triplets.iter().all(|t| t.label.is_some()) {
        for (i, t) in triplets.iter().enumerate() {
            anchor_root[i] =
                intern(format!("l:{}", t.label.as_deref().unwrap()), &mut ids) as usize;
        }
    } else {
        let mut parent: Vec<usize> = (0..n).collect();
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, t) in triplets.iter().enumerate() {
            let query = match &t.query_id {
                Some(id) => format!("q:{id}"),
                None => format!("qt:{}", t.query),
            };
            for key in [query, doc_key(&t.positive_id, &t.positive)] {
                match first.get(&key) {
                    Some(&j) => {
                        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                        parent[a] = b;
                    }
                    None => {
                        first.insert(key, i);
                    }
                }
            }
        }
        for (i, root) in anchor_root.iter_mut().enumerate() {
            *root = find(&mut parent, i);
        }
    }
    // Dense labels in first-appearance order.
    let mut dense: HashMap<usize, u32> = HashMap::new();
    let mut anchor = Vec::with_capacity(n);
    for &r in &anchor_root {
        let len = dense.len() as u32;
        anchor.push(*dense.entry(r).or_insert(len));
    }
    let mut doc_label: HashMap<String, u32> = HashMap::new();
    for (t, &l) in triplets.iter().zip(&anchor) {
        doc_label
            .entry(doc_key(&t.positive_id, &t.positive))
            .or_insert(l);
    }
    let mut classes = dense.len() as u32;
    let mut negative = Vec::with_capacity(n);
    for t in triplets {
        let Some(text) = &t.negative else {
            negative.push(NO_NEGATIVE);
            continue;
        };
        let key = doc_key(&t.negative_id, text);
        let l = *doc_label.entry(key).or_insert_with(|| {
            classes += 1;
            classes - 1
        });
        negative.push(l);
    }
    Labels {
        anchor,
        negative,
        classes: classes as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(q: &str, p: &str, n: &str) -> Triplet {
        Triplet {
            query: format!("query {q}"),
            positive: format!("doc {p}"),
            negative: Some(format!("doc {n}")),
            query_id: Some(q.into()),
            positive_id: Some(p.into()),
            negative_id: Some(n.into()),
            label: None,
        }
    }

    #[test]
    fn retrieval_rows_group_by_query_and_positive() {
        // q1 has positives d1, d2; q2 shares d2 → one class {q1, q2}; q3 alone.
        // Negative d2 of q3 is a positive of class 0; negative d9 gets its own class.
        let rows = [
            row("q1", "d1", "d5"),
            row("q1", "d2", "d6"),
            row("q2", "d2", "d7"),
            row("q3", "d3", "d2"),
            row("q3", "d3", "d9"),
        ];
        let l = assign(&rows);
        assert_eq!(l.anchor, vec![0, 0, 0, 1, 1]);
        assert_eq!(l.negative, vec![2, 3, 4, 0, 5]);
        assert_eq!(l.classes, 6);
    }

    #[test]
    fn label_column_wins() {
        let mut rows = [row("q1", "d1", "d5"), row("q2", "d2", "d1")];
        rows[0].label = Some("x".into());
        rows[1].label = Some("x".into());
        let l = assign(&rows);
        assert_eq!(l.anchor, vec![0, 0]);
        assert_eq!(l.negative, vec![1, 0]);
    }
}
