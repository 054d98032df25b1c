//! `trine search`: one query printed, or a queries file into a TREC run.

use std::path::Path;

use serde_json::json;
use trine_corpus::beir::{read_queries, Query};
use trine_corpus::{read_corpus, CorpusOptions};
use trine_encoder::Encoder;
use trine_eval::run::write_trec;
use trine_index::{Index, Results};

use super::{retrieve, sharded, shared};
use crate::cli::{Cli, ModeArg, SearchArgs};

pub fn run(_cli: &Cli, a: &SearchArgs) -> anyhow::Result<()> {
    if sharded::is_set(&a.index) {
        let (Some(text), None) = (a.query.as_deref(), &a.queries) else {
            anyhow::bail!("a shard set takes one query (use `trine eval --index SET` for a split)");
        };
        let encoder = match a.mode {
            ModeArg::Lexical => None,
            _ => Some(shared::load_encoder(&a.model)?),
        };
        return sharded::search(
            &a.index,
            encoder.as_ref(),
            text,
            a.mode,
            a.k,
            &a.fusion,
            a.json,
        );
    }
    let mut index = Index::open(&a.index)?;
    shared::apply_dense_args(&mut index, &a.dense)?;
    let encoder = match a.mode {
        ModeArg::Lexical => None,
        _ => Some(shared::load_encoder(&a.model)?),
    };
    let fusion = retrieve::fusion(&a.fusion, &index);
    if let Some(path) = &a.queries {
        let queries = load_queries(path)?;
        if let Some(report) = &a.latency_report {
            return latency(&index, encoder.as_ref(), &queries, a, report);
        }
        if a.topic.is_some() || a.facets {
            anyhow::bail!("--topic and --facets apply to one query or to --latency-report");
        }
        let run = retrieve::run_queries(
            &index,
            encoder.as_ref(),
            &queries,
            a.mode,
            fusion,
            a.k,
            a.fusion.candidates,
        )?;
        let out = a.run.as_ref().expect("clap requires --run");
        write_trec(out, &run, &format!("trine-{:?}", a.mode).to_lowercase())?;
        eprintln!("{} queries -> {}", queries.len(), out.display());
        return Ok(());
    }
    let Some(text) = a.query.as_deref() else {
        anyhow::bail!("give a query, or --queries FILE --run OUT");
    };
    let (Results { hits, facets }, vector) = single(&index, encoder.as_ref(), text, a)?;
    let topic_of = |row: usize| index.topics().and_then(|t| t.of(row));
    // Which chunk matched, when documents are split (dense and hybrid searches).
    let q = (!vector.is_empty()).then(|| trine_index::dense::unit(&vector));
    let chunk = |row: usize| q.as_ref().and_then(|q| index.best_chunk(q, row));
    if a.json {
        let out: Vec<_> = hits
            .iter()
            .map(|h| {
                let d = index.document(h.row);
                let mut hit = json!({"id": d.id, "title": d.title, "score": h.score,
                       "lexical": {"score": h.lexical_score, "rank": h.lexical_rank},
                       "dense": {"score": h.dense_score, "rank": h.dense_rank}});
                if let Some(c) = chunk(h.row) {
                    hit["chunk"] = json!(c);
                }
                if index.topics().is_some() {
                    hit["topic"] = json!(topic_of(h.row));
                }
                hit
            })
            .collect();
        let out = match &facets {
            Some(f) => json!({"hits": out, "facets": f}),
            None => json!(out),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (i, h) in hits.iter().enumerate() {
            let d = index.document(h.row);
            let title: String = if d.title.is_empty() {
                &d.text
            } else {
                &d.title
            }
            .chars()
            .take(80)
            .collect();
            let lex = h.lexical_rank.map_or("-".to_string(), |r| format!("#{r}"));
            let den = h.dense_rank.map_or("-".to_string(), |r| format!("#{r}"));
            let part = chunk(h.row).map_or(String::new(), |c| format!("  chunk {}", c.chunk));
            let topic = topic_of(h.row).map_or(String::new(), |t| format!("  topic {t}"));
            println!(
                "{:>3}. {:<12} {:>8.4}  lex {lex:>4} dense {den:>4}{part}{topic}  {title}",
                i + 1,
                d.id,
                h.score
            );
        }
        if let (Some(f), Some(t)) = (&facets, index.topics()) {
            println!("topics of the top {} hits:", a.fusion.candidates);
            for c in f {
                let words = &t.topics[c.topic].keywords;
                println!(
                    "{:>6}  {:>4}  {}",
                    c.topic,
                    c.count,
                    words.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Runs each query alone, as a user's request would, and records latency percentiles.
fn latency(
    index: &Index,
    encoder: Option<&Encoder>,
    queries: &[Query],
    a: &SearchArgs,
    report: &Path,
) -> anyhow::Result<()> {
    // One warm-up query so that page faults of the first search are not counted.
    single(index, encoder, &queries[0].text, a)?;
    let mut ms: Vec<f64> = Vec::with_capacity(queries.len());
    for q in queries {
        let start = std::time::Instant::now();
        std::hint::black_box(single(index, encoder, &q.text, a)?);
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    let value = json!({
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "queries": ms.len(),
        "documents": index.len(),
        "k": a.k,
        "p50_ms": pct(50.0), "p90_ms": pct(90.0), "p99_ms": pct(99.0),
        "mean_ms": ms.iter().sum::<f64>() / ms.len() as f64,
        "threads": rayon::current_num_threads(),
    });
    shared::write_json(report, &value)?;
    eprintln!("{}", value);
    Ok(())
}

/// One query in any mode, as fused-hit records (single retrievers fill only their own side)
/// with facets when asked, and the query's vector (empty for lexical search).
fn single(
    index: &Index,
    encoder: Option<&Encoder>,
    text: &str,
    a: &SearchArgs,
) -> anyhow::Result<(Results, Vec<f32>)> {
    let search = trine_pipeline::Search {
        mode: retrieve::mode(a.mode),
        k: a.k,
        candidates: a.fusion.candidates,
        fusion: Some(retrieve::fusion(&a.fusion, index)),
        topic: a.topic,
        facets: a.facets,
    };
    let (results, vector) = trine_pipeline::search(index, encoder, text, &search)?;
    Ok((results, vector))
}

/// Queries from a BEIR `queries.jsonl`, or one per line from any other file (ids = line numbers).
fn load_queries(path: &Path) -> anyhow::Result<Vec<Query>> {
    if path.extension().is_some_and(|e| e == "jsonl") {
        return Ok(read_queries(path)?);
    }
    let docs = read_corpus(
        path,
        &CorpusOptions {
            format: trine_corpus::CorpusFormat::Text,
            ..Default::default()
        },
    )?;
    Ok(docs
        .into_iter()
        .map(|d| Query {
            id: d.id,
            text: d.text,
        })
        .collect())
}
