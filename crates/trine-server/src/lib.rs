//! trine's HTTP server: `POST /search`, `GET /documents/{id}`, `POST /embed`,
//! `POST /v1/embeddings` (OpenAI-compatible), `GET /health`, `GET /metrics` (Prometheus),
//! `GET /topics`, `GET /topics/{id}` and the topic map (an index clustered into topics) and a
//! search page at `/`, over one live index and the model that built it; with a write token,
//! `POST /documents` (upsert), `DELETE /documents/{id}` and `POST /documents/delete`.
//!
//! Every error is JSON (`{"error": "..."}`): malformed JSON, unknown fields or parameters out of
//! range 400, a write without the token 401 (403 when writes are off), unknown documents or
//! topics 404, requests over the time limit 408, another writer busy 409, bodies or batches over
//! the limits 413.

pub mod api;
mod batcher;
mod error;
mod metrics;
mod state;
pub mod topics;
pub mod writes;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use state::{AppState, DenseSettings, Limits};

/// The application's routes with limits, a time limit per request (408, JSON) and metrics.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(api::page))
        .route("/search", post(api::search))
        .route("/documents", post(writes::upsert))
        .route("/documents/delete", post(writes::delete_many))
        .route(
            "/documents/{id}",
            get(api::document).delete(writes::delete_one),
        )
        .route("/embed", post(api::embed))
        .route("/v1/embeddings", post(api::openai_embeddings))
        .route("/topics", get(topics::list))
        .route("/topics/map.svg", get(topics::map_svg))
        .route("/topics/map.png", get(topics::map_png))
        .route("/topics/{id}", get(topics::one))
        .route("/health", get(api::health))
        .route("/metrics", get(api::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), record))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such route".into(),
    }
}

async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let response = match tokio::time::timeout(state.limits.timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the request took longer than {:.1} s",
                state.limits.timeout.as_secs_f64()
            ),
        }
        .into_response(),
    };
    state.metrics.observe(
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
