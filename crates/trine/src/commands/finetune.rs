//! `trine finetune`: from a corpus to a fine-tuned model in one command.

use trine_corpus::JsonFields;
use trine_encoder::Precision;
use trine_train::finetune::{finetune, recipe, DevOptions, FinetuneData, FinetuneOptions};

use super::flags;
use crate::cli::{Cli, FinetuneArgs};
use crate::data_root;

pub fn run(cli: &Cli, args: &FinetuneArgs) -> anyhow::Result<()> {
    crate::alloc::keep_freed_memory();
    let path = data_root::resolve(&cli.data_root, &args.data);
    let fields = JsonFields {
        id: args.id_field.clone(),
        title: args.title_field.clone(),
        text: args.text_field.clone(),
    };
    let data = FinetuneData::at(&path, fields, &args.label_field);
    let labelled = data.is_labelled();
    let base = data.recipe();
    let train = flags::train_config(&args.training, base);
    let options = FinetuneOptions {
        model: args.model.clone(),
        out: args.out.clone(),
        train_split: args.train_split.clone(),
        dev: DevOptions {
            split: args.dev_split.clone(),
            hold_out_queries: args.dev_queries,
            hold_out_docs: args.dev_docs,
            fraction: args.dev_fraction,
        },
        mine: flags::mine_options(&args.mining, recipe::mining(), train.seed),
        train,
        max_epochs: (args.training.max_steps.is_none() && args.training.epochs.is_none())
            .then_some(recipe::MAX_EPOCHS),
        resume: args.training.resume,
        overwrite: args.training.overwrite,
        eval_precision: flags::eval_precision(&args.training, Precision::Bf16),
        report_precision: args.report_dtype.into(),
    };
    let mut bar = flags::Bar::new();
    let report = finetune(&data, &options, &mut bar)?;
    bar.pb.finish_and_clear();
    println!(
        "fine-tuned {} on {} ({} rows, {} steps, {:.0} s); model in {}",
        options.model.display(),
        path.display(),
        report.rows,
        report.train.steps,
        report.seconds,
        options.out.display()
    );
    println!("dev ({}):", report.dev);
    println!(
        "  {:<34} {:>8} {:>8} {:>8}",
        "metric", "before", "after", "change"
    );
    let row = |name: String, b: f64, a: f64| {
        println!("  {name:<34} {b:>8.4} {a:>8.4} {:>+8.4}", a - b);
    };
    let prefix = if labelled { "" } else { "dense " };
    for (k, b) in &report.before.metrics {
        if let Some(a) = report.after.metrics.get(k) {
            row(format!("{prefix}{k}"), *b, *a);
        }
    }
    if let (Some(b), Some(a)) = (&report.before.hybrid, &report.after.hybrid) {
        for k in ["ndcg@10", "recall@100"] {
            row(format!("hybrid {k} (fusion tuned on dev)"), b[k], a[k]);
        }
        if let (Some(fb), Some(fa)) = (report.before.fusion, report.after.fusion) {
            println!("  tuned fusion: {fb} before, {fa} after");
        }
    }
    println!(
        "model card: {}; report: {}",
        options.out.join("README.md").display(),
        options.out.join("finetune-report.json").display()
    );
    Ok(())
}
