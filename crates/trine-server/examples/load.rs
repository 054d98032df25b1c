//! A bounded HTTP load test for `trine serve`: N requests from C concurrent keep-alive clients,
//! cycling through a queries file; reports throughput, latency percentiles and errors as JSON.
//!
//! ```text
//! cargo run --release -p trine-server --example load -- --addr 127.0.0.1:7700 \
//!     --queries queries.jsonl [--requests 10000] [--clients 16] [--mode hybrid] [--out FILE]
//!     [--upserts 1000 --deletes 500 --token T]
//! ```
//!
//! With `--upserts`, one more client writes while the searches run: batches of 10 new documents
//! through `POST /documents`, then `--deletes` of them through `POST /documents/delete`; the
//! report adds the write errors and whether the final document count is exact.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// Sends one search on a keep-alive connection; returns the status.
fn post(conn: &mut BufReader<TcpStream>, body: &str) -> std::io::Result<u16> {
    send(conn, "POST", "/search", body, "").map(|r| r.0)
}

/// Sends one request on a keep-alive connection; returns the status and the body.
fn send(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &str,
    headers: &str,
) -> std::io::Result<(u16, String)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: load\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    let s = conn.get_mut();
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Documents the server holds now.
fn documents(addr: &str) -> u64 {
    let mut conn = BufReader::new(TcpStream::connect(addr).expect("connect"));
    let (_, body) = send(&mut conn, "GET", "/health", "", "").expect("health");
    let v: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    v["documents"].as_u64().expect("documents")
}

/// Upserts `upserts` new documents in batches of 10, then deletes the first `deletes` of them;
/// returns (write requests, errors).
fn write(addr: &str, upserts: usize, deletes: usize, token: &str) -> (usize, usize) {
    let mut conn = BufReader::new(TcpStream::connect(addr).expect("connect"));
    let auth = format!("authorization: Bearer {token}\r\n");
    let (mut sent, mut errors) = (0, 0);
    let mut call = |path: &str, body: String| {
        sent += 1;
        match send(&mut conn, "POST", path, &body, &auth) {
            Ok((200, _)) => {}
            Ok((status, text)) => {
                errors += 1;
                eprintln!("write {path}: {status} {text}");
            }
            Err(e) => {
                errors += 1;
                eprintln!("write {path}: {e}");
            }
        }
    };
    for start in (0..upserts).step_by(10) {
        let docs: Vec<_> = (start..(start + 10).min(upserts))
            .map(|i| {
                serde_json::json!({"id": format!("load-{i}"), "title": "Load test",
                "text": format!("document {i} written while searches run")})
            })
            .collect();
        call(
            "/documents",
            serde_json::json!({"documents": docs}).to_string(),
        );
    }
    for start in (0..deletes).step_by(10) {
        let ids: Vec<_> = (start..(start + 10).min(deletes))
            .map(|i| format!("load-{i}"))
            .collect();
        call(
            "/documents/delete",
            serde_json::json!({"ids": ids}).to_string(),
        );
    }
    (sent, errors)
}

fn main() {
    let addr = arg("--addr", "127.0.0.1:7700");
    let requests: usize = arg("--requests", "10000").parse().expect("--requests");
    let clients: usize = arg("--clients", "16").parse().expect("--clients");
    let mode = arg("--mode", "hybrid");
    let upserts: usize = arg("--upserts", "0").parse().expect("--upserts");
    let deletes: usize = arg("--deletes", "0").parse().expect("--deletes");
    let token = arg("--token", "");
    let initial = documents(&addr);
    let queries: Vec<String> = std::fs::read_to_string(arg("--queries", "queries.jsonl"))
        .expect("--queries file")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    assert!(!queries.is_empty(), "no queries");
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let start = Instant::now();
    let writer = (upserts > 0).then(|| {
        let (addr, token) = (addr.clone(), token.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let (sent, errors) = write(&addr, upserts, deletes.min(upserts), &token);
            (sent, errors, t.elapsed().as_secs_f64())
        })
    });
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (next, errors, latencies, queries) = (
                Arc::clone(&next),
                Arc::clone(&errors),
                Arc::clone(&latencies),
                queries.clone(),
            );
            let (addr, mode) = (addr.clone(), mode.clone());
            std::thread::spawn(move || {
                let connect = || BufReader::new(TcpStream::connect(&addr).expect("connect"));
                let mut conn = connect();
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let body = serde_json::json!({"query": queries[i % queries.len()], "mode": mode, "k": 10})
                        .to_string();
                    let t = Instant::now();
                    match post(&mut conn, &body) {
                        Ok(200) => {}
                        Ok(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            conn = connect();
                        }
                    }
                    mine.push(t.elapsed().as_secs_f64() * 1e3);
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let writes = writer.map(|w| {
        let (sent, errors, seconds) = w.join().unwrap();
        let expected = initial + upserts as u64 - deletes.min(upserts) as u64;
        let last = documents(&addr);
        serde_json::json!({"upserts": upserts, "deletes": deletes.min(upserts), "requests": sent,
            "errors": errors, "seconds": seconds, "documents_before": initial,
            "documents_after": last, "count_exact": last == expected})
    });
    let mut ms = latencies.lock().unwrap().clone();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let report = serde_json::json!({
        "requests": ms.len(),
        "clients": clients,
        "mode": mode,
        "seconds": secs,
        "requests_per_s": ms.len() as f64 / secs,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": ms[ms.len() - 1],
        "errors": errors.load(Ordering::Relaxed),
        "writes": writes,
    });
    let text = serde_json::to_string_pretty(&report).expect("json");
    println!("{text}");
}
