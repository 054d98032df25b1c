//! Cluster keywords by class-based TF-IDF (c-TF-IDF, as BERTopic): all texts of a cluster form
//! one document; a word's weight is its frequency in the cluster (L1-normalised) times
//! `ln(1 + A / f)`, where `A` is the average number of words per cluster and `f` the word's
//! frequency over all clusters.

use std::collections::HashMap;

const STOP_WORDS: &str = "a about above after again against all also am an and any are as at be \
because been before being below between both but by can could did do does doing down during each \
few for from further had has have having he her here hers herself him himself his how i if in \
into is it its itself just me more most my myself no nor not now of off on once only or other \
our ours ourselves out over own same she should so some such than that the their theirs them \
themselves then there these they this those through to too under until up very was we were what \
when where which while who whom why will with would you your yours yourself yourselves re edu com \
writes article one get like know think people use";

/// The words keywords are made of: alphanumeric runs of at least 3 characters with a letter,
/// lower-cased.
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3 && w.chars().any(|c| c.is_alphabetic()))
        .map(|w| w.to_lowercase())
}

/// The `top` keywords of each of `k` clusters (`labels[i]` is text `i`'s cluster, `None`
/// skipped), with their c-TF-IDF weights, best first.
pub fn ctfidf(
    texts: &[&str],
    labels: &[Option<usize>],
    k: usize,
    top: usize,
) -> Vec<Vec<(String, f64)>> {
    let stop: std::collections::HashSet<&str> = STOP_WORDS.split_whitespace().collect();
    let mut counts: Vec<HashMap<String, f64>> = vec![HashMap::new(); k];
    for (text, label) in texts.iter().zip(labels) {
        let Some(c) = *label else { continue };
        for w in words(text) {
            if !stop.contains(w.as_str()) {
                *counts[c].entry(w).or_insert(0.0) += 1.0;
            }
        }
    }
    let mut total: HashMap<&str, f64> = HashMap::new();
    for class in &counts {
        for (w, &n) in class {
            *total.entry(w.as_str()).or_insert(0.0) += n;
        }
    }
    let words_per_class =
        counts.iter().map(|c| c.values().sum::<f64>()).sum::<f64>() / k.max(1) as f64;
    counts
        .iter()
        .map(|class| {
            let size: f64 = class.values().sum();
            let mut scored: Vec<(String, f64)> = class
                .iter()
                .map(|(w, &n)| {
                    let idf = (1.0 + words_per_class / total[w.as_str()]).ln();
                    (w.clone(), n / size.max(1.0) * idf)
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            scored.truncate(top);
            scored
        })
        .collect()
}
