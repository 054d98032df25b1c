//! `trine tune-fusion`: grid search over fusion methods and weights on labelled queries.
//!
//! A tuned convex combination beats RRF (Bruch et al., 2022, "An Analysis of Fusion Functions for
//! Hybrid Retrieval"); the choice is stored in the index as its default for hybrid search.

use trine_corpus::beir::load_split;
use trine_eval::evaluate;
use trine_index::{Fusion, Index};

use super::{retrieve, shared};
use crate::cli::{Cli, ModeArg, TuneFusionArgs};
use crate::data_root;

/// The fusions tried: RRF at a few k, convex and z-score at α = 0, 0.05, …, 1.
fn grid() -> Vec<Fusion> {
    let mut g: Vec<Fusion> = [20.0, 60.0, 100.0]
        .iter()
        .map(|&k| Fusion::Rrf { k })
        .collect();
    for i in 0..=20 {
        let alpha = i as f32 / 20.0;
        g.push(Fusion::Convex { alpha });
        g.push(Fusion::Zscore { alpha });
    }
    g
}

pub fn run(cli: &Cli, a: &TuneFusionArgs) -> anyhow::Result<()> {
    if a.split == "test" {
        eprintln!("warning: tuning on the test split makes its figures optimistic; hold out part of train instead");
    }
    let data = data_root::resolve(&cli.data_root, &a.data);
    let mut split = load_split(&data, &a.split)?;
    if a.max_queries > 0 && split.queries.len() > a.max_queries {
        split.queries.truncate(a.max_queries);
        let keep: std::collections::HashSet<_> =
            split.queries.iter().map(|q| q.id.clone()).collect();
        split.qrels.retain(|q, _| keep.contains(q));
    }
    let index = Index::open(&a.index)?;
    let encoder = shared::load_encoder(&a.model)?;
    let c = retrieve::candidates(
        &index,
        Some(&encoder),
        &split.queries,
        ModeArg::Hybrid,
        a.candidates,
    )?;
    let mut results: Vec<(Fusion, f64)> = grid()
        .into_iter()
        .map(|f| {
            let run = retrieve::fuse_all(&index, &split.queries, &c, f, 100);
            (f, evaluate(&run, &split.qrels).0.ndcg_10)
        })
        .collect();
    // Best nDCG@10 first; among equals, the earlier (simpler) grid entry.
    results.sort_by(|x, y| y.1.total_cmp(&x.1));
    println!(
        "{} queries of {} {}; nDCG@10 of the best fusions:",
        split.queries.len(),
        data.display(),
        a.split
    );
    for (f, n) in results.iter().take(8) {
        println!("  {n:.4}  {f}");
    }
    let rrf = results
        .iter()
        .find(|(f, _)| *f == Fusion::Rrf { k: 60.0 })
        .map(|r| r.1)
        .unwrap_or(f64::NAN);
    println!("  ({rrf:.4}  rrf(k=60), for reference)");
    let best = results[0].0;
    Index::set_default_fusion(&a.index, best)?;
    println!(
        "stored {best} as the default fusion of {}",
        a.index.display()
    );
    Ok(())
}
