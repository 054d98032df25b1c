//! `trine train`: fine-tune the encoder on a triplets file.

use std::time::Duration;

use anyhow::Context;
use indicatif::ProgressBar;
use serde_json::json;
use trine_corpus::beir::{load_split, BeirPaths};
use trine_corpus::triplets::read_triplets;
use trine_corpus::{read_corpus, CorpusOptions};
use trine_encoder::Precision;
use trine_train::curves::{EvalRecord, StepRecord};
use trine_train::dev::DevSet;
use trine_train::loss::{
    ContrastiveLoss, Distance, InfoNceLoss, MinedTripletLoss, Miner, ProxyAnchorLoss, ProxyNcaLoss,
    QuadrupletLoss, TripletLoss,
};
use trine_train::model::TrainableModel;
use trine_train::optim::AdamWConfig;
use trine_train::{train, Objective, Observer, ProxyInit, RunOptions, TrainConfig};

use super::shared;
use crate::cli::{Cli, DistanceArg, DtypeArg, LossArg, ProxyInitArg, TrainArgs};
use crate::{data_root, progress, rss};

/// The loss and its settings from the flags, with the documented defaults.
pub fn objective(args: &TrainArgs) -> Objective {
    let distance = match args.distance {
        DistanceArg::Euclidean => Distance::Euclidean,
        DistanceArg::SquaredEuclidean => Distance::SquaredEuclidean,
        DistanceArg::Cosine => Distance::Cosine,
    };
    let margin = args.margin.unwrap_or(match distance {
        Distance::Cosine => 0.1,
        Distance::Euclidean | Distance::SquaredEuclidean => 0.5,
    });
    let mined = |miner| {
        Objective::Mined(MinedTripletLoss {
            miner,
            distance,
            margin,
        })
    };
    match args.loss {
        LossArg::Triplet => Objective::Triplet(TripletLoss { distance, margin }),
        LossArg::BatchAll => mined(Miner::All),
        LossArg::BatchHard => mined(Miner::Hard),
        LossArg::SemiHard => mined(Miner::SemiHard),
        LossArg::Contrastive => Objective::Contrastive(ContrastiveLoss {
            distance,
            margin: args.margin.unwrap_or(0.5),
        }),
        LossArg::Quadruplet => Objective::Quadruplet(QuadrupletLoss {
            distance,
            margin,
            second_margin: args.second_margin.unwrap_or(margin / 2.0),
        }),
        LossArg::ProxyNca => Objective::ProxyNca(ProxyNcaLoss {
            scale: args.scale.unwrap_or(9.0),
        }),
        LossArg::ProxyAnchor => Objective::ProxyAnchor(ProxyAnchorLoss {
            alpha: args.proxy_alpha,
            delta: args.proxy_delta,
        }),
        LossArg::Infonce => Objective::InfoNce(InfoNceLoss {
            scale: args.scale.unwrap_or(20.0),
        }),
    }
}

struct Bar {
    pb: ProgressBar,
    total: usize,
}

impl Bar {
    /// A line above the bar, or on stderr when the bar is hidden (not a terminal).
    fn say(&self, line: String) {
        if self.pb.is_hidden() {
            eprintln!("{line}");
        } else {
            self.pb.println(line);
        }
    }
}

impl Observer for Bar {
    fn start(&mut self, step: usize, total: usize) {
        self.total = total;
        self.pb.set_length(total as u64);
        self.pb.set_position(step as u64);
    }
    fn step(&mut self, r: &StepRecord) {
        self.pb.set_position(r.step as u64);
        self.pb.set_message(format!(
            "training: loss {:.4}, lr {:.2e}, {:.1} ex/s",
            r.loss, r.lr, r.examples_per_sec
        ));
    }
    fn eval(&mut self, r: &EvalRecord, best: bool) {
        self.say(format!(
            "step {}/{}: dev nDCG@10 {:.4}, recall@100 {:.4}{}",
            r.step,
            self.total,
            r.ndcg_10,
            r.recall_100,
            if best { " (best so far)" } else { "" }
        ));
    }
    fn note(&mut self, message: &str) {
        self.say(message.to_string());
    }
}

pub fn run(cli: &Cli, args: &TrainArgs) -> anyhow::Result<()> {
    crate::alloc::keep_freed_memory();
    let mut triplets = read_triplets(&args.triplets)?;
    let model = TrainableModel::load(&args.model)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let dev = match &args.eval_data {
        Some(d) => {
            let data = data_root::resolve(&cli.data_root, d);
            let split = load_split(&data, &args.eval_split)?;
            let corpus = read_corpus(&BeirPaths::new(&data).corpus(), &CorpusOptions::default())?;
            let dev =
                DevSet::hold_out(&split, &corpus, args.dev_queries, args.dev_docs, args.seed)?;
            let before = triplets.len();
            {
                let (ids, texts) = (dev.query_ids(), dev.query_texts());
                triplets.retain(|t| match &t.query_id {
                    Some(id) => !ids.contains(id.as_str()),
                    None => !texts.contains(t.query.as_str()),
                });
            }
            println!(
                "dev set: {} queries of {} `{}` held out with {} documents; {} of {} training rows \
                 dropped (their queries are in the dev set)",
                dev.queries.len(),
                data.display(),
                args.eval_split,
                dev.docs.len(),
                before - triplets.len(),
                before
            );
            write_dev_qrels(&args.out.join("dev-qrels.tsv"), &dev)?;
            Some(dev)
        }
        None => None,
    };
    let config = TrainConfig {
        objective: objective(args),
        batch_size: args.batch_size,
        accumulation: args.accumulation,
        epochs: args.epochs,
        lr: args.lr,
        proxy_lr: args.proxy_lr.unwrap_or(args.lr * 100.0),
        proxy_init: match args.proxy_init {
            ProxyInitArg::Mean => ProxyInit::Mean,
            ProxyInitArg::Random => ProxyInit::Random,
        },
        warmup_ratio: args.warmup_ratio,
        max_grad_norm: args.max_grad_norm,
        adamw: AdamWConfig {
            weight_decay: args.weight_decay,
            ..Default::default()
        },
        seed: args.seed,
        eval_every: args.eval_every,
        checkpoint_every: args.checkpoint_every,
        keep_checkpoints: args.keep_checkpoints,
        max_steps: args.max_steps,
    };
    let run = RunOptions {
        out: &args.out,
        resume: args.resume,
        overwrite: args.overwrite,
        step_delay: Duration::from_millis(args.step_delay_ms),
        eval_precision: match args.eval_dtype {
            DtypeArg::F32 => Precision::F32,
            DtypeArg::Bf16 => Precision::Bf16,
        },
    };
    println!(
        "training {} on {} triplets from {} ({} epoch(s), batch {} × {} accumulation, lr {:e})",
        config.objective.name(),
        triplets.len(),
        args.triplets.display(),
        config.epochs,
        config.batch_size,
        config.accumulation,
        config.lr
    );
    let mut bar = Bar {
        pb: progress::bar(1, "training", "steps"),
        total: 0,
    };
    let summary = train(model, &triplets, dev.as_ref(), &config, &run, &mut bar)?;
    bar.pb.finish_and_clear();
    let report = json!({
        "summary": summary,
        "config": config,
        "peak_rss_mib": rss::peak_rss_mib(),
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
            "best dev nDCG@10 {:.4} at step {} (the saved model)",
            b.ndcg_10, b.step
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
