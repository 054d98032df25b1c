//! Prometheus metrics: requests and latency by route and status, the encoder's batch sizes, and
//! the index's size.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The server's metric families.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    documents: IntGauge,
    bytes: IntGauge,
    batch_sizes: Histogram,
}

impl Metrics {
    /// Registers the families; `documents` and `index_bytes` describe the served index.
    pub fn new(documents: usize, index_bytes: u64) -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "trine_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "trine_http_request_duration_seconds",
                "Request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let docs = IntGauge::new("trine_index_documents", "Documents in the served index")
            .expect("valid metric");
        docs.set(documents as i64);
        let bytes = IntGauge::new(
            "trine_index_size_bytes",
            "Bytes of the served index on disk",
        )
        .expect("valid metric");
        bytes.set(index_bytes as i64);
        let batch_sizes = Histogram::with_opts(
            HistogramOpts::new(
                "trine_encoder_batch_texts",
                "Texts the encoder ran in one batch (requests queued together)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(docs.clone()),
            Box::new(bytes.clone()),
            Box::new(batch_sizes.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            documents: docs,
            bytes,
            batch_sizes,
        }
    }

    /// The histogram the encoder's batching thread records each batch's size in.
    pub fn batch_sizes(&self) -> Histogram {
        self.batch_sizes.clone()
    }

    /// The served index changed (a new generation went live).
    pub fn set_documents(&self, documents: usize, index_bytes: u64) {
        self.documents.set(documents as i64);
        self.bytes.set(index_bytes as i64);
    }

    /// Records one finished request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).expect("UTF-8 metrics")
    }
}
