//! `trine finetune` end to end on the tiny random-weight model: a BEIR folder with and without a
//! dev split, a labelled collection with every loss family that works on labels, and the bad
//! inputs that must be refused before any training starts, with nothing written.

mod common;

use std::path::Path;

use common::{stderr, tiny_model, trine, WORDS};

/// 12 documents, 8 train queries judging two documents each and (with `dev`) 3 dev queries.
fn tiny_beir(d: &Path, dev: bool) {
    common::tiny_beir(d, |i| vec![i, i + 1], dev);
}

/// A labelled JSONL collection: `per` texts for each class in `classes`.
fn labelled(path: &Path, classes: &[&str], per: usize) {
    let mut s = String::new();
    let mut n = 0;
    for (c, label) in classes.iter().enumerate() {
        for j in 0..per {
            let (a, b) = (WORDS[(c * 3) % 12], WORDS[(c * 3 + 1 + j % 2) % 12]);
            s.push_str(&format!(
                "{{\"_id\":\"t{n}\",\"text\":\"the {a} and the {b} .\",\"label\":\"{label}\"}}\n"
            ));
            n += 1;
        }
    }
    std::fs::write(path, s).unwrap();
}

fn finetune(data: &Path, model: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "finetune",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model,
        "--out",
        out.to_str().unwrap(),
        "--max-steps",
        "2",
        "--lr",
        "1e-3",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    trine(&args)
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("finetune-report.json")).unwrap()).unwrap()
}

const RETRIEVAL: &[&str] = &[
    "--batch-size",
    "4",
    "--mini-batch-size",
    "2",
    "--skip-top",
    "0",
    "--depth",
    "12",
    "--max-score-ratio",
    "0",
];

#[test]
fn a_beir_folder_with_a_dev_split_gives_a_model_card_and_before_after_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_beir(d, true);
    let model = tiny_model(d);
    let out = d.join("out");
    let o = finetune(d, &model, &out, RETRIEVAL);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["kind"], "retrieval");
    assert!(
        r["dev"].as_str().unwrap().contains("dev.tsv"),
        "{}",
        r["dev"]
    );
    for side in ["before", "after"] {
        let n = r[side]["metrics"]["ndcg@10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&n), "{side}: {n}");
        assert!(r[side]["hybrid"]["ndcg@10"].as_f64().is_some());
        assert!(r[side]["fusion"]["method"].is_string());
    }
    // 8 queries × 2 positives, one negative each; no negative is judged for its query.
    let rows = trine_corpus::triplets::read_triplets(&out.join("triplets.parquet")).unwrap();
    assert_eq!(rows.len(), 16);
    for t in &rows {
        let q: usize = t.query_id.as_ref().unwrap()[1..].parse().unwrap();
        let judged = [format!("d{q}"), format!("d{}", q + 1)];
        assert!(!judged.contains(t.negative_id.as_ref().unwrap()), "{t:?}");
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    for needle in [
        "library_name: sentence-transformers",
        "base_model: tiny",
        "loss:infonce",
        "| step | dev ndcg@10 |",
        "SentenceTransformer(",
        "--split test",
    ] {
        assert!(card.contains(needle), "card lacks `{needle}`:\n{card}");
    }
    let o = trine(&["encode", "--model", out.to_str().unwrap(), "the cat"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn without_a_dev_split_queries_are_held_out_of_train() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_beir(d, false);
    let model = tiny_model(d);
    let out = d.join("out");
    let mut extra = RETRIEVAL.to_vec();
    extra.extend(["--dev-queries", "2", "--dev-docs", "3"]);
    let o = finetune(d, &model, &out, &extra);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    assert!(
        r["dev"].as_str().unwrap().contains("2 queries held out"),
        "{}",
        r["dev"]
    );
    // The held-out queries' rows are not trained on: 6 queries × 2 positives.
    assert_eq!(r["rows"], 12);
}

#[test]
fn a_labelled_collection_trains_with_every_loss_that_works_on_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let data = d.join("labelled.jsonl");
    labelled(&data, &["pets", "sky", "roads"], 8);
    for loss in [
        "batch-hard",
        "semi-hard",
        "batch-all",
        "proxy-nca",
        "proxy-anchor",
        "infonce",
    ] {
        let out = d.join(loss);
        let o = finetune(
            &data,
            &model,
            &out,
            &["--loss", loss, "--batch-size", "4", "--per-class", "2"],
        );
        assert!(o.status.success(), "{loss}: {}", stderr(&o));
        let r = report(&out);
        assert_eq!(r["kind"], "labelled");
        assert_eq!(r["classes"].as_array().unwrap().len(), 3);
        // 10% of each class of 8 rounds to one text: 21 left to train on.
        assert_eq!(r["rows"], 21, "{loss}");
        for side in ["before", "after"] {
            let v = r[side]["metrics"]["v_measure"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{loss} {side}: {v}");
        }
        let card = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert!(card.contains("2 classes × 2 texts"), "{loss}:\n{card}");
    }
}

/// Runs finetune on bad input and checks the error names `needles` and nothing was written.
fn refused(data: &Path, model: &str, out: &Path, extra: &[&str], needles: &[&str]) {
    let o = finetune(data, model, out, extra);
    assert!(!o.status.success(), "accepted {}", data.display());
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "missing `{n}` in: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
    assert!(!out.exists(), "output written for bad input: {e}");
}

#[test]
fn bad_labelled_collections_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let out = d.join("out");
    let one = d.join("one.jsonl");
    labelled(&one, &["pets"], 6);
    refused(
        &one,
        &model,
        &out,
        &[],
        &["one.jsonl", "1 class(es) (pets)"],
    );

    let single = d.join("single.jsonl");
    labelled(&single, &["pets", "sky"], 6);
    let mut text = std::fs::read_to_string(&single).unwrap();
    text.push_str("{\"_id\":\"x\",\"text\":\"the sun\",\"label\":\"alone\"}\n");
    std::fs::write(&single, text).unwrap();
    refused(
        &single,
        &model,
        &out,
        &["--per-class", "2"],
        &["`alone` (1)", "K ≥ 2"],
    );

    let unlabelled = d.join("unlabelled.jsonl");
    labelled(&unlabelled, &["pets", "sky"], 6);
    let text = std::fs::read_to_string(&unlabelled)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 || i == 7 {
                l.replace(",\"label\":\"pets\"", "")
                    .replace(",\"label\":\"sky\"", "")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&unlabelled, text).unwrap();
    refused(
        &unlabelled,
        &model,
        &out,
        &[],
        &[
            "unlabelled.jsonl",
            "2 problem(s)",
            "line 3: no `label`",
            "line 8: no `label`",
        ],
    );

    let ok = d.join("ok.jsonl");
    labelled(&ok, &["pets", "sky"], 6);
    refused(
        &ok,
        &model,
        &out,
        &["--loss", "triplet"],
        &["needs triplets"],
    );
}

#[test]
fn bad_beir_folders_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = tiny_model(d);
    let out = d.join("out");

    let no_train = d.join("no-train");
    std::fs::create_dir_all(&no_train).unwrap();
    tiny_beir(&no_train, true);
    std::fs::remove_file(no_train.join("qrels/train.tsv")).unwrap();
    refused(
        &no_train,
        &model,
        &out,
        RETRIEVAL,
        &["no `train` split", "train.tsv is missing"],
    );

    let stray_dev = d.join("stray-dev");
    std::fs::create_dir_all(&stray_dev).unwrap();
    tiny_beir(&stray_dev, true);
    std::fs::write(
        stray_dev.join("qrels/dev.tsv"),
        "query-id\tcorpus-id\tscore\nq9\tOTHER-1\t1\nq10\tOTHER-2\t2\n",
    )
    .unwrap();
    refused(
        &stray_dev,
        &model,
        &out,
        RETRIEVAL,
        &[
            "dev.tsv",
            "no judged document of the dev split is in the corpus",
        ],
    );
}
