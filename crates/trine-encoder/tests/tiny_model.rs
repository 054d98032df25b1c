//! The encoder pipeline on a tiny random-weight BERT: batching, padding, truncation, pooling,
//! dropout and load errors.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use trine_encoder::tiny::{write_tiny_model, TinySpec};
use trine_encoder::{
    Bert, Encoder, EncoderError, EncoderOptions, Mode, ModelFolder, TextTokenizer,
};

fn tiny(spec: TinySpec) -> (tempfile::TempDir, Encoder) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &spec).unwrap();
    let enc = Encoder::load(
        dir.path(),
        EncoderOptions {
            batch_size: 3,
            chunk_size: 4,
            ..Default::default()
        },
    )
    .unwrap();
    (dir, enc)
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

const TEXTS: &[&str] = &[
    "the cat sat on the mat",
    "a dog",
    "",
    "the red car ran fast on the big sun moon is small",
    "blue",
    "zzz qqq the cat!",
    "a",
];

#[test]
fn batched_padded_encoding_equals_one_by_one() {
    let (_d, enc) = tiny(TinySpec::default());
    let dim = enc.dim();
    let all = enc.encode(TEXTS, &mut |_| {}).unwrap();
    for (i, t) in TEXTS.iter().enumerate() {
        let one = enc.encode(&[t], &mut |_| {}).unwrap();
        assert!(
            close(&all[i * dim..(i + 1) * dim], &one, 1e-5),
            "text {i} differs when batched with padding"
        );
    }
}

#[test]
fn progress_counts_every_text_and_output_is_unit_length() {
    let (_d, enc) = tiny(TinySpec::default());
    let mut seen = 0;
    let v = enc.encode(TEXTS, &mut |n| seen += n).unwrap();
    assert_eq!(seen, TEXTS.len());
    for row in v.chunks_exact(enc.dim()) {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    // distinct texts give distinct vectors
    assert!(!close(&v[..enc.dim()], &v[enc.dim()..2 * enc.dim()], 1e-3));
}

#[test]
fn long_texts_are_truncated_to_max_seq_length() {
    let (_d, enc) = tiny(TinySpec::default());
    let long = "the cat ".repeat(40);
    let counts = enc.token_counts(&[&long, "", "a dog"]).unwrap();
    assert_eq!(counts, vec![16, 2, 4]);
    // the part beyond the limit does not change the embedding
    let longer = "the cat ".repeat(60);
    let v = enc.encode(&[&long, &longer], &mut |_| {}).unwrap();
    assert!(close(&v[..enc.dim()], &v[enc.dim()..], 1e-6));
}

#[test]
fn pooling_mode_and_normalize_follow_the_folder() {
    let (_d1, mean) = tiny(TinySpec::default());
    let (_d2, cls) = tiny(TinySpec {
        pooling: "cls",
        normalize: false,
        ..Default::default()
    });
    let a = mean.encode(&["the cat"], &mut |_| {}).unwrap();
    let b = cls.encode(&["the cat"], &mut |_| {}).unwrap();
    assert!(!close(&a, &b, 1e-3));
    let norm: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() > 1e-3,
        "cls model without Normalize must not be unit length"
    );
}

#[test]
fn fused_kernels_match_candles_reference_ops() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    let folder = ModelFolder::open(dir.path()).unwrap();
    let fused = Bert::load(&folder, &Device::Cpu, Default::default()).unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[&folder.weights], DType::F32, &Device::Cpu).unwrap()
    };
    let reference = Bert::new(vb, folder.family.bert().unwrap(), Mode::Train).unwrap();
    let tok = TextTokenizer::load(&folder).unwrap();
    let ids = tok.encode(&["the cat sat", "a dog ran fast"]).unwrap();
    let rows: Vec<&[u32]> = ids.iter().map(|r| r.as_slice()).collect();
    let batch = tok.pad(&rows, &Device::Cpu).unwrap();
    // Hidden states at padding positions are unspecified (the fused kernels skip them and
    // pooling masks them), so compare real tokens only.
    let real = batch.attention_mask.unsqueeze(2).unwrap();
    let f = |m: &Bert| -> Tensor {
        m.forward(&batch.input_ids, &batch.attention_mask)
            .unwrap()
            .broadcast_mul(&real)
            .unwrap()
    };
    let diff = |a: &Tensor, b: &Tensor| -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let a = f(&fused);
    assert!(
        diff(&a, &f(&reference)) < 1e-5,
        "fused kernels and candle's reference ops disagree: {}",
        diff(&a, &f(&reference))
    );
    assert_eq!(diff(&a, &f(&fused)), 0.0, "inference must be deterministic");
}

#[test]
fn missing_weights_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, EncoderError::MissingFile { .. }));
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn corrupt_weights_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    let w = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 3]).unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, EncoderError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn weights_lacking_a_tensor_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    let other = tempfile::tempdir().unwrap();
    // a model with fewer layers than config.json says
    write_tiny_model(
        other.path(),
        &TinySpec {
            layers: 1,
            ..Default::default()
        },
    )
    .unwrap();
    std::fs::copy(
        other.path().join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    assert!(err.to_string().contains("layer.1"), "{err}");
}

#[test]
fn malformed_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": 32,").unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, EncoderError::Config { .. }));
    assert!(err.to_string().contains("config.json"), "{err}");
    let err = Encoder::load(&dir.path().join("nope"), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn corrupt_tokenizer_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), &TinySpec::default()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "not json").unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, EncoderError::Tokenizer { .. }));
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

/// sentence-transformers ≥ 6 saves module types under new paths, one `pooling_mode` string,
/// and no `max_seq_length` (the tokenizer's `model_max_length` stands in): such a folder loads
/// to the same encoder as the classic layout.
#[test]
fn sentence_transformers_6_layout_loads_the_same_model() {
    let spec = TinySpec {
        pooling: "cls",
        ..Default::default()
    };
    let (dir, classic) = tiny(spec.clone());
    let d = dir.path();
    let json = |path: &str, v: serde_json::Value| {
        std::fs::write(d.join(path), serde_json::to_vec_pretty(&v).unwrap()).unwrap()
    };
    json(
        "modules.json",
        serde_json::json!([
            {"idx": 0, "name": "0", "path": "",
             "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.base.modules.normalize.Normalize"}
        ]),
    );
    json(
        "1_Pooling/config.json",
        serde_json::json!({"embedding_dimension": spec.hidden, "pooling_mode": "cls", "include_prompt": true}),
    );
    json(
        "sentence_bert_config.json",
        serde_json::json!({"transformer_task": "feature-extraction", "module_output_name": "token_embeddings"}),
    );
    json(
        "tokenizer_config.json",
        serde_json::json!({"model_max_length": spec.max_seq_length, "do_lower_case": true}),
    );
    let six = Encoder::load(
        d,
        EncoderOptions {
            batch_size: 3,
            chunk_size: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let long = "the cat ".repeat(40);
    assert_eq!(
        six.token_counts(&[&long]).unwrap(),
        classic.token_counts(&[&long]).unwrap()
    );
    let a = classic.encode(TEXTS, &mut |_| {}).unwrap();
    let b = six.encode(TEXTS, &mut |_| {}).unwrap();
    assert!(
        close(&a, &b, 0.0),
        "same weights, same pooling, same output"
    );
    json(
        "1_Pooling/config.json",
        serde_json::json!({"pooling_mode": "median"}),
    );
    let Err(err) = Encoder::load(d, EncoderOptions::default()) else {
        panic!("an unknown pooling mode must be refused")
    };
    let err = err.to_string();
    assert!(err.contains("median") && err.contains("1_Pooling"), "{err}");
}
