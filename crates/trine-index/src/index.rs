//! Building, changing, opening and searching an index folder.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trine_corpus::{
    read_corpus, write_documents, CorpusFormat, CorpusOptions, Document, JsonFields,
};

use crate::dense::{self, Vectors};
use crate::fusion::{fuse, FusedHit, Fusion};
use crate::layout::{self, DOCS, LEXICAL, MANIFEST, VECTORS};
use crate::lexical::{self, Lexical};
use crate::manifest::{LexicalSettings, Manifest, FORMAT_VERSION};
use crate::{IndexError, Result};

/// The model whose vectors an index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// SHA-256 over weights and tokenizer.
    pub fingerprint: String,
    pub dim: usize,
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
    lexical: Lexical,
}

/// What a new generation's lexical index starts from.
enum LexicalSource<'a> {
    /// Index every document from scratch.
    Rebuild,
    /// Copy this tantivy folder and append documents from this row on.
    Append { from: &'a Path, start: usize },
}

fn docs_options() -> CorpusOptions {
    CorpusOptions {
        format: CorpusFormat::Parquet,
        fields: JsonFields {
            id: "id".into(),
            title: "title".into(),
            text: "text".into(),
        },
    }
}

fn check_shape(docs: &[Document], vectors: &[f32], dim: usize) -> Result<()> {
    if dim == 0 || vectors.len() != docs.len() * dim {
        return Err(IndexError::Shape {
            message: format!(
                "{} documents need {} vector values of dimension {dim}, got {}",
                docs.len(),
                docs.len() * dim,
                vectors.len()
            ),
        });
    }
    Ok(())
}

/// Writes a complete generation folder and makes it live.
fn write_generation(
    root: &Path,
    manifest: &Manifest,
    docs: &[Document],
    vectors: &[f32],
    source: LexicalSource,
) -> Result<()> {
    let name = layout::generation_name(manifest.generation);
    let staging = root.join(format!(".{name}"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| IndexError::io(&staging, e))?;
    write_documents(&staging.join(DOCS), docs)?;
    dense::write_vectors(&staging.join(VECTORS), vectors, manifest.model.dim)?;
    let lex_dir = staging.join(LEXICAL);
    let body = |d: &Document| d.full_text();
    match source {
        LexicalSource::Rebuild => lexical::create(
            &lex_dir,
            docs.iter().enumerate().map(|(i, d)| (i as u64, body(d))),
        )?,
        LexicalSource::Append { from, start } => {
            layout::copy_tree(from, &lex_dir)?;
            lexical::append(
                &lex_dir,
                docs[start..]
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ((start + i) as u64, body(d))),
            )?;
        }
    }
    manifest.write(&staging.join(MANIFEST))?;
    layout::sync_tree(&staging)?;
    let live = root.join(&name);
    std::fs::rename(&staging, &live).map_err(|e| IndexError::io(&live, e))?;
    layout::switch(root, &name)?;
    layout::remove_stale(root, &name);
    Ok(())
}

impl Index {
    /// Builds an index in `root` from documents and their vectors (`docs.len() × dim`). An index
    /// already there is an error unless `force`, which builds a new generation and switches to it.
    pub fn build(
        root: &Path,
        docs: &[Document],
        vectors: &[f32],
        model: ModelInfo,
        force: bool,
    ) -> Result<Index> {
        check_shape(docs, vectors, model.dim)?;
        let previous = layout::current(root).ok();
        if previous.is_some() && !force {
            return Err(IndexError::Exists {
                path: root.to_path_buf(),
            });
        }
        std::fs::create_dir_all(root).map_err(|e| IndexError::io(root, e))?;
        let generation = match &previous {
            Some(_) => Index::open(root)?.manifest.generation + 1,
            None => 1,
        };
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generation,
            model,
            documents: docs.len(),
            lexical: LexicalSettings::default(),
            fusion: Fusion::default(),
        };
        write_generation(root, &manifest, docs, vectors, LexicalSource::Rebuild)?;
        Index::open(root)
    }

    /// Opens the live generation and checks that its parts agree.
    pub fn open(root: &Path) -> Result<Index> {
        let dir = layout::current(root)?;
        let manifest = Manifest::read(&dir.join(MANIFEST))?;
        let docs_path = dir.join(DOCS);
        if !docs_path.is_file() {
            return Err(IndexError::Missing {
                path: docs_path,
                message: "documents file is missing".into(),
            });
        }
        let docs = read_corpus(&docs_path, &docs_options())?;
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
        let vectors = Vectors::open(&dir.join(VECTORS), docs.len(), manifest.model.dim)?;
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
            lexical,
        })
    }

    /// Adds documents with their vectors as a new generation.
    pub fn add(
        root: &Path,
        new_docs: &[Document],
        new_vectors: &[f32],
        model: &ModelInfo,
        policy: AddPolicy,
    ) -> Result<Index> {
        let old = Index::open(root)?;
        old.check_model(model)?;
        check_shape(new_docs, new_vectors, model.dim)?;
        let dups: Vec<&str> = new_docs
            .iter()
            .filter(|d| old.rows.contains_key(&d.id))
            .map(|d| d.id.as_str())
            .collect();
        if !dups.is_empty() && policy == AddPolicy::Reject {
            return Err(IndexError::DuplicateIds {
                id: dups[0].to_string(),
                count: dups.len(),
            });
        }
        let replaced: HashSet<&str> = dups.into_iter().collect();
        let dim = model.dim;
        let mut docs = Vec::with_capacity(old.docs.len() + new_docs.len());
        let mut vectors = Vec::with_capacity((old.docs.len() + new_docs.len()) * dim);
        for (i, d) in old.docs.iter().enumerate() {
            if !replaced.contains(d.id.as_str()) {
                docs.push(d.clone());
                vectors.extend_from_slice(old.vectors.row(i));
            }
        }
        let start = docs.len();
        docs.extend_from_slice(new_docs);
        vectors.extend_from_slice(new_vectors);
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.documents = docs.len();
        let gen_dir = layout::current(root)?;
        let source = if replaced.is_empty() {
            LexicalSource::Append {
                from: &gen_dir.join(LEXICAL),
                start,
            }
        } else {
            LexicalSource::Rebuild
        };
        drop(old);
        write_generation(root, &manifest, &docs, &vectors, source)?;
        Index::open(root)
    }

    /// Removes documents by id as a new generation; returns the index and how many were removed.
    pub fn delete(root: &Path, ids: &[String]) -> Result<(Index, usize)> {
        let old = Index::open(root)?;
        let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let dim = old.manifest.model.dim;
        let mut docs = Vec::new();
        let mut vectors = Vec::new();
        for (i, d) in old.docs.iter().enumerate() {
            if !gone.contains(d.id.as_str()) {
                docs.push(d.clone());
                vectors.extend_from_slice(old.vectors.row(i));
            }
        }
        let removed = old.docs.len() - docs.len();
        if removed == 0 {
            return Ok((old, 0));
        }
        if docs.is_empty() {
            return Err(IndexError::Shape {
                message: "deleting every document would leave an empty index".into(),
            });
        }
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.documents = docs.len();
        drop(old);
        let _ = dim;
        write_generation(root, &manifest, &docs, &vectors, LexicalSource::Rebuild)?;
        Ok((Index::open(root)?, removed))
    }

    /// Stores `fusion` as the index's default for hybrid search (a new generation whose parts
    /// are copies of the current ones).
    pub fn set_default_fusion(root: &Path, fusion: Fusion) -> Result<Index> {
        let old = Index::open(root)?;
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.fusion = fusion;
        let gen_dir = layout::current(root)?;
        let docs = old.docs.clone();
        let vectors = old.vectors.as_slice().to_vec();
        let start = docs.len();
        drop(old);
        write_generation(
            root,
            &manifest,
            &docs,
            &vectors,
            LexicalSource::Append {
                from: &gen_dir.join(LEXICAL),
                start,
            },
        )?;
        Index::open(root)
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

    /// Unit vector of the document at `row`.
    pub fn vector(&self, row: usize) -> &[f32] {
        self.vectors.row(row)
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

    /// The tantivy query for `text` (for snippets).
    pub fn lexical_query(&self, text: &str) -> Box<dyn tantivy::query::Query> {
        self.lexical.query(text)
    }

    fn tie<'a>(&'a self) -> impl Fn(usize) -> &'a str + Sync + 'a {
        move |row| self.docs[row].id.as_str()
    }

    /// BM25 top `k` as `(row, score)`; equal scores by document id.
    pub fn search_lexical(&self, text: &str, k: usize) -> Result<Vec<(usize, f32)>> {
        let mut hits: Vec<(usize, f32)> = self
            .lexical
            .search(text, k)?
            .into_iter()
            .map(|(r, s)| (r as usize, s))
            .collect();
        let tie = self.tie();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(tie(b.0))));
        Ok(hits)
    }

    /// Exact cosine top `k` for a query vector, as `(row, score)`.
    pub fn search_dense(&self, query: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        if query.len() != self.manifest.model.dim {
            return Err(IndexError::Shape {
                message: format!(
                    "query vector has {} dims, index has {}",
                    query.len(),
                    self.manifest.model.dim
                ),
            });
        }
        let q = dense::unit(query);
        Ok(self.vectors.search(&q, k, self.tie()))
    }

    /// Hybrid search: fuses the lexical and dense top-`candidates` lists and returns the best `k`.
    pub fn search_hybrid(
        &self,
        text: &str,
        query: &[f32],
        k: usize,
        candidates: usize,
        fusion: Fusion,
    ) -> Result<Vec<FusedHit>> {
        let lex = self.search_lexical(text, candidates)?;
        let dense_hits = self.search_dense(query, candidates)?;
        let q = dense::unit(query);
        let mut fused = fuse(
            &lex,
            &dense_hits,
            |row| self.vectors.score(&q, row),
            fusion,
            self.tie(),
        );
        fused.truncate(k);
        Ok(fused)
    }
}
