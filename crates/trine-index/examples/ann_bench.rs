//! Dense search at scale: exact scan vs the HNSW graph on synthetic unit vectors.
//!
//! ```text
//! cargo run --release -p trine-index --example ann_bench -- \
//!     [--n 1000000] [--dim 384] [--queries 200] [--shape latent|clustered|uniform]
//!     [--latent-dims 38] [--noise 1.0] [--real EMBEDDINGS.parquet] [--out FILE.json]
//! ```
//! How hard a set is for nearest-neighbour search is measured by its relative contrast at 10
//! (mean distance over distance to the 10th neighbour; He et al., 2012): near 1, every point is
//! about as far as every other and no index can do much better than a scan. With `--real`, the
//! contrast of real embeddings is computed beside that of an equally large synthetic sample, so
//! the synthetic shape can be matched to real data.
//! Reports build time, bytes per vector, exact and ANN latency (p50/p99, one query at a time,
//! as a search server sees them) and ANN recall@10 against the exact top 10 for several
//! ef_search values. Writes one JSON object to `--out` (or stdout).

mod common;

use std::time::Instant;

use common::{arg, percentile};
use trine_index::synthetic::{unit_vectors, Shape};
use trine_index::{Ann, AnnSettings, Quantization};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Relative contrast at 10 of `rows` unit vectors, from up to 300 of them as queries.
fn relative_contrast(data: &[f32], dim: usize) -> f64 {
    let n = data.len() / dim;
    let step = (n / 300).max(1);
    let mut sum = 0.0;
    let mut count = 0;
    for q in (0..n).step_by(step) {
        let query = &data[q * dim..(q + 1) * dim];
        let mut dist: Vec<f64> = (0..n)
            .filter(|&i| i != q)
            .map(|i| {
                let dot: f32 = query
                    .iter()
                    .zip(&data[i * dim..(i + 1) * dim])
                    .map(|(a, b)| a * b)
                    .sum();
                (2.0 - 2.0 * dot as f64).max(0.0).sqrt()
            })
            .collect();
        let mean = dist.iter().sum::<f64>() / dist.len() as f64;
        dist.select_nth_unstable_by(9, f64::total_cmp);
        sum += mean / dist[9];
        count += 1;
    }
    sum / count as f64
}

fn main() {
    let n: usize = arg("--n", "1000000").parse().expect("--n");
    let dim: usize = arg("--dim", "384").parse().expect("--dim");
    let nq: usize = arg("--queries", "200").parse().expect("--queries");
    let latent: usize = arg("--latent-dims", "38").parse().expect("--latent-dims");
    let shape = match arg("--shape", "latent").as_str() {
        "uniform" => Shape::Uniform,
        "clustered" => Shape::Clustered {
            centres: 1000,
            spread: 1.0,
        },
        _ => Shape::Latent {
            dims: latent,
            noise: arg("--noise", "1.0").parse().expect("--noise"),
        },
    };
    let defaults = AnnSettings::default();
    let settings = AnnSettings {
        connectivity: arg("--connectivity", &defaults.connectivity.to_string())
            .parse()
            .expect("--connectivity"),
        expansion_add: arg("--expansion-add", &defaults.expansion_add.to_string())
            .parse()
            .expect("--expansion-add"),
        quantization: match arg("--quantization", "i8").as_str() {
            "f32" => Quantization::F32,
            "f16" => Quantization::F16,
            _ => Quantization::I8,
        },
        ..defaults
    };
    let dir = tempfile::tempdir().expect("temp dir");

    let contrast = match std::env::args().position(|a| a == "--real") {
        Some(_) => {
            let path = arg("--real", "");
            let real = trine_corpus::embeddings::read(std::path::Path::new(&path)).expect("--real");
            let rows = real.ids.len();
            let synthetic = unit_vectors(rows, dim, shape, 3);
            let real_unit = trine_eval::exact::normalized(&real.values, dim);
            serde_json::json!({
                "rows": rows,
                "real": relative_contrast(&real_unit, dim),
                "real_source": path,
                "synthetic": relative_contrast(&synthetic, dim),
            })
        }
        None => serde_json::Value::Null,
    };
    eprintln!("relative contrast@10: {contrast}");
    let (vectors, queries) = common::collection(dir.path(), n, dim, nq, shape);
    let (truth, mut exact_ms) = common::exact_top10(&vectors, &queries);

    eprintln!("building HNSW {settings:?}");
    let t = Instant::now();
    let step = (n / 20).max(1);
    let ann = Ann::build(vectors.as_slice(), dim, settings, &|done| {
        if done % step < 1024 {
            eprintln!("  {done}/{n} inserted, {:.0} s", t.elapsed().as_secs_f64());
        }
    })
    .expect("build");
    let build_s = t.elapsed().as_secs_f64();
    let graph_path = dir.path().join("ann.usearch");
    ann.save(&graph_path).expect("save");
    let graph_bytes = std::fs::metadata(&graph_path).expect("graph file").len();
    drop(ann);
    let t = Instant::now();
    let mut ann = Ann::open(&graph_path, dim, n, settings).expect("open");
    let open_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut sweep = Vec::new();
    for ef in [64, 128, 256, 384, 512] {
        ann.set_expansion_search(ef);
        let (recall, p50, p99) = common::recall_latency(&queries, dim, &truth, |q| {
            ann.search(&vectors, q, 10, ef, |r| r).expect("search")
        });
        eprintln!("ef_search {ef}: recall@10 {recall:.4}, p50 {p50:.3} ms, p99 {p99:.3} ms");
        sweep.push(serde_json::json!({
            "ef_search": ef, "recall@10": recall, "p50_ms": p50, "p99_ms": p99,
        }));
    }
    let report = serde_json::json!({
        "n": n,
        "dim": dim,
        "queries": nq,
        "shape": format!("{shape:?}"),
        "threads": rayon::current_num_threads(),
        "ann": {
            "library": format!("usearch {}", usearch::version()),
            "simd": usearch::hardware_acceleration_available(),
            "settings": settings,
            "build_s": build_s,
            "open_ms": open_ms,
            "graph_bytes_per_vector": graph_bytes as f64 / n as f64,
            "sweep": sweep,
        },
        "exact": {
            "p50_ms": percentile(&mut exact_ms, 0.5),
            "p99_ms": percentile(&mut exact_ms, 0.99),
            "bytes_per_vector": 4 * dim,
        },
        "relative_contrast_at_10": contrast,
        "peak_rss_mib": peak_rss_mib(),
    });
    let text = serde_json::to_string_pretty(&report).expect("json");
    match std::env::args().position(|a| a == "--out") {
        Some(_) => std::fs::write(arg("--out", ""), text + "\n").expect("write report"),
        None => println!("{text}"),
    }
}
