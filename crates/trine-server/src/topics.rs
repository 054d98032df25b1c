//! Topic routes: `GET /topics` lists an index's topics with their sizes, keywords and
//! hierarchy; `GET /topics/{id}` gives one topic's keywords, representatives and documents,
//! nearest its centre first, a page at a time; `GET /topics/map.svg` and `/topics/map.png` serve
//! the map drawn with them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use trine_index::{Index, TopicCount};

use crate::error::ApiError;
use crate::state::AppState;

/// Most documents one `GET /topics/{id}` returns.
pub const MAX_PAGE: usize = 1000;

/// `?limit=&offset=` of `GET /topics/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
}

fn default_limit() -> usize {
    20
}

/// A topic's id and title, for lists of its documents.
fn titled(index: &Index, row: usize) -> serde_json::Value {
    let d = index.document(row);
    json!({"id": d.id, "title": d.title})
}

/// Facets with each topic's keywords, as `/search` answers them.
pub(crate) fn facets_json(index: &Index, facets: &[TopicCount]) -> serde_json::Value {
    let topics = index
        .topics()
        .expect("facets come from an index with topics");
    facets
        .iter()
        .map(|f| json!({"topic": f.topic, "count": f.count, "keywords": topics.topics[f.topic].keywords}))
        .collect()
}

/// `GET /topics`.
pub async fn list(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let index = state.index();
    let t = index.require_topics()?;
    let sizes = t.sizes();
    let topics: Vec<_> = t
        .topics
        .iter()
        .map(|x| {
            json!({"id": x.id, "size": sizes[x.id], "keywords": x.keywords, "added": x.added,
                   "drifted": x.drifted(), "parents": x.parents})
        })
        .collect();
    Ok(Json(json!({
        "method": t.method,
        "clustered_at": t.clustered_at,
        "generation": index.manifest().generation,
        "noise": t.noise(),
        "topics": topics,
        "levels": t.levels,
    })))
}

/// `GET /topics/{id}`.
pub async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(page) = page.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if page.limit == 0 || page.limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let index = state.index();
    let t = index.require_topics()?;
    let topic = id
        .parse::<usize>()
        .ok()
        .and_then(|n| t.topics.get(n))
        .ok_or_else(|| ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            message: format!(
                "no topic `{id}`: the index has {} topics (0 to {})",
                t.len(),
                t.len() - 1
            ),
        })?;
    let mut members = t.members(topic.id);
    members.sort_by(|&a, &b| {
        t.score(b)
            .total_cmp(&t.score(a))
            .then_with(|| index.document(a).id.cmp(&index.document(b).id))
    });
    let documents: Vec<_> = members
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|&r| {
            let mut d = titled(&index, r);
            d["score"] = json!(t.score(r));
            d
        })
        .collect();
    let representatives: Vec<_> = topic
        .representatives
        .iter()
        .filter_map(|id| index.row_of(id))
        .map(|r| titled(&index, r))
        .collect();
    Ok(Json(json!({
        "id": topic.id,
        "size": members.len(),
        "keywords": topic.keywords,
        "representatives": representatives,
        "added": topic.added,
        "drifted": topic.drifted(),
        "parents": topic.parents,
        "offset": page.offset,
        "documents": documents,
    })))
}

/// The stored map, or 404.
fn map_part(state: &AppState, svg: bool) -> Result<impl IntoResponse, ApiError> {
    let index = state.index();
    index.require_topics()?;
    let map = index.topic_map().ok_or_else(|| ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        message: "the topics were stored without a map (`trine index cluster --map none`)".into(),
    })?;
    let (kind, bytes) = if svg {
        ("image/svg+xml", map.svg.clone())
    } else {
        ("image/png", map.png.clone())
    };
    Ok(([(header::CONTENT_TYPE, kind)], bytes))
}

/// `GET /topics/map.svg`.
pub async fn map_svg(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    map_part(&state, true)
}

/// `GET /topics/map.png`.
pub async fn map_png(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    map_part(&state, false)
}
