//! `trine eval`: run a retriever over a BEIR dataset split and score it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use trine_corpus::beir::{load_split, BeirPaths, Split};
use trine_corpus::embeddings::{self, Embeddings};
use trine_corpus::{read_corpus, CorpusOptions, Document};
use trine_encoder::Encoder;
use trine_eval::exact::ExactIndex;
use trine_eval::{evaluate, run as trec, Run};

use super::shared;
use crate::cli::{Cli, EvalArgs};
use crate::data_root;

pub fn run(cli: &Cli, args: &EvalArgs) -> anyhow::Result<()> {
    let data = data_root::resolve(&cli.data_root, &args.data);
    let split = load_split(&data, &args.split)?;
    let docs = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
    let encoder = shared::load_encoder(&args.model)?;

    let start = Instant::now();
    let doc_emb = document_embeddings(&encoder, &docs, args.doc_embeddings.as_deref())?;
    let embed_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let texts: Vec<&str> = split.queries.iter().map(|q| q.text.as_str()).collect();
    let query_emb = shared::embed_texts(&encoder, &texts, "embedding queries")?;
    let index = ExactIndex::new(&doc_emb.ids, &doc_emb.values, doc_emb.dim);
    let results = index.search(&query_emb, encoder.dim(), args.top_k)?;
    let search_secs = start.elapsed().as_secs_f64();
    let run: Run = split
        .queries
        .iter()
        .map(|q| q.id.clone())
        .zip(results)
        .collect();

    let (metrics, per_query) = evaluate(&run, &split.qrels);
    let dataset = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = format!("{dataset}.{}.dense", args.split);
    let run_path = args.out_dir.join(format!("{stem}.trec"));
    let report_path = args.out_dir.join(format!("{stem}.json"));
    trec::write_trec(&run_path, &run, "trine-dense")?;
    let report = json!({
        "dataset": dataset,
        "data": data,
        "split": args.split,
        "retriever": "dense",
        "model": encoder.folder().name,
        "queries": split.queries.len(),
        "documents": docs.len(),
        "metrics": metrics,
        "seconds": {"embed_documents": embed_secs, "queries": search_secs},
        "run_file": run_path,
        "per_query": per_query,
    });
    shared::write_json(&report_path, &report)?;

    if args.json {
        println!("{}", serde_json::to_string(&metrics)?);
    } else {
        println!(
            "{dataset} {} ({} queries, {} documents), dense retriever, model {}",
            args.split,
            split.queries.len(),
            docs.len(),
            encoder.folder().name
        );
        for (name, value) in serde_json::to_value(metrics)?.as_object().unwrap() {
            println!("  {name:<11} {:.4}", value.as_f64().unwrap_or(f64::NAN));
        }
        println!(
            "run: {}\nreport: {}",
            run_path.display(),
            report_path.display()
        );
        print_examples(&split, &run, &docs, args.examples);
    }
    Ok(())
}

/// Prints the first `n` queries with their top 3 hits; judged-relevant hits are marked `*`.
fn print_examples(split: &Split, run: &Run, docs: &[Document], n: usize) {
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                if d.title.is_empty() {
                    d.text.as_str()
                } else {
                    d.title.as_str()
                },
            )
        })
        .collect();
    for q in split.queries.iter().take(n) {
        println!("\nquery {}: {}", q.id, q.text);
        let rels = split.qrels.get(&q.id);
        for (rank, hit) in run.get(&q.id).into_iter().flatten().take(3).enumerate() {
            let relevant = rels
                .and_then(|r| r.get(&hit.doc_id))
                .is_some_and(|&g| g > 0);
            let title: String = titles
                .get(hit.doc_id.as_str())
                .unwrap_or(&"")
                .chars()
                .take(90)
                .collect();
            println!(
                "  {}{} {:>10} {:.4}  {title}",
                if relevant { "*" } else { " " },
                rank + 1,
                hit.doc_id,
                hit.score
            );
        }
    }
}

/// Loads document embeddings from `cache` when they were made by this model, else computes them
/// (and saves them to `cache` when given).
fn document_embeddings(
    encoder: &Encoder,
    docs: &[Document],
    cache: Option<&Path>,
) -> anyhow::Result<Embeddings> {
    if let Some(path) = cache.filter(|p| p.exists()) {
        let emb = embeddings::read(path)?;
        let same_docs =
            emb.len() == docs.len() && emb.ids.iter().zip(docs).all(|(id, d)| id == &d.id);
        if same_docs && shared::embeddings_match(&emb, encoder, path)? {
            eprintln!("using document embeddings from {}", path.display());
            return Ok(emb);
        }
    }
    let emb = shared::embed_documents(encoder, docs)?;
    if let Some(path) = cache {
        embeddings::write(path, &emb).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(emb)
}
