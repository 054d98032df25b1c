//! `trine.finetune` and `trine.train`: the CLI's commands as functions, their flags as
//! keyword arguments, their reports returned as dicts.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use trine_corpus::beir::load_split;
use trine_corpus::triplets::read_triplets;
use trine_corpus::JsonFields;
use trine_encoder::Precision;
use trine_train::curves::{EvalRecord, StepRecord};
use trine_train::data::judgements;
use trine_train::dev::{DevSet, HoldOut};
use trine_train::finetune::{recipe, DevOptions, FinetuneData, FinetuneOptions};
use trine_train::loss::Distance;
use trine_train::model::TrainableModel;
use trine_train::{
    LossKind, LossParams, Observer, RunOptions, TrainConfig, TrainData, TrainOverrides,
};

use crate::encoder::precision;
use crate::error::{choice, engine};

/// Progress as lines on stderr: the start, every tenth of the run, each dev evaluation.
struct Lines {
    total: usize,
}

impl Observer for Lines {
    fn start(&mut self, step: usize, total: usize) {
        self.total = total;
        eprintln!("trine: training from step {step} of {total}");
    }
    fn step(&mut self, r: &StepRecord) {
        if r.step == self.total || r.step.is_multiple_of((self.total / 10).max(1)) {
            eprintln!(
                "trine: step {}/{}: loss {:.4}, lr {:.2e}, {:.1} ex/s",
                r.step, self.total, r.loss, r.lr, r.examples_per_sec
            );
        }
    }
    fn eval(&mut self, r: &EvalRecord, best: bool) {
        let mark = if best { " (best so far)" } else { "" };
        eprintln!(
            "trine: dev {} {:.4} at step {}{mark}",
            r.metric, r.score, r.step
        );
    }
    fn note(&mut self, message: &str) {
        eprintln!("trine: {message}");
    }
}

/// The training keyword arguments both functions take, as changes over a base config.
#[derive(Default)]
struct Knobs {
    loss: Option<String>,
    distance: Option<String>,
    margin: Option<f64>,
    scale: Option<f64>,
    lr: Option<f64>,
    batch_size: Option<usize>,
    mini_batch_size: Option<usize>,
    per_class: Option<usize>,
    epochs: Option<usize>,
    max_steps: Option<usize>,
    eval_every: Option<usize>,
    seed: Option<u64>,
    train_dtype: Option<String>,
}

impl Knobs {
    fn overrides(&self) -> PyResult<TrainOverrides> {
        let names: Vec<&str> = LossKind::NAMES.iter().map(|(n, _)| *n).collect();
        let loss = match &self.loss {
            Some(l) => Some(LossKind::from_name(l).ok_or_else(|| choice("loss", l, &names))?),
            None => None,
        };
        let distance = match &self.distance {
            Some(d) => Some(Distance::from_name(d).ok_or_else(|| {
                choice("distance", d, &["cosine", "euclidean", "squared-euclidean"])
            })?),
            None => None,
        };
        let bf16 = match self.train_dtype.as_deref() {
            None => None,
            Some("f32") => Some(false),
            Some("bf16") => Some(true),
            Some(other) => return Err(choice("train_dtype", other, &["f32", "bf16"])),
        };
        Ok(TrainOverrides {
            loss,
            loss_params: LossParams {
                distance,
                margin: self.margin,
                scale: self.scale,
                ..Default::default()
            },
            lr: self.lr,
            batch_size: self.batch_size,
            mini_batch: self.mini_batch_size,
            per_class: self.per_class,
            epochs: self.epochs,
            max_steps: self.max_steps,
            eval_every: self.eval_every,
            seed: self.seed,
            bf16,
            ..Default::default()
        })
    }

    fn from_kwargs(kwargs: Option<&Bound<'_, pyo3::types::PyDict>>) -> PyResult<Knobs> {
        let Some(kw) = kwargs else {
            return Ok(Knobs::default());
        };
        const KNOWN: [&str; 13] = [
            "loss",
            "distance",
            "margin",
            "scale",
            "lr",
            "batch_size",
            "mini_batch_size",
            "per_class",
            "epochs",
            "max_steps",
            "eval_every",
            "seed",
            "train_dtype",
        ];
        for key in kw.keys() {
            let key: String = key.extract()?;
            if !KNOWN.contains(&key.as_str()) {
                return Err(PyValueError::new_err(format!(
                    "unknown training argument '{key}' (known: {})",
                    KNOWN.join(", ")
                )));
            }
        }
        macro_rules! get {
            ($key:literal) => {
                match kw.get_item($key)? {
                    Some(v) if !v.is_none() => Some(v.extract().map_err(|_| {
                        PyValueError::new_err(format!("{}={} has the wrong type", $key, v))
                    })?),
                    _ => None,
                }
            };
        }
        Ok(Knobs {
            loss: get!("loss"),
            distance: get!("distance"),
            margin: get!("margin"),
            scale: get!("scale"),
            lr: get!("lr"),
            batch_size: get!("batch_size"),
            mini_batch_size: get!("mini_batch_size"),
            per_class: get!("per_class"),
            epochs: get!("epochs"),
            max_steps: get!("max_steps"),
            eval_every: get!("eval_every"),
            seed: get!("seed"),
            train_dtype: get!("train_dtype"),
        })
    }
}

/// A serialisable report as a Python dict.
fn to_dict<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(engine)?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Fine-tunes `model` on `data` (a BEIR folder with a train split, or a labelled JSONL /
/// Parquet file) with the recommended recipe and writes the model, its card and a report to
/// `out`, as `trine finetune` does; keyword arguments (loss, lr, batch_size, mini_batch_size,
/// per_class, epochs, max_steps, eval_every, seed, train_dtype, distance, margin, scale) change
/// the recipe. Returns the report (before/after dev metrics).
#[pyfunction]
#[pyo3(signature = (data, out, model = PathBuf::from("models/all-MiniLM-L6-v2"), *, overwrite = false, resume = false, label_field = "label", text_field = "text", dev_split = "dev", dev_fraction = 0.1, report_dtype = "f32", **kwargs))]
#[allow(clippy::too_many_arguments)]
pub fn finetune<'py>(
    py: Python<'py>,
    data: PathBuf,
    out: PathBuf,
    model: PathBuf,
    overwrite: bool,
    resume: bool,
    label_field: &str,
    text_field: &str,
    dev_split: &str,
    dev_fraction: f64,
    report_dtype: &str,
    kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let knobs = Knobs::from_kwargs(kwargs)?;
    let overrides = knobs.overrides()?;
    let fields = JsonFields {
        id: "_id".into(),
        title: String::new(),
        text: text_field.into(),
    };
    let source = FinetuneData::at(&data, fields, label_field);
    let base = source.recipe();
    let train = overrides.apply(base);
    let options = FinetuneOptions {
        model,
        out,
        train_split: "train".into(),
        dev: DevOptions {
            split: dev_split.into(),
            fraction: dev_fraction,
            ..Default::default()
        },
        mine: trine_train::mine::MineOptions {
            seed: train.seed,
            ..recipe::mining()
        },
        max_epochs: (knobs.max_steps.is_none() && knobs.epochs.is_none())
            .then_some(recipe::MAX_EPOCHS),
        train,
        resume,
        overwrite,
        eval_precision: Precision::Bf16,
        report_precision: precision(report_dtype)?,
    };
    let report = py
        .detach(|| trine_train::finetune::finetune(&source, &options, &mut Lines { total: 0 }))
        .map_err(engine)?;
    to_dict(py, &report)
}

/// Trains `model` on a triplets Parquet file and writes the model to `out`, as `trine train`
/// does; `judgements` (a BEIR folder) keeps judged documents out of the in-batch negatives.
/// `eval_data` (a BEIR folder) gives a dev set that picks the checkpoint, as `--eval-data`:
/// its `eval_split` over the whole corpus, or `dev_queries` queries held out of the training
/// split (with `dev_docs` other documents) when `eval_split` is the one trained on.
/// Takes the same training keyword arguments as `finetune` over `trine train`'s defaults.
/// Returns the run's summary.
#[pyfunction]
#[pyo3(signature = (model, triplets, out, *, judgements = None, judgements_split = "train", eval_data = None, eval_split = "train", dev_queries = 100, dev_docs = 1000, overwrite = false, resume = false, **kwargs))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    model: PathBuf,
    triplets: PathBuf,
    out: PathBuf,
    judgements: Option<PathBuf>,
    judgements_split: &str,
    eval_data: Option<PathBuf>,
    eval_split: &str,
    dev_queries: usize,
    dev_docs: usize,
    overwrite: bool,
    resume: bool,
    kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let config = Knobs::from_kwargs(kwargs)?
        .overrides()?
        .apply(TrainConfig::default());
    let summary = py
        .detach(|| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            let mut rows = read_triplets(&triplets)?;
            let dev = match &eval_data {
                Some(root) => {
                    let hold = HoldOut {
                        queries: dev_queries,
                        extra_docs: dev_docs,
                        seed: config.seed,
                    };
                    let (dev, _, _) =
                        DevSet::for_triplets(root, judgements_split, eval_split, hold, &mut rows)?;
                    dev.write_qrels(&out.join("dev-qrels.tsv"))?;
                    Some(dev)
                }
                None => None,
            };
            let judged = match &judgements {
                Some(d) => Some(self::judgements(&load_split(d, judgements_split)?.qrels)),
                None => None,
            };
            let net = TrainableModel::load(&model)?;
            let run = RunOptions {
                out: &out,
                resume,
                overwrite,
                step_delay: std::time::Duration::ZERO,
                eval_precision: Precision::F32,
                baseline: None,
            };
            let data = TrainData::Triplets { rows, judged };
            Ok(trine_train::train(
                net,
                &data,
                dev.as_ref().map(|d| d as &dyn trine_train::Dev),
                &config,
                &run,
                &mut Lines { total: 0 },
            )?)
        })
        .map_err(|e| engine(&*e))?;
    to_dict(py, &summary)
}
