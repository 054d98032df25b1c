//! The training record: per-step loss and per-evaluation dev metrics, written as CSV and drawn
//! as an SVG with the loss curve and the dev nDCG@10 curve side by side.

use std::io::Write;
use std::path::Path;

use plotters::prelude::*;

use crate::{Result, TrainError};

/// One optimizer step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub epoch: usize,
    pub loss: f32,
    pub lr: f64,
    pub grad_norm: f64,
    pub examples_per_sec: f64,
    /// Wall time of the step (forward, backward, update), without evaluations or checkpoints.
    pub seconds: f64,
}

/// One dev evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalRecord {
    pub step: usize,
    pub ndcg_10: f64,
    pub recall_100: f64,
    pub mrr_10: f64,
}

fn write_csv(path: &Path, header: &str, rows: impl Iterator<Item = String>) -> Result<()> {
    trine_corpus::atomic::write_file(path, |w| {
        let io = |e| trine_corpus::CorpusError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        writeln!(w, "{header}").map_err(io)?;
        for row in rows {
            writeln!(w, "{row}").map_err(io)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes `train-log.csv` and `eval-log.csv`.
pub fn write_logs(dir: &Path, steps: &[StepRecord], evals: &[EvalRecord]) -> Result<()> {
    write_csv(
        &dir.join("train-log.csv"),
        "step,epoch,loss,lr,grad_norm,examples_per_sec,seconds",
        steps.iter().map(|s| {
            format!(
                "{},{},{},{:e},{:.4},{:.3},{:.3}",
                s.step, s.epoch, s.loss, s.lr, s.grad_norm, s.examples_per_sec, s.seconds
            )
        }),
    )?;
    write_csv(
        &dir.join("eval-log.csv"),
        "step,ndcg@10,recall@100,mrr@10",
        evals.iter().map(|e| {
            format!(
                "{},{:.5},{:.5},{:.5}",
                e.step, e.ndcg_10, e.recall_100, e.mrr_10
            )
        }),
    )
}

fn span(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - pad)..(hi + pad)
}

/// Draws the loss (per step, with a moving average) and the dev nDCG@10 into `path` (SVG).
pub fn plot(path: &Path, title: &str, steps: &[StepRecord], evals: &[EvalRecord]) -> Result<()> {
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    let tmp = path.with_extension("svg.tmp");
    {
        let root = SVGBackend::new(&tmp, (1200, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root
            .titled(title, ("sans-serif", 20))
            .map_err(|e| err(e.to_string()))?;
        let (left, right) = root.split_horizontally(600);
        let last = steps
            .iter()
            .map(|s| s.step)
            .chain(evals.iter().map(|e| e.step))
            .max()
            .unwrap_or(1);
        let x = 0f64..(last.max(1) as f64);

        let mut loss = ChartBuilder::on(&left)
            .caption("training loss", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(x.clone(), span(steps.iter().map(|s| s.loss as f64)))
            .map_err(|e| err(e.to_string()))?;
        loss.configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        loss.draw_series(LineSeries::new(
            steps.iter().map(|s| (s.step as f64, s.loss as f64)),
            BLUE.mix(0.3),
        ))
        .map_err(|e| err(e.to_string()))?;
        let window = 10usize;
        let smooth: Vec<(f64, f64)> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let from = i.saturating_sub(window - 1);
                let w = &steps[from..=i];
                (
                    s.step as f64,
                    w.iter().map(|r| r.loss as f64).sum::<f64>() / w.len() as f64,
                )
            })
            .collect();
        loss.draw_series(LineSeries::new(smooth, BLUE.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;

        let mut dev = ChartBuilder::on(&right)
            .caption("dev nDCG@10", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(x, span(evals.iter().map(|e| e.ndcg_10)))
            .map_err(|e| err(e.to_string()))?;
        dev.configure_mesh()
            .x_desc("step")
            .y_desc("nDCG@10")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        dev.draw_series(LineSeries::new(
            evals.iter().map(|e| (e.step as f64, e.ndcg_10)),
            RED.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?;
        dev.draw_series(
            evals
                .iter()
                .map(|e| Circle::new((e.step as f64, e.ndcg_10), 4, RED.filled())),
        )
        .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}
