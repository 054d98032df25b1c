//! Topic quality as topic-modelling papers report it: keyword coherence (NPMI over the corpus's
//! documents) and diversity (the fraction of unique keywords across topics).
//!
//! Co-occurrence is counted per document (a word pair co-occurs in a document that holds both),
//! the boolean-document estimate of Lau et al. (2014); a pair that never co-occurs scores −1.

use std::collections::{HashMap, HashSet};

use crate::keywords::words;

/// Mean NPMI over the pairs of each topic's keywords, one value per topic (0 for a topic with
/// fewer than two keywords). `NPMI(a, b) = ln(P(a, b) / (P(a) P(b))) / −ln P(a, b)`, with
/// probabilities the fractions of `texts` holding the words.
pub fn npmi_coherence(texts: &[&str], topics: &[Vec<String>]) -> Vec<f64> {
    let wanted: HashSet<&str> = topics.iter().flatten().map(String::as_str).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for w in &wanted {
        let next = index.len();
        index.insert(w, next);
    }
    // Per word, the documents holding it (sorted, so pairs intersect by merging).
    let mut docs: Vec<Vec<u32>> = vec![Vec::new(); index.len()];
    for (d, text) in texts.iter().enumerate() {
        let present: HashSet<usize> = words(text)
            .filter_map(|w| index.get(w.as_str()).copied())
            .collect();
        for i in present {
            docs[i].push(d as u32);
        }
    }
    let n = texts.len().max(1) as f64;
    let npmi = |a: usize, b: usize| -> f64 {
        let (da, db) = (&docs[a], &docs[b]);
        let joint = intersection(da, db) as f64;
        if joint == 0.0 {
            return -1.0;
        }
        let (pa, pb, pab) = (da.len() as f64 / n, db.len() as f64 / n, joint / n);
        if pab >= 1.0 {
            return 1.0;
        }
        (pab / (pa * pb)).ln() / -pab.ln()
    };
    topics
        .iter()
        .map(|topic| {
            let ids: Vec<usize> = topic.iter().map(|w| index[w.as_str()]).collect();
            let mut sum = 0.0;
            let mut pairs = 0usize;
            for i in 0..ids.len() {
                for j in i + 1..ids.len() {
                    sum += npmi(ids[i], ids[j]);
                    pairs += 1;
                }
            }
            if pairs == 0 {
                0.0
            } else {
                sum / pairs as f64
            }
        })
        .collect()
}

/// Size of the intersection of two sorted lists.
fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}

/// Unique keywords over all topics' keywords (1 when no word repeats; 0 without keywords).
pub fn topic_diversity(topics: &[Vec<String>]) -> f64 {
    let total: usize = topics.iter().map(Vec::len).sum();
    if total == 0 {
        return 0.0;
    }
    let unique: HashSet<&str> = topics.iter().flatten().map(String::as_str).collect();
    unique.len() as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn npmi_by_hand() {
        let texts = ["apple banana", "apple banana cherry", "cherry date", "date"];
        // apple–banana: P = 1/2 each, jointly 1/2: ln(2) / ln(2) = 1. apple–cherry and
        // banana–cherry: P = 1/2 each, jointly 1/4: ln(1) = 0. apple–date never: −1.
        let got = npmi_coherence(
            &texts,
            &[
                topic(&["apple", "banana", "cherry"]),
                topic(&["apple", "date"]),
                topic(&["date"]),
            ],
        );
        assert!((got[0] - 1.0 / 3.0).abs() < 1e-12, "{got:?}");
        assert_eq!(got[1], -1.0);
        assert_eq!(got[2], 0.0);
    }

    #[test]
    fn diversity_counts_repeated_keywords_once() {
        let topics = [topic(&["apple", "banana"]), topic(&["banana", "cherry"])];
        assert_eq!(topic_diversity(&topics), 0.75);
        assert_eq!(topic_diversity(&[]), 0.0);
    }
}
