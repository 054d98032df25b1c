//! `trine mine`: hard negatives for a BEIR split from BM25, dense or hybrid rankings.

use std::collections::HashSet;

use anyhow::Context;
use trine_corpus::beir::{load_split, BeirPaths};
use trine_corpus::triplets::{write_triplets, Triplet};
use trine_corpus::{read_corpus, CorpusOptions};
use trine_eval::exact::{dot, normalized};
use trine_index::fusion::fuse;
use trine_index::lexical::{self, Lexical};
use trine_index::Fusion;
use trine_train::mine::{pick_negatives, MineCounts, MineOptions};

use super::shared;
use crate::cli::{Cli, FusionArg, MineArgs, MineRetriever};
use crate::{data_root, progress};

pub fn run(cli: &Cli, args: &MineArgs) -> anyhow::Result<()> {
    if args.split == "test" {
        eprintln!("warning: mining the test split; training on it makes test figures meaningless");
    }
    let data = data_root::resolve(&cli.data_root, &args.data);
    let split = load_split(&data, &args.split)?;
    let docs = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
    let row_of: std::collections::HashMap<&str, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    let depth = args.depth.max(args.negatives);

    let tmp = tempfile::tempdir()?;
    let lexical = if args.retriever != MineRetriever::Dense {
        let dir = tmp.path().join("lexical");
        lexical::create(
            &dir,
            docs.iter()
                .enumerate()
                .map(|(i, d)| (i as u64, d.full_text())),
        )?;
        Some(Lexical::open(&dir)?)
    } else {
        None
    };
    let dense = if args.retriever != MineRetriever::Bm25 {
        let encoder = shared::load_encoder(&args.model)?;
        let emb = shared::document_embeddings(&encoder, &docs, args.doc_embeddings.as_deref())?;
        let texts: Vec<&str> = split.queries.iter().map(|q| q.text.as_str()).collect();
        let queries = shared::embed_texts(&encoder, &texts, "embedding queries")?;
        let dim = encoder.dim();
        Some((normalized(&emb.values, dim), normalized(&queries, dim), dim))
    } else {
        None
    };
    let fusion = match args.fusion.fusion {
        None | Some(FusionArg::Rrf) => Fusion::Rrf {
            k: args.fusion.rrf_k,
        },
        Some(FusionArg::Convex) => Fusion::Convex {
            alpha: args.fusion.alpha,
        },
        Some(FusionArg::Zscore) => Fusion::Zscore {
            alpha: args.fusion.alpha,
        },
    };
    let options = MineOptions {
        negatives: args.negatives,
        skip_top: args.skip_top,
        max_score_ratio: (args.max_score_ratio > 0.0).then_some(args.max_score_ratio),
    };

    let mut counts = MineCounts::default();
    let mut triplets = Vec::new();
    let mut missing_docs = 0usize;
    let pb = progress::bar(split.queries.len() as u64, "mining", "queries");
    for (qi, q) in split.queries.iter().enumerate() {
        pb.inc(1);
        let judged = &split.qrels[&q.id];
        let positives: HashSet<&str> = judged
            .iter()
            .filter(|(_, &g)| g > 0)
            .map(|(d, _)| d.as_str())
            .collect();
        let dense_score = |row: usize| -> f32 {
            let (d, qs, dim) = dense.as_ref().expect("dense vectors");
            dot(
                &qs[qi * dim..(qi + 1) * dim],
                &d[row * dim..(row + 1) * dim],
            )
        };
        let lex: Vec<(usize, f32)> = match &lexical {
            Some(l) => l
                .search(&q.text, depth)?
                .into_iter()
                .map(|(r, s)| (r as usize, s))
                .collect(),
            None => Vec::new(),
        };
        let dns: Vec<(usize, f32)> = match &dense {
            Some((d, _, dim)) => {
                let mut all: Vec<(usize, f32)> =
                    (0..d.len() / dim).map(|r| (r, dense_score(r))).collect();
                all.sort_by(|a, b| {
                    b.1.total_cmp(&a.1)
                        .then_with(|| docs[a.0].id.cmp(&docs[b.0].id))
                });
                all.truncate(depth);
                all
            }
            None => Vec::new(),
        };
        let ranking: Vec<(String, f32)> = match args.retriever {
            MineRetriever::Bm25 => lex.iter().map(|&(r, s)| (docs[r].id.clone(), s)).collect(),
            MineRetriever::Dense => dns.iter().map(|&(r, s)| (docs[r].id.clone(), s)).collect(),
            MineRetriever::Hybrid => fuse(&lex, &dns, dense_score, fusion, |r| docs[r].id.clone())
                .into_iter()
                .map(|h| (docs[h.row].id.clone(), h.score))
                .collect(),
        };
        let mut pos_ids: Vec<&str> = positives.iter().copied().collect();
        pos_ids.sort_unstable();
        for pid in pos_ids {
            let Some(&prow) = row_of.get(pid) else {
                missing_docs += 1;
                continue;
            };
            let positive_score = match args.retriever {
                MineRetriever::Dense => Some(dense_score(prow)),
                _ => ranking.iter().find(|(d, _)| d == pid).map(|h| h.1),
            };
            for (nid, _) in
                pick_negatives(&ranking, &positives, positive_score, &options, &mut counts)
            {
                let nrow = row_of[nid.as_str()];
                triplets.push(Triplet {
                    query: q.text.clone(),
                    positive: docs[prow].full_text(),
                    negative: docs[nrow].full_text(),
                    query_id: Some(q.id.clone()),
                    positive_id: Some(pid.to_string()),
                    negative_id: Some(nid.clone()),
                    label: None,
                });
            }
        }
    }
    pb.finish_and_clear();
    if triplets.is_empty() {
        anyhow::bail!("no triplets mined: every candidate was dropped ({counts:?})");
    }
    write_triplets(&args.out, &triplets)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "mined {} triplets for {} (query, positive) pairs of {} queries with {:?} into {}",
        triplets.len(),
        counts.pairs,
        split.queries.len(),
        args.retriever,
        args.out.display()
    );
    println!(
        "dropped: {} judged positives, {} in the top {} ranks, {} scoring above {:.2} × the positive; \
         {} pairs got fewer than {} negatives; {} judged documents not in the corpus",
        counts.judged_positive,
        counts.skipped_top,
        args.skip_top,
        counts.above_ratio,
        args.max_score_ratio,
        counts.short_pairs,
        args.negatives,
        missing_docs
    );
    Ok(())
}
