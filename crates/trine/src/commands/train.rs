//! `trine train`: fine-tune the encoder on a triplets file.

use anyhow::Context;
use serde_json::json;
use trine_corpus::beir::{load_split, BeirPaths};
use trine_corpus::triplets::read_triplets;
use trine_corpus::{read_corpus, CorpusOptions};
use trine_encoder::Precision;
use trine_train::data::judgements;
use trine_train::dev::{DevSet, HoldOut};
use trine_train::model::TrainableModel;
use trine_train::{train, RunOptions, TrainConfig, TrainData};

use super::{flags, shared};
use crate::cli::{Cli, TrainArgs};
use crate::data_root;

pub fn run(cli: &Cli, args: &TrainArgs) -> anyhow::Result<()> {
    crate::alloc::keep_freed_memory();
    let config = flags::train_config(&args.training, TrainConfig::default());
    let mut triplets = read_triplets(&args.triplets)?;
    let model = TrainableModel::load(&args.model)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let dev = match &args.eval_data {
        Some(d) => {
            let data = data_root::resolve(&cli.data_root, d);
            let corpus = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
            let train = load_split(&data, &args.judgements_split)?;
            let hold = HoldOut {
                queries: args.dev_queries,
                extra_docs: args.dev_docs,
                seed: config.seed,
            };
            let (dev, _, text) = DevSet::for_training(
                &data,
                &corpus,
                &train,
                &args.judgements_split,
                &args.eval_split,
                hold,
            )?;
            println!("dev set: {text}");
            let before = triplets.len();
            let dropped = dev.remove_from(&mut triplets);
            println!(
                "{dropped} of {before} training rows dropped (their queries are in the dev set)"
            );
            write_dev_qrels(&args.out.join("dev-qrels.tsv"), &dev)?;
            Some(dev)
        }
        None => None,
    };
    let judged = match &args.judgements {
        Some(d) => {
            let data = data_root::resolve(&cli.data_root, d);
            Some(judgements(
                &load_split(&data, &args.judgements_split)?.qrels,
            ))
        }
        None => None,
    };
    let run = RunOptions {
        out: &args.out,
        resume: args.training.resume,
        overwrite: args.training.overwrite,
        step_delay: std::time::Duration::from_millis(args.training.step_delay_ms),
        eval_precision: flags::eval_precision(&args.training, Precision::F32),
        baseline: None,
    };
    println!(
        "training {} on {} triplets from {} ({} epoch(s), batch {} × {} accumulation{}, lr {:e})",
        config.objective.name(),
        triplets.len(),
        args.triplets.display(),
        config.epochs,
        config.batch_size,
        config.accumulation,
        config.mini_batch.map_or(String::new(), |m| format!(
            ", gradients cached over {m} texts"
        )),
        config.lr
    );
    let data = TrainData::Triplets {
        rows: triplets,
        judged,
    };
    let mut bar = flags::Bar::new();
    let dev_ref = dev.as_ref().map(|d| d as &dyn trine_train::Dev);
    let summary = train(model, &data, dev_ref, &config, &run, &mut bar)?;
    bar.pb.finish_and_clear();
    let report = json!({
        "summary": summary,
        "config": config,
        "peak_rss_mib": trine_train::peak_rss_mib(),
        "triplets": args.triplets,
        "model": args.model,
    });
    shared::write_json(&args.out.join("train-summary.json"), &report)?;
    println!(
        "{} steps in {:.0} s ({:.2} s/step, {:.0} s/epoch); model written to {}",
        summary.steps,
        summary.seconds,
        summary.seconds_per_step,
        summary.seconds_per_epoch,
        args.out.display()
    );
    if let Some(b) = &summary.best {
        println!(
            "best dev {} {:.4} at step {} (the saved model)",
            b.metric, b.score, b.step
        );
    }
    Ok(())
}

/// The dev queries' judgements in BEIR's qrels format, so that later steps (fusion tuning) can
/// use the same held-out queries.
fn write_dev_qrels(path: &std::path::Path, dev: &DevSet) -> anyhow::Result<()> {
    use std::io::Write;
    trine_corpus::atomic::write_file(path, |w| {
        let io = |e| trine_corpus::CorpusError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        writeln!(w, "query-id\tcorpus-id\tscore").map_err(io)?;
        for (q, rels) in &dev.qrels {
            let mut docs: Vec<_> = rels.iter().collect();
            docs.sort();
            for (d, g) in docs {
                writeln!(w, "{q}\t{d}\t{g}").map_err(io)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}
