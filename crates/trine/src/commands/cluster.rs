//! `trine cluster`: cluster an index, an embeddings file or a corpus; write assignments,
//! summaries and a map.

use std::path::Path;

use anyhow::Context;
use trine_cluster::metrics::{silhouette, Metric};
use trine_cluster::plot::{Drawn, MapChoice};
use trine_cluster::summary::{summarize, table, ClusterSummary};
use trine_cluster::{cluster, Algorithm, Clustering, KMeansOptions};
use trine_corpus::assignments::{self, Assignments};
use trine_corpus::{read_corpus, Document};
use trine_index::Index;

use super::shared;
use crate::cli::{AlgorithmArg, AlgorithmArgs, Cli, ClusterArgs, KMeansMetricArg, MapArg, MapArgs};
use crate::{data_root, progress};

/// Points scored by the silhouette at most (as scikit-learn's `sample_size`).
pub const SILHOUETTE_SAMPLE: usize = 10_000;

/// The algorithm the flags ask for.
pub fn algorithm(a: &AlgorithmArgs) -> Algorithm {
    match a.algorithm {
        AlgorithmArg::Kmeans => Algorithm::KMeans(KMeansOptions {
            k: a.k,
            n_init: a.n_init,
            max_iter: a.max_iter,
            spherical: a.metric == KMeansMetricArg::Cosine,
            mini_batch: a.mini_batch,
            seed: a.seed,
            ..KMeansOptions::default()
        }),
        AlgorithmArg::Agglomerative => Algorithm::Agglomerative {
            threshold: a.threshold.unwrap_or(0.5),
        },
        AlgorithmArg::Community => Algorithm::Community {
            threshold: a.threshold.unwrap_or(0.75),
            min_size: a.min_size,
        },
    }
}

/// The map the flags ask for.
pub fn map_choice(a: &MapArgs) -> MapChoice {
    match a.map {
        MapArg::Auto => MapChoice::Auto,
        MapArg::Tsne => MapChoice::Tsne,
        MapArg::Pca => MapChoice::Pca,
        MapArg::None => MapChoice::Off,
    }
}

/// A progress bar for a t-SNE layout of `epochs` steps (none for PCA), and its callback.
pub fn layout_bar(
    layout: Option<trine_cluster::layout::Layout>,
) -> (Option<indicatif::ProgressBar>, impl FnMut(usize)) {
    let bar = match layout {
        Some(trine_cluster::layout::Layout::Tsne { epochs, .. }) => {
            Some(progress::bar(epochs as u64, "map layout (t-SNE)", "steps"))
        }
        _ => None,
    };
    let b = bar.clone();
    (bar, move |n: usize| {
        if let Some(b) = &b {
            b.set_position(n as u64);
        }
    })
}

/// What was clustered: ids, vectors and, when known, the documents.
pub struct Input {
    pub ids: Vec<String>,
    pub values: Vec<f32>,
    pub dim: usize,
    pub docs: Option<Vec<Document>>,
}

fn load(cli: &Cli, a: &ClusterArgs) -> anyhow::Result<Input> {
    let corpus = |path: &Path| -> anyhow::Result<Vec<Document>> {
        let path = data_root::resolve(&cli.data_root, path);
        Ok(read_corpus(&path, &shared::corpus_options(&a.corpus_args))?)
    };
    if let Some(idx) = &a.index {
        let index = Index::open(idx)?;
        let docs: Vec<Document> = (0..index.len())
            .map(|r| index.document(r).clone())
            .collect();
        let values = (0..index.len())
            .flat_map(|r| index.vector(r).to_vec())
            .collect();
        return Ok(Input {
            ids: docs.iter().map(|d| d.id.clone()).collect(),
            values,
            dim: index.manifest().model.dim,
            docs: Some(docs),
        });
    }
    if let Some(path) = &a.embeddings {
        let emb = trine_corpus::embeddings::read(path)?;
        let docs = match &a.corpus {
            Some(c) => {
                let docs = corpus(c)?;
                if docs.len() != emb.ids.len() || docs.iter().zip(&emb.ids).any(|(d, i)| &d.id != i)
                {
                    anyhow::bail!(
                        "{}: the corpus does not hold the embeddings' documents in their order",
                        c.display()
                    );
                }
                Some(docs)
            }
            None => None,
        };
        return Ok(Input {
            ids: emb.ids,
            values: emb.values,
            dim: emb.dim,
            docs,
        });
    }
    let path = a.corpus.as_ref().expect("clap requires a source");
    let docs = corpus(path)?;
    let encoder = shared::load_encoder(&a.model)?;
    let emb = trine_pipeline::embed_documents(&encoder, &docs, &crate::progress::Bars::default())?;
    Ok(Input {
        ids: emb.ids,
        values: emb.values,
        dim: emb.dim,
        docs: Some(docs),
    })
}

pub fn run(cli: &Cli, a: &ClusterArgs) -> anyhow::Result<()> {
    let input = load(cli, a)?;
    let algo = algorithm(&a.algorithm);
    let start = std::time::Instant::now();
    let clustering = cluster(&input.ids, &input.values, input.dim, &algo)?;
    eprintln!(
        "{} clusters over {} documents in {:.1} s",
        clustering.k,
        input.ids.len(),
        start.elapsed().as_secs_f64()
    );
    let (summaries, _) = write_outputs(&a.out_dir, &input, &clustering, &algo, map_choice(&a.map))?;
    print!("{}", table(&summaries, clustering.noise()));
    Ok(())
}

/// Writes `assignments.parquet`, `clusters.json`, `clusters.txt` and the map (`map.svg`,
/// `map.png`) into `dir`; returns the summaries and the drawn map.
pub fn write_outputs(
    dir: &Path,
    input: &Input,
    clustering: &Clustering,
    algo: &Algorithm,
    map: MapChoice,
) -> anyhow::Result<(Vec<ClusterSummary>, Option<Drawn>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    assignments::write(
        &dir.join("assignments.parquet"),
        &Assignments {
            ids: input.ids.clone(),
            clusters: clustering.labels_i64(),
            scores: clustering.scores.clone(),
        },
    )?;
    let (texts, titles): (Vec<String>, Vec<String>) = match &input.docs {
        Some(docs) => docs
            .iter()
            .map(|d| {
                let title = if d.title.is_empty() {
                    d.text.lines().next().unwrap_or("").to_string()
                } else {
                    d.title.clone()
                };
                (d.full_text(), title)
            })
            .unzip(),
        None => (Vec::new(), Vec::new()),
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let summaries = summarize(&input.ids, &refs, &titles, clustering, 10, 3);
    let json = serde_json::json!({
        "algorithm": format!("{algo:?}"),
        "documents": input.ids.len(),
        "clusters": clustering.k,
        "noise": clustering.noise(),
        "inertia": clustering.inertia,
        "summaries": summaries,
    });
    shared::write_json(&dir.join("clusters.json"), &json)?;
    trine_corpus::atomic::write_file(&dir.join("clusters.txt"), |w| {
        use std::io::Write;
        w.write_all(table(&summaries, clustering.noise()).as_bytes())
            .map_err(|e| trine_corpus::CorpusError::Metadata {
                path: dir.join("clusters.txt"),
                message: e.to_string(),
            })
    })?;
    let drawn = match map.layout(clustering.k) {
        Some(layout) => {
            let mut names = vec![String::new(); clustering.k];
            for s in &summaries {
                names[s.cluster] = trine_cluster::plot::name(s.cluster, &s.keywords);
            }
            let (bar, mut report) = layout_bar(Some(layout));
            let drawn = trine_cluster::plot::draw(
                &input.values,
                input.dim,
                &clustering.labels,
                &names,
                layout,
                &mut report,
            )?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            trine_corpus::atomic::write_bytes(&dir.join("map.svg"), drawn.svg.as_bytes())?;
            trine_corpus::atomic::write_bytes(&dir.join("map.png"), &drawn.png)?;
            Some(drawn)
        }
        None => None,
    };
    eprintln!(
        "wrote assignments.parquet, clusters.json, clusters.txt{} to {}",
        if drawn.is_some() {
            ", map.svg and map.png"
        } else {
            ""
        },
        dir.display()
    );
    Ok((summaries, drawn))
}

/// Mean silhouette (cosine) of a clustering, over at most [`SILHOUETTE_SAMPLE`] points.
pub fn cosine_silhouette(input: &Input, clustering: &Clustering, seed: u64) -> anyhow::Result<f64> {
    let keep: Vec<usize> = (0..input.ids.len())
        .filter(|&i| clustering.labels[i].is_some())
        .collect();
    let values: Vec<f32> = keep
        .iter()
        .flat_map(|&i| {
            input.values[i * input.dim..(i + 1) * input.dim]
                .iter()
                .copied()
        })
        .collect();
    let labels: Vec<usize> = keep
        .iter()
        .map(|&i| clustering.labels[i].unwrap())
        .collect();
    Ok(silhouette(
        &values,
        input.dim,
        &labels,
        Metric::Cosine,
        SILHOUETTE_SAMPLE,
        seed,
    )?)
}
