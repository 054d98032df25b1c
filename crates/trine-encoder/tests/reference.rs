//! all-MiniLM-L6-v2 must reproduce sentence-transformers' own embeddings of the shared fixture
//! texts (token counts exactly, vectors to cosine ≥ 0.99999). Needs `make model`.

use std::path::PathBuf;

use trine_encoder::{Encoder, EncoderOptions};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_dir() -> PathBuf {
    std::env::var_os("TRINE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-MiniLM-L6-v2"))
}

fn fixtures() -> PathBuf {
    std::env::var_os("TRINE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/fixtures"))
        .join("minilm-reference.jsonl")
}

/// The fixture lines (text, n_tokens, embedding).
fn fixture_rows() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures()).expect("reference fixtures");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn minilm_matches_sentence_transformers_reference() {
    let model = model_dir();
    assert!(
        model.join("model.safetensors").is_file(),
        "{} has no model; run `make model`",
        model.display()
    );
    let rows = fixture_rows();
    assert_eq!(rows.len(), 18);
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    // Batch size 5 mixes lengths, so padding and masking are exercised too.
    let enc = Encoder::load(
        &model,
        EncoderOptions {
            batch_size: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let counts = enc.token_counts(&texts).unwrap();
    let got = enc.encode(&texts, &mut |_| {}).unwrap();
    let dim = enc.dim();
    for (i, row) in rows.iter().enumerate() {
        let want: Vec<f32> = row["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(want.len(), dim);
        assert_eq!(
            counts[i],
            row["n_tokens"].as_u64().unwrap() as usize,
            "token count of text {i} {:?}",
            texts[i]
        );
        let v = &got[i * dim..(i + 1) * dim];
        let dot: f64 = v
            .iter()
            .zip(&want)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        let na: f64 = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        let max_diff = v
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            cos >= 0.99999,
            "text {i} {:?}: cosine {cos}, max |diff| {max_diff}",
            texts[i]
        );
    }
}

/// Worst cosine between the encoder's vectors of the fixture texts and sentence-transformers'.
fn worst_cosine(precision: trine_encoder::Precision) -> f64 {
    let rows = fixture_rows();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let opts = EncoderOptions {
        precision,
        ..Default::default()
    };
    let enc = Encoder::load(&model_dir(), opts).unwrap();
    let got = enc.encode(&texts, &mut |_| {}).unwrap();
    let mut worst = 1f64;
    for (i, row) in rows.iter().enumerate() {
        let want: Vec<f64> = row["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let v = &got[i * 384..(i + 1) * 384];
        let dot: f64 = v.iter().zip(&want).map(|(a, b)| *a as f64 * b).sum();
        let na: f64 = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|b| b.powi(2)).sum::<f64>().sqrt();
        worst = worst.min(dot / (na * nb));
    }
    worst
}

/// The bf16 path (MKL builds) stays within cosine 0.9999 of sentence-transformers' f32 output.
#[cfg(feature = "mkl")]
#[test]
fn minilm_bf16_stays_close_to_reference() {
    let worst = worst_cosine(trine_encoder::Precision::Bf16);
    assert!(worst >= 0.9999, "worst cosine {worst}");
}

/// The int8 path (both builds: MKL's integer product or the portable one, the same integers)
/// stays within cosine 0.98 of sentence-transformers' f32 output on every text (0.9857 for the
/// empty string, two tokens; about 0.997 for real texts, 2026-12 run).
#[test]
fn minilm_int8_stays_close_to_reference() {
    let worst = worst_cosine(trine_encoder::Precision::Int8);
    eprintln!("int8 worst cosine {worst:.6}");
    assert!(worst >= 0.98, "worst cosine {worst}");
}
