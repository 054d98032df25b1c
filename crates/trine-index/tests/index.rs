//! Index folders end to end with hand-made documents and vectors: build, search in every mode,
//! add, delete, and the errors for damaged or mismatched indexes.

use std::path::Path;

use trine_corpus::Document;
use trine_index::{AddPolicy, Fusion, Index, IndexError, ModelInfo};

fn doc(id: &str, title: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        text: text.into(),
    }
}

fn model() -> ModelInfo {
    ModelInfo {
        name: "toy".into(),
        fingerprint: "f".repeat(64),
        dim: 3,
        ..Default::default()
    }
}

fn corpus() -> (Vec<Document>, Vec<f32>) {
    let docs = vec![
        doc(
            "d1",
            "Running shoes",
            "Lightweight shoes for runners who run daily.",
        ),
        doc(
            "d2",
            "Cooking pasta",
            "Boil the water, add salt, then the pasta.",
        ),
        doc(
            "d3",
            "Marathon training",
            "Long runs build endurance for the marathon.",
        ),
        doc("d4", "", "Quantum computers use qubits."),
    ];
    let vectors = vec![
        1.0, 0.1, 0.0, //
        0.0, 1.0, 0.0, //
        0.9, 0.0, 0.3, //
        0.0, 0.0, 1.0,
    ];
    (docs, vectors)
}

fn build(dir: &Path) -> Index {
    let (docs, vectors) = corpus();
    Index::build(dir, &docs, &vectors, model(), false).unwrap()
}

fn ids(index: &Index, hits: &[(usize, f32)]) -> Vec<String> {
    hits.iter()
        .map(|h| index.document(h.0).id.clone())
        .collect()
}

#[test]
fn lexical_search_stems_drops_stop_words_and_never_parses_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(&dir.path().join("idx"));
    let hits = index.search_lexical("runner running", 10).unwrap();
    let found = ids(&index, &hits);
    assert_eq!(found[0], "d1", "{found:?}");
    assert!(
        found.contains(&"d3".to_string()),
        "stemming should match 'runs': {found:?}"
    );
    assert!(index.search_lexical("the and of", 10).unwrap().is_empty());
    for q in [
        "title:pasta",
        "\"unclosed",
        "a AND (b OR",
        "+-!^~*?[]{}:\\/",
        "pasta)",
    ] {
        index
            .search_lexical(q, 10)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    assert_eq!(
        ids(&index, &index.search_lexical("pasta)", 10).unwrap()),
        ["d2"]
    );
    assert!(matches!(
        index.search_lexical("   ", 10),
        Err(IndexError::EmptyQuery)
    ));
}

#[test]
fn dense_and_hybrid_search() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(&dir.path().join("idx"));
    let hits = index.search_dense(&[1.0, 0.0, 0.0], 2).unwrap();
    assert_eq!(ids(&index, &hits), ["d1", "d3"]);
    assert!((hits[0].1 - 1.0 / 1.01f32.sqrt()).abs() < 1e-5);
    assert!(index.search_dense(&[1.0, 0.0], 2).is_err());
    let fused = index
        .search_hybrid("marathon", &[1.0, 0.0, 0.0], 3, 10, Fusion::Rrf { k: 60.0 })
        .unwrap();
    let top = &fused[0];
    assert_eq!(
        index.document(top.row).id,
        "d3",
        "in both lists, so first under RRF"
    );
    assert_eq!((top.lexical_rank, top.dense_rank), (Some(1), Some(2)));
}

#[test]
fn add_rejects_duplicates_unless_replace_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    build(&root);
    let new = vec![
        doc("d5", "Trail running", "Running on mountain trails."),
        doc("d2", "Pasta", "Fresh pasta."),
    ];
    let vecs = vec![0.8, 0.0, 0.0, 0.0, 0.9, 0.1];
    let err = Index::add(&root, &new, &vecs, &model(), AddPolicy::Reject)
        .err()
        .unwrap();
    assert!(err.to_string().contains("`d2`"), "{err}");
    assert_eq!(
        Index::open(&root).unwrap().len(),
        4,
        "a rejected add changes nothing"
    );

    let index = Index::add(&root, &new[..1], &vecs[..3], &model(), AddPolicy::Reject).unwrap();
    assert_eq!(index.len(), 5);
    assert_eq!(index.manifest().generation, 2);
    assert!(ids(&index, &index.search_lexical("trails", 5).unwrap()).contains(&"d5".to_string()));
    drop(index);

    let index = Index::add(&root, &new[1..], &vecs[3..], &model(), AddPolicy::Replace).unwrap();
    assert_eq!(index.len(), 5);
    assert_eq!(
        index.document(index.row_of("d2").unwrap()).text,
        "Fresh pasta."
    );
    assert_eq!(
        ids(&index, &index.search_lexical("boil", 5).unwrap()),
        Vec::<String>::new()
    );
    drop(index);

    let (index, removed) = Index::delete(&root, &["d1".into(), "nope".into()]).unwrap();
    assert_eq!((removed, index.len()), (1, 4));
    assert!(index.row_of("d1").is_none());
    assert!(
        !ids(&index, &index.search_lexical("lightweight", 5).unwrap()).contains(&"d1".to_string())
    );
    let gens: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gen-"))
        .collect();
    assert_eq!(
        gens.len(),
        1,
        "old generations are removed after the switch: {gens:?}"
    );
}

#[test]
fn default_fusion_is_stored_and_existing_index_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    build(&root);
    let index = Index::set_default_fusion(&root, Fusion::Convex { alpha: 0.3 }).unwrap();
    assert_eq!(index.manifest().fusion, Fusion::Convex { alpha: 0.3 });
    assert_eq!(
        Index::open(&root).unwrap().manifest().fusion,
        Fusion::Convex { alpha: 0.3 }
    );
    let (docs, vectors) = corpus();
    assert!(matches!(
        Index::build(&root, &docs, &vectors, model(), false),
        Err(IndexError::Exists { .. })
    ));
    let rebuilt = Index::build(&root, &docs[..2], &vectors[..6], model(), true).unwrap();
    assert_eq!(rebuilt.len(), 2);
}

#[test]
fn damaged_or_mismatched_indexes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    build(&root);
    let gen = root.join(std::fs::read_to_string(root.join("CURRENT")).unwrap());

    let other = ModelInfo {
        name: "other".into(),
        fingerprint: "0".repeat(64),
        dim: 3,
        ..Default::default()
    };
    let err = Index::open(&root).unwrap().check_model(&other).unwrap_err();
    assert!(
        err.to_string().contains("`toy`") && err.to_string().contains("`other`"),
        "{err}"
    );

    let vectors = gen.join("vectors.f32");
    let bytes = std::fs::read(&vectors).unwrap();
    std::fs::write(&vectors, &bytes[..bytes.len() - 4]).unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(
        err.to_string().contains("vectors.f32") && err.to_string().contains("corrupt"),
        "{err}"
    );
    std::fs::remove_file(&vectors).unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(err.to_string().contains("vectors.f32"), "{err}");
    std::fs::write(&vectors, &bytes).unwrap();
    Index::open(&root).unwrap();

    let manifest = gen.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(
        matches!(err, IndexError::FormatVersion { found: 99, .. }),
        "{err}"
    );
    std::fs::write(&manifest, &text).unwrap();

    // A lexical part whose rows point past the documents (row 7 of 4).
    std::fs::remove_dir_all(gen.join("lexical")).unwrap();
    let rows = [0u64, 1, 2, 7].map(|r| (r, format!("text {r}")));
    trine_index::lexical::create(&gen.join("lexical"), rows.into_iter()).unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(
        err.to_string().contains("found row 7 where row 3 belongs"),
        "{err}"
    );

    std::fs::remove_dir_all(gen.join("lexical")).unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(err.to_string().contains("lexical"), "{err}");

    std::fs::remove_file(root.join("CURRENT")).unwrap();
    let err = Index::open(&root).err().unwrap();
    assert!(err.to_string().contains("not a trine index"), "{err}");
    let err = Index::open(&dir.path().join("absent")).err().unwrap();
    assert!(err.to_string().contains("no such index"), "{err}");
}

#[test]
fn prompts_and_truncation_are_recorded_and_checked_at_query_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    let (docs, vectors) = corpus();
    let e5 = ModelInfo {
        document_prompt: Some("passage: ".into()),
        query_prompt: Some("query: ".into()),
        ..model()
    };
    Index::build(&root, &docs, &vectors, e5.clone(), false).unwrap();
    let index = Index::open(&root).unwrap();
    assert_eq!(index.manifest().model, e5);
    index.check_model(&e5).unwrap();
    let err = index.check_model(&model()).unwrap_err().to_string();
    assert!(
        err.contains("\"passage: \"") && err.contains("document prompt None"),
        "{err}"
    );
    let cut = ModelInfo {
        truncate_dim: Some(3),
        ..e5
    };
    let err = index.check_model(&cut).unwrap_err().to_string();
    assert!(err.contains("truncate_dim Some(3)"), "{err}");
}
