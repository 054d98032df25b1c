//! One call from a corpus to a fine-tuned model: `trine finetune`.
//!
//! * A BEIR folder with a train split ([`retrieval`]): hard negatives are mined from the train
//!   judgements with the starting model (every judged document excluded, a rank window, the
//!   positive-aware filter, a cap on pairs per query), InfoNCE trains with the judgements as its
//!   in-batch mask, checkpoints are chosen on the dev split (`qrels/dev.tsv`, else queries held
//!   out of train), and dense and hybrid dev metrics are reported before and after, the hybrid
//!   one with its fusion tuned on dev.
//! * A labelled JSONL or Parquet collection ([`labelled`]): P classes × K texts per batch for the
//!   in-batch mining, proxy and InfoNCE losses; part of every class is held out as dev and
//!   scored by k-means V-measure.
//!
//! Both write the model folder, a model card (`README.md`, [`card`]) and
//! `finetune-report.json`, and check the data before any training starts.

pub mod card;
pub mod labelled;
pub mod recipe;
pub mod retrieval;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::mine::{MineCounts, MineOptions};
use crate::trainer::{TrainConfig, TrainSummary};

/// What a fine-tuning run reads.
#[derive(Debug, Clone)]
pub enum FinetuneData {
    /// A BEIR folder (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`).
    Beir { root: PathBuf },
    /// A JSON Lines or Parquet collection of texts with a label field.
    Labelled {
        path: PathBuf,
        options: trine_corpus::CorpusOptions,
        label_field: String,
    },
}

impl FinetuneData {
    /// A BEIR folder when `path` is a directory, else a labelled JSON Lines / Parquet
    /// collection whose texts are read with `fields` and whose classes are in `label_field`.
    pub fn at(path: &std::path::Path, fields: trine_corpus::JsonFields, label_field: &str) -> Self {
        if path.is_dir() {
            return FinetuneData::Beir {
                root: path.to_path_buf(),
            };
        }
        FinetuneData::Labelled {
            path: path.to_path_buf(),
            options: trine_corpus::CorpusOptions {
                format: trine_corpus::CorpusFormat::Auto,
                fields,
            },
            label_field: label_field.to_string(),
        }
    }

    /// Whether the data is class-labelled texts rather than a retrieval corpus.
    pub fn is_labelled(&self) -> bool {
        matches!(self, FinetuneData::Labelled { .. })
    }

    /// The recommended run for this kind of data ([`recipe::labelled`] or
    /// [`recipe::retrieval`]), which user settings then change.
    pub fn recipe(&self) -> TrainConfig {
        if self.is_labelled() {
            recipe::labelled()
        } else {
            recipe::retrieval()
        }
    }
}

/// Where the dev set comes from, for a BEIR folder.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The dev split's name (`qrels/<name>.tsv`, used when the file exists).
    pub split: String,
    /// Without that file: queries held out of the train split...
    pub hold_out_queries: usize,
    /// ...with their judged documents and this many others.
    pub hold_out_docs: usize,
    /// Labelled data: the fraction of every class held out.
    pub fraction: f64,
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            split: "dev".into(),
            hold_out_queries: 100,
            hold_out_docs: 1000,
            fraction: 0.1,
        }
    }
}

/// Everything a fine-tuning run needs besides the data.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// The starting model (a sentence-transformers folder).
    pub model: PathBuf,
    pub out: PathBuf,
    /// The split trained on (BEIR).
    pub train_split: String,
    pub dev: DevOptions,
    pub mine: MineOptions,
    pub train: TrainConfig,
    /// Cuts the `max_steps` budget to this many passes over the training rows (the recipe's
    /// [`recipe::MAX_EPOCHS`]; `None` when the user set the run's length).
    pub max_epochs: Option<usize>,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Start over in an `out` that holds an earlier run's checkpoints.
    pub overwrite: bool,
    /// Number format of the dev evaluations during training.
    pub eval_precision: trine_encoder::Precision,
    /// Number format of the before/after report (f32 reproduces sentence-transformers; bf16
    /// embeds the corpus twice as fast).
    pub report_precision: trine_encoder::Precision,
}

impl FinetuneOptions {
    /// Trains `model` on `data` with the recipe's step cap and `evals` dev evaluations (unless
    /// `eval_every` is set), `before` (the starting model's dev scores) standing for step 0 when
    /// measured at the same precision, then loads the result for the after-report. Returns the settings
    /// used, the summary and the encoder.
    fn train_and_reload(
        &self,
        model: crate::model::TrainableModel,
        data: &crate::TrainData,
        dev: &dyn crate::Dev,
        evals: usize,
        before: &DevScores,
        observer: &mut dyn crate::Observer,
    ) -> crate::Result<(TrainConfig, TrainSummary, trine_encoder::Encoder)> {
        let rows = data.len();
        let capped = recipe::cap_epochs(self.train.clone(), self.max_epochs, rows);
        let config = recipe::with_eval_schedule(capped, rows, evals);
        let mut run = self.run();
        // The before-report scored the starting model on the same dev set; at the same
        // precision its figures are the step-0 evaluation.
        if self.eval_precision == self.report_precision {
            run.baseline = Some(before.metrics.clone());
        }
        let summary = crate::train(model, data, Some(dev), &config, &run, observer)?;
        let options = trine_encoder::EncoderOptions {
            precision: self.report_precision,
            ..Default::default()
        };
        let tuned = trine_encoder::Encoder::load(&self.out, options)?;
        Ok((config, summary, tuned))
    }

    /// Where and how the training step writes.
    fn run(&self) -> crate::RunOptions<'_> {
        crate::RunOptions {
            out: &self.out,
            resume: self.resume,
            overwrite: self.overwrite,
            step_delay: std::time::Duration::ZERO,
            eval_precision: self.eval_precision,
            baseline: None,
        }
    }
}

/// Dev metrics of one model.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DevScores {
    /// Dense retrieval (BEIR) or clustering (labelled) metrics, by name.
    pub metrics: BTreeMap<String, f64>,
    /// BEIR: hybrid metrics with the fusion tuned on dev.
    pub hybrid: Option<BTreeMap<String, f64>>,
    /// BEIR: that fusion.
    pub fusion: Option<trine_index::Fusion>,
}

/// What a run did and how the model changed on dev.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FinetuneReport {
    /// `retrieval` or `labelled`.
    pub kind: &'static str,
    pub data: PathBuf,
    pub base_model: PathBuf,
    pub out: PathBuf,
    /// How the dev set was formed, in words.
    pub dev: String,
    /// Training rows (triplets or labelled texts) and, for labelled data, the classes.
    pub rows: usize,
    pub classes: Vec<String>,
    pub mining: Option<MineCounts>,
    pub mine_options: Option<MineOptions>,
    pub config: TrainConfig,
    pub before: DevScores,
    pub after: DevScores,
    pub train: TrainSummary,
    /// Wall time of the whole run.
    pub seconds: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Runs fine-tuning on `data` and writes the model folder, its card and the report.
pub fn finetune(
    data: &FinetuneData,
    options: &FinetuneOptions,
    observer: &mut dyn crate::Observer,
) -> crate::Result<FinetuneReport> {
    let report = match data {
        FinetuneData::Beir { root } => retrieval::run(root, options, observer)?,
        FinetuneData::Labelled {
            path,
            options: read,
            label_field,
        } => labelled::run(path, read, label_field, options, observer)?,
    };
    let json = serde_json::to_vec_pretty(&report).expect("report serialises");
    let path = options.out.join("finetune-report.json");
    trine_corpus::atomic::write_file(&path, |w| {
        use std::io::Write;
        w.write_all(&json)
            .map_err(|e| trine_corpus::CorpusError::Io {
                path: path.clone(),
                source: e,
            })
    })?;
    card::write(&options.out, &report)?;
    Ok(report)
}
