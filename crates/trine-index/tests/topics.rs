//! Topics stored in an index: filtered search equals the unfiltered ranking restricted to the
//! topic, facets count the unfiltered candidates, and topics survive (or are refused) through
//! every change and every kind of damage.

mod common;

use std::path::Path;

use trine_corpus::Document;
use trine_index::fusion::fuse;
use trine_index::{
    AddPolicy, Fusion, Index, IndexError, Mode, ModelInfo, Request, Topic, TopicsInput,
};

const DIM: usize = 8;
const WORDS: [&[&str]; 3] = [
    &["apple", "banana", "orchard", "harvest", "fruit"],
    &["engine", "piston", "motor", "gearbox", "fruit"],
    &["violin", "cello", "orchestra", "concerto", "motor"],
];

fn model() -> ModelInfo {
    common::model(DIM)
}

/// Document `i` of group `i % 3`: words of its group (and a shared word across groups) and a
/// vector near its group's axis, tilted by `i`.
fn doc(i: usize) -> (Document, Vec<f32>) {
    let g = i % 3;
    let words = WORDS[g];
    let text: Vec<&str> = (0..1 + i % 4)
        .map(|j| words[(i + j) % words.len()])
        .collect();
    let mut v = vec![0.0f32; DIM];
    v[g] = 1.0;
    v[3 + i % 5] = 0.1 + 0.03 * (i % 7) as f32;
    let d = Document {
        id: format!("d{i:03}"),
        title: String::new(),
        text: text.join(" "),
    };
    (d, v)
}

fn corpus(range: std::ops::Range<usize>) -> (Vec<Document>, Vec<f32>) {
    let (docs, vectors): (Vec<Document>, Vec<Vec<f32>>) = range.map(doc).unzip();
    (docs, vectors.concat())
}

fn axis(g: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    v[g] = 1.0;
    v
}

/// Topics that are the three groups, as a clustering would give them.
fn topics_for(index: &Index) -> TopicsInput {
    let n = index.len();
    let labels: Vec<Option<usize>> = (0..n)
        .map(|r| {
            let id = &index.document(r).id;
            Some(id[1..].parse::<usize>().unwrap() % 3)
        })
        .collect();
    let scores = (0..n)
        .map(|r| {
            let v = index.vector(r);
            v[labels[r].unwrap()]
        })
        .collect();
    TopicsInput {
        method: "the three groups".into(),
        generation: index.manifest().generation,
        topics: (0..3)
            .map(|g| Topic {
                id: g,
                keywords: WORDS[g].iter().map(|w| w.to_string()).collect(),
                representatives: vec![format!("d{g:03}")],
                centroid: axis(g),
                size_at_clustering: labels.iter().filter(|l| **l == Some(g)).count(),
                cohesion: 0.98,
                added: 0,
                added_score_sum: 0.0,
                parents: vec![],
            })
            .collect(),
        labels,
        scores,
        levels: vec![],
        map: None,
    }
}

fn clustered(root: &Path, n: usize) -> Index {
    let (docs, vectors) = corpus(0..n);
    let index = Index::build(root, &docs, &vectors, model(), false).unwrap();
    let input = topics_for(&index);
    drop(index);
    Index::set_topics(root, input).unwrap()
}

fn request<'a>(mode: Mode, text: &'a str, vector: &'a [f32], topic: Option<usize>) -> Request<'a> {
    Request {
        mode,
        text,
        vector,
        k: 5,
        candidates: 20,
        fusion: Fusion::Rrf { k: 60.0 },
        topic,
        facets: true,
    }
}

#[test]
fn a_topic_filter_returns_the_unfiltered_ranking_restricted_to_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let index = clustered(dir.path(), 60);
    let topics = index.topics().unwrap();
    let query = "fruit motor";
    let mut vector = axis(1);
    vector[0] = 0.8;
    for t in 0..3 {
        let in_topic = |hits: Vec<(usize, f32)>, k: usize| -> Vec<(usize, f32)> {
            hits.into_iter()
                .filter(|h| topics.of(h.0) == Some(t))
                .take(k)
                .collect()
        };
        // The reference: every document ranked, then the topic's kept.
        let lexical = in_topic(index.search_lexical(query, 60).unwrap(), 20);
        let dense = in_topic(index.search_dense(&vector, 60).unwrap(), 20);
        let got = index
            .run(&request(Mode::Lexical, query, &vector, Some(t)))
            .unwrap();
        let rows: Vec<(usize, f32)> = got.hits.iter().map(|h| (h.row, h.score)).collect();
        assert_eq!(rows, lexical[..lexical.len().min(5)], "lexical, topic {t}");
        let got = index
            .run(&request(Mode::Dense, query, &vector, Some(t)))
            .unwrap();
        let rows: Vec<(usize, f32)> = got.hits.iter().map(|h| (h.row, h.score)).collect();
        assert_eq!(rows, dense[..5], "dense, topic {t}");
        let q = trine_index::dense::unit(&vector);
        let mut want = fuse(
            &lexical,
            &dense,
            |row| index.dense_score(&q, row),
            Fusion::Rrf { k: 60.0 },
            |row| index.document(row).id.clone(),
        );
        want.truncate(5);
        let got = index
            .run(&request(Mode::Hybrid, query, &vector, Some(t)))
            .unwrap();
        assert_eq!(got.hits, want, "hybrid, topic {t}");
        assert!(got.hits.iter().all(|h| topics.of(h.row) == Some(t)));
    }
    // Topic 2's documents never say "fruit" and only some say "motor": BM25 finds fewer than k.
    let got = index
        .run(&request(Mode::Lexical, "fruit", &vector, Some(2)))
        .unwrap();
    assert!(got.hits.is_empty(), "no document of topic 2 holds `fruit`");
}

#[test]
fn facets_count_the_topics_of_the_unfiltered_candidates_whatever_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let index = clustered(dir.path(), 60);
    let topics = index.topics().unwrap();
    let vector = axis(0);
    for mode in [Mode::Lexical, Mode::Dense, Mode::Hybrid] {
        let all = index
            .search(
                mode,
                "fruit motor",
                &vector,
                20,
                20,
                Fusion::Rrf { k: 60.0 },
            )
            .unwrap();
        let mut by_hand = [0usize; 3];
        for h in &all {
            by_hand[topics.of(h.row).unwrap()] += 1;
        }
        let unfiltered = index
            .run(&request(mode, "fruit motor", &vector, None))
            .unwrap();
        let filtered = index
            .run(&request(mode, "fruit motor", &vector, Some(1)))
            .unwrap();
        let facets = unfiltered.facets.unwrap();
        assert_eq!(Some(&facets), filtered.facets.as_ref(), "{mode:?}");
        for f in &facets {
            assert_eq!(f.count, by_hand[f.topic], "{mode:?} topic {}", f.topic);
        }
        assert_eq!(
            facets.iter().map(|f| f.count).sum::<usize>(),
            all.len(),
            "{mode:?}: every candidate counted once"
        );
        assert!(facets.windows(2).all(|w| w[0].count >= w[1].count));
        let rows = |hits: &[trine_index::FusedHit]| -> Vec<(usize, f32)> {
            hits.iter().map(|h| (h.row, h.score)).collect()
        };
        assert_eq!(
            rows(&unfiltered.hits),
            rows(&all[..5]),
            "{mode:?}: facets change no hit"
        );
    }
}

#[test]
fn topics_follow_adds_deletes_and_rewrites_and_drift_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    clustered(root, 30);
    // Twelve documents of group 1 (10 members when clustered): past a quarter, it has drifted.
    let added: Vec<usize> = (30..66).filter(|i| i % 3 == 1).collect();
    let (docs, vectors): (Vec<Document>, Vec<Vec<f32>>) = added.iter().map(|&i| doc(i)).unzip();
    let index = Index::add(root, &docs, &vectors.concat(), &model(), AddPolicy::Reject).unwrap();
    let t = index.topics().unwrap();
    for d in &docs {
        let row = index.row_of(&d.id).unwrap();
        assert_eq!(t.of(row), Some(1), "{} goes to the nearest centre", d.id);
        // Its cosine with the unit axis of group 1 is its own first coordinate's share.
        let v = index.vector(row);
        assert!((t.score(row) - v[1]).abs() < 1e-6);
    }
    assert_eq!(t.topics[1].added, 12);
    assert_eq!(t.drifted(), vec![1]);
    assert_eq!(t.sizes(), vec![10, 22, 10]);
    // Deleting keeps every remaining document's topic.
    let (index, removed) = Index::delete(root, &["d000".into(), "d001".into()]).unwrap();
    assert_eq!(removed, 2);
    let t = index.topics().unwrap();
    assert_eq!(t.sizes(), vec![9, 21, 10]);
    for r in 0..index.len() {
        let i: usize = index.document(r).id[1..].parse().unwrap();
        assert_eq!(t.of(r), Some(i % 3));
    }
    // A new default fusion keeps them; a rebuild over new documents drops them.
    let index = Index::set_default_fusion(root, Fusion::Convex { alpha: 0.3 }).unwrap();
    assert_eq!(index.topics().unwrap().sizes(), vec![9, 21, 10]);
    let (docs, vectors) = corpus(0..9);
    let index = Index::build(root, &docs, &vectors, model(), true).unwrap();
    assert!(index.topics().is_none() && index.manifest().topics.is_none());
}

#[test]
fn topic_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (docs, vectors) = corpus(0..30);
    let index = Index::build(root, &docs, &vectors, model(), false).unwrap();
    let stale = topics_for(&index);
    let err = index
        .run(&request(Mode::Dense, "x", &axis(0), Some(0)))
        .unwrap_err();
    assert!(matches!(err, IndexError::NoTopics { .. }), "{err}");
    assert!(err.to_string().contains("trine index cluster"), "{err}");
    drop(index);
    let index = Index::set_topics(root, topics_for(&Index::open(root).unwrap())).unwrap();
    let err = index
        .run(&request(Mode::Dense, "x", &axis(0), Some(3)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no topic 3: the index has 3 topics (0 to 2)"
    );
    drop(index);
    // Topics made before a change are refused, naming both generations.
    let err = Index::set_topics(root, stale).err().unwrap().to_string();
    assert!(
        err.contains("generation 1") && err.contains("generation 2"),
        "{err}"
    );
    // A damaged topics file: the index does not open, and says which file.
    let live = root.join(std::fs::read_to_string(root.join("CURRENT")).unwrap());
    std::fs::write(live.join("topics.json"), b"{\"method\": 3").unwrap();
    let err = Index::open(root).err().unwrap().to_string();
    assert!(
        err.contains("topics.json") && err.contains("corrupt"),
        "{err}"
    );
    std::fs::remove_file(live.join("topics.json")).unwrap();
    let err = Index::open(root).err().unwrap().to_string();
    assert!(
        err.contains("topics.json") && err.contains("cannot be read"),
        "{err}"
    );
}
