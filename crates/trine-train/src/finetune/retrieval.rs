//! Fine-tuning on a BEIR folder: check, mine, train, report.

use std::path::Path;
use std::time::Instant;

use trine_corpus::beir::{load_split, BeirPaths, Qrels, Query, Split};
use trine_corpus::triplets::write_triplets;
use trine_corpus::{read_corpus, CorpusOptions, Document};
use trine_encoder::{Encoder, EncoderOptions, Role};
use trine_index::{Fusion, Index, Mode, ModelInfo};

use super::{DevScores, FinetuneOptions, FinetuneReport};
use crate::data::{judgements, TrainData};
use crate::dev::{DevSet, HoldOut};
use crate::mine::mine;
use crate::model::TrainableModel;
use crate::{checkpoint, Observer, Result, TrainError};

/// Name of the mined training data in the output folder.
pub const TRIPLETS: &str = "triplets.parquet";

/// Fails unless `split` judges at least one corpus document as relevant.
fn check_overlap(split: &Split, corpus: &[Document], qrels_path: &Path) -> Result<()> {
    let ids: std::collections::HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
    let hits = split
        .qrels
        .values()
        .flat_map(|r| r.iter())
        .filter(|(d, &g)| g > 0 && ids.contains(d.as_str()))
        .count();
    if hits == 0 {
        return Err(TrainError::Data(format!(
            "{}: none of its relevant documents is in the corpus; is it the qrels of another \
             dataset?",
            qrels_path.display()
        )));
    }
    Ok(())
}

/// The train split, the dev set and a description of where the dev set came from; fails
/// before anything is written when a part is missing or does not fit the corpus.
fn splits(
    root: &Path,
    corpus: &[Document],
    options: &FinetuneOptions,
) -> Result<(Split, DevSet, String)> {
    let paths = BeirPaths::new(root);
    let train_path = paths.qrels(&options.train_split);
    if !train_path.is_file() {
        return Err(TrainError::Data(format!(
            "{}: no `{}` split ({} is missing); fine-tuning a BEIR folder needs judged training \
             queries",
            root.display(),
            options.train_split,
            train_path.display()
        )));
    }
    let split = load_split(root, &options.train_split)?;
    check_overlap(&split, corpus, &train_path)?;
    let hold = HoldOut {
        queries: options.dev.hold_out_queries,
        extra_docs: options.dev.hold_out_docs,
        seed: options.train.seed,
    };
    let (dev, held, text) = DevSet::for_training(
        root,
        corpus,
        &split,
        &options.train_split,
        &options.dev.split,
        hold,
    )?;
    let split = if held {
        dev.remove_from_split(&split)
    } else {
        split
    };
    Ok((split, dev, text))
}

/// Embeds texts of `role` with `encoder`, reporting progress under `stage`.
fn embed(
    encoder: &Encoder,
    texts: &[&str],
    role: Role,
    stage: &str,
    observer: &mut dyn Observer,
) -> Result<Vec<f32>> {
    let total = texts.len();
    let mut done = 0;
    let values = encoder.encode_as(texts, role, &mut |n| {
        done += n;
        observer.progress(stage, done, total);
    })?;
    Ok(values)
}

/// A temporary index of `corpus` embedded by `encoder`, and the vectors of `queries`.
fn index_with(
    encoder: &Encoder,
    corpus: &[Document],
    queries: &[&Query],
    dir: &Path,
    observer: &mut dyn Observer,
) -> Result<(Index, Vec<Vec<f32>>)> {
    let texts: Vec<String> = corpus.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embed(
        encoder,
        &refs,
        Role::Document,
        "embedding the corpus",
        observer,
    )?;
    let info = ModelInfo {
        name: encoder.folder().name.clone(),
        fingerprint: "fine-tuning".into(),
        dim: encoder.dim(),
        ..Default::default()
    };
    // Exact dense search: mining and the dev figures (which stand for the step-0 evaluation)
    // must not depend on a graph's recall.
    let options = trine_index::BuildOptions {
        force: true,
        ann: trine_index::AnnPolicy::Never,
        ..Default::default()
    };
    let index = Index::build_with(dir, corpus, &vectors, info, &options)?;
    let q: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let flat = embed(encoder, &q, Role::Query, "embedding queries", observer)?;
    let qv = flat
        .chunks_exact(encoder.dim())
        .map(<[f32]>::to_vec)
        .collect();
    Ok((index, qv))
}

fn metric_map(m: &trine_eval::Metrics) -> std::collections::BTreeMap<String, f64> {
    serde_json::from_value(serde_json::to_value(m).expect("metrics serialise"))
        .expect("metrics are numbers")
}

/// Dense and tuned-hybrid metrics of dev queries on the whole corpus.
fn dev_scores(
    index: &Index,
    queries: &[Query],
    vectors: &[Vec<f32>],
    qrels: &Qrels,
) -> Result<DevScores> {
    let dense = trine_index::batch::run(
        index,
        queries,
        Some(vectors),
        Mode::Dense,
        Fusion::default(),
        100,
        100,
    )?;
    let tuned = trine_index::batch::tune_fusion(index, queries, vectors, qrels, 100)?;
    let fusion = tuned[0].0;
    let hybrid = trine_index::batch::run(
        index,
        queries,
        Some(vectors),
        Mode::Hybrid,
        fusion,
        100,
        100,
    )?;
    Ok(DevScores {
        metrics: metric_map(&trine_eval::evaluate(&dense, qrels).0),
        hybrid: Some(metric_map(&trine_eval::evaluate(&hybrid, qrels).0)),
        fusion: Some(fusion),
    })
}

/// Fine-tunes on the BEIR folder at `root`.
pub fn run(
    root: &Path,
    options: &FinetuneOptions,
    observer: &mut dyn Observer,
) -> Result<FinetuneReport> {
    let started = Instant::now();
    options.mine.validate()?;
    let corpus = read_corpus(&BeirPaths::new(root).corpus(), &CorpusOptions::default())?;
    let (split, dev, dev_text) = splits(root, &corpus, options)?;
    let model = TrainableModel::load(&options.model)?;
    if !options.resume {
        checkpoint::clear_for_fresh_start(&options.out, options.overwrite)?;
    }
    observer.note(&format!(
        "{}: {} training queries, dev: {dev_text}",
        root.display(),
        split.queries.len()
    ));

    let tmp = tempfile::tempdir().map_err(|e| TrainError::io(std::env::temp_dir(), e))?;
    let encoder = model.encoder(EncoderOptions {
        precision: options.report_precision,
        ..Default::default()
    })?;
    let queries: Vec<&Query> = split.queries.iter().chain(&dev.queries).collect();
    let (index, vectors) = index_with(
        &encoder,
        &corpus,
        &queries,
        &tmp.path().join("before"),
        observer,
    )?;
    drop(encoder);
    let (train_vectors, dev_vectors) = vectors.split_at(split.queries.len());
    let before = dev_scores(&index, &dev.queries, dev_vectors, &dev.qrels)?;

    let flat: Vec<f32> = train_vectors.concat();
    let total = split.queries.len();
    let mined = mine(&split, &index, &flat, &options.mine, &mut |n| {
        observer.progress("mining", n, total)
    })?;
    drop(index);
    let c = &mined.counts;
    observer.note(&format!(
        "mined {} triplets for {} (query, positive) pairs of {} queries; dropped {} judged \
         candidates, {} in the top {} ranks, {} above {:?} × the positive's score; {} positives \
         over the cap of {:?} per query",
        mined.triplets.len(),
        c.pairs,
        c.queries,
        c.judged,
        c.skipped_top,
        options.mine.skip_top,
        c.above_ratio,
        options.mine.max_score_ratio,
        c.capped,
        options.mine.max_pairs_per_query
    ));
    if mined.triplets.is_empty() {
        return Err(TrainError::Data(format!(
            "no triplets mined from {}: every candidate was dropped ({c:?}); widen the rank \
             window or relax the filter",
            root.display()
        )));
    }
    std::fs::create_dir_all(&options.out).map_err(|e| TrainError::io(&options.out, e))?;
    write_triplets(&options.out.join(TRIPLETS), &mined.triplets)?;
    let rows = mined.triplets.len();
    let data = TrainData::Triplets {
        rows: mined.triplets,
        judged: Some(judgements(&split.qrels)),
    };
    let (config, summary, tuned) = options.train_and_reload(
        model,
        &data,
        &dev,
        super::recipe::RETRIEVAL_EVALS,
        &before,
        observer,
    )?;
    let dev_queries: Vec<&Query> = dev.queries.iter().collect();
    let (index, dev_vectors) = index_with(
        &tuned,
        &corpus,
        &dev_queries,
        &tmp.path().join("after"),
        observer,
    )?;
    let after = dev_scores(&index, &dev.queries, &dev_vectors, &dev.qrels)?;
    Ok(FinetuneReport {
        kind: "retrieval",
        data: root.to_path_buf(),
        base_model: options.model.clone(),
        out: options.out.clone(),
        dev: dev_text,
        rows,
        classes: Vec::new(),
        mining: Some(mined.counts),
        mine_options: Some(options.mine),
        config,
        before,
        after,
        train: summary,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mib: crate::peak_rss_mib(),
    })
}
