//! The training record: per-step loss and per-evaluation dev metrics, written as CSV and drawn
//! as an SVG with the loss curve and the dev curve (the metric checkpoints are chosen by) side
//! by side.

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
    /// Name of the metric checkpoints are chosen by (`ndcg@10`, `v_measure`).
    pub metric: String,
    /// Its value.
    pub score: f64,
    /// Every metric of the evaluation, by name.
    pub metrics: std::collections::BTreeMap<String, f64>,
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
    // The metric checkpoints are chosen by comes first, the others after it by name.
    let names: Vec<&String> = evals.first().map_or(Vec::new(), |e| {
        let primary = e.metrics.keys().filter(|k| **k == e.metric);
        primary
            .chain(e.metrics.keys().filter(|k| **k != e.metric))
            .collect()
    });
    let header = std::iter::once("step".to_string())
        .chain(names.iter().map(|n| n.to_string()))
        .collect::<Vec<_>>()
        .join(",");
    write_csv(
        &dir.join("eval-log.csv"),
        &header,
        evals.iter().map(|e| {
            std::iter::once(e.step.to_string())
                .chain(
                    names
                        .iter()
                        .map(|n| format!("{:.5}", e.metrics.get(*n).copied().unwrap_or(f64::NAN))),
                )
                .collect::<Vec<_>>()
                .join(",")
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

/// Draws the loss (per step, with a moving average) and the dev score into `path` (SVG).
pub fn plot(path: &Path, title: &str, steps: &[StepRecord], evals: &[EvalRecord]) -> Result<()> {
    trine_corpus::atomic::write_via(path, |tmp| draw(tmp, path, title, steps, evals))
}

fn draw(
    tmp: &Path,
    path: &Path,
    title: &str,
    steps: &[StepRecord],
    evals: &[EvalRecord],
) -> Result<()> {
    let err = |e: String| TrainError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
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

        let metric = evals.first().map_or("score", |e| e.metric.as_str());
        let mut dev = ChartBuilder::on(&right)
            .caption(format!("dev {metric}"), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(x, span(evals.iter().map(|e| e.score)))
            .map_err(|e| err(e.to_string()))?;
        dev.configure_mesh()
            .x_desc("step")
            .y_desc(metric)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        dev.draw_series(LineSeries::new(
            evals.iter().map(|e| (e.step as f64, e.score)),
            RED.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?;
        dev.draw_series(
            evals
                .iter()
                .map(|e| Circle::new((e.step as f64, e.score), 4, RED.filled())),
        )
        .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}
