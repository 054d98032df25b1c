//! The `trine` command line.

mod alloc;
mod cli;
mod commands;
mod data_root;
mod progress;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `FAILPOINTS=atomic::rename=return` (and the like) injects failures for crash tests.
    let _failpoints = fail::FailScenario::setup();
    let cli = cli::Cli::parse();
    // Before any thread starts, so that rayon's and MKL's workers inherit it: subnormal floats
    // (far-off attention weights and their gradients) cost a microcode assist per operation.
    trine_encoder::flush_denormals();
    // With the `mkl` feature, MKL's OpenMP threads otherwise spin for 200 ms after each matrix
    // product, taking the cores from rayon's kernels that run in between.
    if std::env::var_os("KMP_BLOCKTIME").is_none() {
        std::env::set_var("KMP_BLOCKTIME", "0");
    }
    if let Some(n) = cli.threads {
        // candle sizes its matmul parallelism from this variable, rayon its global pool.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    if let Err(err) = commands::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
