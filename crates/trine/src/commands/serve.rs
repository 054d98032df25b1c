//! `trine serve`: the HTTP API and search page over one index.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use trine_index::Index;
use trine_server::{AppState, Limits};

use super::{retrieve, shared};
use crate::cli::ServeArgs;

pub fn run(a: &ServeArgs) -> anyhow::Result<()> {
    let mut index = Index::open(&a.index)?;
    shared::apply_dense_args(&mut index, &a.dense)?;
    let encoder = shared::load_encoder(&a.model)?;
    index.check_model(&retrieve::model_info(&encoder)?)?;
    let limits = Limits {
        max_body_bytes: a.max_body_bytes,
        max_batch: a.max_batch,
        max_k: a.max_k,
        timeout: Duration::from_secs(a.timeout_secs),
        concurrent_encodes: a.concurrent_encodes,
        ..Limits::default()
    };
    let documents = index.len();
    let state = Arc::new(AppState::new(index, encoder, limits));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        eprintln!(
            "serving {} ({documents} documents) on http://{}",
            a.index.display(),
            listener.local_addr()?
        );
        trine_server::serve(listener, state, trine_server::shutdown_signal()).await?;
        eprintln!("shut down");
        anyhow::Ok(())
    })
}
