//! `trine mine`: hard negatives for a BEIR split, from a trine index or one built with the model.

use anyhow::Context;
use trine_corpus::beir::{load_split, BeirPaths};
use trine_corpus::triplets::write_triplets;
use trine_corpus::{read_corpus, CorpusOptions};
use trine_index::Index;
use trine_train::mine::{mine, MineOptions};

use super::{flags, retrieve, shared};
use crate::cli::{Cli, MineArgs};
use crate::{data_root, progress};

pub fn run(cli: &Cli, args: &MineArgs) -> anyhow::Result<()> {
    if args.split == "test" {
        eprintln!("warning: mining the test split; training on it makes test figures meaningless");
    }
    let options = flags::mine_options(&args.mining, MineOptions::default(), args.seed);
    options.validate()?;
    let data = data_root::resolve(&cli.data_root, &args.data);
    let split = load_split(&data, &args.split)?;
    let encoder = shared::load_encoder(&args.model)?;
    let tmp = tempfile::tempdir()?;
    let index = match &args.index {
        Some(path) => Index::open(path)?,
        None => {
            let docs = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
            let emb = trine_pipeline::document_embeddings(
                &encoder,
                &docs,
                args.doc_embeddings.as_deref(),
                &crate::progress::Bars::default(),
            )?;
            Index::build(
                tmp.path(),
                &docs,
                &emb.values,
                trine_pipeline::model_info(&encoder)?,
                false,
            )?
        }
    };
    let vectors = retrieve::embed_queries(&index, &encoder, &split.queries)?.concat();
    let pb = progress::bar(split.queries.len() as u64, "mining", "queries");
    let mined = mine(&split, &index, &vectors, &options, &mut |n| {
        pb.set_position(n as u64)
    })?;
    pb.finish_and_clear();
    let c = mined.counts;
    if mined.triplets.is_empty() {
        anyhow::bail!("no triplets mined: every candidate was dropped ({c:?})");
    }
    write_triplets(&args.out, &mined.triplets)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "mined {} triplets for {} (query, positive) pairs of {} queries with {:?} into {}",
        mined.triplets.len(),
        c.pairs,
        c.queries,
        options.retriever,
        args.out.display()
    );
    println!(
        "dropped: {} judged candidates, {} in the top {} ranks, {} scoring above {:?} × the \
         positive's dense score; {} pairs got fewer than {} negatives; {} positives below grade \
         {}, {} over the cap of {:?} per query; {} judged documents not in the corpus",
        c.judged,
        c.skipped_top,
        options.skip_top,
        c.above_ratio,
        options.max_score_ratio,
        c.short_pairs,
        options.negatives,
        c.below_grade,
        options.min_grade,
        c.capped,
        options.max_pairs_per_query,
        c.missing_docs
    );
    Ok(())
}
