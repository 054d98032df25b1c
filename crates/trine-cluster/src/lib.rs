//! Clustering document embeddings: k-means (k-means++, restarts, spherical, mini-batch),
//! agglomerative clustering with a distance threshold, and community detection; metrics
//! against gold labels (V-measure, NMI, ARI) and the silhouette; c-TF-IDF keywords, central
//! documents, topics stored in an index, and labelled 2-D maps (t-SNE or PCA) per clustering.

pub mod agglomerative;
pub mod community;
mod error;
pub mod keywords;
pub mod kmeans;
pub mod layout;
pub mod metrics;
pub mod pca;
pub mod plot;
pub mod quality;
pub mod summary;
pub mod topics;
pub mod vectors;

pub use error::{ClusterError, Result};
pub use kmeans::{KMeans, KMeansOptions};

use vectors::{dot, normalize_rows};

/// Which algorithm to run.
#[derive(Debug, Clone)]
pub enum Algorithm {
    KMeans(KMeansOptions),
    /// Average-linkage agglomerative clustering cut at a cosine distance.
    Agglomerative {
        threshold: f32,
    },
    /// Threshold communities (sentence-transformers' `community_detection`).
    Community {
        threshold: f32,
        min_size: usize,
    },
}

/// A clustering of n points.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of each point; `None` for noise (community detection).
    pub labels: Vec<Option<usize>>,
    /// Number of clusters.
    pub k: usize,
    /// `k × dim` unit-length centroids (mean direction of the members).
    pub centroids: Vec<f32>,
    /// Cosine similarity of each point to its cluster's centroid (0 for noise).
    pub scores: Vec<f32>,
    /// k-means objective, when k-means ran.
    pub inertia: Option<f64>,
}

impl Clustering {
    /// Labels with noise as −1, for files and scripts.
    pub fn labels_i64(&self) -> Vec<i64> {
        self.labels
            .iter()
            .map(|l| l.map_or(-1, |c| c as i64))
            .collect()
    }

    /// Points in no cluster.
    pub fn noise(&self) -> usize {
        self.labels.iter().filter(|l| l.is_none()).count()
    }
}

/// Clusters `n × dim` row-major vectors (`ids` name the rows, for error messages).
pub fn cluster(
    ids: &[String],
    values: &[f32],
    dim: usize,
    algorithm: &Algorithm,
) -> Result<Clustering> {
    vectors::validate(ids, values, dim)?;
    let (labels, inertia): (Vec<Option<usize>>, Option<f64>) = match algorithm {
        Algorithm::KMeans(opts) => {
            let km = kmeans::kmeans(values, dim, opts)?;
            (km.labels.into_iter().map(Some).collect(), Some(km.inertia))
        }
        Algorithm::Agglomerative { threshold } => (
            agglomerative::agglomerative(values, dim, *threshold)?
                .into_iter()
                .map(Some)
                .collect(),
            None,
        ),
        Algorithm::Community {
            threshold,
            min_size,
        } => (
            community::communities(values, dim, *threshold, *min_size)?,
            None,
        ),
    };
    let k = labels.iter().flatten().max().map_or(0, |m| m + 1);
    let unit = normalize_rows(values, dim);
    let mut centroids = vec![0f32; k * dim];
    for (row, l) in unit.chunks_exact(dim).zip(&labels) {
        if let Some(c) = l {
            centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(row)
                .for_each(|(s, x)| *s += x);
        }
    }
    let centroids = normalize_rows(&centroids, dim);
    let scores = unit
        .chunks_exact(dim)
        .zip(&labels)
        .map(|(row, l)| l.map_or(0.0, |c| dot(row, &centroids[c * dim..(c + 1) * dim])))
        .collect();
    Ok(Clustering {
        labels,
        k,
        centroids,
        scores,
        inertia,
    })
}
