//! `trine encode`: embed a few texts given on the command line and print them as JSON lines.

use super::shared;
use crate::cli::EncodeArgs;

pub fn run(args: &EncodeArgs) -> anyhow::Result<()> {
    let encoder = shared::load_encoder(&args.model)?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let counts = encoder.token_counts(&texts)?;
    let values = encoder.encode(&texts, &mut |_| {})?;
    for ((text, n), v) in texts
        .iter()
        .zip(counts)
        .zip(values.chunks_exact(encoder.dim()))
    {
        println!(
            "{}",
            serde_json::json!({"text": text, "n_tokens": n, "embedding": v})
        );
    }
    Ok(())
}
