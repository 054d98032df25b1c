//! Cluster maps: the points of a 2-D layout coloured by cluster (noise in grey), every cluster
//! named at its centre by its number and top keywords, and a legend; SVG, and PNG rendered from
//! the same SVG (resvg, with the system's fonts).

use plotters::prelude::*;

use crate::layout::Layout;
use crate::{ClusterError, Result};

/// What a map shows besides the points.
pub struct MapLabels<'a> {
    pub title: &'a str,
    /// Axis names (e.g. "t-SNE 1", "t-SNE 2").
    pub axes: (&'a str, &'a str),
    /// Each cluster's name on the map and in the legend (its number and keywords).
    pub names: &'a [String],
}

/// The middle of each cluster on the map: the median of its points' coordinates (a median
/// stays inside a cluster that a few far points would pull a mean out of).
fn centres(points: &[f32], labels: &[Option<usize>], k: usize) -> Vec<Option<(f32, f32)>> {
    let mut xs: Vec<Vec<f32>> = vec![Vec::new(); k];
    let mut ys: Vec<Vec<f32>> = vec![Vec::new(); k];
    for (p, l) in points.chunks_exact(2).zip(labels) {
        if let Some(c) = *l {
            xs[c].push(p[0]);
            ys[c].push(p[1]);
        }
    }
    let median = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    xs.iter_mut()
        .zip(ys.iter_mut())
        .map(|(x, y)| (!x.is_empty()).then(|| (median(x), median(y))))
        .collect()
}

/// The SVG text of a map of `points` (`n × 2`) coloured by `labels`.
pub fn map_svg(points: &[f32], labels: &[Option<usize>], text: &MapLabels) -> Result<String> {
    let err = |e: String| ClusterError::Output {
        path: "map.svg".into(),
        message: e,
    };
    let k = text.names.len();
    let range = |it: &mut dyn Iterator<Item = f32>| {
        let (lo, hi) = it.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !lo.is_finite() {
            return -1.0..1.0;
        }
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad)..(hi + pad)
    };
    let xr = range(&mut points.iter().step_by(2).copied());
    let yr = range(&mut points.iter().skip(1).step_by(2).copied());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let (plot, legend) = root.split_horizontally(880);
        let mut chart = ChartBuilder::on(&plot)
            .caption(text.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(text.axes.0)
            .y_desc(text.axes.1)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let noise = RGBColor(170, 170, 170);
        chart
            .draw_series(
                points
                    .chunks_exact(2)
                    .zip(labels)
                    .filter(|(_, l)| l.is_none())
                    .map(|(p, _)| Circle::new((p[0], p[1]), 2, noise.mix(0.35).filled())),
            )
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(points.chunks_exact(2).zip(labels).filter_map(|(p, l)| {
                l.map(|c| Circle::new((p[0], p[1]), 2, Palette99::pick(c).mix(0.7).filled()))
            }))
            .map_err(|e| err(e.to_string()))?;
        // Names at the centres, on a white box so that points do not hide them.
        for (c, centre) in centres(points, labels, k).into_iter().enumerate() {
            let Some((x, y)) = centre else { continue };
            let short: String = text.names[c].chars().take(28).collect();
            let style = ("sans-serif", 13).into_font().color(&BLACK);
            let at = chart.backend_coord(&(x, y));
            let width = 7 * short.chars().count() as i32;
            plot.draw(&Rectangle::new(
                [(at.0 - 3, at.1 - 9), (at.0 + width, at.1 + 8)],
                WHITE.mix(0.8).filled(),
            ))
            .map_err(|e| err(e.to_string()))?;
            plot.draw(&Text::new(short, (at.0, at.1 - 7), style))
                .map_err(|e| err(e.to_string()))?;
        }
        // The legend: a swatch and the full name of every cluster, then noise.
        let line = 900 / (k + 2).max(30) as i32;
        let entry = |row: usize, colour: RGBAColor, name: &str| -> Result<()> {
            let y = 40 + row as i32 * line;
            legend
                .draw(&Circle::new((12, y + 6), 5, colour.filled()))
                .map_err(|e| err(e.to_string()))?;
            let name: String = name.chars().take(44).collect();
            legend
                .draw(&Text::new(name, (24, y), ("sans-serif", 12).into_font()))
                .map_err(|e| err(e.to_string()))?;
            Ok(())
        };
        legend
            .draw(&Text::new(
                "topics",
                (8, 14),
                ("sans-serif", 15).into_font(),
            ))
            .map_err(|e| err(e.to_string()))?;
        for (c, name) in text.names.iter().enumerate() {
            entry(c, Palette99::pick(c).mix(0.9), name)?;
        }
        if labels.iter().any(Option::is_none) {
            entry(k, noise.mix(0.6), "noise (in no cluster)")?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}

/// Renders SVG text to PNG bytes (text in the system's sans-serif font; without any fonts the
/// labels are left out rather than failing).
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>> {
    use resvg::{tiny_skia, usvg};
    let err = |message: String| ClusterError::Output {
        path: "map.png".into(),
        message,
    };
    let mut options = usvg::Options::default();
    let db = options.fontdb_mut();
    db.load_system_fonts();
    let has = |family: &str| {
        db.faces()
            .any(|f| f.families.iter().any(|(name, _)| name == family))
    };
    if let Some(family) = ["DejaVu Sans", "Liberation Sans", "Arial"]
        .into_iter()
        .find(|f| has(f))
    {
        db.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| err(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| err("empty map".into()))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| err(e.to_string()))
}

/// Points a map draws at most (a sample, evenly spaced over the rows, beyond that).
pub const MAP_POINTS: usize = 10_000;

/// A drawn map: its files' bytes, the layout used and the rows it shows.
pub struct Drawn {
    pub svg: String,
    pub png: Vec<u8>,
    pub layout: Layout,
    /// The rows drawn (all, or a sample of [`MAP_POINTS`]) and their 2-D coordinates.
    pub rows: Vec<usize>,
    pub points: Vec<f32>,
}

/// Which map to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapChoice {
    /// t-SNE once there are more clusters than PCA's two directions can keep apart (more than
    /// five), PCA otherwise.
    Auto,
    Pca,
    Tsne,
    /// No map.
    Off,
}

impl MapChoice {
    /// The layout for a map of `k` clusters, or none.
    pub fn layout(self, k: usize) -> Option<Layout> {
        match self {
            MapChoice::Auto if k > 5 => Some(Layout::tsne()),
            MapChoice::Auto | MapChoice::Pca => Some(Layout::Pca),
            MapChoice::Tsne => Some(Layout::tsne()),
            MapChoice::Off => None,
        }
    }
}

/// Lays out and draws a map of a clustering of `n × dim` vectors, each cluster named by
/// `names`; `progress` gets the layout's steps.
pub fn draw(
    values: &[f32],
    dim: usize,
    labels: &[Option<usize>],
    names: &[String],
    layout: Layout,
    progress: &mut dyn FnMut(usize),
) -> Result<Drawn> {
    let n = labels.len();
    let step = n.div_ceil(MAP_POINTS).max(1);
    let rows: Vec<usize> = (0..n).step_by(step).collect();
    let sample: Vec<f32> = rows
        .iter()
        .flat_map(|&r| values[r * dim..(r + 1) * dim].iter().copied())
        .collect();
    let unit = crate::vectors::normalize_rows(&sample, dim);
    let points = crate::layout::layout(&unit, dim, layout, progress)?;
    let shown: Vec<Option<usize>> = rows.iter().map(|&r| labels[r]).collect();
    let k = names.len();
    let sampled = if rows.len() < n {
        format!(", {} of {n} documents shown", rows.len())
    } else {
        String::new()
    };
    let title = format!(
        "{k} clusters of {n} documents ({} of unit embeddings{sampled})",
        layout.name()
    );
    let axes = (
        format!("{} 1", layout.name()),
        format!("{} 2", layout.name()),
    );
    let text = MapLabels {
        title: &title,
        axes: (&axes.0, &axes.1),
        names,
    };
    let svg = map_svg(&points, &shown, &text)?;
    let png = svg_to_png(&svg)?;
    Ok(Drawn {
        svg,
        png,
        layout,
        rows,
        points,
    })
}

/// A cluster's name on a map: its number and first keywords.
pub fn name(cluster: usize, keywords: &[String]) -> String {
    let words: Vec<&str> = keywords.iter().take(3).map(String::as_str).collect();
    if words.is_empty() {
        format!("{cluster}")
    } else {
        format!("{cluster}: {}", words.join(", "))
    }
}
