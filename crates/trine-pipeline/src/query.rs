//! A query in, hits out: the query encoded with the index's query prompt by the model the
//! index was built with (checked), then searched.

use trine_encoder::{Encoder, Role};
use trine_index::{Fusion, Index, Mode, ModelInfo, Request, Results};

use crate::{PipelineError, Result};

/// The model facts an index records and checks query vectors against.
pub fn model_info(encoder: &Encoder) -> Result<ModelInfo> {
    Ok(ModelInfo {
        name: encoder.folder().name.clone(),
        fingerprint: encoder.fingerprint()?.to_string(),
        dim: encoder.dim(),
        document_prompt: encoder.prompt_for(Role::Document).map(str::to_string),
        query_prompt: encoder.prompt_for(Role::Query).map(str::to_string),
        truncate_dim: encoder.options().truncate_dim,
    })
}

/// One search: the retriever, how many hits, and how the two retrievers are fused.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    pub mode: Mode,
    pub k: usize,
    /// Candidates each retriever gives fusion (and how many hits facets count).
    pub candidates: usize,
    /// The fusion; `None` takes the one the index stores.
    pub fusion: Option<Fusion>,
    /// Only documents of this topic.
    pub topic: Option<usize>,
    /// Count the topics of the unfiltered candidates.
    pub facets: bool,
}

impl Search {
    /// `k` hits in `mode`, 100 candidates, the index's fusion, no topic filter.
    pub fn new(mode: Mode, k: usize) -> Self {
        Search {
            mode,
            k,
            candidates: 100,
            fusion: None,
            topic: None,
            facets: false,
        }
    }
}

/// Runs one query; returns the hits and the query's vector (empty for lexical search).
/// Dense and hybrid search need `encoder`, which must be the index's model.
pub fn search(
    index: &Index,
    encoder: Option<&Encoder>,
    text: &str,
    s: &Search,
) -> Result<(Results, Vec<f32>)> {
    if text.trim().is_empty() {
        return Err(PipelineError::EmptyQuery);
    }
    let vector = match (s.mode, encoder) {
        (Mode::Lexical, _) => Vec::new(),
        (_, None) => return Err(PipelineError::NeedsModel),
        (_, Some(enc)) => {
            index.check_model(&model_info(enc)?)?;
            enc.encode_as(&[text], Role::Query, &mut |_| {})?
        }
    };
    let results = index.run(&Request {
        mode: s.mode,
        text,
        vector: &vector,
        k: s.k,
        candidates: s.candidates,
        fusion: s.fusion.unwrap_or(index.manifest().fusion),
        topic: s.topic,
        facets: s.facets,
    })?;
    Ok((results, vector))
}
