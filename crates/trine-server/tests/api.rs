//! The server over a real socket: every route, and a table of bad requests that must get JSON
//! errors with the right status (and never take the server down).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use trine_corpus::Document;
use trine_index::Index;
use trine_server::Limits;

mod common;
use common::{post, request, request_with, start, start_full, start_with, Server, TOKEN};

#[test]
fn routes_answer_with_real_results() {
    let server = start();
    let a = server.addr;
    let (s, v) = post(
        a,
        "/search",
        r#"{"query": "marathon running", "k": 2, "mode": "lexical"}"#,
    );
    assert_eq!(s, 200, "{v}");
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits[0]["id"], "d3");
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<b>marathon</b>"),
        "{v}"
    );
    assert_eq!(hits[0]["lexical"]["rank"], 1);
    assert!(hits[0]["dense"]["rank"].is_null());
    let (s, v) = post(
        a,
        "/search",
        r#"{"query": "pasta", "mode": "hybrid", "fusion": {"method": "convex", "alpha": 0.5}}"#,
    );
    assert_eq!(s, 200, "{v}");
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h["dense"]["rank"].is_number()));
    assert_eq!(v["fusion"]["method"], "convex");

    let (s, body) = request(a, "GET", "/documents/d2", None);
    assert_eq!(s, 200);
    assert!(body.contains("Cooking pasta"));

    let (s, v) = post(a, "/embed", r#"{"inputs": ["a", "b c"]}"#);
    assert_eq!(s, 200, "{v}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let norm: f64 = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap().powi(2))
        .sum();
    assert!((norm - 1.0).abs() < 1e-4);

    let (s, v) = post(a, "/v1/embeddings", r#"{"input": "hello", "model": "any"}"#);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["index"], 0);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() >= 3);

    let (s, body) = request(a, "GET", "/health", None);
    assert_eq!(s, 200);
    assert!(body.contains("\"ok\""));
    let (s, page) = request(a, "GET", "/", None);
    assert_eq!(s, 200);
    assert!(page.contains("<form id=\"search\""));
    let (s, metrics) = request(a, "GET", "/metrics", None);
    assert_eq!(s, 200);
    assert!(
        metrics.contains("trine_http_requests_total{route=\"/search\",status=\"200\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("trine_index_documents 3"));
    assert!(metrics.contains("trine_http_request_duration_seconds_bucket{route=\"/embed\""));
}

#[test]
fn bad_requests_get_json_errors_and_the_server_stays_up() {
    let server = start();
    let a = server.addr;
    let big = format!(r#"{{"query": "{}"}}"#, "x".repeat(5000));
    let long = format!(r#"{{"query": "{}"}}"#, "y ".repeat(300));
    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("POST", "/search", "{not json".into(), 400),
        (
            "POST",
            "/search",
            r#"{"query": "x", "bogus": 1}"#.into(),
            400,
        ),
        ("POST", "/search", r#"{"k": 3}"#.into(), 400),
        ("POST", "/search", r#"{"query": "   "}"#.into(), 400),
        ("POST", "/search", r#"{"query": "x", "k": 0}"#.into(), 400),
        (
            "POST",
            "/search",
            r#"{"query": "x", "k": 100000}"#.into(),
            400,
        ),
        (
            "POST",
            "/search",
            r#"{"query": "x", "mode": "fuzzy"}"#.into(),
            400,
        ),
        (
            "POST",
            "/search",
            r#"{"query": "x", "fusion": {"method": "convex", "alpha": 7}}"#.into(),
            400,
        ),
        (
            "POST",
            "/search",
            r#"{"query": "x", "fusion": {"method": "magic"}}"#.into(),
            400,
        ),
        (
            "POST",
            "/search",
            r#"{"query": "x", "fusion": {"method": "rrf", "k": -60}}"#.into(),
            400,
        ),
        (
            "POST",
            "/search",
            r#"{"query": "x", "k": 5, "candidates": 2}"#.into(),
            400,
        ),
        (
            "POST",
            "/documents",
            r#"{"documents": [{"id": "n", "text": "new"}]}"#.into(),
            403,
        ),
        ("DELETE", "/documents/d1", String::new(), 403),
        (
            "POST",
            "/documents/delete",
            r#"{"ids": ["d1"]}"#.into(),
            403,
        ),
        ("POST", "/search", r#"{"query": 42}"#.into(), 400),
        ("POST", "/search", r#"[1, 2, 3]"#.into(), 400),
        ("POST", "/search", r#"{"query": "\ud800"}"#.into(), 400),
        ("POST", "/search", big, 413),
        ("POST", "/search", long, 413),
        (
            "POST",
            "/search",
            r#"{"query": "AND OR \"( [ :*"}"#.into(),
            200,
        ),
        ("POST", "/embed", r#"{"inputs": []}"#.into(), 400),
        (
            "POST",
            "/embed",
            r#"{"inputs": ["a", "b", "c", "d", "e"]}"#.into(),
            413,
        ),
        ("POST", "/embed", r#"{"input": "a"}"#.into(), 400),
        (
            "POST",
            "/embed",
            r#"{"inputs": ["a"], "prompt_name": "query"}"#.into(),
            400,
        ),
        (
            "POST",
            "/v1/embeddings",
            r#"{"input": "a", "encoding_format": "base64"}"#.into(),
            400,
        ),
        ("POST", "/v1/embeddings", r#"{"input": null}"#.into(), 400),
        ("GET", "/documents/nope", String::new(), 404),
        ("GET", "/nowhere", String::new(), 404),
    ];
    for (method, path, body, want) in cases {
        let (status, text) = request(a, method, path, Some(body.as_bytes()));
        assert_eq!(status, want, "{method} {path} {body:.80}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        if want != 200 {
            assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{text}");
        }
    }
    let (s, _) = request(a, "GET", "/health", None);
    assert_eq!(s, 200, "still serving after the bad requests");
}

#[test]
fn a_request_over_the_time_limit_gets_408_json() {
    let server = start_with(Limits {
        timeout: std::time::Duration::from_millis(200),
        ..Limits::default()
    });
    // A client that announces a body and stalls halfway through it.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(
        b"POST /search HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{\"query\": ",
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head[9..12], b"408");
    let mut rest = Vec::new();
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let _ = s.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("longer than 0.2 s"), "{text}");
    let (status, _) = request(server.addr, "GET", "/health", None);
    assert_eq!(status, 200);
}

fn write(
    a: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: &str,
) -> (u16, serde_json::Value) {
    let auth = format!("authorization: Bearer {token}\r\n");
    let (status, text) = request_with(a, method, path, Some(body.as_bytes()), &auth);
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, v)
}

fn documents(a: SocketAddr) -> u64 {
    let (_, body) = request(a, "GET", "/health", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["documents"].as_u64().unwrap()
}

#[test]
fn writes_over_http_need_the_token_and_are_served_at_once() {
    let server = start_full(Limits::default(), Some(TOKEN));
    let a = server.addr;
    let upsert = r#"{"documents": [
        {"id": "d4", "title": "Sourdough", "text": "Bread from a sourdough starter."},
        {"id": "d2", "title": "Cooking rice", "text": "Rinse the rice, then simmer."}]}"#;
    let (s, v) = write(a, "POST", "/documents", upsert, "wrong");
    assert_eq!(s, 401, "{v}");
    let (s, v) = write(a, "POST", "/documents", upsert, TOKEN);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upserted"], 2);
    assert_eq!(v["index"]["documents"], 4, "d2 replaced, d4 added");
    let (s, v) = post(
        a,
        "/search",
        r#"{"query": "sourdough bread", "k": 1, "mode": "lexical"}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(v["hits"][0]["id"], "d4", "{v}");
    let (_, body) = request(a, "GET", "/documents/d2", None);
    assert!(body.contains("Cooking rice"), "{body}");

    let bad: Vec<(&str, u16)> = vec![
        (r#"{"documents": []}"#, 400),
        (r#"{"documents": [{"id": "", "text": "x"}]}"#, 400),
        (r#"{"documents": [{"id": "e", "text": "  "}]}"#, 400),
        (
            r#"{"documents": [{"id": "e", "text": "a"}, {"id": "e", "text": "b"}]}"#,
            400,
        ),
        (r#"{"documents": [{"id": "e", "body": "a"}]}"#, 400),
    ];
    for (body, want) in bad {
        let (s, v) = write(a, "POST", "/documents", body, TOKEN);
        assert_eq!(s, want, "{body}: {v}");
    }
    assert_eq!(documents(a), 4, "refused writes change nothing");

    let (s, v) = write(a, "DELETE", "/documents/nope", "", TOKEN);
    assert_eq!(s, 404, "{v}");
    let (s, v) = write(a, "DELETE", "/documents/d1", "", TOKEN);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["deleted"], 1);
    let (s, _) = request(a, "GET", "/documents/d1", None);
    assert_eq!(s, 404);
    let (s, v) = write(
        a,
        "POST",
        "/documents/delete",
        r#"{"ids": ["d3", "nope"]}"#,
        TOKEN,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["deleted"].as_u64(), v["missing"][0].as_str()),
        (Some(1), Some("nope"))
    );
    assert_eq!(documents(a), 2);
    let (s, v) = write(
        a,
        "POST",
        "/documents/delete",
        r#"{"ids": ["d2", "d4"]}"#,
        TOKEN,
    );
    assert_eq!(s, 400, "an index cannot be emptied: {v}");
    assert_eq!(documents(a), 2);
}

#[test]
fn a_generation_written_by_another_process_is_served_without_restart() {
    let server = start();
    let a = server.addr;
    let (s, _) = request(a, "GET", "/documents/d9", None);
    assert_eq!(s, 404);
    let index = Index::open(&server.root).unwrap();
    let model = index.manifest().model.clone();
    let v: Vec<f32> = index.vector(0).to_vec();
    drop(index);
    let doc = Document {
        id: "d9".into(),
        title: "Sailing".into(),
        text: "Boats and wind.".into(),
    };
    Index::add(
        &server.root,
        &[doc],
        &v,
        &model,
        trine_index::AddPolicy::Reject,
    )
    .unwrap();
    let start = std::time::Instant::now();
    while documents(a) != 4 {
        assert!(
            start.elapsed().as_secs() < 10,
            "the new generation was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (s, body) = request(a, "GET", "/documents/d9", None);
    assert_eq!(s, 200, "{body}");
    let (_, metrics) = request(a, "GET", "/metrics", None);
    assert!(metrics.contains("trine_index_documents 4"), "{metrics}");
}

/// Ids of a search's hits, and the generation it ran on.
fn search_ids(a: SocketAddr, body: &str) -> (u64, std::collections::BTreeSet<String>) {
    let (s, v) = post(a, "/search", body);
    assert_eq!(s, 200, "{v}");
    let ids = v["hits"].as_array().unwrap().iter();
    let ids = ids.map(|h| h["id"].as_str().unwrap().to_string()).collect();
    (v["generation"].as_u64().unwrap(), ids)
}

#[test]
fn searches_under_upserts_and_deletes_each_see_one_whole_generation() {
    use std::collections::{BTreeMap, BTreeSet};
    let server = start_full(Limits::default(), Some(TOKEN));
    let a = server.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Lexical hits for "zebra" are exactly the live written documents of the generation.
    let query = r#"{"query": "zebra", "k": 100, "mode": "lexical"}"#;
    let hybrid = r#"{"query": "zebra stripes", "k": 100, "candidates": 100}"#;
    let readers: Vec<_> = (0..16)
        .map(|c| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    seen.push(search_ids(a, query));
                    if c % 4 == 0 {
                        let (s, _) = post(a, "/search", hybrid);
                        assert_eq!(s, 200);
                    }
                }
                seen
            })
        })
        .collect();
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut expected: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    expected.insert(1, live.clone());
    // A minute of writes (TRINE_TEST_WRITE_SECS to change it): each round upserts 5 documents
    // through POST /documents and, from round 10 on, deletes round r − 10's 5 through a batch
    // delete and one DELETE /documents/{id}, so at most 50 are live.
    let secs: u64 = std::env::var("TRINE_TEST_WRITE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let started = std::time::Instant::now();
    let mut round = 0;
    while started.elapsed().as_secs() < secs || round < 12 {
        let docs: Vec<String> = (0..5)
            .map(|i| format!(r#"{{"id": "w{round}-{i}", "text": "zebra stripes number {i}"}}"#))
            .collect();
        let body = format!(r#"{{"documents": [{}]}}"#, docs.join(","));
        let (s, v) = write(a, "POST", "/documents", &body, TOKEN);
        assert_eq!(s, 200, "{v}");
        live.extend((0..5).map(|i| format!("w{round}-{i}")));
        expected.insert(v["index"]["generation"].as_u64().unwrap(), live.clone());
        if round >= 10 {
            let old = round - 10;
            let ids: Vec<String> = (0..4).map(|i| format!("\"w{old}-{i}\"")).collect();
            let body = format!(r#"{{"ids": [{}]}}"#, ids.join(","));
            let (s, v) = write(a, "POST", "/documents/delete", &body, TOKEN);
            assert_eq!((s, &v["deleted"]), (200, &serde_json::json!(4)), "{v}");
            (0..4).for_each(|i| {
                live.remove(&format!("w{old}-{i}"));
            });
            expected.insert(v["index"]["generation"].as_u64().unwrap(), live.clone());
            let (s, v) = write(a, "DELETE", &format!("/documents/w{old}-4"), "", TOKEN);
            assert_eq!(s, 200, "{v}");
            live.remove(&format!("w{old}-4"));
            expected.insert(v["index"]["generation"].as_u64().unwrap(), live.clone());
        }
        round += 1;
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = 0;
    for r in readers {
        for (generation, ids) in r.join().expect("a reader failed") {
            let want = expected
                .get(&generation)
                .expect("an unknown generation was served");
            assert_eq!(&ids, want, "generation {generation}");
            answers += 1;
        }
    }
    assert!(answers > 16, "the readers hardly ran: {answers}");
    println!(
        "{answers} searches over {} generations, each whole",
        expected.len()
    );
    assert_eq!(documents(a) as usize, 3 + live.len(), "final count");
    let (_, ids) = search_ids(a, query);
    assert_eq!(ids, live);
}

/// With dynamic batching on, concurrent `/embed` requests get the answers they get
/// with it off (the same vectors, to float rounding), and the batch sizes reach `/metrics`.
#[test]
fn batched_requests_answer_as_unbatched_ones() {
    let inputs: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"inputs": ["shoes {i}", "a dog ran {i} fast"]}}"#))
        .collect();
    let answers = |server: &Server| -> Vec<serde_json::Value> {
        let a = server.addr;
        let handles: Vec<_> = inputs
            .iter()
            .cloned()
            .map(|body| std::thread::spawn(move || post(a, "/embed", &body)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (status, v) = h.join().unwrap();
                assert_eq!(status, 200, "{v}");
                v
            })
            .collect()
    };
    let plain = answers(&start());
    let batched_server = start_with(Limits {
        max_batch_texts: Some(8),
        ..Limits::default()
    });
    let batched = answers(&batched_server);
    for (p, b) in plain.iter().zip(&batched) {
        let (p, b) = (p.as_array().unwrap(), b.as_array().unwrap());
        assert_eq!(p.len(), b.len());
        for (x, y) in p
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .zip(b.iter().flat_map(|r| r.as_array().unwrap()))
        {
            assert!((x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-5);
        }
    }
    let (_, metrics) = request(batched_server.addr, "GET", "/metrics", None);
    let count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("trine_encoder_batch_texts_count "))
        .expect("batch sizes in /metrics")
        .parse()
        .unwrap();
    assert!(
        count >= 1.0 && count <= inputs.len() as f64,
        "{count} batches"
    );
}
