//! Test support: a tiny random-weight model loaded for training.

use trine_encoder::tiny::{write_tiny_model, TinySpec};

use crate::model::TrainableModel;

/// A tiny model folder (kept alive by the returned directory) loaded as a trainable model.
pub fn tiny_model(spec: TinySpec) -> (tempfile::TempDir, TrainableModel) {
    let dir = tempfile::tempdir().expect("temporary folder");
    write_tiny_model(dir.path(), &spec).expect("tiny model");
    let model = TrainableModel::load(dir.path()).expect("tiny model loads");
    (dir, model)
}
