//! `trine embed`: corpus in, embeddings Parquet out.

use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use trine_corpus::{embeddings, read_corpus};

use super::shared;
use crate::cli::{Cli, EmbedArgs};
use crate::data_root;

pub fn run(cli: &Cli, args: &EmbedArgs) -> anyhow::Result<()> {
    let input = data_root::resolve(&cli.data_root, &args.input);
    let mut docs = read_corpus(&input, &shared::corpus_options(&args.corpus))?;
    if let Some(n) = args.limit {
        docs.truncate(n);
    }
    let encoder = shared::load_encoder(&args.model)?;
    let start = Instant::now();
    let emb = trine_pipeline::embed_documents(&encoder, &docs, &crate::progress::Bars::default())?;
    let secs = start.elapsed().as_secs_f64();
    embeddings::write(&args.output, &emb)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "embedded {} documents ({} dims) in {:.1} s ({:.1} docs/s) -> {}",
        emb.len(),
        emb.dim,
        secs,
        emb.len() as f64 / secs,
        args.output.display()
    );
    if let Some(path) = &args.report {
        let texts: Vec<String> = docs.iter().map(|d| d.full_text()).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = encoder
            .token_counts_as(&refs, trine_encoder::Role::Document)?
            .iter()
            .sum();
        let report = json!({
            "engine": "trine",
            "model": encoder.folder().name,
            "documents": docs.len(),
            "tokens": tokens,
            "seconds": secs,
            "docs_per_s": docs.len() as f64 / secs,
            "tokens_per_s": tokens as f64 / secs,
            "batch_size": args.model.batch_size,
            "max_batch_tokens": args.model.max_batch_tokens,
            "max_seq_length": encoder.folder().max_seq_length,
            "threads": rayon::current_num_threads(),
            "dtype": format!("{:?}", encoder.options().precision).to_lowercase(),
            "peak_rss_mib": trine_train::peak_rss_mib(),
        });
        shared::write_json(path, &report)?;
    }
    Ok(())
}
