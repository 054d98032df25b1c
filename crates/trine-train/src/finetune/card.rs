//! The model card (`OUT/README.md`), laid out as sentence-transformers writes one: metadata
//! header, model details, training data, loss and settings, the dev curve, before/after metrics
//! and how to load the model.

use std::fmt::Write as _;
use std::path::Path;

use super::FinetuneReport;
use crate::Result;

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn table(out: &mut String, report: &FinetuneReport) {
    let keys: Vec<&String> = report.before.metrics.keys().collect();
    let _ = writeln!(
        out,
        "| dev metric | {} | fine-tuned | change |",
        name(&report.base_model)
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let mut row = |label: String, b: Option<f64>, a: Option<f64>| {
        if let (Some(b), Some(a)) = (b, a) {
            let _ = writeln!(out, "| {label} | {b:.4} | {a:.4} | {:+.4} |", a - b);
        }
    };
    let prefix = if report.kind == "retrieval" {
        "dense "
    } else {
        ""
    };
    for k in &keys {
        row(
            format!("{prefix}{k}"),
            report.before.metrics.get(*k).copied(),
            report.after.metrics.get(*k).copied(),
        );
    }
    if let (Some(b), Some(a)) = (&report.before.hybrid, &report.after.hybrid) {
        for k in ["ndcg@10", "recall@100", "mrr@10"] {
            row(
                format!("hybrid {k} (fusion tuned on dev)"),
                b.get(k).copied(),
                a.get(k).copied(),
            );
        }
    }
}

/// Renders the card as Markdown.
pub fn render(report: &FinetuneReport) -> String {
    let c = &report.config;
    let base = name(&report.base_model);
    let model = name(&report.out);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- \
         sentence-transformers\n- sentence-similarity\n- feature-extraction\n- trine\n- loss:{}\n\
         base_model: {base}\n---\n",
        report.train.objective
    );
    let _ = writeln!(
        s,
        "# {model}\n\nA sentence-transformers model fine-tuned from `{base}` by `trine \
         finetune` on `{}`. It maps text to unit-length vectors compared by cosine similarity.\n",
        report.data.display()
    );
    let _ = writeln!(s, "## Training data\n");
    match (&report.mining, &report.mine_options) {
        (Some(m), Some(o)) => {
            let _ = writeln!(
                s,
                "{} {} mined from the judged training queries \
                 ({} queries, {} pairs): candidates from the {:?} retriever's top {} with \
                 fusion {}, ranks 1–{} skipped, negatives taken by `{:?}` sampling; every \
                 document judged for a query (any grade) excluded ({} candidates), {} dropped \
                 scoring above {:?} × the positive's dense score, positives of grade ≥ {}, at \
                 most {:?} pairs per query ({:?} choice; {} positives left out). The mined rows \
                 are in `triplets.parquet`.\n",
                report.rows,
                if o.negatives == 0 {
                    "(query, positive) pairs (in-batch negatives only)"
                } else {
                    "(query, positive, negative) triplets"
                },
                m.queries,
                m.pairs,
                o.retriever,
                o.depth,
                o.fusion,
                o.skip_top,
                o.sampling,
                m.judged,
                m.above_ratio,
                o.max_score_ratio,
                o.min_grade,
                o.max_pairs_per_query,
                o.positives,
                m.capped
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "{} labelled texts in {} classes: {}.\n",
                report.rows,
                report.classes.len(),
                report.classes.join(", ")
            );
        }
    }
    let _ = writeln!(s, "Dev set: {}.\n", report.dev);
    let _ = writeln!(s, "## Training\n");
    let _ = writeln!(
        s,
        "| setting | value |\n|---|---|\n| loss | `{}` ({}) |\n| batch size | {}{} |\n| \
         gradient accumulation | {} |\n| epochs | {} |\n| learning rate | {:e} (linear warm-up over \
         {:.0}% of the steps, then linear decay) |\n| weight decay | {} |\n| gradient clipping | {} |\n\
         | seed | {} |\n| steps | {} ({} per epoch) |\n| time | {:.0} s training, {:.0} s in all |\n\
         | peak memory | {} |\n",
        report.train.objective,
        serde_json::to_string(&c.objective).unwrap_or_default(),
        c.batch_size,
        match (report.kind, c.mini_batch) {
            ("labelled", Some(m)) => format!(
                " ({} classes × {} texts; gradients cached over mini-batches of {m})",
                c.batch_size / c.per_class,
                c.per_class
            ),
            ("labelled", None) => format!(
                " ({} classes × {} texts)",
                c.batch_size / c.per_class,
                c.per_class
            ),
            (_, Some(m)) => format!(" (gradients cached over mini-batches of {m} texts)"),
            _ => String::new(),
        },
        c.accumulation,
        c.epochs,
        c.lr,
        c.warmup_ratio * 100.0,
        c.adamw.weight_decay,
        c.max_grad_norm,
        c.seed,
        report.train.steps,
        report.train.steps_per_epoch,
        report.train.seconds,
        report.seconds,
        report
            .peak_rss_mib
            .map_or("unknown".into(), |m| format!("{:.2} GiB", m / 1024.0))
    );
    let _ = writeln!(s, "### Dev curve\n\n![loss and dev curves](curves.svg)\n");
    if let Some(first) = report.train.evals.first() {
        let _ = writeln!(s, "| step | dev {} |\n|---|---|", first.metric);
        for e in &report.train.evals {
            let best = report.train.best.as_ref().is_some_and(|b| b.step == e.step);
            let _ = writeln!(
                s,
                "| {} | {}{:.4}{} |",
                e.step,
                if best { "**" } else { "" },
                e.score,
                if best { "** (kept)" } else { "" }
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Results on dev\n");
    table(&mut s, report);
    if let Some(f) = report.after.fusion {
        let _ = writeln!(s, "\nFusion tuned on dev for the fine-tuned model: `{f}`.");
    }
    let _ = writeln!(s, "\n## Usage\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer(\"{}\")\nembeddings = model.encode([\"a query\", \"a document\"])\n```\n", report.out.display());
    let _ = writeln!(
        s,
        "```sh\ntrine encode --model {} \"a query\"",
        report.out.display()
    );
    if report.kind == "retrieval" {
        let data = report.data.display();
        let out = report.out.display();
        let _ = writeln!(
            s,
            "trine eval --data {data} --split test --model {out} --retriever dense"
        );
        if let Some(f) = report.after.fusion {
            let flags = match f {
                trine_index::Fusion::Rrf { k } => format!("--fusion rrf --rrf-k {k}"),
                trine_index::Fusion::Convex { alpha } => format!("--fusion convex --alpha {alpha}"),
                trine_index::Fusion::Zscore { alpha } => format!("--fusion zscore --alpha {alpha}"),
            };
            let _ = writeln!(
                s,
                "trine eval --data {data} --split test --model {out} --retriever hybrid {flags}"
            );
        }
    } else {
        let _ = writeln!(
            s,
            "trine eval-cluster --data TEST.jsonl --k {} --model {}",
            report.classes.len(),
            report.out.display()
        );
    }
    let _ = writeln!(s, "```");
    s
}

/// Writes `README.md` into the model folder `dir`.
pub fn write(dir: &Path, report: &FinetuneReport) -> Result<()> {
    let text = render(report);
    let path = dir.join("README.md");
    trine_corpus::atomic::write_file(&path, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes())
            .map_err(|e| trine_corpus::CorpusError::Io {
                path: path.clone(),
                source: e,
            })
    })?;
    Ok(())
}
