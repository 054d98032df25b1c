//! Property-based fuzzing of the search request path: any query text (any Unicode, query syntax,
//! control characters, very long), any k, candidates and fusion parsed from JSON as the server
//! receives it, in every mode, gives hits or an error, never a panic.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use trine_corpus::Document;
use trine_index::{Fusion, Index, Mode, ModelInfo};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

#[test]
fn any_search_request_gives_hits_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    let docs: Vec<Document> = [
        "running shoes",
        "cooking pasta",
        "marathon training",
        "qubits",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| Document {
        id: format!("d{i}"),
        title: String::new(),
        text: t.to_string(),
    })
    .collect();
    let model = ModelInfo {
        name: "toy".into(),
        fingerprint: "f".repeat(64),
        dim: 2,
        ..Default::default()
    };
    let vectors = [1.0, 0.0, 0.0, 1.0, 0.7, 0.7, -1.0, 0.2];
    let index = Index::build(&root, &docs, &vectors, model, false).unwrap();
    let text = prop_oneof![
        any::<String>(),
        "[a-z +\\-\"():*^~?\\[\\]{}!\\\\/]{0,64}",
        Just("running ".repeat(20_000)),
    ];
    let fusion = prop_oneof![
        Just(String::new()),
        "[-+]?[0-9]{0,4}(\\.[0-9]{0,3})?(e[-+]?[0-9]{1,3})?"
            .prop_map(|n| format!(r#"{{"method": "rrf", "k": {n}}}"#)),
        "[-+]?[0-9]{0,2}(\\.[0-9]{0,3})?"
            .prop_map(|n| format!(r#"{{"method": "convex", "alpha": {n}}}"#)),
        any::<String>(),
    ];
    let strategy = (text, 0usize..2000, 0usize..2000, fusion, any::<[f32; 2]>());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let ok = std::cell::Cell::new(0usize);
    runner
        .run(&strategy, |(text, k, candidates, fusion, query)| {
            let fusion: Fusion = serde_json::from_str(&fusion).unwrap_or_default();
            for mode in [Mode::Lexical, Mode::Dense, Mode::Hybrid] {
                if index
                    .search(mode, &text, &query, k, candidates, fusion)
                    .is_ok()
                {
                    ok.set(ok.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "fuzz search request: {} executions × 3 modes, {} answered, 0 panics",
        cases(),
        ok.get()
    );
}
