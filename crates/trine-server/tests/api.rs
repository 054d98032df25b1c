//! The server over a real socket: every route, and a table of bad requests that must get JSON
//! errors with the right status (and never take the server down).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use trine_corpus::Document;
use trine_encoder::tiny::{write_tiny_model, TinySpec};
use trine_encoder::{Encoder, EncoderOptions};
use trine_index::{Index, ModelInfo};
use trine_server::{AppState, Limits};

struct Server {
    addr: SocketAddr,
    root: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn start() -> Server {
    start_with(Limits {
        max_body_bytes: 4096,
        max_batch: 4,
        max_text_chars: 500,
        ..Limits::default()
    })
}

fn start_with(limits: Limits) -> Server {
    start_full(limits, None)
}

const TOKEN: &str = "s3cret";

fn start_full(limits: Limits, token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny");
    write_tiny_model(&model, &TinySpec::default()).unwrap();
    let encoder = Encoder::load(&model, EncoderOptions::default()).unwrap();
    let docs: Vec<Document> = [
        (
            "d1",
            "Running shoes",
            "Lightweight shoes for runners who run daily.",
        ),
        (
            "d2",
            "Cooking pasta",
            "Boil the water, add salt, then the pasta.",
        ),
        (
            "d3",
            "Marathon training",
            "Long runs build endurance for the marathon.",
        ),
    ]
    .iter()
    .map(|(id, t, x)| Document {
        id: id.to_string(),
        title: t.to_string(),
        text: x.to_string(),
    })
    .collect();
    let texts: Vec<String> = docs.iter().map(Document::full_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = encoder.encode(&refs, &mut |_| {}).unwrap();
    let info = ModelInfo {
        name: "tiny".into(),
        fingerprint: encoder.fingerprint().unwrap().to_string(),
        dim: encoder.dim(),
        ..Default::default()
    };
    let root = dir.path().join("idx");
    let index = Index::build(&root, &docs, &vectors, info, false).unwrap();
    let state = AppState::new(index, encoder, limits)
        .unwrap()
        .with_write_token(token.map(String::from));
    let state = Arc::new(state);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            state.watch(std::time::Duration::from_millis(50));
            trine_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
    });
    Server {
        addr,
        root,
        stop: Some(stop),
        thread: Some(thread),
        _dir: dir,
    }
}

/// One HTTP/1.1 request; returns the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    request_with(addr, method, path, body, "")
}

/// [`request`] with extra header lines (each ending in `\r\n`).
fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = request(addr, "POST", path, Some(body.as_bytes()));
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

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
