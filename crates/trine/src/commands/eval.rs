//! `trine eval`: run a retriever over a BEIR dataset split and score it.

use std::time::Instant;

use serde_json::json;
use trine_corpus::beir::{load_split, BeirPaths, Split};

use trine_corpus::{read_corpus, CorpusOptions};
use trine_eval::{evaluate, run as trec, Run};
use trine_index::Index;

use super::{retrieve, sharded, shared};
use crate::cli::{Cli, EvalArgs, ModeArg};
use crate::data_root;

pub fn run(cli: &Cli, args: &EvalArgs) -> anyhow::Result<()> {
    let data = data_root::resolve(&cli.data_root, &args.data);
    let split = load_split(&data, &args.split)?;
    let needs_model = args.retriever != ModeArg::Lexical || args.index.is_none();
    let encoder = if needs_model {
        Some(shared::load_encoder(&args.model)?)
    } else {
        None
    };

    if let Some(set) = args.index.as_deref().filter(|p| sharded::is_set(p)) {
        return sharded::eval(
            set,
            &split,
            encoder.as_ref(),
            args.retriever,
            args.top_k,
            &args.fusion,
            args.json,
        );
    }
    let start = Instant::now();
    let tmp = tempfile::tempdir()?;
    let mut index = match &args.index {
        Some(path) => Index::open(path)?,
        None => {
            let docs = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
            let enc = encoder.as_ref().expect("model loaded");
            let settings = shared::chunk_settings(&args.chunks);
            let (values, chunks) = trine_pipeline::index_vectors(
                enc,
                &docs,
                settings,
                args.doc_embeddings.as_deref(),
                &crate::progress::Bars::default(),
            )?;
            let options = trine_index::BuildOptions {
                chunking: settings.zip(chunks.as_ref()),
                ..Default::default()
            };
            Index::build_with(
                &tmp.path().join("index"),
                &docs,
                &values,
                trine_pipeline::model_info(enc)?,
                &options,
            )?
        }
    };
    shared::apply_dense_args(&mut index, &args.dense)?;
    let index_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let fusion = retrieve::fusion(&args.fusion, &index);
    let run = retrieve::run_queries(
        &index,
        encoder.as_ref(),
        &split.queries,
        args.retriever,
        fusion,
        args.top_k,
        args.fusion.candidates,
    )?;
    let search_secs = start.elapsed().as_secs_f64();

    let (metrics, per_query) = evaluate(&run, &split.qrels);
    let dataset = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = format!("{:?}", args.retriever).to_lowercase();
    let stem = format!("{dataset}.{}.{mode}", args.split);
    let run_path = args.out_dir.join(format!("{stem}.trec"));
    let report_path = args.out_dir.join(format!("{stem}.json"));
    trec::write_trec(&run_path, &run, &format!("trine-{mode}"))?;
    let model_name = index.manifest().model.name.clone();
    let report = json!({
        "dataset": dataset,
        "data": data,
        "split": args.split,
        "retriever": mode,
        "fusion": (args.retriever == ModeArg::Hybrid).then(|| fusion.to_string()),
        "model": model_name,
        "queries": split.queries.len(),
        "documents": index.len(),
        "vectors": index.chunks().map_or(index.len(), |c| c.len()),
        "chunking": index.manifest().chunking,
        "index_bytes": index.size_bytes(),
        "metrics": metrics,
        "seconds": {"index": index_secs, "queries": search_secs},
        "run_file": run_path,
        "per_query": per_query,
    });
    shared::write_json(&report_path, &report)?;

    if args.json {
        println!("{}", serde_json::to_string(&metrics)?);
    } else {
        let how = if args.retriever == ModeArg::Hybrid {
            format!(" ({fusion})")
        } else {
            String::new()
        };
        println!(
            "{dataset} {} ({} queries, {} documents), {mode} retriever{how}, model {model_name}",
            args.split,
            split.queries.len(),
            index.len(),
        );
        for (name, value) in serde_json::to_value(metrics)?.as_object().unwrap() {
            println!("  {name:<11} {:.4}", value.as_f64().unwrap_or(f64::NAN));
        }
        println!(
            "run: {}\nreport: {}",
            run_path.display(),
            report_path.display()
        );
        print_examples(&split, &run, &index, args.examples);
    }
    Ok(())
}

/// Prints the first `n` queries with their top 3 hits; judged-relevant hits are marked `*`.
fn print_examples(split: &Split, run: &Run, index: &Index, n: usize) {
    for q in split.queries.iter().take(n) {
        println!("\nquery {}: {}", q.id, q.text);
        let rels = split.qrels.get(&q.id);
        for (rank, hit) in run.get(&q.id).into_iter().flatten().take(3).enumerate() {
            let relevant = rels
                .and_then(|r| r.get(&hit.doc_id))
                .is_some_and(|&g| g > 0);
            let title: String = index
                .row_of(&hit.doc_id)
                .map(|r| index.document(r))
                .map(|d| {
                    if d.title.is_empty() {
                        d.text.as_str()
                    } else {
                        d.title.as_str()
                    }
                })
                .unwrap_or("")
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
