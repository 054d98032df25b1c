//! What a run is given besides its settings (where it writes, test hooks) and what it reports
//! (progress as it goes, a summary at the end).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trine_encoder::Precision;

use crate::curves::{EvalRecord, StepRecord};

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
