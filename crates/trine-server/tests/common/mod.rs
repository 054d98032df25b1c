//! The server over a real socket, for the integration tests: a tiny-model index of three
//! documents served on a free port, and raw HTTP/1.1 requests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use trine_corpus::Document;
use trine_encoder::tiny::{write_tiny_model, TinySpec};
use trine_encoder::{Encoder, EncoderOptions};
use trine_index::{Index, ModelInfo};
use trine_server::{AppState, Limits};

pub struct Server {
    pub addr: SocketAddr,
    pub root: std::path::PathBuf,
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

pub fn start() -> Server {
    start_with(Limits {
        max_body_bytes: 4096,
        max_batch: 4,
        max_text_chars: 500,
        ..Limits::default()
    })
}

pub fn start_with(limits: Limits) -> Server {
    start_full(limits, None)
}

pub const TOKEN: &str = "s3cret";

pub fn start_full(limits: Limits, token: Option<&str>) -> Server {
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
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    request_with(addr, method, path, body, "")
}

/// [`request`] with extra header lines (each ending in `\r\n`).
pub fn request_with(
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

pub fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, body) = request(addr, "POST", path, Some(body.as_bytes()));
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}
