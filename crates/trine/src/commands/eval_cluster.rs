//! `trine eval-cluster`: cluster a labelled corpus and score the clustering against its labels.

use std::path::PathBuf;

use serde_json::json;
use trine_cluster::cluster;
use trine_cluster::metrics::{ari, nmi, v_measure};
use trine_corpus::labels::{match_labels, read_labels};
use trine_corpus::{read_corpus, CorpusFormat, CorpusOptions, JsonFields};

use super::cluster::{algorithm, cosine_silhouette, write_outputs, Input};
use super::shared;
use crate::cli::{Cli, EvalClusterArgs};
use crate::data_root;

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
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let label_path: PathBuf = a.labels.clone().unwrap_or_else(|| path.clone());
    let gold = match_labels(
        &label_path,
        &ids,
        &read_labels(&label_path, &a.id_field, &a.label_field)?,
    )?;
    let encoder = shared::load_encoder(&a.model)?;
    let emb = shared::document_embeddings(&encoder, &docs, a.embeddings.as_deref())?;
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
    let scores = json!({
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
    });
    if let Some(dir) = &a.out_dir {
        write_outputs(dir, &input, &clustering, &algo)?;
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
        ] {
            println!("{key:<13} {:.4}", scores[key].as_f64().unwrap_or(f64::NAN));
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
