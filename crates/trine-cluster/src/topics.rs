//! Topics for an index: its documents clustered, every topic named by its c-TF-IDF keywords and
//! most central documents, topics merged into coarser levels by their centres, and the lot stored
//! in the index as a new generation (BERTopic's topics, kept where the search happens).

use std::path::Path;

use trine_index::{Index, Topic, TopicLevel, TopicMap, TopicsInput, Wait, WriterLock};

use crate::agglomerative::merge_into;
use crate::keywords::ctfidf;
use crate::plot::{self, MapChoice};
use crate::summary::summarize;
use crate::{cluster, Algorithm, ClusterError, Result};

/// How to make an index's topics.
#[derive(Debug, Clone)]
pub struct TopicOptions {
    pub algorithm: Algorithm,
    /// Keywords kept per topic.
    pub keywords: usize,
    /// Representative documents kept per topic.
    pub representatives: usize,
    /// Coarser levels of the hierarchy, as numbers of groups (each below the number of topics).
    pub levels: Vec<usize>,
    /// The map drawn and stored with the topics.
    pub map: MapChoice,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions {
            algorithm: Algorithm::KMeans(Default::default()),
            keywords: 10,
            representatives: 5,
            levels: Vec::new(),
            map: MapChoice::Auto,
        }
    }
}

/// Clusters the documents of an open index into topics (documents split into chunks are
/// clustered by the unit mean of their chunks) and draws their map; `progress` gets the map
/// layout's steps.
pub fn topics_of(
    index: &Index,
    options: &TopicOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<TopicsInput> {
    let n = index.len();
    let dim = index.manifest().model.dim;
    let ids: Vec<String> = (0..n).map(|r| index.document(r).id.clone()).collect();
    let values: Vec<f32> = (0..n).flat_map(|r| index.vector(r).into_owned()).collect();
    let clustering = cluster(&ids, &values, dim, &options.algorithm)?;
    let k = clustering.k;
    if k == 0 {
        return Err(ClusterError::Invalid(
            "the clustering found no topics (every document is noise): lower the threshold or \
             the minimum size"
                .into(),
        ));
    }
    let levels = levels_of(&options.levels, k)?;
    let texts: Vec<String> = (0..n).map(|r| index.document(r).full_text()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let titles: Vec<String> = (0..n).map(|r| index.document(r).title.clone()).collect();
    let summaries = summarize(
        &ids,
        &texts,
        &titles,
        &clustering,
        options.keywords,
        options.representatives,
    );
    let centre = |c: usize| clustering.centroids[c * dim..(c + 1) * dim].to_vec();
    let mut topics: Vec<Topic> = summaries
        .into_iter()
        .map(|s| {
            let members = clustering.labels.iter().zip(&clustering.scores);
            let sum: f64 = members
                .filter(|(l, _)| **l == Some(s.cluster))
                .map(|(_, &x)| f64::from(x))
                .sum();
            Topic {
                id: s.cluster,
                keywords: s.keywords,
                representatives: s.central.into_iter().map(|c| c.id).collect(),
                centroid: centre(s.cluster),
                size_at_clustering: s.size,
                cohesion: sum / s.size.max(1) as f64,
                added: 0,
                added_score_sum: 0.0,
                parents: Vec::new(),
            }
        })
        .collect();
    topics.sort_by_key(|t| t.id);
    let mut tree = Vec::with_capacity(levels.len());
    for &groups in &levels {
        let parent = merge_into(&clustering.centroids, dim, groups)?;
        for t in &mut topics {
            t.parents.push(parent[t.id]);
        }
        let labels: Vec<Option<usize>> = clustering
            .labels
            .iter()
            .map(|l| l.map(|c| parent[c]))
            .collect();
        let keywords = ctfidf(&texts, &labels, groups, options.keywords)
            .into_iter()
            .map(|ws| ws.into_iter().map(|(w, _)| w).collect())
            .collect();
        tree.push(TopicLevel { groups, keywords });
    }
    let map = match options.map.layout(k) {
        Some(layout) => {
            let names: Vec<String> = topics
                .iter()
                .map(|t| plot::name(t.id, &t.keywords))
                .collect();
            let drawn = plot::draw(&values, dim, &clustering.labels, &names, layout, progress)?;
            Some(TopicMap {
                svg: drawn.svg.into_bytes(),
                png: drawn.png,
            })
        }
        None => None,
    };
    Ok(TopicsInput {
        method: describe(&options.algorithm, k),
        generation: index.manifest().generation,
        topics,
        labels: clustering.labels,
        scores: clustering.scores,
        levels: tree,
        map,
    })
}

/// Clusters the index in `root` and stores its topics as a new generation, holding the writer
/// lock throughout so that no other change lands in between.
pub fn cluster_index(
    root: &Path,
    options: &TopicOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Index> {
    let _lock = WriterLock::acquire(root, Wait::No)?;
    let index = Index::open(root)?;
    let input = topics_of(&index, options, progress)?;
    drop(index);
    Ok(Index::set_topics(root, input)?)
}

/// The hierarchy's levels, coarsest last, each checked against the number of topics.
fn levels_of(levels: &[usize], k: usize) -> Result<Vec<usize>> {
    let mut out = levels.to_vec();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    if let Some(&bad) = out.iter().find(|&&g| g == 0 || g >= k) {
        return Err(ClusterError::Invalid(format!(
            "a hierarchy level of {bad} groups: each level needs between 1 and {} groups (there \
             are {k} topics)",
            k - 1
        )));
    }
    Ok(out)
}

fn describe(algorithm: &Algorithm, k: usize) -> String {
    match algorithm {
        Algorithm::KMeans(o) => format!(
            "k-means (k = {}, {}, n_init {}, seed {})",
            o.k,
            if o.spherical { "cosine" } else { "euclidean" },
            o.n_init,
            o.seed
        ),
        Algorithm::Agglomerative { threshold } => {
            format!("agglomerative (average linkage, cosine distance ≤ {threshold}): {k} topics")
        }
        Algorithm::Community {
            threshold,
            min_size,
        } => format!("community detection (cosine ≥ {threshold}, min size {min_size}): {k} topics"),
    }
}
