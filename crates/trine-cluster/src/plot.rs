//! Cluster maps as SVG: points of a 2-D projection coloured by cluster (noise in grey).

use std::path::Path;

use plotters::prelude::*;

use crate::{ClusterError, Result};

/// Draws `points` (`n × 2`) coloured by `labels` into an SVG file at `path`.
pub fn cluster_map(
    path: &Path,
    title: &str,
    points: &[f32],
    labels: &[Option<usize>],
) -> Result<()> {
    let err = |e: String| ClusterError::Output {
        path: path.to_path_buf(),
        message: e,
    };
    let xs = points.iter().step_by(2).copied();
    let ys = points.iter().skip(1).step_by(2).copied();
    let range = |it: &mut dyn Iterator<Item = f32>| {
        let (lo, hi) = it.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad)..(hi + pad)
    };
    let (xr, yr) = (range(&mut xs.clone()), range(&mut ys.clone()));
    trine_corpus::atomic::write_via(path, |tmp| {
        let root = SVGBackend::new(tmp, (900, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("PC 1")
            .y_desc("PC 2")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(points.chunks_exact(2).zip(labels).map(|(p, l)| {
                let colour = match l {
                    Some(c) => Palette99::pick(*c).mix(0.7),
                    None => RGBColor(170, 170, 170).mix(0.3),
                };
                Circle::new((p[0], p[1]), 2, colour.filled())
            }))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
        Ok(())
    })
}
