//! The training loop: seeded shuffling, micro-batches with gradient accumulation, clipping,
//! AdamW under a warm-up/decay schedule, dev evaluation with best-checkpoint selection, resumable
//! checkpoints, and the sentence-transformers folder at the end.
//!
//! Every source of randomness is derived from the seed and the position in the run (epoch for
//! the shuffle; step and micro-batch for dropout), so a run resumed from a checkpoint takes the
//! same path as one that was never interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trine_encoder::seed::mix;
use trine_encoder::{EncoderOptions, Precision};

use crate::batches;
use crate::checkpoint::{self, RunState};
use crate::curves::{self, EvalRecord, StepRecord};
use crate::data::TrainData;
use crate::dev::Dev;
use crate::gradients::{accumulate, Grads, LossOf};
use crate::model::TrainableModel;
use crate::objective::{BatchEmbeddings, Objective};
use crate::optim::{clip_grad_norm, decays, schedule, AdamW, AdamWConfig, Param};
use crate::prepared::Prepared;
use crate::{Result, TrainError};

/// How class proxies start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyInit {
    /// Standard normal values.
    Random,
    /// The mean embedding of each class's texts under the starting model.
    Mean,
}

/// Settings of a run (saved in every checkpoint; a resume must use the same ones).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub objective: Objective,
    /// Triplets per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub accumulation: usize,
    pub epochs: usize,
    /// Peak learning rate of the encoder.
    pub lr: f64,
    /// Peak learning rate of the class proxies (proxy losses only).
    pub proxy_lr: f64,
    pub proxy_init: ProxyInit,
    /// Fraction of the steps spent warming up.
    pub warmup_ratio: f64,
    /// Gradient-norm clipping threshold (0 turns it off).
    pub max_grad_norm: f64,
    pub adamw: AdamWConfig,
    pub seed: u64,
    /// Evaluate on the dev set every this many steps (0: only at the end).
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (0: never).
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// The run's length in optimizer steps, overriding `epochs` (the data is cycled as needed,
    /// and the warm-up/decay schedule spans these steps), as Hugging Face's `max_steps`.
    pub max_steps: Option<usize>,
    /// Texts per forward pass with cached embedding gradients (GradCache), so that a large
    /// batch fits in the memory of a small one; `None` embeds each batch in one pass.
    #[serde(default)]
    pub mini_batch: Option<usize>,
    /// Labelled data: texts of each class per batch (K of P × K; P = batch size / K).
    #[serde(default = "default_per_class")]
    pub per_class: usize,
    /// Mixed precision: the encoder's matrix products on bf16-rounded operands with f32
    /// accumulation (AMX with MKL); weights, gradients and optimizer state stay f32.
    #[serde(default)]
    pub bf16: bool,
}

fn default_per_class() -> usize {
    4
}

impl Default for TrainConfig {
    /// `trine train`'s defaults: InfoNCE (scale 20), batch 16, one epoch at lr 2e-5, 10%
    /// warm-up, clipping at 1, seed 42, a checkpoint every 20 steps.
    fn default() -> Self {
        TrainConfig {
            objective: Objective::build(crate::LossKind::InfoNce, &Default::default()),
            batch_size: 16,
            accumulation: 1,
            epochs: 1,
            lr: 2e-5,
            proxy_lr: 2e-3,
            proxy_init: ProxyInit::Mean,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            adamw: AdamWConfig::default(),
            seed: 42,
            eval_every: 0,
            checkpoint_every: 20,
            keep_checkpoints: 2,
            max_steps: None,
            mini_batch: None,
            per_class: default_per_class(),
            bf16: false,
        }
    }
}

impl TrainConfig {
    /// Optimizer steps a run over `rows` training rows takes.
    pub fn planned_steps(&self, rows: usize) -> usize {
        self.max_steps.unwrap_or_else(|| {
            rows.div_ceil(self.batch_size).div_ceil(self.accumulation) * self.epochs
        })
    }
}

/// Progress reports from the loop.
pub trait Observer {
    /// The run starts (or resumes) at `step` of `total`.
    fn start(&mut self, step: usize, total: usize);
    /// An optimizer step finished.
    fn step(&mut self, record: &StepRecord);
    /// A dev evaluation finished; `best` when it is the best so far.
    fn eval(&mut self, record: &EvalRecord, best: bool);
    /// A note for the user (data kept and dropped, checkpoint written...).
    fn note(&mut self, message: &str);
    /// Progress of a stage outside the training loop (embedding, mining): `done` of `total`.
    fn progress(&mut self, _stage: &str, _done: usize, _total: usize) {}
}

/// What a finished run reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainSummary {
    pub objective: String,
    pub rows: usize,
    pub classes: usize,
    pub steps: usize,
    pub steps_per_epoch: usize,
    pub epochs: usize,
    /// Wall time of this invocation, evaluations and checkpoints included.
    pub seconds: f64,
    /// Mean wall time of a training step (forward, backward, update) in this invocation.
    pub seconds_per_step: f64,
    /// `seconds_per_step` × steps per epoch.
    pub seconds_per_epoch: f64,
    pub best: Option<EvalRecord>,
    /// Every dev evaluation of the run (the dev curve).
    pub evals: Vec<EvalRecord>,
    pub resumed_from: Option<usize>,
    pub output: PathBuf,
}

/// Where the run writes, and test hooks.
pub struct RunOptions<'a> {
    pub out: &'a Path,
    /// Continue from the latest checkpoint in `out` (a fresh start if there is none).
    pub resume: bool,
    /// Start over even though `out` holds checkpoints of an earlier run (they are deleted);
    /// without it such a fresh start is refused, so that no run's checkpoints are lost unasked.
    pub overwrite: bool,
    /// Sleep this long after every step (lets tests interrupt a run at a known point).
    pub step_delay: std::time::Duration,
    /// Precision of the dev-evaluation encoder.
    pub eval_precision: Precision,
    /// The starting model's dev metrics, when the caller measured them already on the same dev
    /// set at `eval_precision`: step 0 records them instead of embedding the dev corpus again.
    pub baseline: Option<BTreeMap<String, f64>>,
}

/// A stable 64-bit FNV-1a digest of the training texts (not cryptographic; it only guards
/// against resuming on a different file).
fn digest<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The micro-batches of one epoch (row indices).
fn epoch_batches(prepared: &Prepared, config: &TrainConfig, epoch: usize) -> Vec<Vec<usize>> {
    match prepared {
        Prepared::Triplets(t) => {
            batches::no_duplicates(t.keys.len(), config.batch_size, config.seed, epoch, |r| {
                t.keys[r]
            })
        }
        Prepared::Labelled(l) => batches::per_class(
            &l.labels,
            config.batch_size / config.per_class,
            config.per_class,
            config.seed,
            epoch,
        ),
    }
}

/// Trains `model` on `data` and writes the result to `run.out`.
pub fn train(
    mut model: TrainableModel,
    data: &TrainData,
    dev: Option<&dyn Dev>,
    config: &TrainConfig,
    run: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<TrainSummary> {
    check_config(config, data)?;
    if let Some(n) = dev.map(|d| d.overlap(data)).filter(|&n| n > 0) {
        return Err(TrainError::Data(format!(
            "{n} training rows belong to queries of the dev set; drop them first \
             (DevSet::remove_from), or the checkpoint would be chosen on trained-on queries"
        )));
    }
    let out = run.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    model.set_train_bf16(config.bf16);
    let prepared = Prepared::new(&model, data)?;
    let data_digest = digest(data.texts());

    let micro_per_epoch = epoch_batches(&prepared, config, 0).len();
    let steps_per_epoch = micro_per_epoch.div_ceil(config.accumulation);
    // As the Hugging Face trainer: `max_steps` sets the run's length (cycling the data as
    // needed) and the schedule spans it; without it, `epochs` does.
    let total = config.max_steps.unwrap_or(steps_per_epoch * config.epochs);
    let planned = total;
    let warmup = (planned as f64 * config.warmup_ratio).round() as usize;

    let proxies = if config.objective.uses_proxies() {
        let init = init_proxies(&model, data, &prepared, config, observer)?;
        Some(Var::from_tensor(&init)?)
    } else {
        None
    };
    let mut optimizer = AdamW::new(config.adamw);
    let mut state = RunState {
        step: 0,
        config: config.clone(),
        rows: data.len(),
        data_digest,
        best: None,
        steps: Vec::new(),
        evals: Vec::new(),
    };
    let mut resumed_from = None;
    if !run.resume {
        checkpoint::clear_for_fresh_start(out, run.overwrite)?;
    }
    if run.resume {
        match checkpoint::latest(out)? {
            Some(loaded) => {
                let path = loaded.dir.clone();
                let refuse = |message: String| TrainError::Checkpoint {
                    path: path.clone(),
                    message,
                };
                if loaded.state.config != *config {
                    return Err(refuse(
                        "written with other settings; use the same flags to resume".into(),
                    ));
                }
                if loaded.state.rows != state.rows || loaded.state.data_digest != state.data_digest
                {
                    return Err(refuse("written for other training data".into()));
                }
                model.load_weights(&loaded.dir.join("model.safetensors"))?;
                optimizer.restore(&loaded.optimizer, loaded.state.step as u64)?;
                if let Some(p) = &proxies {
                    let t = loaded
                        .optimizer
                        .get("proxies")
                        .ok_or_else(|| refuse("no proxies in optimizer.safetensors".into()))?;
                    p.set(t)?;
                }
                observer.note(&format!(
                    "resuming from {} (step {})",
                    loaded.dir.display(),
                    loaded.state.step
                ));
                resumed_from = Some(loaded.state.step);
                state = loaded.state;
            }
            None => observer.note("no checkpoint to resume from; starting at step 0"),
        }
    }

    let started = Instant::now();
    let first_step = state.step;
    observer.start(state.step, total);
    let vars = model.vars();
    let best_dir = out.join("best");
    if let Some(dev) = dev {
        if state.step == 0 && state.evals.is_empty() {
            // The starting model's score: the baseline the run must beat to change the output.
            match &run.baseline {
                Some(metrics) => record(
                    &model,
                    dev,
                    metrics.clone(),
                    &mut state,
                    &best_dir,
                    observer,
                )?,
                None => evaluate(
                    &model,
                    dev,
                    run.eval_precision,
                    &mut state,
                    &best_dir,
                    observer,
                )?,
            }
        }
    }
    let mut plan: Option<(usize, Vec<Vec<usize>>)> = None;
    while state.step < total {
        let epoch = state.step / steps_per_epoch;
        let in_epoch = state.step % steps_per_epoch;
        if plan.as_ref().is_none_or(|(e, _)| *e != epoch) {
            plan = Some((epoch, epoch_batches(&prepared, config, epoch)));
        }
        let micro = &plan.as_ref().expect("planned").1;
        let group = &micro[(in_epoch * config.accumulation).min(micro.len())
            ..((in_epoch + 1) * config.accumulation).min(micro.len())];

        let t0 = Instant::now();
        let mut grads = Grads::default();
        let mut loss_sum = 0f32;
        let examples: usize = group.iter().map(|g| g.len()).sum();
        for (m, rows) in group.iter().enumerate() {
            let seed = mix(config.seed ^ mix(((state.step as u64) << 16) | m as u64));
            let weight = rows.len() as f64 / examples as f64;
            let value = micro_batch(
                &model,
                &vars,
                &prepared,
                rows,
                seed,
                config,
                proxies.as_ref(),
                weight,
                &mut grads,
            )?;
            if !value.is_finite() {
                return Err(TrainError::NotFinite {
                    step: state.step,
                    value,
                });
            }
            loss_sum += value * rows.len() as f32;
        }
        let grad_norm = {
            let mut refs: Vec<&mut Vec<f32>> = grads.params.values_mut().collect();
            clip_grad_norm(&mut refs, config.max_grad_norm)
        };
        let proxy_grad = std::mem::take(&mut grads.proxies);
        let grads = grads.params;
        let names: Vec<&String> = grads.keys().collect();
        let factor = schedule(state.step, warmup, planned);
        let lr = config.lr * factor;
        let by_name: HashMap<&str, &Var> = vars.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let mut params: Vec<Param> = names
            .iter()
            .map(|n| Param {
                name: n.as_str(),
                var: by_name[n.as_str()],
                grad: &grads[*n],
                lr,
                decay: decays(n),
            })
            .collect();
        if let Some(p) = &proxies {
            if !proxy_grad.is_empty() {
                params.push(Param {
                    name: "proxies",
                    var: p,
                    grad: &proxy_grad,
                    lr: config.proxy_lr * factor,
                    decay: false,
                });
            }
        }
        optimizer.step(&params)?;
        drop(params);
        state.step += 1;
        let record = StepRecord {
            step: state.step,
            epoch,
            loss: loss_sum / examples as f32,
            lr,
            grad_norm,
            examples_per_sec: examples as f64 / t0.elapsed().as_secs_f64(),
            seconds: t0.elapsed().as_secs_f64(),
        };
        observer.step(&record);
        state.steps.push(record);

        let last = state.step == total;
        if let Some(dev) = dev {
            if last || (config.eval_every > 0 && state.step.is_multiple_of(config.eval_every)) {
                evaluate(
                    &model,
                    dev,
                    run.eval_precision,
                    &mut state,
                    &best_dir,
                    observer,
                )?;
            }
        }
        if config.checkpoint_every > 0
            && (state.step.is_multiple_of(config.checkpoint_every) || last)
        {
            let mut opt = optimizer.state_tensors()?;
            if let Some(p) = &proxies {
                opt.insert("proxies".into(), p.as_tensor().copy()?);
            }
            checkpoint::write(
                out,
                &state,
                &model.weights()?,
                &opt,
                config.keep_checkpoints,
            )?;
            curves::write_logs(out, &state.steps, &state.evals)?;
        }
        if !run.step_delay.is_zero() {
            std::thread::sleep(run.step_delay);
        }
    }

    // The final model: the best dev checkpoint when there was a dev set, else the last weights.
    if dev.is_some() && best_dir.join("model.safetensors").is_file() {
        model.load_weights(&best_dir.join("model.safetensors"))?;
    }
    model.write_model_folder(out)?;
    curves::write_logs(out, &state.steps, &state.evals)?;
    curves::plot(
        &out.join("curves.svg"),
        &format!("trine train: {}", config.objective.name()),
        &state.steps,
        &state.evals,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let timed = &state.steps[first_step.min(state.steps.len())..];
    let seconds_per_step = timed.iter().map(|s| s.seconds).sum::<f64>() / timed.len().max(1) as f64;
    Ok(TrainSummary {
        objective: config.objective.name(),
        rows: data.len(),
        classes: prepared.classes(),
        steps: state.step,
        steps_per_epoch,
        epochs: config.epochs,
        seconds,
        seconds_per_step,
        seconds_per_epoch: seconds_per_step * steps_per_epoch as f64,
        best: state.best.clone(),
        evals: state.evals.clone(),
        resumed_from,
        output: out.to_path_buf(),
    })
}

fn check_config(config: &TrainConfig, data: &TrainData) -> Result<()> {
    let bad = |m: &str| Err(TrainError::Settings(m.into()));
    if data.is_empty() {
        return bad("no training rows");
    }
    if config.mini_batch == Some(0) {
        return bad("the mini-batch size of cached gradients must be at least 1");
    }
    if let TrainData::Triplets { rows, .. } = data {
        if config.objective.needs_negatives() && rows.iter().any(|t| t.negative.is_none()) {
            return Err(TrainError::Settings(format!(
                "{} needs each row's negative, and the rows are (query, positive) pairs; use \
                 infonce (in-batch negatives), a mined loss or a proxy loss, or mine negatives",
                config.objective.name()
            )));
        }
    }
    if data.is_labelled() {
        if !config.objective.works_on_labels() {
            return Err(TrainError::Settings(format!(
                "{} needs (query, positive, negative) triplets; on labelled texts use batch-all, \
                 batch-hard, semi-hard, proxy-nca, proxy-anchor or infonce",
                config.objective.name()
            )));
        }
        if config.per_class < 2 {
            return bad("labelled batches need at least 2 texts per class (K ≥ 2)");
        }
        if config.batch_size < 2 * config.per_class {
            return Err(TrainError::Settings(format!(
                "a batch of {} with {} texts per class holds fewer than 2 classes; raise the \
                 batch size to at least {}",
                config.batch_size,
                config.per_class,
                2 * config.per_class
            )));
        }
    }
    if config.batch_size == 0 || config.accumulation == 0 || config.epochs == 0 {
        return bad("batch size, accumulation and epochs must be at least 1");
    }
    if config.lr.is_nan() || config.lr <= 0.0 || !config.lr.is_finite() {
        return bad("the learning rate must be positive");
    }
    if matches!(config.objective, Objective::Quadruplet(_)) && config.batch_size < 2 {
        return bad("quadruplet loss takes its second negative from another row: batch size ≥ 2");
    }
    Ok(())
}

/// Adds one micro-batch's weighted gradient to `grads`; returns its loss.
#[allow(clippy::too_many_arguments)]
fn micro_batch(
    model: &TrainableModel,
    vars: &[(String, Var)],
    prepared: &Prepared,
    rows: &[usize],
    seed: u64,
    config: &TrainConfig,
    proxies: Option<&Var>,
    weight: f64,
    grads: &mut Grads,
) -> Result<f32> {
    let proxy_tensor = proxies.map(|p| p.as_tensor());
    let (segments, loss_of): (Vec<Vec<&[u32]>>, Box<LossOf>) = match prepared {
        Prepared::Triplets(t) => {
            let b = rows.len();
            let queries: Vec<&[u32]> = rows.iter().map(|&r| t.query[r].as_slice()).collect();
            let mut docs: Vec<&[u32]> = rows.iter().map(|&r| t.positive[r].as_slice()).collect();
            if let Some(negative) = &t.negative {
                docs.extend(rows.iter().map(|&r| negative[r].as_slice()));
            }
            let pairs = t.negative.is_none();
            let anchor: Vec<u32> = rows.iter().map(|&r| t.labels.anchor[r]).collect();
            let negative: Vec<u32> = rows.iter().map(|&r| t.labels.negative[r]).collect();
            let exclude = t.exclusion(rows);
            let loss_of = move |e: &[Tensor]| {
                let n = if pairs {
                    None
                } else {
                    Some(e[1].narrow(0, b, b)?)
                };
                let batch = BatchEmbeddings {
                    query: &e[0],
                    positive: &e[1].narrow(0, 0, b)?,
                    negative: n.as_ref(),
                    anchor_labels: &anchor,
                    negative_labels: &negative,
                    exclude: exclude.as_deref(),
                };
                Ok(config.objective.forward(&batch, proxy_tensor)?.0)
            };
            (vec![queries, docs], Box::new(loss_of))
        }
        Prepared::Labelled(l) => {
            let texts: Vec<&[u32]> = rows.iter().map(|&r| l.tokens[r].as_slice()).collect();
            let labels: Vec<u32> = rows.iter().map(|&r| l.labels[r]).collect();
            let loss_of = move |e: &[Tensor]| {
                config
                    .objective
                    .forward_labelled(&e[0], &labels, proxy_tensor)
            };
            (vec![texts], Box::new(loss_of))
        }
    };
    accumulate(
        model,
        vars,
        &segments,
        seed,
        config.mini_batch,
        &*loss_of,
        weight,
        proxies,
        grads,
    )
}

fn evaluate(
    model: &TrainableModel,
    dev: &dyn Dev,
    precision: Precision,
    state: &mut RunState,
    best_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<()> {
    let encoder = model.encoder(EncoderOptions {
        precision,
        ..Default::default()
    })?;
    let metrics = dev.evaluate(&encoder)?;
    record(model, dev, metrics, state, best_dir, observer)
}

/// Records dev `metrics` of the current model, keeping it in `best_dir` when it scores best.
fn record(
    model: &TrainableModel,
    dev: &dyn Dev,
    metrics: BTreeMap<String, f64>,
    state: &mut RunState,
    best_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<()> {
    let metric = dev.metric();
    let record = EvalRecord {
        step: state.step,
        metric: metric.to_string(),
        score: metrics.get(metric).copied().unwrap_or(f64::NAN),
        metrics,
    };
    let better = state.best.as_ref().is_none_or(|b| record.score > b.score);
    if better {
        write_best(model, best_dir)?;
        state.best = Some(record.clone());
    }
    observer.eval(&record, better);
    state.evals.push(record);
    Ok(())
}

/// Replaces `best/` with the current model: written beside it, then swapped by renames.
fn write_best(model: &TrainableModel, best_dir: &Path) -> Result<()> {
    let parent = best_dir.parent().unwrap_or(Path::new("."));
    let staging = parent.join(".best.tmp");
    let old = parent.join(".best.old");
    for p in [&staging, &old] {
        if p.exists() {
            std::fs::remove_dir_all(p).map_err(|e| TrainError::io(p, e))?;
        }
    }
    model.write_model_folder(&staging)?;
    trine_corpus::atomic::sync_tree(&staging)?;
    if best_dir.exists() {
        trine_corpus::atomic::rename(best_dir, &old)?;
    }
    trine_corpus::atomic::rename(&staging, best_dir)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    Ok(())
}

/// Proxies for every class: random uniform in [−1, 1), or the mean embedding of the class's texts.
fn init_proxies(
    model: &TrainableModel,
    data: &TrainData,
    prepared: &Prepared,
    config: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<Tensor> {
    let dim = model.dim();
    let classes = prepared.classes();
    match config.proxy_init {
        ProxyInit::Random => {
            let mut rng = StdRng::seed_from_u64(mix(config.seed ^ 0x9e0));
            let v: Vec<f32> = (0..classes * dim)
                .map(|_| rng.sample::<f32, _>(rand::distr::StandardUniform) * 2.0 - 1.0)
                .collect();
            Ok(Tensor::from_vec(v, (classes, dim), &Device::Cpu)?)
        }
        ProxyInit::Mean => {
            observer.note(&format!(
                "initialising {classes} proxies from class-mean embeddings"
            ));
            let encoder = model.encoder(EncoderOptions::default())?;
            // Each distinct (text, class) pair counts once, so repeated positives do not weigh more.
            let pairs: Vec<(&str, u32)> = match (data, prepared) {
                (TrainData::Triplets { rows, .. }, Prepared::Triplets(t)) => rows
                    .iter()
                    .enumerate()
                    .flat_map(|(i, r)| {
                        let (a, n) = (t.labels.anchor[i], t.labels.negative[i]);
                        [(r.query.as_str(), a), (r.positive.as_str(), a)]
                            .into_iter()
                            .chain(r.negative.as_deref().map(|text| (text, n)))
                    })
                    .collect(),
                (TrainData::Labelled { rows }, Prepared::Labelled(l)) => rows
                    .iter()
                    .zip(&l.labels)
                    .map(|(r, &c)| (r.text.as_str(), c))
                    .collect(),
                _ => unreachable!("prepared from the same data"),
            };
            let mut seen = std::collections::HashSet::new();
            let (texts, owner): (Vec<&str>, Vec<u32>) =
                pairs.into_iter().filter(|p| seen.insert(*p)).unzip();
            let emb = encoder.encode(&texts, &mut |_| {})?;
            let mut sums = vec![0f32; classes * dim];
            for (row, &c) in emb.chunks_exact(dim).zip(&owner) {
                let s = &mut sums[c as usize * dim..(c as usize + 1) * dim];
                s.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            Ok(Tensor::from_vec(
                trine_eval::exact::normalized(&sums, dim),
                (classes, dim),
                &Device::Cpu,
            )?)
        }
    }
}
