//! Request and response bodies and the route handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use trine_encoder::Role;
use trine_index::{Fusion, Mode, Request};

use crate::error::ApiError;
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

/// `POST /search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// Fusion for hybrid search, e.g. `{"method": "convex", "alpha": 0.6}`; default: the index's.
    #[serde(default)]
    pub fusion: Option<Fusion>,
    #[serde(default = "default_candidates")]
    pub candidates: usize,
    /// Only documents of this topic (an index with topics).
    #[serde(default)]
    pub topic: Option<usize>,
    /// Topic counts of the unfiltered top candidates; default: on when the index has topics.
    #[serde(default)]
    pub facets: Option<bool>,
}

fn default_k() -> usize {
    10
}
fn default_mode() -> Mode {
    Mode::Hybrid
}
fn default_candidates() -> usize {
    100
}

/// One retriever's view of a hit.
#[derive(Debug, Serialize)]
pub struct RetrieverScore {
    pub score: Option<f32>,
    pub rank: Option<usize>,
}

/// A search hit.
#[derive(Debug, Serialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    /// HTML: text escaped, query matches in `<b>`.
    pub snippet: String,
    pub score: f32,
    pub lexical: RetrieverScore,
    pub dense: RetrieverScore,
    /// The chunk that matched best, when the index splits documents (dense and hybrid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<trine_index::BestChunk>,
    /// Its topic, when the index has topics (`null`: in none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Option<usize>>,
}

fn check_text(state: &AppState, text: &str, what: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(format!("{what} is empty")));
    }
    let n = text.chars().count();
    if n > state.limits.max_text_chars {
        return Err(ApiError::too_large(format!(
            "{what} has {n} characters; the limit is {}",
            state.limits.max_text_chars
        )));
    }
    Ok(())
}

/// `POST /search`: hits with snippets, fused score and each retriever's score and rank.
pub async fn search(
    State(state): Shared,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(req) = body?;
    check_text(&state, &req.query, "query")?;
    if req.k > state.limits.max_k {
        return Err(ApiError::bad_request(format!(
            "k must be at most {}",
            state.limits.max_k
        )));
    }
    if req.candidates > state.limits.max_candidates {
        return Err(ApiError::bad_request(format!(
            "candidates must be at most {}",
            state.limits.max_candidates
        )));
    }
    let start = Instant::now();
    let vector = match req.mode {
        Mode::Lexical => Vec::new(),
        _ => state.encode(vec![req.query.clone()], Role::Query).await?.0,
    };
    let (hits, facets, fusion, generation) = state
        .with_index(move |index| {
            let fusion = req.fusion.unwrap_or(index.manifest().fusion);
            let topics = index.topics();
            let results = index.run(&Request {
                mode: req.mode,
                text: &req.query,
                vector: &vector,
                k: req.k,
                candidates: req.candidates,
                fusion,
                topic: req.topic,
                facets: req.facets.unwrap_or(topics.is_some()),
            })?;
            let facets = results
                .facets
                .map(|f| crate::topics::facets_json(index, &f));
            let q = (!vector.is_empty()).then(|| trine_index::dense::unit(&vector));
            let hits = results
                .hits
                .into_iter()
                .map(|h| {
                    let d = index.document(h.row);
                    Ok(Hit {
                        id: d.id.clone(),
                        title: d.title.clone(),
                        snippet: index.snippet(&req.query, h.row, 240)?,
                        score: h.score,
                        lexical: RetrieverScore {
                            score: h.lexical_score,
                            rank: h.lexical_rank,
                        },
                        dense: RetrieverScore {
                            score: h.dense_rank.map(|_| h.dense_score),
                            rank: h.dense_rank,
                        },
                        chunk: q.as_ref().and_then(|q| index.best_chunk(q, h.row)),
                        topic: topics.map(|t| t.of(h.row)),
                    })
                })
                .collect::<Result<Vec<Hit>, ApiError>>()?;
            let generation = index.manifest().generation;
            Ok((
                hits,
                facets,
                (req.mode == Mode::Hybrid).then_some(fusion),
                generation,
            ))
        })
        .await?;
    Ok(Json(json!({
        "hits": hits,
        "facets": facets,
        "topic": req.topic,
        "mode": req.mode,
        "fusion": fusion,
        "generation": generation,
        "took_ms": start.elapsed().as_secs_f64() * 1e3,
    })))
}

/// `GET /documents/{id}`.
pub async fn document(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let index = state.index();
    let row = index.row_of(&id).ok_or_else(|| not_found(&id))?;
    let d = index.document(row);
    Ok(Json(json!({"id": d.id, "title": d.title, "text": d.text})))
}

/// 404 for a document id the index does not hold.
pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        message: format!("no document with id `{id}`"),
    }
}

/// One text or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Inputs {
    One(String),
    Many(Vec<String>),
}

impl Inputs {
    fn into_vec(self) -> Vec<String> {
        match self {
            Inputs::One(s) => vec![s],
            Inputs::Many(v) => v,
        }
    }
}

/// `POST /embed` (text-embeddings-inference style).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    pub inputs: Inputs,
    /// One of the model's prompts (`config_sentence_transformers.json`), as
    /// text-embeddings-inference takes it; without it, the model's default prompt.
    #[serde(default)]
    pub prompt_name: Option<String>,
}

/// The prompt a request names (400 when the model has no such prompt), else the default one.
fn request_prompt(state: &AppState, name: Option<&str>) -> Result<Option<String>, ApiError> {
    match name {
        Some(n) => Ok(Some(
            state
                .encoder
                .folder()
                .prompt(n)
                .map_err(|e| ApiError::bad_request(format!("prompt_name: {e}")))?
                .to_string(),
        )),
        None => Ok(state.encoder.prompt_for(Role::Plain).map(str::to_string)),
    }
}

fn check_batch(state: &AppState, texts: &[String]) -> Result<(), ApiError> {
    if texts.is_empty() {
        return Err(ApiError::bad_request("no inputs"));
    }
    if texts.len() > state.limits.max_batch {
        return Err(ApiError::too_large(format!(
            "{} inputs; the limit is {}",
            texts.len(),
            state.limits.max_batch
        )));
    }
    for t in texts {
        let n = t.chars().count();
        if n > state.limits.max_text_chars {
            return Err(ApiError::too_large(format!(
                "an input has {n} characters; the limit is {}",
                state.limits.max_text_chars
            )));
        }
    }
    Ok(())
}

fn rows(values: Vec<f32>, dim: usize) -> Vec<Vec<f32>> {
    values.chunks(dim).map(<[f32]>::to_vec).collect()
}

/// `POST /embed`: `[[f32]]`, one unit vector per input.
pub async fn embed(
    State(state): Shared,
    body: Result<Json<EmbedRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(req) = body?;
    let texts = req.inputs.into_vec();
    check_batch(&state, &texts)?;
    let prompt = request_prompt(&state, req.prompt_name.as_deref())?;
    let (values, _) = state.encode_prompted(texts, prompt).await?;
    Ok(Json(rows(values, state.encoder.dim())))
}

/// `POST /v1/embeddings` (OpenAI-compatible).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiRequest {
    pub input: Inputs,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

/// `POST /v1/embeddings`: OpenAI's response shape.
pub async fn openai_embeddings(
    State(state): Shared,
    body: Result<Json<OpenAiRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(req) = body?;
    if let Some(f) = req.encoding_format.as_deref() {
        if f != "float" {
            return Err(ApiError::bad_request(format!(
                "encoding_format `{f}` is not supported (use \"float\")"
            )));
        }
    }
    let texts = req.input.into_vec();
    check_batch(&state, &texts)?;
    let (values, tokens) = state.encode(texts, Role::Plain).await?;
    let data: Vec<_> = rows(values, state.encoder.dim())
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    let total: usize = tokens.iter().sum();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": state.index().manifest().model.name,
        "usage": {"prompt_tokens": total, "total_tokens": total},
    })))
}

/// `GET /health`.
pub async fn health(State(state): Shared) -> impl IntoResponse {
    let index = state.index();
    Json(json!({
        "status": "ok",
        "documents": index.len(),
        "generation": index.manifest().generation,
        "model": index.manifest().model.name,
        "dense": if index.ann().is_some() { "hnsw" } else { "exact" },
    }))
}

/// `GET /metrics` in Prometheus text format.
pub async fn metrics(State(state): Shared) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// `GET /`: the search page.
pub async fn page() -> impl IntoResponse {
    Html(include_str!("page.html"))
}
