//! Fine-tuning on a labelled collection: check, hold out dev, train with P × K batches, report.

use std::path::Path;
use std::time::Instant;

use trine_corpus::labels::read_labelled;
use trine_corpus::CorpusOptions;
use trine_encoder::EncoderOptions;

use super::{DevScores, FinetuneOptions, FinetuneReport};
use crate::data::{check_labelled, class_ids, LabelledText, TrainData};
use crate::dev::{Dev, LabelledDev};
use crate::model::TrainableModel;
use crate::{checkpoint, Observer, Result, TrainError};

/// Fine-tunes on the labelled collection at `path`.
pub fn run(
    path: &Path,
    read: &CorpusOptions,
    label_field: &str,
    options: &FinetuneOptions,
    observer: &mut dyn Observer,
) -> Result<FinetuneReport> {
    let started = Instant::now();
    if !options.train.objective.works_on_labels() {
        return Err(TrainError::Settings(format!(
            "{} needs triplets; on labelled texts use batch-all, batch-hard, semi-hard, \
             proxy-nca, proxy-anchor or infonce",
            options.train.objective.name()
        )));
    }
    let rows: Vec<LabelledText> = read_labelled(path, read, label_field)?
        .into_iter()
        .map(|(d, label)| LabelledText {
            text: d.full_text(),
            label,
        })
        .collect();
    let k = options.train.per_class;
    let source = path.display().to_string();
    check_labelled(&rows, k, &source)?;
    let (train_rows, mut dev) =
        LabelledDev::hold_out(rows, options.dev.fraction, options.train.seed)?;
    check_labelled(
        &train_rows,
        k,
        &format!(
            "{source} (after holding out {} texts as dev)",
            dev.rows.len()
        ),
    )?;
    dev.seed = options.train.seed;
    let model = TrainableModel::load(&options.model)?;
    if !options.resume {
        checkpoint::clear_for_fresh_start(&options.out, options.overwrite)?;
    }
    let (_, classes) = class_ids(&train_rows);
    let dev_text = format!(
        "{} texts held out of {source} ({:.0}% of every class), scored by spherical k-means \
         with k = {}",
        dev.rows.len(),
        options.dev.fraction * 100.0,
        classes.len()
    );
    observer.note(&format!(
        "{source}: {} training texts in {} classes; dev: {dev_text}",
        train_rows.len(),
        classes.len()
    ));
    let before = DevScores {
        metrics: dev.evaluate(&model.encoder(EncoderOptions {
            precision: options.report_precision,
            ..Default::default()
        })?)?,
        ..Default::default()
    };
    let rows = train_rows.len();
    let data = TrainData::Labelled { rows: train_rows };
    let (config, summary, tuned) = options.train_and_reload(
        model,
        &data,
        &dev,
        super::recipe::LABELLED_EVALS,
        &before,
        observer,
    )?;
    let after = DevScores {
        metrics: dev.evaluate(&tuned)?,
        ..Default::default()
    };
    Ok(FinetuneReport {
        kind: "labelled",
        data: path.to_path_buf(),
        base_model: options.model.clone(),
        out: options.out.clone(),
        dev: dev_text,
        rows,
        classes,
        mining: None,
        mine_options: None,
        config,
        before,
        after,
        train: summary,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mib: crate::peak_rss_mib(),
    })
}
