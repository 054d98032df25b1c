//! Opening an index folder and reading what it holds; building and changing one is in `write`,
//! searching it in `search`.

mod filtered;
mod search;
mod shard;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trine_corpus::{read_corpus, Document};

use crate::ann::Ann;
use crate::chunks::ChunkMap;
use crate::dense::Vectors;
use crate::layout::{
    self, ANN, CHUNKS, DOCS, LEXICAL, MANIFEST, QUANTIZED, TOPICS, TOPIC_MAP_PNG, TOPIC_MAP_SVG,
    VECTORS,
};
use crate::lexical::Lexical;
use crate::manifest::Manifest;
use crate::quantized::Quantized;
use crate::topics::{TopicMap, Topics};
use crate::{IndexError, Result};

pub use filtered::{Request, Results};
pub use search::BestChunk;
pub use write::BuildOptions;

/// The model whose vectors an index holds, and how it was run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// SHA-256 over weights and tokenizer.
    pub fingerprint: String,
    /// Vector width (after any Matryoshka truncation).
    pub dim: usize,
    /// The prompt documents were embedded with (none for most models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_prompt: Option<String>,
    /// The prompt queries must be embedded with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_prompt: Option<String>,
    /// The Matryoshka truncation, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate_dim: Option<usize>,
}

/// What `add` does with ids the index already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPolicy {
    /// Fail, changing nothing.
    Reject,
    /// Replace the stored document and vector.
    Replace,
}

/// An open index (one generation).
pub struct Index {
    root: PathBuf,
    manifest: Manifest,
    docs: Vec<Document>,
    rows: HashMap<String, usize>,
    vectors: Vectors,
    /// The in-memory int8 or binary copy of the vectors, when the manifest asks for one.
    quantized: Option<Quantized>,
    /// Which vector rows are whose, when documents are split into chunks.
    chunks: Option<ChunkMap>,
    lexical: Lexical,
    ann: Option<Ann>,
    /// Each document's topic and every topic's description, when the index was clustered.
    topics: Option<Topics>,
    /// Row → topic (−1 for none), shared with tantivy's filter of topic searches.
    topic_labels: Option<Arc<[i32]>>,
    /// The topics' map, when one was drawn.
    topic_map: Option<Arc<TopicMap>>,
    dense_method: DenseMethod,
    /// Shared lock on the generation folder: writers leave it in place while this index is open.
    _lease: std::fs::File,
}

/// Which dense search path answers a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DenseMethod {
    /// The ANN graph when the index has one, else its quantised vectors rescored in f32, else
    /// the exact scan.
    #[default]
    Auto,
    /// The exact scan over every vector (the reference).
    Exact,
    /// The ANN graph; an error when the index has none.
    Ann,
}

/// Which retrievers answer a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 only.
    Lexical,
    /// Cosine over the embeddings only.
    Dense,
    /// Both, fused.
    Hybrid,
}

impl Index {
    /// Opens the live generation and checks that its parts agree.
    pub fn open(root: &Path) -> Result<Index> {
        let (dir, lease) = layout::lease(root)?;
        let manifest = Manifest::read(&dir.join(MANIFEST))?;
        let docs_path = dir.join(DOCS);
        if !docs_path.is_file() {
            return Err(IndexError::Missing {
                path: docs_path,
                message: "documents file is missing".into(),
            });
        }
        let docs = read_corpus(&docs_path, &write::docs_options())?;
        let corrupt = |path: PathBuf, message: String| IndexError::Corrupt { path, message };
        if docs.len() != manifest.documents {
            return Err(corrupt(
                docs_path,
                format!(
                    "{} documents, manifest says {}",
                    docs.len(),
                    manifest.documents
                ),
            ));
        }
        let chunks = match manifest.chunking {
            Some(_) => Some(ChunkMap::read(&dir.join(CHUNKS), docs.len())?),
            None => None,
        };
        let vector_rows = chunks.as_ref().map_or(docs.len(), ChunkMap::len);
        let vectors = Vectors::open(&dir.join(VECTORS), vector_rows, manifest.model.dim)?;
        let quantized = match manifest.quantized {
            Some(s) => Some(Quantized::read(
                &dir.join(QUANTIZED),
                s.format,
                vector_rows,
                manifest.model.dim,
            )?),
            None => None,
        };
        let lexical = Lexical::open(&dir.join(LEXICAL))?;
        if lexical.num_docs() as usize != docs.len() {
            return Err(corrupt(
                dir.join(LEXICAL),
                format!(
                    "{} lexical documents, manifest says {}",
                    lexical.num_docs(),
                    docs.len()
                ),
            ));
        }
        let rows = lexical.rows()?;
        if let Some((i, &r)) = rows.iter().enumerate().find(|&(i, &r)| r != i as u64) {
            return Err(corrupt(
                dir.join(LEXICAL),
                format!(
                    "lexical rows must be 0..{} once each; found row {r} where row {i} belongs",
                    docs.len()
                ),
            ));
        }
        let ann = match manifest.ann {
            Some(settings) => Some(Ann::open(
                &dir.join(ANN),
                manifest.model.dim,
                vector_rows,
                settings,
            )?),
            None => None,
        };
        let topics = match &manifest.topics {
            Some(s) => {
                let path = dir.join(TOPICS);
                let t = Topics::read(&path, docs.len(), manifest.model.dim)?;
                if t.len() != s.topics {
                    return Err(corrupt(
                        path,
                        format!("{} topics, manifest says {}", t.len(), s.topics),
                    ));
                }
                Some(t)
            }
            None => None,
        };
        let topic_labels = topics.as_ref().map(|t| Arc::from(t.labels()));
        let topic_map = if dir.join(TOPIC_MAP_SVG).is_file() && topics.is_some() {
            let read = |name: &str| {
                let path = dir.join(name);
                std::fs::read(&path).map_err(|e| IndexError::Corrupt {
                    message: format!("the topic map cannot be read: {e}"),
                    path,
                })
            };
            Some(Arc::new(TopicMap {
                svg: read(TOPIC_MAP_SVG)?,
                png: read(TOPIC_MAP_PNG)?,
            }))
        } else {
            None
        };
        let rows = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        Ok(Index {
            root: root.to_path_buf(),
            manifest,
            docs,
            rows,
            vectors,
            quantized,
            chunks,
            lexical,
            ann,
            topics,
            topic_labels,
            topic_map,
            dense_method: DenseMethod::Auto,
            _lease: lease,
        })
    }

    /// The generation the index in `root` serves now (a reader compares it with its own
    /// [`Manifest::generation`] to know when to reopen).
    pub fn live_generation(root: &Path) -> Result<u64> {
        layout::live_generation(root)
    }

    /// Fails unless `model` is the model that built the index.
    pub fn check_model(&self, model: &ModelInfo) -> Result<()> {
        let m = &self.manifest.model;
        if m.fingerprint != model.fingerprint || m.dim != model.dim {
            return Err(IndexError::ModelMismatch {
                index_model: m.name.clone(),
                index_fp: m.fingerprint.chars().take(12).collect(),
                query_model: model.name.clone(),
                query_fp: model.fingerprint.chars().take(12).collect(),
            });
        }
        let prompts = |i: &ModelInfo| (i.document_prompt.clone(), i.query_prompt.clone());
        if prompts(m) != prompts(model) || m.truncate_dim != model.truncate_dim {
            let show = |i: &ModelInfo| {
                format!(
                    "document prompt {:?}, query prompt {:?}, truncate_dim {:?}",
                    i.document_prompt, i.query_prompt, i.truncate_dim
                )
            };
            return Err(IndexError::EncodingMismatch {
                index: show(m),
                query: show(model),
            });
        }
        Ok(())
    }

    /// The manifest of the live generation.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The index folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Document at `row`.
    pub fn document(&self, row: usize) -> &Document {
        &self.docs[row]
    }

    /// The document's vector at `row`: its own, or when documents are split the unit mean of
    /// its chunks' (for clustering and "more like this"; search scores chunks one by one).
    pub fn vector(&self, row: usize) -> std::borrow::Cow<'_, [f32]> {
        let rows = self.vector_rows(row);
        if rows.len() == 1 {
            return std::borrow::Cow::Borrowed(self.vectors.row(rows.start));
        }
        let mut mean = vec![0f32; self.manifest.model.dim];
        for r in rows {
            mean.iter_mut()
                .zip(self.vectors.row(r))
                .for_each(|(m, v)| *m += v);
        }
        std::borrow::Cow::Owned(crate::dense::unit(&mean))
    }

    /// Vector rows of the document at `row` (one, unless documents are split into chunks).
    pub fn vector_rows(&self, row: usize) -> std::ops::Range<usize> {
        match &self.chunks {
            Some(c) => c.rows(row),
            None => row..row + 1,
        }
    }

    /// The quantised vectors dense search scans first, when the index has them.
    pub fn quantized(&self) -> Option<&Quantized> {
        self.quantized.as_ref()
    }

    /// The chunk map, when documents are split.
    pub fn chunks(&self) -> Option<&ChunkMap> {
        self.chunks.as_ref()
    }

    /// Row of a document id.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.rows.get(id).copied()
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the index has no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Size in bytes of the live generation's files.
    pub fn size_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| {
                            let p = e.path();
                            if p.is_dir() {
                                walk(&p)
                            } else {
                                e.metadata().map(|m| m.len()).unwrap_or(0)
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        layout::current(&self.root).map(|d| walk(&d)).unwrap_or(0)
    }
}
