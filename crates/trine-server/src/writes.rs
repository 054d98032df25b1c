//! Writes over HTTP, as Qdrant and Meilisearch users expect: upsert a batch of documents, delete
//! one or many. Each write is one new generation (encoded here, then added to the lexical and
//! dense parts together) and needs the write token; reads stay open.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use trine_corpus::Document;
use trine_index::{AddPolicy, Index};

use crate::error::ApiError;
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

/// One document of `POST /documents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

/// `POST /documents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertRequest {
    pub documents: Vec<NewDocument>,
}

/// `POST /documents/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    pub ids: Vec<String>,
}

fn check_documents(state: &AppState, docs: &[NewDocument]) -> Result<(), ApiError> {
    if docs.is_empty() {
        return Err(ApiError::bad_request("no documents"));
    }
    if docs.len() > state.limits.max_documents {
        return Err(ApiError::too_large(format!(
            "{} documents; the limit is {} a request",
            docs.len(),
            state.limits.max_documents
        )));
    }
    let mut seen = HashSet::new();
    for (i, d) in docs.iter().enumerate() {
        if d.id.trim().is_empty() {
            return Err(ApiError::bad_request(format!("documents[{i}]: empty id")));
        }
        if (d.title.clone() + &d.text).trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "documents[{i}] (`{}`): empty title and text",
                d.id
            )));
        }
        if !seen.insert(d.id.as_str()) {
            return Err(ApiError::bad_request(format!(
                "documents[{i}]: id `{}` appears twice in the request",
                d.id
            )));
        }
    }
    Ok(())
}

fn counts(index: &Index) -> serde_json::Value {
    json!({"documents": index.len(), "generation": index.manifest().generation})
}

/// `POST /documents`: adds the documents, replacing those whose ids exist.
pub async fn upsert(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Json<UpsertRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    state.authorize(&headers)?;
    let Json(req) = body?;
    check_documents(&state, &req.documents)?;
    let docs: Vec<Document> = req
        .documents
        .into_iter()
        .map(|d| Document {
            id: d.id,
            title: d.title,
            text: d.text,
        })
        .collect();
    let chunking = state
        .with_index(|index| Ok(index.manifest().chunking))
        .await?;
    let (vectors, chunks) = state
        .encode_documents(docs.iter().map(Document::full_text).collect(), chunking)
        .await?;
    let n = docs.len();
    let summary = state
        .write(move |root, current| {
            let model = current.manifest().model.clone();
            let index = Index::add_chunked(
                root,
                &docs,
                &vectors,
                chunks.as_ref(),
                &model,
                AddPolicy::Replace,
            )?;
            let out = counts(&index);
            Ok((index, out))
        })
        .await?;
    Ok(Json(json!({"upserted": n, "index": summary})))
}

/// `DELETE /documents/{id}`: 404 when the id is not in the index.
pub async fn delete_one(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.authorize(&headers)?;
    delete(&state, vec![id], true).await
}

/// `POST /documents/delete`: removes the ids found, reports the ones that were not.
pub async fn delete_many(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Json<DeleteRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    state.authorize(&headers)?;
    let Json(req) = body?;
    if req.ids.is_empty() {
        return Err(ApiError::bad_request("no ids"));
    }
    delete(&state, req.ids, false).await
}

async fn delete(
    state: &Arc<AppState>,
    ids: Vec<String>,
    missing_is_404: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let out = state
        .write(move |root, current| {
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| current.row_of(id).is_none())
                .cloned()
                .collect();
            if missing_is_404 && !missing.is_empty() {
                return Err(crate::api::not_found(&missing[0]));
            }
            let (index, removed) = Index::delete(root, &ids)?;
            let out = json!({"deleted": removed, "missing": missing, "index": counts(&index)});
            Ok((index, out))
        })
        .await?;
    Ok(Json(out))
}
