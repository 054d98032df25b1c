//! `trine eval --index SET` and `trine search SET` where SET is a shard set
//! (`trine index build --shards N`): the shards searched as one index, in this process.

use std::time::Instant;

use serde_json::json;
use trine_corpus::beir::Split;
use trine_encoder::Encoder;
use trine_eval::{evaluate, run::Hit, Run};
use trine_index::Index;
use trine_pipeline::shards::{open_shards, search_shards, SHARDS_FILE};
use trine_pipeline::Search;

use super::retrieve;
use crate::cli::{FusionArgs, ModeArg};

/// Whether `path` holds a shard set rather than one index.
pub fn is_set(path: &std::path::Path) -> bool {
    path.join(SHARDS_FILE).is_file()
}

fn search_for(shards: &[Index], mode: ModeArg, k: usize, fusion: &FusionArgs) -> Search {
    Search {
        mode: retrieve::mode(mode),
        k,
        candidates: fusion.candidates,
        fusion: Some(retrieve::fusion(fusion, &shards[0])),
        topic: None,
        facets: false,
    }
}

/// Scores the shard set at `path` on `split` and prints the metrics as `trine eval` does.
pub fn eval(
    path: &std::path::Path,
    split: &Split,
    encoder: Option<&Encoder>,
    mode: ModeArg,
    top_k: usize,
    fusion: &FusionArgs,
    as_json: bool,
) -> anyhow::Result<()> {
    let shards = open_shards(path)?;
    let search = search_for(&shards, mode, top_k, fusion);
    let start = Instant::now();
    let mut run = Run::new();
    for q in &split.queries {
        let hits = search_shards(&shards, encoder, &q.text, &search)?;
        run.insert(
            q.id.clone(),
            hits.into_iter()
                .map(|h| Hit {
                    doc_id: h.id,
                    score: h.score,
                })
                .collect(),
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    let (metrics, _) = evaluate(&run, &split.qrels);
    if as_json {
        println!("{}", serde_json::to_string(&metrics)?);
        return Ok(());
    }
    let docs: usize = shards.iter().map(Index::len).sum();
    println!(
        "{} queries over {} shards ({docs} documents), {:?} retriever, {:.1} ms a query",
        split.queries.len(),
        shards.len(),
        search.mode,
        1000.0 * seconds / split.queries.len().max(1) as f64
    );
    for (name, value) in serde_json::to_value(metrics)?.as_object().unwrap() {
        println!("  {name:<11} {:.4}", value.as_f64().unwrap_or(f64::NAN));
    }
    Ok(())
}

/// One query over the shard set at `path`, printed as `trine search` prints hits.
pub fn search(
    path: &std::path::Path,
    encoder: Option<&Encoder>,
    text: &str,
    mode: ModeArg,
    k: usize,
    fusion: &FusionArgs,
    as_json: bool,
) -> anyhow::Result<()> {
    let shards = open_shards(path)?;
    let search = search_for(&shards, mode, k, fusion);
    let hits = search_shards(&shards, encoder, text, &search)?;
    if as_json {
        let out: Vec<_> = hits
            .iter()
            .map(|h| {
                json!({"id": h.id, "title": h.title, "score": h.score, "shard": h.shard,
                       "lexical": {"score": h.lexical_score, "rank": h.lexical_rank},
                       "dense": {"score": h.dense_score, "rank": h.dense_rank}})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (i, h) in hits.iter().enumerate() {
        let lex = h.lexical_rank.map_or("-".to_string(), |r| format!("#{r}"));
        let den = h.dense_rank.map_or("-".to_string(), |r| format!("#{r}"));
        let title: String = h.title.chars().take(80).collect();
        println!(
            "{:>3}. {:<12} {:>8.4}  lex {lex:>4} dense {den:>4}  shard {}  {title}",
            i + 1,
            h.id,
            h.score,
            h.shard
        );
    }
    Ok(())
}
