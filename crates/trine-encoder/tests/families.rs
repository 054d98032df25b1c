//! Every architecture family and pooling setup against sentence-transformers' own output: tiny
//! random-weight folders made by `scripts/make-encoder-fixtures.py` (transformers and
//! sentence-transformers wrote the weights, the tokenizer, the modules and `reference.jsonl`).
//! Token ids must match exactly and embeddings to cosine ≥ 0.99999.

use std::path::{Path, PathBuf};

use trine_encoder::candle_core::{DType, Device};
use trine_encoder::candle_nn::VarBuilder;
use trine_encoder::{Bert, Encoder, EncoderOptions, Mode, ModelFolder};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn folders() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("reference.jsonl").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn rows(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("reference.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Worst cosine and largest absolute difference between `got` rows and the reference rows.
fn compare(got: &[f32], want: &[Vec<f32>]) -> (f64, f64) {
    let dim = want[0].len();
    assert_eq!(got.len(), want.len() * dim, "embedding width");
    let (mut worst, mut max_abs) = (1f64, 0f64);
    for (g, w) in got.chunks(dim).zip(want) {
        let dot: f64 = g.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum();
        let ng: f64 = g.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nw: f64 = w.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        worst = worst.min(dot / (ng * nw).max(1e-30));
        for (a, b) in g.iter().zip(w) {
            max_abs = max_abs.max((*a as f64 - *b as f64).abs());
        }
    }
    (worst, max_abs)
}

/// Every family and pooling setup against sentence-transformers; with `TRINE_FAMILY_TABLE`
/// set, also writes the table of worst cosines there (`make bench` does).
#[test]
fn every_family_matches_sentence_transformers() {
    let dirs = folders();
    assert!(dirs.len() >= 8, "fixtures missing: {dirs:?}");
    let mut families = std::collections::BTreeSet::new();
    let mut table = String::from(
        "| fixture | family | prompt | texts | worst cosine | max abs diff |\n|---|---|---|---|---|---|\n",
    );
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let rows = rows(&dir);
        let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        // Batch size 4 mixes lengths, so padding and masking are exercised.
        let enc = Encoder::load(
            &dir,
            EncoderOptions {
                batch_size: 4,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        families.insert(enc.folder().family.model_type());
        let ids = enc.tokenizer().encode(&texts).unwrap();
        for (row, got) in rows.iter().zip(&ids) {
            let want: Vec<u32> = row["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(got, &want, "{name}: token ids of {:?}", row["text"]);
        }
        let want: Vec<Vec<f32>> = rows.iter().map(|r| floats(&r["embedding"])).collect();
        let got = enc.encode_prompted(&texts, None, &mut |_| {}).unwrap();
        let (cos, abs) = compare(&got, &want);
        eprintln!("{name:<28} worst cosine {cos:.8}  max abs diff {abs:.2e}");
        let family = enc.folder().family.model_type();
        let n = texts.len();
        table.push_str(&format!(
            "| {name} | {family} | none | {n} | {cos:.8} | {abs:.2e} |\n"
        ));
        assert!(cos >= 0.99999, "{name}: worst cosine {cos}");
        // sentence-transformers 6 saves empty `query` / `document` prompts in every folder.
        for (prompt_name, text) in enc.folder().prompts.iter().filter(|p| !p.1.is_empty()) {
            let key = format!("embedding_{prompt_name}");
            let want: Vec<Vec<f32>> = rows.iter().map(|r| floats(&r[&key])).collect();
            let got = enc
                .encode_prompted(&texts, Some(text), &mut |_| {})
                .unwrap();
            let (cos, abs) = compare(&got, &want);
            eprintln!(
                "{name:<28} prompt {prompt_name:<9} worst cosine {cos:.8}  max abs diff {abs:.2e}"
            );
            table.push_str(&format!(
                "| {name} | {family} | {prompt_name} | {n} | {cos:.8} | {abs:.2e} |\n"
            ));
            assert!(
                cos >= 0.99999,
                "{name} prompt {prompt_name}: worst cosine {cos}"
            );
        }
    }
    for family in trine_encoder::SUPPORTED {
        assert!(families.contains(family), "no fixture for {family}");
    }
    if let Some(path) = std::env::var_os("TRINE_FAMILY_TABLE") {
        std::fs::write(path, table).unwrap();
    }
}

#[test]
fn the_default_prompt_applies_unless_another_is_named() {
    let dir = fixtures().join("xlm-roberta-mean-prompts");
    let enc = Encoder::load(&dir, EncoderOptions::default()).unwrap();
    assert_eq!(enc.default_prompt(), Some("query: "));
    assert_eq!(enc.query_prompt(), Some("query: "));
    assert_eq!(enc.document_prompt(), Some("passage: "));
    let rows = rows(&dir);
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let want: Vec<Vec<f32>> = rows.iter().map(|r| floats(&r["embedding_query"])).collect();
    let (cos, _) = compare(&enc.encode(&texts, &mut |_| {}).unwrap(), &want);
    assert!(cos >= 0.99999);
    let err = enc.folder().prompt("instruction").unwrap_err().to_string();
    assert!(err.contains("document, query"), "{err}");
}

#[test]
fn truncate_dim_keeps_a_renormalised_prefix() {
    let dir = fixtures().join("distilbert-mean");
    let full = Encoder::load(&dir, EncoderOptions::default()).unwrap();
    let cut = Encoder::load(
        &dir,
        EncoderOptions {
            truncate_dim: Some(8),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((full.dim(), cut.dim()), (32, 8));
    let texts = ["a short text", "another, somewhat longer text"];
    let a = full.encode(&texts, &mut |_| {}).unwrap();
    let b = cut.encode(&texts, &mut |_| {}).unwrap();
    for (row_a, row_b) in a.chunks(32).zip(b.chunks(8)) {
        let norm: f32 = row_a[..8].iter().map(|x| x * x).sum::<f32>().sqrt();
        for (x, y) in row_a[..8].iter().zip(row_b) {
            assert!((x / norm - y).abs() < 1e-5);
        }
    }
    let err = Encoder::load(
        &dir,
        EncoderOptions {
            truncate_dim: Some(33),
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("1..=32"), "{err}");
}

/// BERT, XLM-RoBERTa and DistilBERT run on trine's BERT too, whose weights training runs on:
/// its fused kernels and candle's reference ops both reproduce sentence-transformers' embeddings
/// of the fixture (trine-train checks its training pass the same way).
#[test]
fn bert_shaped_families_match_on_trines_bert() {
    let mut seen = std::collections::BTreeSet::new();
    for dir in folders() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let folder = ModelFolder::open(&dir).unwrap();
        let Some(config) = folder.family.bert_like().cloned() else {
            continue;
        };
        seen.insert(folder.family.model_type());
        let rows = rows(&dir);
        let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        let want: Vec<Vec<f32>> = rows.iter().map(|r| floats(&r["embedding"])).collect();
        for (path, mode) in [("fused", Mode::Inference), ("reference", Mode::Train)] {
            // SAFETY: the fixture is memory-mapped read-only.
            let vb = unsafe {
                VarBuilder::from_mmaped_safetensors(&[&folder.weights], DType::F32, &Device::Cpu)
            }
            .unwrap();
            let bert = Bert::new(vb, &config, mode).unwrap();
            let options = EncoderOptions {
                batch_size: 4,
                ..Default::default()
            };
            let enc = Encoder::from_model(folder.clone(), bert, options).unwrap();
            let got = enc.encode_prompted(&texts, None, &mut |_| {}).unwrap();
            let (cos, abs) = compare(&got, &want);
            eprintln!("{name:<28} {path:<9} worst cosine {cos:.8}  max abs diff {abs:.2e}");
            assert!(cos >= 0.99999, "{name} {path}: worst cosine {cos}");
        }
    }
    let seen: Vec<&str> = seen.into_iter().collect();
    assert_eq!(seen, ["bert", "distilbert", "xlm-roberta"]);
}

/// A copy of fixture `name` (modules included) to damage.
fn copy_of(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let p = entry.unwrap().path();
            let dest = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &dest);
            } else {
                std::fs::copy(&p, dest).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(&fixtures().join(name), tmp.path());
    tmp
}

/// The error loading a folder gives.
fn load_error(dir: &Path) -> String {
    Encoder::load(dir, EncoderOptions::default())
        .err()
        .expect("the folder must be refused")
        .to_string()
}

#[test]
fn a_missing_tokenizer_is_named() {
    let tmp = copy_of("bert-cls-normalize");
    std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    let err = load_error(tmp.path());
    assert!(
        err.contains("tokenizer.json") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn a_tokenizer_of_another_model_is_refused_naming_both_files() {
    // ModernBERT's fixture tokenizer has 400 tokens; this BERT's embedding table has 358 rows.
    let tmp = copy_of("bert-cls-normalize");
    std::fs::copy(
        fixtures().join("modernbert-mean/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = load_error(tmp.path());
    assert!(
        err.contains("tokenizer.json")
            && err.contains("config.json")
            && err.contains("vocab_size 358"),
        "{err}"
    );
}

#[test]
fn weights_that_do_not_fit_the_config_name_the_file_and_tensor() {
    let tmp = copy_of("bert-cls-normalize");
    let cfg = tmp.path().join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["intermediate_size"] = 48.into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let err = load_error(tmp.path());
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("intermediate"), "the tensor is named: {err}");
}

#[test]
fn an_unknown_model_type_lists_the_supported_ones() {
    let tmp = copy_of("bert-cls-normalize");
    let cfg = tmp.path().join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["model_type"] = "gpt_neox".into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let err = ModelFolder::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
    assert!(
        err.contains("gpt_neox") && err.contains("bert, distilbert, xlm-roberta, modernbert"),
        "{err}"
    );
}
