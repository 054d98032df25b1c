//! Quantised vectors at scale: the f32 exact scan against int8 and binary first passes rescored
//! in f32, on synthetic unit vectors shaped like real embeddings (as `ann_bench`).
//!
//! ```text
//! cargo run --release -p trine-index --example quantized_bench -- \
//!     [--n 1000000] [--dim 384] [--queries 200] [--latent-dims 38] [--noise 1.0] [--out FILE.json]
//! ```
//! Reports, for each format and number of rescored candidates, recall@10 against the exact top
//! 10, p50/p99 latency (one query at a time, as a server sees them) and the bytes the in-memory
//! codes take against f32's. Writes one JSON object to `--out` (or stdout).

mod common;

use std::time::Instant;

use common::{arg, percentile};
use trine_index::quantized::{Quantized, VectorFormat};
use trine_index::synthetic::Shape;

fn main() {
    let n: usize = arg("--n", "1000000").parse().expect("--n");
    let dim: usize = arg("--dim", "384").parse().expect("--dim");
    let nq: usize = arg("--queries", "200").parse().expect("--queries");
    let shape = Shape::Latent {
        dims: arg("--latent-dims", "38").parse().expect("--latent-dims"),
        noise: arg("--noise", "1.0").parse().expect("--noise"),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (vectors, queries) = common::collection(dir.path(), n, dim, nq, shape);
    let (truth, mut exact_ms) = common::exact_top10(&vectors, &queries);

    let mut formats = Vec::new();
    for format in [VectorFormat::Int8, VectorFormat::Binary] {
        let t = Instant::now();
        let codes = Quantized::build(format, vectors.as_slice(), dim).expect("quantised");
        let build_s = t.elapsed().as_secs_f64();
        let mut sweep = Vec::new();
        for rescore in [10, 50, 100, 200, 400] {
            let (recall, p50, p99) = common::recall_latency(&queries, dim, &truth, |q| {
                codes.search(&vectors, q, 10, rescore, |r| r)
            });
            eprintln!("{format:?} rescore {rescore}: recall@10 {recall:.4}, p50 {p50:.2} ms, p99 {p99:.2} ms");
            sweep.push(serde_json::json!({
                "rescore": rescore, "recall@10": recall, "p50_ms": p50, "p99_ms": p99,
            }));
        }
        formats.push(serde_json::json!({
            "format": format,
            "build_s": build_s,
            "memory_bytes": codes.memory_bytes(),
            "memory_ratio_vs_f32": (4 * n * dim) as f64 / codes.memory_bytes() as f64,
            "sweep": sweep,
        }));
    }
    let report = serde_json::json!({
        "n": n,
        "dim": dim,
        "queries": nq,
        "shape": format!("{shape:?}"),
        "threads": rayon::current_num_threads(),
        "exact": {
            "p50_ms": percentile(&mut exact_ms, 0.5),
            "p99_ms": percentile(&mut exact_ms, 0.99),
            "memory_bytes": 4 * n * dim,
        },
        "quantized": formats,
    });
    let text = serde_json::to_string_pretty(&report).expect("json");
    match std::env::args().position(|a| a == "--out") {
        Some(_) => std::fs::write(arg("--out", ""), text).expect("write --out"),
        None => println!("{text}"),
    }
}
