//! Topics stored in an index (`topics.json` in a generation): each document's topic, every
//! topic's keywords, representative documents and centre, and how far the index has moved
//! since the topics were made.
//!
//! The index only stores and applies topics; `trine-cluster` makes them. New documents are
//! assigned to the topic whose unit centre is nearest (cosine), as BERTopic's `transform` does
//! for k-means topics, and every topic keeps count of what was added since, so a reader can tell
//! when re-clustering is due.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use trine_eval::exact::dot;

use crate::dense::unit;
use crate::{IndexError, Result};

/// Added documents, as a fraction of a topic's size when it was made, past which it has drifted.
pub const DRIFT_ADDED_FRACTION: f64 = 0.25;
/// A drop in the mean cosine of a topic's added documents to its centre, against its members'
/// when it was made, past which it has drifted (once it has at least [`DRIFT_MIN_ADDED`]).
pub const DRIFT_COHESION_DROP: f64 = 0.05;
/// Added documents a topic needs before its cohesion drop counts.
pub const DRIFT_MIN_ADDED: usize = 5;

/// One topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Topic {
    /// Its number, from 0.
    pub id: usize,
    /// Its keywords (c-TF-IDF), best first.
    pub keywords: Vec<String>,
    /// Ids of the documents nearest its centre, nearest first.
    pub representatives: Vec<String>,
    /// Unit mean direction of its members when it was made.
    pub centroid: Vec<f32>,
    /// Its members when it was made.
    pub size_at_clustering: usize,
    /// Their mean cosine to the centre.
    pub cohesion: f64,
    /// Documents assigned to it since.
    #[serde(default)]
    pub added: usize,
    /// Sum of their cosines to the centre.
    #[serde(default)]
    pub added_score_sum: f64,
    /// The topic it merges into at each coarser level of the hierarchy, finest first (empty
    /// when no hierarchy was made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<usize>,
}

impl Topic {
    /// Whether enough was added to this topic, or what was added fits it badly enough, that
    /// re-clustering is due.
    pub fn drifted(&self) -> bool {
        let many = self.added as f64 > DRIFT_ADDED_FRACTION * self.size_at_clustering.max(1) as f64;
        let loose = self.added >= DRIFT_MIN_ADDED
            && self.added_score_sum / (self.added as f64) < self.cohesion - DRIFT_COHESION_DROP;
        many || loose
    }
}

/// A coarser level of the topic hierarchy: topics merged by their centres.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicLevel {
    /// Number of groups at this level.
    pub groups: usize,
    /// Keywords of each group, best first.
    pub keywords: Vec<Vec<String>>,
}

/// A drawn map of the topics, stored beside them (`topics-map.svg`, `topics-map.png`) and
/// served as it was drawn when they were made.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMap {
    pub svg: Vec<u8>,
    pub png: Vec<u8>,
}

/// What the caller hands the index: the topics and each document's topic, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicsInput {
    /// How they were made (algorithm and settings), for `index info` and the manifest.
    pub method: String,
    /// The generation whose documents were clustered (storing them in another is refused).
    pub generation: u64,
    pub topics: Vec<Topic>,
    /// Each document's topic (`None`: in no topic, as community detection leaves noise).
    pub labels: Vec<Option<usize>>,
    /// Each document's cosine to its topic's centre (0 for noise).
    pub scores: Vec<f32>,
    /// Coarser levels, finest first.
    pub levels: Vec<TopicLevel>,
    /// Their map, when one was drawn.
    pub map: Option<TopicMap>,
}

/// The topics of an open index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Topics {
    /// How they were made.
    pub method: String,
    /// The generation they were made in.
    pub clustered_at: u64,
    pub topics: Vec<Topic>,
    /// Coarser levels, finest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<TopicLevel>,
    /// Each document's topic by row, −1 for none.
    labels: Vec<i32>,
    /// Each document's cosine to its topic's centre by row.
    scores: Vec<f32>,
}

/// The count of one topic among a set of hits (a facet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TopicCount {
    pub topic: usize,
    pub count: usize,
}

impl Topics {
    /// Checks what a caller made against the index it is for (`documents` rows of `dim`-wide
    /// vectors).
    pub fn new(input: TopicsInput, documents: usize, dim: usize) -> Result<Self> {
        let bad = |message: String| IndexError::Parameter {
            name: "topics",
            message,
        };
        let k = input.topics.len();
        if k == 0 {
            return Err(bad("no topics were given".into()));
        }
        if input.labels.len() != documents || input.scores.len() != documents {
            return Err(bad(format!(
                "{} labels and {} scores for an index of {documents} documents",
                input.labels.len(),
                input.scores.len()
            )));
        }
        for (i, t) in input.topics.iter().enumerate() {
            if t.id != i {
                return Err(bad(format!("topic {i} is numbered {}", t.id)));
            }
            if t.centroid.len() != dim || t.centroid.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "topic {i}'s centre must hold {dim} finite values, it has {}",
                    t.centroid.len()
                )));
            }
        }
        if let Some(l) = input.labels.iter().flatten().find(|&&l| l >= k) {
            return Err(bad(format!(
                "a document is in topic {l}, but there are {k} topics"
            )));
        }
        let topics = Topics {
            method: input.method,
            clustered_at: input.generation,
            topics: input.topics,
            levels: input.levels,
            labels: input
                .labels
                .iter()
                .map(|l| l.map_or(-1, |c| c as i32))
                .collect(),
            scores: input.scores,
        };
        Ok(topics)
    }

    /// Reads `topics.json` and checks it against the manifest (`documents`, `dim`).
    pub(crate) fn read(path: &Path, documents: usize, dim: usize) -> Result<Self> {
        let corrupt = |message: String| IndexError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| IndexError::Missing {
            path: path.to_path_buf(),
            message: format!("the manifest lists topics, but they cannot be read: {e}"),
        })?;
        let topics: Topics = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("topics are not valid: {e}")))?;
        if topics.labels.len() != documents || topics.scores.len() != documents {
            return Err(corrupt(format!(
                "topics of {} documents, manifest says {documents}",
                topics.labels.len()
            )));
        }
        let k = topics.topics.len() as i32;
        if let Some(l) = topics.labels.iter().find(|&&l| l < -1 || l >= k) {
            return Err(corrupt(format!(
                "a document is in topic {l}, but there are {k} topics"
            )));
        }
        if let Some(t) = topics
            .topics
            .iter()
            .enumerate()
            .find(|(i, t)| t.id != *i || t.centroid.len() != dim)
        {
            return Err(corrupt(format!(
                "topic {} is numbered {} with a centre of {} values (index dimension {dim})",
                t.0,
                t.1.id,
                t.1.centroid.len()
            )));
        }
        Ok(topics)
    }

    /// Writes `topics.json` (inside a generation folder that is not live yet).
    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self).expect("topics serialise");
        Ok(trine_corpus::atomic::write_bytes(path, &bytes)?)
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether there are no topics (never true of stored topics).
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// A topic by number, or an error naming the topics there are.
    pub fn get(&self, topic: usize) -> Result<&Topic> {
        self.topics
            .get(topic)
            .ok_or_else(|| IndexError::NoSuchTopic {
                topic,
                topics: self.topics.len(),
            })
    }

    /// The topic of the document at `row`.
    pub fn of(&self, row: usize) -> Option<usize> {
        usize::try_from(self.labels[row]).ok()
    }

    /// The cosine of the document at `row` to its topic's centre.
    pub fn score(&self, row: usize) -> f32 {
        self.scores[row]
    }

    /// The rows of a topic's documents, in row order.
    pub fn members(&self, topic: usize) -> Vec<usize> {
        let t = topic as i32;
        (0..self.labels.len())
            .filter(|&r| self.labels[r] == t)
            .collect()
    }

    /// Each topic's current number of documents.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.topics.len()];
        for &l in &self.labels {
            if let Ok(c) = usize::try_from(l) {
                sizes[c] += 1;
            }
        }
        sizes
    }

    /// Documents in no topic.
    pub fn noise(&self) -> usize {
        self.labels.iter().filter(|&&l| l < 0).count()
    }

    /// Row → topic (−1 for none), shared with the lexical filter.
    pub(crate) fn labels(&self) -> &[i32] {
        &self.labels
    }

    /// Topic counts among `rows` (facets): topics with hits only, most hits first, equal
    /// counts by topic number.
    pub fn facets(&self, rows: impl Iterator<Item = usize>) -> Vec<TopicCount> {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for r in rows {
            if let Some(t) = self.of(r) {
                *counts.entry(t).or_insert(0) += 1;
            }
        }
        let mut out: Vec<TopicCount> = counts
            .into_iter()
            .map(|(topic, count)| TopicCount { topic, count })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.topic.cmp(&b.topic)));
        out
    }

    /// The nearest topic of a vector and its cosine to that topic's centre (lowest topic number
    /// on ties).
    pub fn nearest(&self, vector: &[f32]) -> (usize, f32) {
        let q = unit(vector);
        self.topics
            .iter()
            .map(|t| (t.id, dot(&q, &t.centroid)))
            .fold((0, f32::NEG_INFINITY), |best, (i, s)| {
                if s > best.1 {
                    (i, s)
                } else {
                    best
                }
            })
    }

    /// The topics of the rows kept by a change, in their new order.
    pub(crate) fn select(&self, rows: impl Iterator<Item = usize>) -> Topics {
        let rows: Vec<usize> = rows.collect();
        Topics {
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            scores: rows.iter().map(|&r| self.scores[r]).collect(),
            ..self.clone()
        }
    }

    /// Assigns added documents (their vectors, `dim` wide, in row order after the kept ones) to
    /// their nearest topics and counts them towards each topic's drift.
    pub(crate) fn assign(&mut self, vectors: &[Vec<f32>]) {
        for v in vectors {
            let (t, s) = self.nearest(v);
            self.labels.push(t as i32);
            self.scores.push(s);
            let topic = &mut self.topics[t];
            topic.added += 1;
            topic.added_score_sum += f64::from(s);
        }
    }

    /// The topics that have drifted enough that re-clustering is due.
    pub fn drifted(&self) -> Vec<usize> {
        self.topics
            .iter()
            .filter(|t| t.drifted())
            .map(|t| t.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(id: usize, centroid: Vec<f32>, size: usize, cohesion: f64) -> Topic {
        Topic {
            id,
            keywords: vec![format!("w{id}")],
            representatives: vec![],
            centroid,
            size_at_clustering: size,
            cohesion,
            added: 0,
            added_score_sum: 0.0,
            parents: vec![],
        }
    }

    fn two_topics() -> Topics {
        let input = TopicsInput {
            method: "test".into(),
            generation: 1,
            topics: vec![
                topic(0, vec![1.0, 0.0], 8, 0.9),
                topic(1, vec![0.0, 1.0], 20, 0.9),
            ],
            labels: vec![Some(0), Some(1), None, Some(1)],
            scores: vec![0.9, 0.8, 0.0, 0.95],
            levels: vec![],
            map: None,
        };
        Topics::new(input, 4, 2).unwrap()
    }

    #[test]
    fn facets_count_hits_per_topic_most_first_and_skip_noise() {
        let t = two_topics();
        let facets = t.facets([0, 1, 2, 3].into_iter());
        assert_eq!(
            facets,
            vec![
                TopicCount { topic: 1, count: 2 },
                TopicCount { topic: 0, count: 1 }
            ]
        );
        assert_eq!(t.members(1), vec![1, 3]);
        assert_eq!(t.sizes(), vec![1, 2]);
        assert_eq!(t.noise(), 1);
    }

    #[test]
    fn added_documents_go_to_the_nearest_centre_and_count_towards_drift() {
        let mut t = two_topics();
        // cos((3,4)/5, e1) = 0.6, with e2 0.8: topic 1.
        t.assign(&[vec![3.0, 4.0]]);
        assert_eq!((t.of(4), t.score(4)), (Some(1), 0.8));
        assert!(t.drifted().is_empty(), "one added to a topic of 20");
        // Topic 0 had 8 members: 3 more is past a quarter (2).
        t.assign(&[vec![1.0, 0.1], vec![1.0, 0.0], vec![2.0, 0.0]]);
        assert_eq!(t.drifted(), vec![0]);
        // Five loosely fitting documents (cosine 0.8 against cohesion 0.9) drift topic 1 too.
        let mut u = two_topics();
        u.assign(&vec![vec![3.0, 4.0]; 5]);
        assert_eq!(u.topics[1].added, 5);
        assert_eq!(u.drifted(), vec![1]);
    }

    #[test]
    fn topics_that_do_not_fit_the_index_are_refused() {
        let base = || TopicsInput {
            method: "test".into(),
            generation: 1,
            topics: vec![topic(0, vec![1.0, 0.0], 1, 1.0)],
            labels: vec![Some(0)],
            scores: vec![1.0],
            levels: vec![],
            map: None,
        };
        assert!(
            Topics::new(base(), 2, 2).is_err(),
            "labels for 1 of 2 documents"
        );
        assert!(
            Topics::new(base(), 1, 3).is_err(),
            "centre of the wrong width"
        );
        let mut far = base();
        far.labels = vec![Some(1)];
        let err = Topics::new(far, 1, 2).unwrap_err().to_string();
        assert!(err.contains("topic 1") && err.contains("1 topics"), "{err}");
    }
}
