//! Building, changing, opening and searching an index folder.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trine_corpus::{
    read_corpus, write_documents, CorpusFormat, CorpusOptions, Document, JsonFields,
};

use crate::ann::{Ann, AnnPolicy, AnnSettings};
use crate::dense::{self, Vectors};
use crate::fusion::{fuse, FusedHit, Fusion};
use crate::layout::{self, ANN, DOCS, LEXICAL, MANIFEST, VECTORS};
use crate::lexical::{self, Lexical};
use crate::lock::{Wait, WriterLock};
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
    ann: Option<Ann>,
    dense_method: DenseMethod,
    /// Shared lock on the generation folder: writers leave it in place while this index is open.
    _lease: std::fs::File,
}

/// Which dense search path answers a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DenseMethod {
    /// The ANN graph when the index has one, else the exact scan.
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

/// Options for [`Index::build_with`].
#[derive(Default)]
pub struct BuildOptions<'a> {
    /// Replace an index already in the folder (as a new generation).
    pub force: bool,
    /// Whether to build an ANN graph.
    pub ann: AnnPolicy,
    /// Graph parameters when one is built.
    pub ann_settings: AnnSettings,
    /// Called with the number of vectors inserted into the graph so far.
    pub progress: Option<&'a (dyn Fn(usize) + Sync)>,
}

/// What a new generation's ANN graph starts from (when the manifest records one).
enum AnnSource<'a> {
    /// Insert every vector into a new graph.
    Rebuild,
    /// Load this graph and insert vectors from this row on.
    Append { from: &'a Path, start: usize },
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
    if let Some(i) = vectors.iter().position(|v| !v.is_finite()) {
        return Err(IndexError::Shape {
            message: format!(
                "the vector of document `{}` holds {} at dimension {}: vectors must be finite",
                docs[i / dim].id,
                vectors[i],
                i % dim
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
    ann: AnnSource,
    progress: &(dyn Fn(usize) + Sync),
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
    if let Some(settings) = manifest.ann {
        write_ann(
            &staging.join(ANN),
            settings,
            vectors,
            manifest.model.dim,
            ann,
            progress,
        )?;
    }
    manifest.write(&staging.join(MANIFEST))?;
    layout::sync_tree(&staging)?;
    let live = root.join(&name);
    // A folder of this name is never live (CURRENT names an older generation): it is what a
    // writer left when it failed between the rename and the switch.
    if live.exists() {
        std::fs::remove_dir_all(&live).map_err(|e| IndexError::io(&live, e))?;
    }
    trine_corpus::atomic::rename(&staging, &live)?;
    layout::switch(root, &name)?;
    layout::remove_stale(root, &name);
    Ok(())
}

/// Sources that copy the previous generation's lexical index and graph and append rows from
/// `start` on.
fn appending<'a>(
    lexical: &'a Path,
    ann: &'a Path,
    start: usize,
) -> (LexicalSource<'a>, AnnSource<'a>) {
    (
        LexicalSource::Append {
            from: lexical,
            start,
        },
        AnnSource::Append { from: ann, start },
    )
}

/// Writes the generation's ANN graph, from scratch or by extending the previous one.
fn write_ann(
    path: &Path,
    settings: AnnSettings,
    vectors: &[f32],
    dim: usize,
    source: AnnSource,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    let rows = vectors.len() / dim;
    let graph = match source {
        AnnSource::Append { from, start } if from.is_file() => {
            if start == rows {
                std::fs::copy(from, path).map_err(|e| IndexError::io(path, e))?;
                return Ok(());
            }
            let graph = Ann::load(from, dim, start, settings)?;
            graph.extend(&vectors[start * dim..], dim, start, progress)?;
            graph
        }
        _ => Ann::build(vectors, dim, settings, progress)?,
    };
    graph.save(path)
}

fn no_graph() -> IndexError {
    IndexError::Shape {
        message: "this index has no ANN graph (build it with `--ann always`)".into(),
    }
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
        let options = BuildOptions {
            force,
            ..BuildOptions::default()
        };
        Index::build_with(root, docs, vectors, model, &options)
    }

    /// [`Index::build`] with control over the ANN graph and progress reports.
    pub fn build_with(
        root: &Path,
        docs: &[Document],
        vectors: &[f32],
        model: ModelInfo,
        options: &BuildOptions,
    ) -> Result<Index> {
        check_shape(docs, vectors, model.dim)?;
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let previous = layout::current(root).ok();
        if previous.is_some() && !options.force {
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
            ann: options
                .ann
                .wants(docs.len())
                .then_some(options.ann_settings),
        };
        write_generation(
            root,
            &manifest,
            docs,
            vectors,
            LexicalSource::Rebuild,
            AnnSource::Rebuild,
            options.progress.unwrap_or(&|_| {}),
        )?;
        Index::open(root)
    }

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
                docs.len(),
                settings,
            )?),
            None => None,
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
            lexical,
            ann,
            dense_method: DenseMethod::Auto,
            _lease: lease,
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
        let _lock = WriterLock::acquire(root, Wait::No)?;
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
        let (lex_dir, ann_file) = (gen_dir.join(LEXICAL), gen_dir.join(ANN));
        let (source, ann) = if replaced.is_empty() {
            appending(&lex_dir, &ann_file, start)
        } else {
            (LexicalSource::Rebuild, AnnSource::Rebuild)
        };
        drop(old);
        write_generation(root, &manifest, &docs, &vectors, source, ann, &|_| {})?;
        Index::open(root)
    }

    /// Removes documents by id as a new generation; returns the index and how many were removed.
    pub fn delete(root: &Path, ids: &[String]) -> Result<(Index, usize)> {
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let old = Index::open(root)?;
        let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
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
        write_generation(
            root,
            &manifest,
            &docs,
            &vectors,
            LexicalSource::Rebuild,
            AnnSource::Rebuild,
            &|_| {},
        )?;
        Ok((Index::open(root)?, removed))
    }

    /// Stores `fusion` as the index's default for hybrid search (a new generation whose parts
    /// are copies of the current ones).
    pub fn set_default_fusion(root: &Path, fusion: Fusion) -> Result<Index> {
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let old = Index::open(root)?;
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.fusion = fusion;
        let gen_dir = layout::current(root)?;
        let docs = old.docs.clone();
        let vectors = old.vectors.as_slice().to_vec();
        let start = docs.len();
        drop(old);
        let (lex_dir, ann_file) = (gen_dir.join(LEXICAL), gen_dir.join(ANN));
        let (source, ann) = appending(&lex_dir, &ann_file, start);
        write_generation(root, &manifest, &docs, &vectors, source, ann, &|_| {})?;
        Index::open(root)
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

    /// Cosine top `k` for a query vector, as `(row, score)`, by this open index's dense method
    /// (by default the ANN graph when the index has one, else exact). Hybrid search uses it too.
    pub fn search_dense(&self, query: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        self.search_dense_with(query, k, self.dense_method)
    }

    /// Chooses how [`Index::search_dense`] (and hybrid search) find dense candidates.
    pub fn set_dense_method(&mut self, method: DenseMethod) -> Result<()> {
        if method == DenseMethod::Ann && self.ann.is_none() {
            return Err(no_graph());
        }
        self.dense_method = method;
        Ok(())
    }

    /// The ANN graph, when the index has one.
    pub fn ann(&self) -> Option<&Ann> {
        self.ann.as_ref()
    }

    /// Sets the ANN search candidate list size (ef_search) for this open index.
    pub fn set_ann_expansion(&mut self, ef: usize) {
        if let Some(ann) = self.ann.as_mut() {
            ann.set_expansion_search(ef);
        }
    }

    /// Cosine top `k` for a query vector by the chosen path, as `(row, score)`; scores are
    /// exact cosines either way and equal scores are ordered by document id.
    pub fn search_dense_with(
        &self,
        query: &[f32],
        k: usize,
        method: DenseMethod,
    ) -> Result<Vec<(usize, f32)>> {
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
        match (method, &self.ann) {
            (DenseMethod::Exact, _) | (DenseMethod::Auto, None) => {
                Ok(self.vectors.search(&q, k, self.tie()))
            }
            (_, Some(ann)) => {
                let pool = k.max(ann.settings().expansion_search);
                ann.search(&self.vectors, &q, k, pool, self.tie())
            }
            (DenseMethod::Ann, None) => Err(no_graph()),
        }
    }

    /// One search in any mode, as fused-hit records (a single retriever fills only its own side).
    /// `query` is the query's embedding; lexical mode ignores it.
    pub fn search(
        &self,
        mode: Mode,
        text: &str,
        query: &[f32],
        k: usize,
        candidates: usize,
        fusion: Fusion,
    ) -> Result<Vec<FusedHit>> {
        crate::fusion::check_query(text)?;
        crate::fusion::check_depth(mode, k, candidates)?;
        if mode == Mode::Hybrid {
            fusion.check()?;
        }
        Ok(match mode {
            Mode::Hybrid => self.search_hybrid(text, query, k, candidates, fusion)?,
            Mode::Lexical => self
                .search_lexical(text, k)?
                .into_iter()
                .enumerate()
                .map(|(i, (row, s))| FusedHit {
                    row,
                    score: s,
                    lexical_score: Some(s),
                    lexical_rank: Some(i + 1),
                    dense_score: f32::NAN,
                    dense_rank: None,
                })
                .collect(),
            Mode::Dense => self
                .search_dense(query, k)?
                .into_iter()
                .enumerate()
                .map(|(i, (row, s))| FusedHit {
                    row,
                    score: s,
                    lexical_score: None,
                    lexical_rank: None,
                    dense_score: s,
                    dense_rank: Some(i + 1),
                })
                .collect(),
        })
    }

    /// An HTML snippet of document `row` around the words of `query` (matches in `<b>`).
    pub fn snippet(&self, query: &str, row: usize, max_chars: usize) -> Result<String> {
        self.lexical
            .snippet(query, &self.docs[row].full_text(), max_chars)
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
