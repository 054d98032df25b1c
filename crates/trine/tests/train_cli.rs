//! `trine mine` and `trine train` end to end on the tiny random-weight model: mining guards,
//! triplet-file validation, every loss, dev evaluation, and resuming after a SIGKILL.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, tiny_model, trine, WORDS};
use trine_corpus::triplets::{read_triplets, write_triplets, Triplet};

/// A BEIR folder of 12 documents and 8 train queries in the tiny model's vocabulary; every third
/// query judges two documents.
fn tiny_beir(d: &Path) {
    common::tiny_beir(
        d,
        |i| if i % 3 == 0 { vec![i, i + 1] } else { vec![i] },
        false,
    );
}

fn mine(d: &Path, model: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "mine",
        "--data",
        d.to_str().unwrap(),
        "--split",
        "train",
        "--model",
        model,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    trine(&args)
}

fn qrels_positives(d: &Path) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(d.join("qrels/train.tsv"))
        .unwrap()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split('\t').collect();
        m.entry(f[0].into()).or_default().push(f[1].into());
    }
    m
}

#[test]
fn mining_never_returns_a_judged_positive_and_reports_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_beir(d);
    let model = tiny_model(d);
    let positives = qrels_positives(d);
    for retriever in ["bm25", "dense", "hybrid"] {
        let out = d.join(format!("{retriever}.parquet"));
        let o = mine(
            d,
            &model,
            &out,
            &[
                "--retriever",
                retriever,
                "--negatives",
                "3",
                "--skip-top",
                "1",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("judged candidates") && text.contains("in the top 1 ranks"),
            "{text}"
        );
        let rows = read_triplets(&out).unwrap();
        assert!(!rows.is_empty());
        for t in &rows {
            let q = t.query_id.as_ref().unwrap();
            let neg = t.negative_id.as_ref().unwrap();
            assert!(
                !positives[q].contains(neg),
                "{retriever}: {neg} is a positive of {q}"
            );
            assert!(positives[q].contains(t.positive_id.as_ref().unwrap()));
        }
        // 11 (query, positive) pairs, three negatives each when the ranking has enough.
        assert!(
            rows.len() <= 33 && rows.len() >= 11,
            "{retriever}: {}",
            rows.len()
        );
    }
}

fn tiny_triplets(path: &Path, n: usize) {
    let rows: Vec<Triplet> = (0..n)
        .map(|i| {
            let (a, b, c) = (WORDS[i % 12], WORDS[(i + 1) % 12], WORDS[(i + 5) % 12]);
            Triplet {
                query: format!("a {a} is {b}"),
                positive: format!("the {a} sat on the {b} ."),
                negative: Some(format!("the {c} ran fast")),
                query_id: Some(format!("q{}", i % 12)),
                positive_id: Some(format!("p{}", i % 12)),
                negative_id: Some(format!("n{}", (i + 5) % 12)),
                label: None,
            }
        })
        .collect();
    write_triplets(path, &rows).unwrap();
}

fn train_args<'a>(model: &'a str, triplets: &'a str, out: &'a str, loss: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        model,
        "--triplets",
        triplets,
        "--out",
        out,
        "--loss",
        loss,
        "--seed",
        "7",
    ]
}

fn weights(path: &Path) -> HashMap<String, Vec<f32>> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

#[test]
fn every_loss_trains_and_writes_a_loadable_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let triplets = d.join("t.parquet");
    tiny_triplets(&triplets, 24);
    let start = weights(&d.join("tiny/model.safetensors"));
    for loss in [
        "triplet",
        "batch-all",
        "batch-hard",
        "semi-hard",
        "contrastive",
        "quadruplet",
        "proxy-nca",
        "proxy-anchor",
        "infonce",
    ] {
        let out = d.join(loss);
        let mut args = train_args(
            &model,
            triplets.to_str().unwrap(),
            out.to_str().unwrap(),
            loss,
        );
        args.extend(["--max-steps", "3", "--lr", "1e-3", "--batch-size", "4"]);
        let o = trine(&args);
        assert!(o.status.success(), "{loss}: {}", stderr(&o));
        let trained = weights(&out.join("model.safetensors"));
        let moved = trained
            .iter()
            .any(|(k, v)| v.iter().zip(&start[k]).any(|(a, b)| a != b));
        assert!(moved, "{loss}: weights did not change");
        let log = std::fs::read_to_string(out.join("train-log.csv")).unwrap();
        assert_eq!(log.lines().count(), 4, "{loss}: {log}");
        assert!(out.join("curves.svg").is_file());
        for f in [
            "config.json",
            "tokenizer.json",
            "modules.json",
            "1_Pooling/config.json",
        ] {
            assert!(out.join(f).is_file(), "{loss}: no {f}");
        }
        // trine itself loads the output folder.
        let o = trine(&["encode", "--model", out.to_str().unwrap(), "the cat"]);
        assert!(o.status.success(), "{loss}: {}", stderr(&o));
    }
}

#[test]
fn infonce_lowers_its_loss_on_repeated_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let triplets = d.join("t.parquet");
    tiny_triplets(&triplets, 8);
    let out = d.join("out");
    let mut args = train_args(
        &model,
        triplets.to_str().unwrap(),
        out.to_str().unwrap(),
        "infonce",
    );
    args.extend([
        "--epochs",
        "30",
        "--lr",
        "2e-3",
        "--batch-size",
        "8",
        "--scale",
        "5",
    ]);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let (first, last) = first_and_last_loss(&out);
    assert!(last < 0.7 * first, "loss did not fall: {first} → {last}");
}

/// The loss column of a run's `train-log.csv`, first five and last five steps averaged.
fn first_and_last_loss(out: &Path) -> (f64, f64) {
    let log = std::fs::read_to_string(out.join("train-log.csv")).unwrap();
    let losses: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&losses[..5]), mean(&losses[losses.len() - 5..]))
}

fn encoder_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trine-encoder/tests/fixtures")
        .join(name)
}

/// XLM-RoBERTa and DistilBERT (on trine's BERT path), ModernBERT and Qwen3 (on candle-nn's
/// differentiable ops), sentence-transformers' own tiny folders: the loss falls, every weight
/// keeps its name and shape, and the written folder loads through the family's own encoder.
#[test]
fn families_train_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let triplets = d.join("t.parquet");
    tiny_triplets(&triplets, 8);
    for family in [
        "xlm-roberta-mean-prompts",
        "distilbert-mean",
        "modernbert-mean",
        "qwen3-lasttoken-prompts",
    ] {
        let model = encoder_fixture(family);
        let out = d.join(family);
        let mut args = train_args(
            model.to_str().unwrap(),
            triplets.to_str().unwrap(),
            out.to_str().unwrap(),
            "infonce",
        );
        args.extend([
            "--epochs",
            "30",
            "--lr",
            "2e-3",
            "--batch-size",
            "8",
            "--scale",
            "5",
        ]);
        let o = trine(&args);
        assert!(o.status.success(), "{family}: {}", stderr(&o));
        let (first, last) = first_and_last_loss(&out);
        assert!(
            last < 0.7 * first,
            "{family}: loss did not fall: {first} → {last}"
        );
        let start = weights(&model.join("model.safetensors"));
        let trained = weights(&out.join("model.safetensors"));
        let mut names: Vec<_> = trained.keys().collect();
        names.sort();
        let mut want: Vec<_> = start.keys().collect();
        want.sort();
        assert_eq!(names, want, "{family}: weight names");
        assert!(
            trained.iter().all(|(k, v)| v.len() == start[k].len()),
            "{family}: weight shapes"
        );
        let o = trine(&["encode", "--model", out.to_str().unwrap(), "the cat"]);
        assert!(o.status.success(), "{family}: {}", stderr(&o));
    }
}

#[test]
fn dev_evaluation_keeps_the_best_checkpoint_and_drops_dev_queries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_beir(d);
    let model = tiny_model(d);
    let triplets = d.join("t.parquet");
    let o = mine(d, &model, &triplets, &["--negatives", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.join("out");
    let mut args = train_args(
        &model,
        triplets.to_str().unwrap(),
        out.to_str().unwrap(),
        "infonce",
    );
    let data = d.to_str().unwrap();
    args.extend([
        "--eval-data",
        data,
        "--dev-queries",
        "3",
        "--dev-docs",
        "4",
        "--eval-every",
        "2",
        "--epochs",
        "3",
        "--lr",
        "1e-3",
        "--batch-size",
        "4",
    ]);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("dev set: 3 queries"), "{text}");
    let evals = std::fs::read_to_string(out.join("eval-log.csv")).unwrap();
    let rows: Vec<(usize, f64)> = evals
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect();
    assert!(rows.len() >= 3, "{evals}");
    assert_eq!(
        rows[0].0, 0,
        "the starting model is evaluated first: {evals}"
    );
    let best = rows.iter().map(|r| r.1).fold(f64::MIN, f64::max);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("train-summary.json")).unwrap()).unwrap();
    assert_eq!(summary["summary"]["best"]["metric"], "ndcg@10");
    let reported = summary["summary"]["best"]["score"].as_f64().unwrap();
    assert!((reported - best).abs() < 1e-5, "{reported} vs {best}");
    // The output model is the best checkpoint's.
    assert_eq!(
        weights(&out.join("model.safetensors")),
        weights(&out.join("best/model.safetensors"))
    );
}

#[test]
fn resume_after_sigkill_ends_with_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let triplets = d.join("t.parquet");
    tiny_triplets(&triplets, 24);
    let t = triplets.to_str().unwrap();
    let common = [
        "--epochs",
        "2",
        "--checkpoint-every",
        "2",
        "--lr",
        "1e-3",
        "--batch-size",
        "4",
    ];

    let straight = d.join("straight");
    let mut args = train_args(&model, t, straight.to_str().unwrap(), "semi-hard");
    args.extend(common);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));

    let killed = d.join("killed");
    let mut args = train_args(&model, t, killed.to_str().unwrap(), "semi-hard");
    args.extend(common);
    args.extend(["--step-delay-ms", "300"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trine"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join("checkpoints/LATEST");
    let started = Instant::now();
    loop {
        let name = std::fs::read_to_string(&latest).unwrap_or_default();
        if name.trim() >= "step-000004" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !killed.join("model.safetensors").exists(),
        "final model written by a killed run"
    );

    let mut args = train_args(&model, t, killed.to_str().unwrap(), "semi-hard");
    args.extend(common);
    args.push("--resume");
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("resuming from")
            || String::from_utf8_lossy(&o.stdout).contains("resuming from")
    );
    assert_eq!(
        weights(&straight.join("model.safetensors")),
        weights(&killed.join("model.safetensors")),
        "a resumed run must end where an uninterrupted one does"
    );
    let a = std::fs::read_to_string(straight.join("train-log.csv")).unwrap();
    let b = std::fs::read_to_string(killed.join("train-log.csv")).unwrap();
    let losses = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(losses(&a), losses(&b));

    // A fresh run into a folder with checkpoints is refused; --overwrite starts over.
    let mut args = train_args(&model, t, killed.to_str().unwrap(), "semi-hard");
    args.extend(common);
    let o = trine(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    let mut args = train_args(&model, t, straight.to_str().unwrap(), "semi-hard");
    args.extend(common);
    args.extend(["--max-steps", "2", "--overwrite"]);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(straight.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("step-"))
        .collect();
    assert_eq!(
        left,
        ["step-000002"],
        "the earlier run's checkpoints are gone"
    );

    // Resuming with other settings is refused.
    let mut args = train_args(&model, t, killed.to_str().unwrap(), "batch-hard");
    args.extend(common);
    args.push("--resume");
    let o = trine(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("other settings"), "{}", stderr(&o));
}

#[test]
fn bad_triplet_files_name_file_row_and_column() {
    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let write = |name: &str, cols: Vec<(&str, Vec<Option<&str>>)>| -> String {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Utf8, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = cols
            .into_iter()
            .map(|(_, v)| Arc::new(StringArray::from(v)) as Arc<dyn arrow::array::Array>)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let path = d.join(name);
        let f = std::fs::File::create(&path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path.to_string_lossy().into_owned()
    };
    let missing = write(
        "missing.parquet",
        vec![
            ("query", vec![Some("a cat")]),
            ("negative", vec![Some("the cat")]),
        ],
    );
    let holes = write(
        "holes.parquet",
        vec![
            ("query", vec![Some("a cat"), Some("a dog"), Some("a sun")]),
            ("positive", vec![Some("the cat"), None, Some("the sun")]),
            (
                "negative",
                vec![Some("the dog"), Some("the sun"), Some("  ")],
            ),
        ],
    );
    for (file, needles) in [
        (&missing, vec!["no column `positive`", "query, negative"]),
        (
            &holes,
            vec![
                "holes.parquet",
                "row 1, column `positive`: null",
                "row 2, column `negative`: empty string",
            ],
        ),
    ] {
        let out = d.join("out");
        let o = trine(&train_args(&model, file, out.to_str().unwrap(), "triplet"));
        assert!(!o.status.success());
        for n in needles {
            assert!(stderr(&o).contains(n), "missing `{n}` in {}", stderr(&o));
        }
        assert!(!out.exists(), "output written for bad input");
    }
}

#[test]
fn pairs_train_with_in_batch_negatives_and_refuse_losses_that_need_a_negative() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_beir(d);
    let model = tiny_model(d);
    let pairs = d.join("pairs.parquet");
    let o = mine(d, &model, &pairs, &["--negatives", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_triplets(&pairs).unwrap();
    // One row per judged (query, positive) pair: 8 queries, every third with two positives.
    assert_eq!(rows.len(), 11);
    assert!(rows
        .iter()
        .all(|t| t.negative.is_none() && t.negative_id.is_none()));
    let p = pairs.to_str().unwrap();
    let out = d.join("out");
    let mut args = train_args(&model, p, out.to_str().unwrap(), "infonce");
    args.extend([
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--judgements",
        d.to_str().unwrap(),
    ]);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let refused = d.join("refused");
    let o = trine(&train_args(&model, p, refused.to_str().unwrap(), "triplet"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("needs each row's negative"),
        "{}",
        stderr(&o)
    );
    assert!(!refused.exists());
}

#[test]
fn max_steps_sets_the_run_length_and_the_schedule_as_hugging_face_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let triplets = d.join("t.parquet");
    tiny_triplets(&triplets, 24);
    let out = d.join("out");
    let mut args = train_args(
        &model,
        triplets.to_str().unwrap(),
        out.to_str().unwrap(),
        "infonce",
    );
    // 24 rows in batches of 4: 6 steps an epoch; 10 steps run into a second epoch.
    args.extend(["--max-steps", "10", "--lr", "1e-3", "--batch-size", "4"]);
    let o = trine(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(out.join("train-log.csv")).unwrap();
    let rows: Vec<Vec<f64>> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|f| f.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[5][1], 0.0);
    assert_eq!(rows[6][1], 1.0, "step 7 starts the second epoch");
    // Warm-up round(0.1 × 10) = 1 step, then linear decay to 0 at step 10: the last step's
    // rate is (10 − 9) / (10 − 1) of the peak.
    assert_eq!(rows[0][3], 0.0);
    assert!((rows[1][3] - 1e-3).abs() < 1e-12, "{}", rows[1][3]);
    assert!((rows[9][3] - 1e-3 / 9.0).abs() < 1e-12, "{}", rows[9][3]);
}
