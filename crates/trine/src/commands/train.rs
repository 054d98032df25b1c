//! `trine train`: fine-tune the encoder on a triplets file.

use anyhow::Context;
use serde_json::json;
use trine_corpus::beir::load_split;
use trine_corpus::triplets::read_triplets;
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
            let hold = HoldOut {
                queries: args.dev_queries,
                extra_docs: args.dev_docs,
                seed: config.seed,
            };
            let before = triplets.len();
            let (dev, dropped, text) = DevSet::for_triplets(
                &data,
                &args.judgements_split,
                &args.eval_split,
                hold,
                &mut triplets,
            )?;
            println!("dev set: {text}");
            println!(
                "{dropped} of {before} training rows dropped (their queries are in the dev set)"
            );
            dev.write_qrels(&args.out.join("dev-qrels.tsv"))?;
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
