//! `trine tune-fusion`: grid search over fusion methods and weights on labelled queries.
//!
//! A tuned convex combination beats RRF (Bruch et al., 2022, "An Analysis of Fusion Functions for
//! Hybrid Retrieval"); the choice is stored in the index as its default for hybrid search.

use trine_corpus::beir::load_split;
use trine_index::{Fusion, Index};

use super::{retrieve, shared};
use crate::cli::{Cli, TuneFusionArgs};
use crate::data_root;

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
    let _lock = shared::writer_lock(&a.index, &a.write)?;
    let index = Index::open(&a.index)?;
    let encoder = shared::load_encoder(&a.model)?;
    let vectors = retrieve::embed_queries(&index, &encoder, &split.queries)?;
    let results = trine_index::batch::tune_fusion(
        &index,
        &split.queries,
        &vectors,
        &split.qrels,
        a.candidates,
    )?;
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
