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

use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use trine_corpus::triplets::Triplet;
use trine_encoder::seed::mix;
use trine_encoder::{EncoderOptions, Precision};

use crate::checkpoint::{self, RunState};
use crate::curves::{self, EvalRecord, StepRecord};
use crate::dev::DevSet;
use crate::labels::{self, Labels};
use crate::model::TrainableModel;
use crate::objective::{BatchEmbeddings, Objective};
use crate::optim::{clip_grad_norm, decays, schedule, AdamW, AdamWConfig, Param};
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
    /// Stop after this many steps (the schedule still spans the full run).
    pub max_steps: Option<usize>,
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
}

/// A stable 64-bit FNV-1a digest of the training texts (not cryptographic; it only guards
/// against resuming on a different file).
fn digest<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

struct Tokenized {
    query: Vec<Vec<u32>>,
    positive: Vec<Vec<u32>>,
    negative: Vec<Vec<u32>>,
}

/// Trains `model` on `triplets` and writes the result to `run.out`.
pub fn train(
    model: TrainableModel,
    triplets: &[Triplet],
    dev: Option<&DevSet>,
    config: &TrainConfig,
    run: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<TrainSummary> {
    check_config(config, triplets.len())?;
    let out = run.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let labels = labels::assign(triplets);
    let texts = |f: fn(&Triplet) -> &str| triplets.iter().map(f).collect::<Vec<&str>>();
    let tokens = Tokenized {
        query: model.tokenize(&texts(|t| &t.query))?,
        positive: model.tokenize(&texts(|t| &t.positive))?,
        negative: model.tokenize(&texts(|t| &t.negative))?,
    };
    let data_digest = digest(
        triplets
            .iter()
            .flat_map(|t| [t.query.as_str(), t.positive.as_str(), t.negative.as_str()]),
    );

    let micro_per_epoch = triplets.len().div_ceil(config.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(config.accumulation);
    let planned = steps_per_epoch * config.epochs;
    let total = config.max_steps.map_or(planned, |m| m.min(planned));
    let warmup = (planned as f64 * config.warmup_ratio).round() as usize;

    let proxies = if config.objective.uses_proxies() {
        let init = init_proxies(&model, triplets, &labels, config, observer)?;
        Some(Var::from_tensor(&init)?)
    } else {
        None
    };
    let mut optimizer = AdamW::new(config.adamw);
    let mut state = RunState {
        step: 0,
        config: config.clone(),
        rows: triplets.len(),
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
    while state.step < total {
        let epoch = state.step / steps_per_epoch;
        let in_epoch = state.step % steps_per_epoch;
        let mut order: Vec<usize> = (0..triplets.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix(
            config.seed ^ mix(epoch as u64)
        )));
        let micro: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        let group = &micro[in_epoch * config.accumulation
            ..((in_epoch + 1) * config.accumulation).min(micro.len())];

        let t0 = Instant::now();
        // Ordered by name, so the clipping norm is summed in the same order on every run.
        let mut grads: BTreeMap<String, Vec<f32>> = BTreeMap::new();
        let mut proxy_grad: Vec<f32> = Vec::new();
        let mut loss_sum = 0f32;
        let examples: usize = group.iter().map(|g| g.len()).sum();
        for (m, rows) in group.iter().enumerate() {
            let seed = mix(config.seed ^ mix(((state.step as u64) << 16) | m as u64));
            let loss = micro_batch_loss(
                &model,
                &tokens,
                &labels,
                rows,
                seed,
                config,
                proxies.as_ref(),
            )?;
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                return Err(TrainError::NotFinite {
                    step: state.step,
                    value,
                });
            }
            loss_sum += value * rows.len() as f32;
            let weight = rows.len() as f64 / examples as f64;
            let store = (loss * weight)?.backward()?;
            for (name, var) in &vars {
                if let Some(g) = store.get(var.as_tensor()) {
                    add_into(grads.entry(name.clone()).or_default(), g)?;
                }
            }
            if let Some(p) = &proxies {
                if let Some(g) = store.get(p.as_tensor()) {
                    add_into(&mut proxy_grad, g)?;
                }
            }
        }
        let grad_norm = {
            let mut refs: Vec<&mut Vec<f32>> = grads.values_mut().collect();
            clip_grad_norm(&mut refs, config.max_grad_norm)
        };
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
        rows: triplets.len(),
        classes: labels.classes,
        steps: state.step,
        steps_per_epoch,
        epochs: config.epochs,
        seconds,
        seconds_per_step,
        seconds_per_epoch: seconds_per_step * steps_per_epoch as f64,
        best: state.best.clone(),
        resumed_from,
        output: out.to_path_buf(),
    })
}

fn check_config(config: &TrainConfig, rows: usize) -> Result<()> {
    let bad = |m: &str| Err(TrainError::Settings(m.into()));
    if rows == 0 {
        return bad("no training rows");
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

fn add_into(acc: &mut Vec<f32>, g: &Tensor) -> Result<()> {
    let v: Vec<f32> = g.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if acc.is_empty() {
        *acc = v;
    } else {
        acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
    }
    Ok(())
}

fn micro_batch_loss(
    model: &TrainableModel,
    tokens: &Tokenized,
    labels: &Labels,
    rows: &[usize],
    seed: u64,
    config: &TrainConfig,
    proxies: Option<&Var>,
) -> Result<Tensor> {
    let b = rows.len();
    let queries: Vec<&[u32]> = rows.iter().map(|&r| tokens.query[r].as_slice()).collect();
    let docs: Vec<&[u32]> = rows
        .iter()
        .map(|&r| tokens.positive[r].as_slice())
        .chain(rows.iter().map(|&r| tokens.negative[r].as_slice()))
        .collect();
    let q = model.embed(&queries, seed)?;
    let d = model.embed(&docs, mix(seed))?;
    let (p, n) = (d.narrow(0, 0, b)?, d.narrow(0, b, b)?);
    let anchor: Vec<u32> = rows.iter().map(|&r| labels.anchor[r]).collect();
    let negative: Vec<u32> = rows.iter().map(|&r| labels.negative[r]).collect();
    let batch = BatchEmbeddings {
        query: &q,
        positive: &p,
        negative: &n,
        anchor_labels: &anchor,
        negative_labels: &negative,
    };
    let proxies = proxies.map(|p| p.as_tensor());
    Ok(config.objective.forward(&batch, proxies)?.0)
}

fn evaluate(
    model: &TrainableModel,
    dev: &DevSet,
    precision: Precision,
    state: &mut RunState,
    best_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<()> {
    let encoder = model.encoder(EncoderOptions {
        precision,
        ..Default::default()
    })?;
    let m = dev.evaluate(&encoder)?;
    let record = EvalRecord {
        step: state.step,
        ndcg_10: m.ndcg_10,
        recall_100: m.recall_100,
        mrr_10: m.mrr_10,
    };
    let better = state
        .best
        .as_ref()
        .is_none_or(|b| record.ndcg_10 > b.ndcg_10);
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
    if best_dir.exists() {
        std::fs::rename(best_dir, &old).map_err(|e| TrainError::io(best_dir, e))?;
    }
    std::fs::rename(&staging, best_dir).map_err(|e| TrainError::io(best_dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    Ok(())
}

/// Proxies for every class: random normal, or the mean embedding of the class's texts.
fn init_proxies(
    model: &TrainableModel,
    triplets: &[Triplet],
    labels: &Labels,
    config: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<Tensor> {
    let dim = model.dim();
    let classes = labels.classes;
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
            let mut seen = std::collections::HashSet::new();
            let mut texts: Vec<&str> = Vec::new();
            let mut owner: Vec<u32> = Vec::new();
            for (i, t) in triplets.iter().enumerate() {
                for (text, class) in [
                    (t.query.as_str(), labels.anchor[i]),
                    (t.positive.as_str(), labels.anchor[i]),
                    (t.negative.as_str(), labels.negative[i]),
                ] {
                    if seen.insert((text, class)) {
                        texts.push(text);
                        owner.push(class);
                    }
                }
            }
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
