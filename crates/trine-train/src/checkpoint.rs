//! Resumable checkpoints: `OUT/checkpoints/step-NNNNNN/` holds the weights, the optimizer state
//! (moments, step count, proxies) and `state.json` (position in the data, logs, best dev score,
//! the settings). A checkpoint is written into a temporary folder and renamed into place, then
//! `OUT/checkpoints/LATEST` is replaced atomically, so a crash at any point leaves the previous
//! checkpoint usable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::curves::{EvalRecord, StepRecord};
use crate::model::save_tensors;
use crate::{Result, TrainConfig, TrainError};

/// Everything about a run besides tensors.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    /// Optimizer steps completed (the data position follows from it).
    pub step: usize,
    pub config: TrainConfig,
    /// Number of training rows and a digest of their texts: resuming on other data is refused.
    pub rows: usize,
    pub data_digest: String,
    pub best: Option<EvalRecord>,
    pub steps: Vec<StepRecord>,
    pub evals: Vec<EvalRecord>,
}

/// The checkpoints folder of an output folder.
pub fn folder(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

/// Writes a checkpoint for `state.step` and points `LATEST` at it; keeps the newest `keep`.
pub fn write(
    out: &Path,
    state: &RunState,
    weights: &HashMap<String, Tensor>,
    optimizer: &HashMap<String, Tensor>,
    keep: usize,
) -> Result<PathBuf> {
    let root = folder(out);
    std::fs::create_dir_all(&root).map_err(|e| TrainError::io(&root, e))?;
    let name = format!("step-{:06}", state.step);
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&root)
        .map_err(|e| TrainError::io(&root, e))?;
    save_tensors(weights, &tmp.path().join("model.safetensors"))?;
    save_tensors(optimizer, &tmp.path().join("optimizer.safetensors"))?;
    let json = serde_json::to_vec_pretty(state).expect("state serialises");
    trine_corpus::atomic::write_bytes(&tmp.path().join("state.json"), &json)?;
    trine_corpus::atomic::sync_tree(tmp.path())?;
    let dir = root.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
    }
    trine_corpus::atomic::rename(tmp.path(), &dir)?;
    // The folder now has the final name; nothing is left for the temporary guard to remove.
    let _ = tmp.keep();
    trine_corpus::atomic::write_bytes(&root.join("LATEST"), name.as_bytes())?;
    prune(&root, &name, keep.max(1))?;
    Ok(dir)
}

/// Names of the `step-NNNNNN` folders under `root`, sorted (by step: the names are zero-padded).
fn step_folders(root: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| TrainError::io(root, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    names.sort();
    Ok(names)
}

/// Keeps `current` and the newest `keep − 1` checkpoints before it. Folders of later steps can
/// only be left over from another run, and are removed rather than kept as "newest".
fn prune(root: &Path, current: &str, keep: usize) -> Result<()> {
    let names = step_folders(root)?;
    let earlier: Vec<&String> = names.iter().filter(|n| n.as_str() < current).collect();
    let drop_earlier = earlier.len().saturating_sub(keep - 1);
    let stale = names.iter().filter(|n| n.as_str() > current);
    for n in earlier[..drop_earlier].iter().copied().chain(stale) {
        let p = root.join(n);
        std::fs::remove_dir_all(&p).map_err(|e| TrainError::io(&p, e))?;
    }
    Ok(())
}

/// Before a run that does not resume: refuses when `out` holds an earlier run's checkpoints,
/// or, with `overwrite`, deletes them.
pub fn clear_for_fresh_start(out: &Path, overwrite: bool) -> Result<()> {
    let root = folder(out);
    if !root.exists() || step_folders(&root)?.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(TrainError::Checkpoint {
            path: root,
            message: "holds checkpoints of an earlier run; pass --resume to continue it or \
                      --overwrite to start over (deleting them)"
                .into(),
        });
    }
    std::fs::remove_dir_all(&root).map_err(|e| TrainError::io(&root, e))
}

/// A checkpoint read back.
pub struct Loaded {
    pub dir: PathBuf,
    pub state: RunState,
    pub optimizer: HashMap<String, Tensor>,
}

/// The checkpoint `LATEST` names, or `None` when the run never wrote one.
pub fn latest(out: &Path) -> Result<Option<Loaded>> {
    let root = folder(out);
    let pointer = root.join("LATEST");
    let name = match std::fs::read_to_string(&pointer) {
        Ok(n) => n.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::io(&pointer, e)),
    };
    let dir = root.join(&name);
    let bad = |message: String| TrainError::Checkpoint {
        path: dir.clone(),
        message,
    };
    let state_path = dir.join("state.json");
    let bytes = std::fs::read(&state_path).map_err(|e| bad(format!("state.json: {e}")))?;
    let state: RunState =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("state.json: {e}")))?;
    let opt_path = dir.join("optimizer.safetensors");
    let optimizer = candle_core::safetensors::load(&opt_path, &Device::Cpu)
        .map_err(|e| bad(format!("optimizer.safetensors: {e}")))?;
    if !dir.join("model.safetensors").is_file() {
        return Err(bad("model.safetensors is missing".into()));
    }
    Ok(Some(Loaded {
        dir,
        state,
        optimizer,
    }))
}
