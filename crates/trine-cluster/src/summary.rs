//! Per-cluster summaries: size, c-TF-IDF keywords and the most central documents.

use serde::Serialize;

use crate::keywords::ctfidf;
use crate::Clustering;

/// A document near its cluster's centre.
#[derive(Debug, Clone, Serialize)]
pub struct Central {
    pub id: String,
    pub title: String,
    /// Cosine similarity to the centroid.
    pub score: f32,
}

/// What one cluster holds.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    pub cluster: usize,
    pub size: usize,
    pub keywords: Vec<String>,
    pub central: Vec<Central>,
}

/// Summaries of every cluster, largest first. `titles[i]` labels document `i` in the table
/// (its title, or the start of its text).
pub fn summarize(
    ids: &[String],
    texts: &[&str],
    titles: &[String],
    clustering: &Clustering,
    keywords: usize,
    central: usize,
) -> Vec<ClusterSummary> {
    let k = clustering.k;
    let words = if texts.is_empty() {
        vec![Vec::new(); k]
    } else {
        ctfidf(texts, &clustering.labels, k, keywords)
    };
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, l) in clustering.labels.iter().enumerate() {
        if let Some(c) = l {
            members[*c].push(i);
        }
    }
    let mut out: Vec<ClusterSummary> = members
        .into_iter()
        .enumerate()
        .map(|(c, mut m)| {
            m.sort_by(|&a, &b| {
                clustering.scores[b]
                    .total_cmp(&clustering.scores[a])
                    .then(ids[a].cmp(&ids[b]))
            });
            ClusterSummary {
                cluster: c,
                size: m.len(),
                keywords: words[c].iter().map(|(w, _)| w.clone()).collect(),
                central: m
                    .iter()
                    .take(central)
                    .map(|&i| Central {
                        id: ids[i].clone(),
                        title: titles.get(i).cloned().unwrap_or_default(),
                        score: clustering.scores[i],
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.size.cmp(&a.size).then(a.cluster.cmp(&b.cluster)));
    out
}

/// A plain-text table of the summaries, for terminals and logs.
pub fn table(summaries: &[ClusterSummary], noise: usize) -> String {
    let mut s = format!(
        "{:>7}  {:>6}  {:<60}  most central\n",
        "cluster", "size", "keywords"
    );
    for c in summaries {
        let kw: String = c
            .keywords
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let kw: String = kw.chars().take(60).collect();
        let first = c
            .central
            .first()
            .map(|d| {
                let t: String = d.title.chars().take(50).collect();
                format!("{} ({})", t, d.id)
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "{:>7}  {:>6}  {:<60}  {}\n",
            c.cluster, c.size, kw, first
        ));
    }
    if noise > 0 {
        s.push_str(&format!("{:>7}  {:>6}  (in no cluster)\n", "noise", noise));
    }
    s
}
