//! `trine serve`: the HTTP API and search page over one index.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use trine_index::Index;
use trine_server::{AppState, DenseSettings, Limits};

use super::shared;
use crate::cli::ServeArgs;

pub fn run(a: &ServeArgs) -> anyhow::Result<()> {
    let mut index = Index::open(&a.index)?;
    shared::apply_dense_args(&mut index, &a.dense)?;
    let dense = DenseSettings {
        exact: a.dense.exact,
        ef: a.dense.ef,
    };
    let encoder = shared::load_encoder(&a.model)?;
    index.check_model(&trine_pipeline::model_info(&encoder)?)?;
    let limits = Limits {
        max_body_bytes: a.max_body_bytes,
        max_batch: a.max_batch,
        max_k: a.max_k,
        timeout: Duration::from_secs(a.timeout_secs),
        concurrent_encodes: a.concurrent_encodes,
        max_batch_texts: a.max_batch_texts,
        ..Limits::default()
    };
    let documents = index.len();
    let writes = a.write_token.is_some();
    let state = AppState::new(index, encoder, limits)
        .context("starting the encoder's batching thread")?
        .with_write_token(a.write_token.clone())
        .with_dense(dense)?;
    let state = Arc::new(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        eprintln!(
            "serving {} ({documents} documents) on http://{}; writes {}",
            a.index.display(),
            listener.local_addr()?,
            if writes {
                "on (with the write token)"
            } else {
                "off (no --write-token)"
            }
        );
        state.watch(Duration::from_millis(a.reload_ms.max(10)));
        trine_server::serve(listener, state, trine_server::shutdown_signal()).await?;
        eprintln!("shut down");
        anyhow::Ok(())
    })
}
