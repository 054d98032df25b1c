//! A corpus split over four shard indexes, searched through `shards::merge` with the summed BM25
//! statistics, gives the hits of one index over the same documents: the same documents in the
//! same order with the same scores, lexical, dense and hybrid.

mod common;

use rand::{Rng, SeedableRng};
use trine_corpus::Document;
use trine_index::shards::{merge, Candidates, LexicalStats};
use trine_index::synthetic::{unit_vectors, Shape};
use trine_index::{AnnPolicy, BuildOptions, Fusion, Index, Mode};

const DIM: usize = 32;
const N: usize = 400;
const WORDS: &[&str] = &[
    "vitamin", "protein", "cancer", "cell", "gene", "diet", "risk", "trial", "dose", "blood",
    "brain", "heart", "liver", "tumour", "insulin", "obesity", "sleep", "virus", "immune", "bone",
];

/// Documents of 3 to 60 words drawn with a skew, so that terms differ in frequency and
/// documents in length (BM25's idf and length norm both matter).
fn corpus() -> Vec<Document> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    (0..N)
        .map(|i| {
            let len = rng.random_range(3..60);
            let words: Vec<&str> = (0..len)
                .map(|_| {
                    let u: f64 = rng.random();
                    WORDS[((u * u) * WORDS.len() as f64) as usize]
                })
                .collect();
            Document {
                id: format!("d{i:04}"),
                title: String::new(),
                text: words.join(" "),
            }
        })
        .collect()
}

fn build(dir: &std::path::Path, docs: &[Document], vectors: &[f32]) -> Index {
    let options = BuildOptions {
        ann: AnnPolicy::Never,
        ..BuildOptions::default()
    };
    Index::build_with(dir, docs, vectors, common::model(DIM), &options).unwrap()
}

struct Setup {
    _tmp: tempfile::TempDir,
    whole: Index,
    shards: Vec<Index>,
    queries: Vec<f32>,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus();
    let vectors = unit_vectors(
        N + 8,
        DIM,
        Shape::Latent {
            dims: 8,
            noise: 1.0,
        },
        3,
    );
    let (vectors, queries) = vectors.split_at(N * DIM);
    let whole = build(&tmp.path().join("whole"), &docs, vectors);
    // Unequal shards, so that each one's own statistics differ from the corpus's.
    let bounds = [0, 50, 170, 300, N];
    let shards = bounds
        .windows(2)
        .enumerate()
        .map(|(s, w)| {
            build(
                &tmp.path().join(format!("shard-{s}")),
                &docs[w[0]..w[1]],
                &vectors[w[0] * DIM..w[1] * DIM],
            )
        })
        .collect();
    Setup {
        _tmp: tmp,
        whole,
        shards,
        queries: queries.to_vec(),
    }
}

const TEXTS: &[&str] = &[
    "vitamin and cancer risk",
    "insulin obesity sleep",
    "bone",
    "immune virus trial dose",
    "heart liver brain blood gene",
];

/// One search: its mode, text, query vector, hits, candidates and fusion.
#[derive(Clone, Copy)]
struct Ask<'a> {
    mode: Mode,
    text: &'a str,
    q: &'a [f32],
    k: usize,
    n: usize,
    f: Fusion,
}

fn sharded(s: &Setup, a: Ask) -> Vec<(String, f32)> {
    let stats: Vec<LexicalStats> = s
        .shards
        .iter()
        .map(|i| i.lexical_stats(a.text).unwrap())
        .collect();
    let total = LexicalStats::sum(&stats);
    let cands: Vec<Candidates> = s
        .shards
        .iter()
        .map(|i| i.candidates(a.mode, a.text, a.q, a.n, &total).unwrap())
        .collect();
    merge(&cands, a.mode, a.k, a.n, a.f)
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.score))
        .collect()
}

fn whole(s: &Setup, a: Ask) -> Vec<(String, f32)> {
    s.whole
        .search(a.mode, a.text, a.q, a.k, a.n, a.f)
        .unwrap()
        .into_iter()
        .map(|h| (s.whole.document(h.row).id.clone(), h.score))
        .collect()
}

fn assert_same(a: &[(String, f32)], b: &[(String, f32)], what: &str) {
    let ids = |v: &[(String, f32)]| v.iter().map(|h| h.0.clone()).collect::<Vec<_>>();
    assert_eq!(ids(a), ids(b), "{what}: documents");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x.1 - y.1).abs() <= 1e-5 * x.1.abs().max(1.0),
            "{what}: {} scores {} vs {}",
            x.0,
            x.1,
            y.1
        );
    }
}

#[test]
fn four_shards_search_as_one_index() {
    let s = setup();
    let fusions = [
        Fusion::Rrf { k: 60.0 },
        Fusion::Convex { alpha: 0.7 },
        Fusion::Zscore { alpha: 0.4 },
    ];
    for (i, text) in TEXTS.iter().enumerate() {
        let q = &s.queries[i * DIM..(i + 1) * DIM];
        let single = [Mode::Lexical, Mode::Dense].map(|mode| Ask {
            mode,
            text,
            q,
            k: 20,
            n: 20,
            f: Fusion::default(),
        });
        let hybrid = fusions.map(|f| Ask {
            mode: Mode::Hybrid,
            text,
            q,
            k: 10,
            n: 40,
            f,
        });
        for a in single.into_iter().chain(hybrid) {
            let one = whole(&s, a);
            assert_eq!(one.len(), a.k);
            assert_same(
                &sharded(&s, a),
                &one,
                &format!("{:?} {} {text}", a.mode, a.f),
            );
        }
    }
}

/// Without the corpus's statistics each shard's BM25 is on its own scale: the scores differ
/// from one index's, which is why the statistics round exists.
#[test]
fn shard_local_bm25_differs_from_the_corpus() {
    let s = setup();
    let text = TEXTS[0];
    let one = s.whole.search_lexical(text, 1000).unwrap();
    let shard = &s.shards[0];
    let local = shard.search_lexical(text, 5).unwrap();
    let global = shard
        .search_lexical_with(
            text,
            5,
            &LexicalStats::sum(
                &s.shards
                    .iter()
                    .map(|i| i.lexical_stats(text).unwrap())
                    .collect::<Vec<_>>(),
            ),
        )
        .unwrap();
    let score_in_whole = |row: usize| {
        let id = &shard.document(row).id;
        one.iter()
            .find(|h| &s.whole.document(h.0).id == id)
            .unwrap()
            .1
    };
    for &(row, score) in &global {
        assert!((score - score_in_whole(row)).abs() < 1e-5);
    }
    assert!(local
        .iter()
        .any(|&(row, score)| (score - score_in_whole(row)).abs() > 1e-3));
}

#[test]
fn statistics_that_leave_a_shard_out_are_refused() {
    let s = setup();
    let text = TEXTS[1];
    let partial = LexicalStats::sum(&[s.shards[1].lexical_stats(text).unwrap()]);
    let err = s.shards[2]
        .candidates(Mode::Lexical, text, &[], 10, &partial)
        .unwrap_err()
        .to_string();
    assert!(err.contains("this shard alone"), "{err}");
}
