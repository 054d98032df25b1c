//! k-means at scale on synthetic 384-d unit vectors (k = 100): time and peak memory.
//!
//! ```text
//! cargo run --release -p trine-cluster --example kmeans_bench -- --n 100000 [--k 100]
//!     [--n-init 1] [--max-iter 50] [--mini-batch 4096] [--out FILE.json]
//! ```
//! The vectors come from `trine_index::synthetic` (shaped like real embeddings, 38 latent
//! dimensions; generation is not timed).

use std::time::Instant;

use trine_cluster::{kmeans::kmeans, KMeansOptions};
use trine_index::synthetic::{unit_vectors, Shape};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = arg("--n").map_or(100_000, |v| v.parse().expect("--n"));
    let dim = 384;
    let k: usize = arg("--k").map_or(100, |v| v.parse().expect("--k"));
    let opts = KMeansOptions {
        k,
        n_init: arg("--n-init").map_or(1, |v| v.parse().expect("--n-init")),
        max_iter: arg("--max-iter").map_or(50, |v| v.parse().expect("--max-iter")),
        mini_batch: arg("--mini-batch").map(|v| v.parse().expect("--mini-batch")),
        ..KMeansOptions::default()
    };
    let data = unit_vectors(
        n,
        dim,
        Shape::Latent {
            dims: 38,
            noise: 1.0,
        },
        1,
    );
    let rss_data = peak_rss_mib();
    let start = Instant::now();
    let km = kmeans(&data, dim, &opts).expect("k-means");
    let secs = start.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "n": n,
        "dim": dim,
        "k": k,
        "options": opts,
        "seconds": secs,
        "iterations": km.iterations,
        "seconds_per_iteration": secs / km.iterations.max(1) as f64,
        "inertia": km.inertia,
        "threads": rayon::current_num_threads(),
        "input_mib": (n * dim * 4) as f64 / (1u64 << 20) as f64,
        "peak_rss_mib_before": rss_data,
        "peak_rss_mib": peak_rss_mib(),
    });
    let text = serde_json::to_string_pretty(&report).expect("json");
    eprintln!("{text}");
    if let Some(out) = arg("--out") {
        std::fs::write(out, text + "\n").expect("write report");
    }
}
