//! The training loop: seeded shuffling, micro-batches with gradient accumulation, clipping,
//! AdamW under a warm-up/decay schedule, dev evaluation with best-checkpoint selection, resumable
//! checkpoints, and the sentence-transformers folder at the end.
//!
//! Every source of randomness is derived from the seed and the position in the run (epoch for
//! the shuffle; step and micro-batch for dropout), so a run resumed from a checkpoint takes the
//! same path as one that was never interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trine_encoder::{EncoderOptions, Precision};
use trine_kernels::seed::mix;

use crate::batches;
use crate::checkpoint::{self, RunState};
use crate::curves::{self, EvalRecord, StepRecord};
use crate::data::TrainData;
use crate::dev::Dev;
use crate::gradients::{accumulate, Grads, LossOf};
use crate::model::TrainableModel;
use crate::objective::BatchEmbeddings;
use crate::optim::{clip_grad_norm, decays, schedule, AdamW, Param};
use crate::prepared::Prepared;
use crate::{Result, TrainError};

mod config;
mod overrides;
mod run;

pub use config::{ProxyInit, TrainConfig};
pub use overrides::TrainOverrides;
pub use run::{Observer, RunOptions, TrainSummary};

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
    config.check(data)?;
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
