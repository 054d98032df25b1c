//! Topics over HTTP: `GET /topics`, `GET /topics/{id}`, the map, and topic filters and facets
//! in `POST /search`, with the 404s an index without topics (or an unknown topic) gets.

use std::net::SocketAddr;

use trine_index::Index;

mod common;
use common::{post, request, start, Server};

fn get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = request(addr, "GET", path, None);
    (status, serde_json::from_str(&body).unwrap())
}

/// Stores two topics in the served index (running: d1, d3; cooking: d2) and waits until the
/// server serves them.
fn store_topics(server: &Server) {
    let index = Index::open(&server.root).unwrap();
    let dim = index.manifest().model.dim;
    let labels = vec![Some(0), Some(1), Some(0)];
    let centre = |rows: &[usize]| {
        let mut c = vec![0f32; dim];
        for &r in rows {
            c.iter_mut()
                .zip(index.vector(r).iter())
                .for_each(|(c, v)| *c += v);
        }
        trine_index::dense::unit(&c)
    };
    let topic = |id: usize, rows: &[usize], words: &[&str]| trine_index::Topic {
        id,
        keywords: words.iter().map(|w| w.to_string()).collect(),
        representatives: rows.iter().map(|&r| index.document(r).id.clone()).collect(),
        centroid: centre(rows),
        size_at_clustering: rows.len(),
        cohesion: 0.9,
        added: 0,
        added_score_sum: 0.0,
        parents: vec![],
    };
    let topics = vec![
        topic(0, &[0, 2], &["run", "marathon"]),
        topic(1, &[1], &["pasta"]),
    ];
    let scores = (0..3)
        .map(|r| {
            let c = &topics[labels[r].unwrap()].centroid;
            index.vector(r).iter().zip(c).map(|(a, b)| a * b).sum()
        })
        .collect();
    let input = trine_index::TopicsInput {
        method: "by hand".into(),
        generation: index.manifest().generation,
        topics,
        labels,
        scores,
        levels: vec![],
        map: Some(trine_index::TopicMap {
            svg: b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            png: b"\x89PNG\r\n\x1a\nnot really".to_vec(),
        }),
    };
    drop(index);
    let generation = Index::set_topics(&server.root, input)
        .unwrap()
        .manifest()
        .generation;
    let start = std::time::Instant::now();
    while get(server.addr, "/health").1["generation"].as_u64() != Some(generation) {
        assert!(
            start.elapsed().as_secs() < 10,
            "the topics were never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn topics_are_listed_filter_searches_and_come_back_as_facets() {
    let server = start();
    let a = server.addr;
    // Without topics: 404s that say how to make them; searches carry no facets.
    let (s, v) = get(a, "/topics");
    assert_eq!(s, 404);
    assert!(
        v["error"].as_str().unwrap().contains("trine index cluster"),
        "{v}"
    );
    assert_eq!(get(a, "/topics/map.png").0, 404);
    let (s, _) = post(a, "/search", r#"{"query": "marathon", "topic": 0}"#);
    assert_eq!(s, 404);
    let (s, v) = post(a, "/search", r#"{"query": "marathon"}"#);
    assert_eq!(s, 200);
    assert!(
        v["facets"].is_null() && v["hits"][0].get("topic").is_none(),
        "{v}"
    );

    store_topics(&server);
    let (s, v) = get(a, "/topics");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["topics"][0]["size"], 2);
    assert_eq!(v["topics"][1]["keywords"], serde_json::json!(["pasta"]));
    let (s, v) = get(a, "/topics/0?limit=1");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["size"], 2);
    assert_eq!(
        v["documents"].as_array().unwrap().len(),
        1,
        "one page of one"
    );
    let (_, all) = get(a, "/topics/0");
    let scores: Vec<f64> = all["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores[0] >= scores[1],
        "nearest the centre first: {scores:?}"
    );
    assert_eq!(v["documents"][0], all["documents"][0]);
    assert_eq!(all["representatives"][1]["id"], "d3");
    for (path, status) in [
        ("/topics/2", 404),
        ("/topics/x", 404),
        ("/topics/0?limit=0", 400),
    ] {
        let (s, v) = get(a, path);
        assert_eq!(s, status, "{path}: {v}");
    }
    assert_eq!(
        get(a, "/topics/2").1["error"],
        "no topic `2`: the index has 2 topics (0 to 1)"
    );

    // Every hit says its topic; facets count all three documents; a filter keeps its topic's.
    for mode in ["lexical", "dense", "hybrid"] {
        let q = format!(r#"{{"query": "marathon pasta run", "mode": "{mode}"}}"#);
        let (s, v) = post(a, "/search", &q);
        assert_eq!(s, 200, "{v}");
        let facets = v["facets"].as_array().unwrap().clone();
        let total: u64 = facets.iter().map(|f| f["count"].as_u64().unwrap()).sum();
        assert_eq!(
            total,
            v["hits"].as_array().unwrap().len() as u64,
            "{mode}: {v}"
        );
        let q = format!(r#"{{"query": "marathon pasta run", "mode": "{mode}", "topic": 0}}"#);
        let (s, f) = post(a, "/search", &q);
        assert_eq!(s, 200, "{f}");
        assert_eq!(
            f["facets"].as_array().unwrap(),
            &facets,
            "{mode}: facets ignore the filter"
        );
        let hits = f["hits"].as_array().unwrap();
        assert!(
            !hits.is_empty() && hits.iter().all(|h| h["topic"] == 0),
            "{mode}: {f}"
        );
        assert!(hits.iter().all(|h| h["id"] != "d2"));
    }
    let (s, v) = post(a, "/search", r#"{"query": "pasta", "topic": 5}"#);
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (404, "no topic 5: the index has 2 topics (0 to 1)")
    );
    let (s, body) = request(a, "GET", "/topics/map.png", None);
    assert_eq!((s, body.starts_with("\u{FFFD}PNG")), (200, true), "{body}");
    let (s, body) = request(a, "GET", "/topics/map.svg", None);
    assert_eq!(
        (s, body.as_str()),
        (200, "<svg xmlns='http://www.w3.org/2000/svg'/>")
    );
    let (s, v) = post(a, "/search", r#"{"query": "pasta", "facets": false}"#);
    assert_eq!(s, 200);
    assert!(
        v["facets"].is_null() && v["hits"][0]["topic"].is_u64(),
        "{v}"
    );
}
