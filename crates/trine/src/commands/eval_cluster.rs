//! `trine eval-cluster`: cluster a labelled corpus and score the clustering against its labels,
//! its keywords as topic models are scored (NPMI coherence, diversity) and, with `--out-dir`,
//! how well its map keeps neighbourhoods (trustworthiness beside PCA's).

use std::path::PathBuf;

use anyhow::Context;

use serde_json::json;
use trine_cluster::cluster;
use trine_cluster::layout::{layout, neighbours_kept, trustworthiness, Layout};
use trine_cluster::metrics::{ari, nmi, v_measure};
use trine_cluster::plot::Drawn;
use trine_cluster::quality::{npmi_coherence, topic_diversity};
use trine_corpus::labels::{match_labels, read_labels};
use trine_corpus::{read_corpus, CorpusFormat, CorpusOptions, JsonFields};

use super::cluster::{algorithm, cosine_silhouette, map_choice, write_outputs, Input};
use super::shared;
use crate::cli::{Cli, EvalClusterArgs};
use crate::data_root;

/// Keywords per cluster scored by NPMI and diversity (as topic-modelling papers report them).
const KEYWORDS: usize = 10;
/// Neighbours compared by the map's quality figures.
const MAP_NEIGHBOURS: usize = 10;

/// Trustworthiness and 10-NN kept of a drawn map, beside PCA's on the same points (null for
/// maps of too few points to have 10 neighbours each).
fn map_quality(input: &Input, d: &Drawn) -> anyhow::Result<serde_json::Value> {
    if d.rows.len() <= 2 * MAP_NEIGHBOURS {
        return Ok(serde_json::Value::Null);
    }
    let sample: Vec<f32> = d
        .rows
        .iter()
        .flat_map(|&r| {
            input.values[r * input.dim..(r + 1) * input.dim]
                .iter()
                .copied()
        })
        .collect();
    let unit = trine_cluster::vectors::normalize_rows(&sample, input.dim);
    let pca = layout(&unit, input.dim, Layout::Pca, &mut |_| {})?;
    let k = MAP_NEIGHBOURS;
    Ok(json!({
        "layout": d.layout.name(),
        "points": d.rows.len(),
        "neighbours": k,
        "trustworthiness": trustworthiness(&unit, input.dim, &d.points, k)?,
        "neighbours_kept": neighbours_kept(&unit, input.dim, &d.points, k)?,
        "pca_trustworthiness": trustworthiness(&unit, input.dim, &pca, k)?,
        "pca_neighbours_kept": neighbours_kept(&unit, input.dim, &pca, k)?,
    }))
}

/// NPMI and diversity of another engine's keywords over the same texts.
fn score_topics(
    file: &std::path::Path,
    docs: &[trine_corpus::Document],
    json: bool,
) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct Given {
        topics: Vec<Vec<String>>,
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let given: Given = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: expected {{\"topics\": [[\"word\", ...], ...]}}",
            file.display()
        )
    })?;
    if given.topics.is_empty() {
        anyhow::bail!("{}: no topics", file.display());
    }
    let texts: Vec<String> = docs.iter().map(|d| d.full_text()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let npmi = npmi_coherence(&texts, &given.topics);
    let scores = json!({
        "npmi": npmi.iter().sum::<f64>() / npmi.len() as f64,
        "topic_diversity": topic_diversity(&given.topics),
        "topics": given.topics.len(),
        "keywords_per_topic": given.topics.iter().map(Vec::len).max().unwrap_or(0),
        "documents": texts.len(),
    });
    if json {
        println!("{scores}");
    } else {
        println!(
            "npmi            {:.4}",
            scores["npmi"].as_f64().unwrap_or(f64::NAN)
        );
        println!(
            "topic_diversity {:.4}",
            scores["topic_diversity"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

pub fn run(cli: &Cli, a: &EvalClusterArgs) -> anyhow::Result<()> {
    let mut path = data_root::resolve(&cli.data_root, &a.data);
    if path.is_dir() {
        path = path.join("docs.jsonl");
    }
    let docs = read_corpus(
        &path,
        &CorpusOptions {
            format: CorpusFormat::Jsonl,
            fields: JsonFields {
                id: a.id_field.clone(),
                title: a.title_field.clone(),
                text: a.text_field.clone(),
            },
        },
    )?;
    if let Some(file) = &a.score_topics {
        return score_topics(file, &docs, a.json);
    }
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let label_path: PathBuf = a.labels.clone().unwrap_or_else(|| path.clone());
    let gold = match_labels(
        &label_path,
        &ids,
        &read_labels(&label_path, &a.id_field, &a.label_field)?,
    )?;
    let encoder = shared::load_encoder(&a.model)?;
    let emb = trine_pipeline::document_embeddings(
        &encoder,
        &docs,
        a.embeddings.as_deref(),
        &crate::progress::Bars::default(),
    )?;
    let input = Input {
        ids,
        values: emb.values,
        dim: emb.dim,
        docs: Some(docs),
    };
    let algo = algorithm(&a.algorithm);
    let start = std::time::Instant::now();
    let clustering = cluster(&input.ids, &input.values, input.dim, &algo)?;
    let secs = start.elapsed().as_secs_f64();
    // Noise points form one more cluster of their own for the external metrics.
    let pred = clustering.labels_i64();
    let (homogeneity, completeness, v) = v_measure(&gold, &pred)?;
    let texts: Vec<String> = input.docs.iter().flatten().map(|d| d.full_text()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let words: Vec<Vec<String>> =
        trine_cluster::keywords::ctfidf(&texts, &clustering.labels, clustering.k, KEYWORDS)
            .into_iter()
            .map(|ws| ws.into_iter().map(|(w, _)| w).collect())
            .collect();
    let npmi = npmi_coherence(&texts, &words);
    let mut scores = json!({
        "v_measure": v,
        "homogeneity": homogeneity,
        "completeness": completeness,
        "nmi": nmi(&gold, &pred)?,
        "ari": ari(&gold, &pred)?,
        "silhouette": cosine_silhouette(&input, &clustering, a.algorithm.seed)?,
        "clusters": clustering.k,
        "noise": clustering.noise(),
        "documents": input.ids.len(),
        "algorithm": format!("{algo:?}"),
        "seconds": secs,
        "npmi": npmi.iter().sum::<f64>() / npmi.len().max(1) as f64,
        "topic_diversity": topic_diversity(&words),
        "keywords_per_topic": KEYWORDS,
    });
    if let Some(dir) = &a.out_dir {
        let (_, drawn) = write_outputs(dir, &input, &clustering, &algo, map_choice(&a.map))?;
        if let Some(d) = drawn {
            scores["map"] = map_quality(&input, &d)?;
        }
        shared::write_json(&dir.join("scores.json"), &scores)?;
    }
    if a.json {
        println!("{scores}");
    } else {
        for key in [
            "v_measure",
            "homogeneity",
            "completeness",
            "nmi",
            "ari",
            "silhouette",
            "npmi",
            "topic_diversity",
        ] {
            println!("{key:<13} {:.4}", scores[key].as_f64().unwrap_or(f64::NAN));
        }
        if let Some(m) = scores.get("map").filter(|m| !m.is_null()) {
            println!(
                "map          {}: trustworthiness {:.4} (PCA {:.4}), 10-NN kept {:.4} (PCA {:.4})",
                m["layout"].as_str().unwrap_or("?"),
                m["trustworthiness"].as_f64().unwrap_or(f64::NAN),
                m["pca_trustworthiness"].as_f64().unwrap_or(f64::NAN),
                m["neighbours_kept"].as_f64().unwrap_or(f64::NAN),
                m["pca_neighbours_kept"].as_f64().unwrap_or(f64::NAN),
            );
        }
        println!(
            "{} clusters, {} noise, {} documents, {secs:.1} s",
            clustering.k,
            clustering.noise(),
            input.ids.len()
        );
    }
    Ok(())
}
