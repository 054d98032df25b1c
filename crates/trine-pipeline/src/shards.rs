//! One corpus as several indexes (shards) that search as one: built from the corpus in
//! contiguous parts, with vectors from one embeddings file or a folder of them (what
//! `trine.ray.embed` writes), listed in `OUT/shards.json`, and searched by summing the query's
//! BM25 statistics over the shards before each scores its candidates ([`trine_index::shards`]).
//!
//! ```text
//! OUT/shards.json     {"shards": [{"path": "shard-000", "documents": 1296}, ...], "model": ...}
//! OUT/shard-000/      an index, as `trine index build` writes one
//! ```
//!
//! Each shard is written whole or not at all (a new index generation); `shards.json` is
//! written last, so a set without it is unfinished and no search opens it.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trine_corpus::embeddings::{self, Embeddings};
use trine_corpus::{atomic, Document};
use trine_encoder::{Encoder, Role};
use trine_index::shards::{merge, Candidates, LexicalStats, ShardHit};
use trine_index::Index;

use crate::build::{build_from_vectors, build_index};
use crate::embed::embeddings_match;
use crate::{model_info, BuildSpec, PipelineError, Progress, Result, Search};

/// The file that lists a shard set.
pub const SHARDS_FILE: &str = "shards.json";

/// One shard of a set, as `shards.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// Its folder, relative to the set's.
    pub path: String,
    pub documents: usize,
}

/// What `shards.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSet {
    pub shards: Vec<ShardEntry>,
    /// The model the shards were built with.
    pub model: String,
    pub fingerprint: String,
}

/// The folder of shard `i` in the set at `out`.
pub fn shard_dir(out: &Path, i: usize) -> PathBuf {
    out.join(format!("shard-{i:03}"))
}

/// The rows of each of `shards` contiguous, near-equal parts of `n` documents.
pub fn shard_ranges(n: usize, shards: usize) -> Result<Vec<Range<usize>>> {
    if shards == 0 || shards > n {
        return Err(PipelineError::Shards {
            message: format!("cannot split {n} documents into {shards} shards (1 to {n})"),
        });
    }
    Ok((0..shards)
        .map(|i| n * i / shards..n * (i + 1) / shards)
        .collect())
}

/// Every embeddings file at `path`: the file itself, or the `.parquet` files of a folder (in
/// name order), each checked to be `encoder`'s.
fn read_embeddings(path: &Path, encoder: &Encoder) -> Result<Vec<(PathBuf, Embeddings)>> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| trine_corpus::CorpusError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(PipelineError::Shards {
                message: format!(
                    "{}: no .parquet embeddings files in the folder",
                    path.display()
                ),
            });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|f| {
            let emb = embeddings::read(&f)?;
            embeddings_match(&emb, encoder, &f)?;
            Ok((f, emb))
        })
        .collect()
}

/// The vectors of `docs`, in their order, looked up by id in the embeddings at `path` (a file
/// or a folder of files); a document without one, or an id in two files, is an error naming it.
pub fn vectors_by_id(path: &Path, encoder: &Encoder, docs: &[Document]) -> Result<Vec<f32>> {
    let files = read_embeddings(path, encoder)?;
    let mut at: HashMap<&str, (usize, usize)> = HashMap::new();
    for (f, (file, emb)) in files.iter().enumerate() {
        for (row, id) in emb.ids.iter().enumerate() {
            if let Some((g, _)) = at.insert(id, (f, row)) {
                return Err(PipelineError::Shards {
                    message: format!(
                        "document {id:?} has embeddings in both {} and {}",
                        files[g].0.display(),
                        file.display()
                    ),
                });
            }
        }
    }
    let dim = encoder.dim();
    let mut values = Vec::with_capacity(docs.len() * dim);
    for d in docs {
        let &(f, row) = at.get(d.id.as_str()).ok_or_else(|| PipelineError::Shards {
            message: format!("{}: no embedding for document {:?}", path.display(), d.id),
        })?;
        values.extend_from_slice(files[f].1.row(row));
    }
    Ok(values)
}

/// Builds shard `i` of `shards` from its part of `docs` into `shard_dir(out, i)`: vectors
/// from `spec.embeddings` (a file or folder, looked up by id) or embedded here.
pub fn build_shard(
    out: &Path,
    docs: &[Document],
    encoder: &Encoder,
    spec: &BuildSpec,
    i: usize,
    shards: usize,
    progress: &dyn Progress,
) -> Result<Index> {
    let ranges = shard_ranges(docs.len(), shards)?;
    let range = ranges
        .get(i)
        .cloned()
        .ok_or_else(|| PipelineError::Shards {
            message: format!("shard {i} of {shards} does not exist (0 to {})", shards - 1),
        })?;
    let part = &docs[range];
    let dir = shard_dir(out, i);
    match &spec.embeddings {
        Some(path) => {
            if spec.chunking.is_some() {
                return Err(PipelineError::EmbeddingsWithChunks);
            }
            let values = vectors_by_id(path, encoder, part)?;
            build_from_vectors(&dir, part, &values, None, encoder, spec, progress)
        }
        None => build_index(&dir, part, encoder, spec, progress),
    }
}

/// Writes `OUT/shards.json` for the `shards` shards built there (each must open), atomically.
pub fn write_shard_set(out: &Path, encoder: &Encoder, shards: usize) -> Result<ShardSet> {
    let model = model_info(encoder)?;
    let mut entries = Vec::with_capacity(shards);
    for i in 0..shards {
        let index = Index::open(&shard_dir(out, i))?;
        index.check_model(&model)?;
        entries.push(ShardEntry {
            path: format!("shard-{i:03}"),
            documents: index.len(),
        });
    }
    let set = ShardSet {
        shards: entries,
        model: model.name,
        fingerprint: model.fingerprint,
    };
    let json = serde_json::to_vec_pretty(&set).expect("a shard set serialises");
    atomic::write_bytes(&out.join(SHARDS_FILE), &json)?;
    Ok(set)
}

/// Builds all `shards` shards of `docs` one after the other, then their `shards.json`.
/// Refuses a folder that holds a set already unless `spec.force`.
pub fn build_shards(
    out: &Path,
    docs: &[Document],
    encoder: &Encoder,
    spec: &BuildSpec,
    shards: usize,
    progress: &dyn Progress,
) -> Result<ShardSet> {
    shard_ranges(docs.len(), shards)?;
    if !spec.force && out.join(SHARDS_FILE).exists() {
        return Err(PipelineError::IndexExists {
            path: out.to_path_buf(),
        });
    }
    for i in 0..shards {
        progress.note(&format!("shard {} of {shards}", i + 1));
        build_shard(out, docs, encoder, spec, i, shards, progress)?;
    }
    write_shard_set(out, encoder, shards)
}

/// The shards of the set at `out`, opened, in order.
pub fn open_shards(out: &Path) -> Result<Vec<Index>> {
    let path = out.join(SHARDS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| trine_corpus::CorpusError::io(&path, e))?;
    let set: ShardSet = serde_json::from_slice(&bytes).map_err(|e| PipelineError::Shards {
        message: format!("{}: {e}", path.display()),
    })?;
    if set.shards.is_empty() {
        return Err(PipelineError::Shards {
            message: format!("{}: the set lists no shards", path.display()),
        });
    }
    set.shards
        .iter()
        .map(|s| Ok(Index::open(&out.join(&s.path))?))
        .collect()
}

/// One search over shards held in this process: the query encoded once, BM25 statistics
/// summed, every shard's candidates merged and fused (what the Ray Serve router does across
/// processes). `encoder` must be the shards' model for dense and hybrid search.
pub fn search_shards(
    shards: &[Index],
    encoder: Option<&Encoder>,
    text: &str,
    s: &Search,
) -> Result<Vec<ShardHit>> {
    if text.trim().is_empty() {
        return Err(PipelineError::EmptyQuery);
    }
    let vector = match (s.mode, encoder) {
        (trine_index::Mode::Lexical, _) => Vec::new(),
        (_, None) => return Err(PipelineError::NeedsModel),
        (_, Some(enc)) => {
            let info = model_info(enc)?;
            for shard in shards {
                shard.check_model(&info)?;
            }
            enc.encode_as(&[text], Role::Query, &mut |_| {})?
        }
    };
    let stats = shards
        .iter()
        .map(|i| i.lexical_stats(text))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let total = LexicalStats::sum(&stats);
    let depth = match s.mode {
        trine_index::Mode::Hybrid => s.candidates,
        _ => s.k,
    };
    let cands = shards
        .iter()
        .map(|i| i.candidates(s.mode, text, &vector, depth, &total))
        .collect::<std::result::Result<Vec<Candidates>, _>>()?;
    let fusion = s
        .fusion
        .or_else(|| shards.first().map(|i| i.manifest().fusion))
        .unwrap_or_default();
    Ok(merge(&cands, s.mode, s.k, s.candidates.max(s.k), fusion)?)
}
