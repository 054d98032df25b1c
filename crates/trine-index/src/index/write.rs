//! Building an index and changing it: each change writes a new generation under the writer lock.

use std::collections::HashSet;
use std::path::Path;

use trine_corpus::{write_documents, CorpusFormat, CorpusOptions, Document, JsonFields};

use crate::ann::{Ann, AnnPolicy, AnnSettings};
use crate::chunks::{ChunkMap, ChunkSettings};
use crate::dense;
use crate::fusion::Fusion;
use crate::layout::{
    self, ANN, CHUNKS, DOCS, LEXICAL, MANIFEST, QUANTIZED, TOPICS, TOPIC_MAP_PNG, TOPIC_MAP_SVG,
    VECTORS,
};
use crate::lexical;
use crate::lock::{Wait, WriterLock};
use crate::manifest::{LexicalSettings, Manifest, TopicSettings, FORMAT_VERSION};
use crate::quantized::{Quantized, QuantizedSettings};
use crate::topics::{TopicMap, Topics, TopicsInput};
use crate::{IndexError, Result};

use super::{AddPolicy, Index, ModelInfo};

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
    /// Documents split into chunks: how, and which vectors are whose (the vectors are then one
    /// per chunk, in the map's order).
    pub chunking: Option<(ChunkSettings, &'a ChunkMap)>,
    /// An int8 or binary copy of the vectors for dense search's first pass (every later
    /// generation keeps it, coded afresh).
    pub quantized: Option<QuantizedSettings>,
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

pub(super) fn docs_options() -> CorpusOptions {
    CorpusOptions {
        format: CorpusFormat::Parquet,
        fields: JsonFields {
            id: "id".into(),
            title: "title".into(),
            text: "text".into(),
        },
    }
}

/// Fails unless `vectors` holds one finite `dim`-wide vector per document, or per chunk of
/// `chunks` when documents are split.
fn check_shape(
    docs: &[Document],
    vectors: &[f32],
    dim: usize,
    chunks: Option<&ChunkMap>,
) -> Result<()> {
    if let Some(c) = chunks {
        if c.documents() != docs.len() {
            return Err(IndexError::Shape {
                message: format!(
                    "{} documents, but chunks of {} were given",
                    docs.len(),
                    c.documents()
                ),
            });
        }
    }
    let (rows, what) = match chunks {
        Some(c) => (c.len(), "chunks"),
        None => (docs.len(), "documents"),
    };
    if dim == 0 || vectors.len() != rows * dim {
        return Err(IndexError::Shape {
            message: format!(
                "{rows} {what} need {} vector values of dimension {dim}, got {}",
                rows * dim,
                vectors.len()
            ),
        });
    }
    if let Some(i) = vectors.iter().position(|v| !v.is_finite()) {
        let doc = match chunks {
            Some(c) => c.document_of(i / dim),
            None => i / dim,
        };
        return Err(IndexError::Shape {
            message: format!(
                "the vector of document `{}` holds {} at dimension {}: vectors must be finite",
                docs[doc].id,
                vectors[i],
                i % dim
            ),
        });
    }
    Ok(())
}

/// The documents, vectors, chunk map and topics of a generation being written.
struct Contents<'a> {
    docs: &'a [Document],
    vectors: &'a [f32],
    chunks: Option<&'a ChunkMap>,
    topics: Option<&'a Topics>,
    topic_map: Option<&'a TopicMap>,
}

/// The topics and their map a new generation holds.
type KeptTopics = (Option<Topics>, Option<std::sync::Arc<TopicMap>>);

/// What a change keeps of an open index, owned so the index can be closed before writing.
struct Kept {
    docs: Vec<Document>,
    vectors: Vec<f32>,
    chunks: Option<ChunkMap>,
    topics: Option<Topics>,
    topic_map: Option<std::sync::Arc<TopicMap>>,
}

impl Kept {
    fn contents(&self) -> Contents<'_> {
        Contents {
            docs: &self.docs,
            vectors: &self.vectors,
            chunks: self.chunks.as_ref(),
            topics: self.topics.as_ref(),
            topic_map: self.topic_map.as_deref(),
        }
    }
}

/// What `rows` keeps of an open index's documents (by row, in order): the documents, their
/// vectors and, when split, their chunks; their topics when it has some.
fn kept(old: &Index, rows: impl Iterator<Item = usize> + Clone) -> Kept {
    let docs: Vec<Document> = rows.clone().map(|i| old.docs[i].clone()).collect();
    let mut vectors = Vec::new();
    for i in rows.clone() {
        for r in old.vector_rows(i) {
            vectors.extend_from_slice(old.vectors.row(r));
        }
    }
    let chunks = old.chunks.as_ref().map(|c| c.select(rows.clone()));
    let topics = old.topics.as_ref().map(|t| t.select(rows));
    Kept {
        docs,
        vectors,
        chunks,
        topics,
        topic_map: old.topic_map.clone(),
    }
}

/// One vector per added document: its own, or the unit mean of its chunks' when split (the
/// vector topics are assigned by).
fn document_vectors(vectors: &[f32], dim: usize, chunks: Option<&ChunkMap>) -> Vec<Vec<f32>> {
    match chunks {
        None => vectors.chunks_exact(dim).map(<[f32]>::to_vec).collect(),
        Some(c) => (0..c.documents())
            .map(|d| {
                let mut mean = vec![0f32; dim];
                for r in c.rows(d) {
                    mean.iter_mut()
                        .zip(&vectors[r * dim..(r + 1) * dim])
                        .for_each(|(m, v)| *m += v);
                }
                dense::unit(&mean)
            })
            .collect(),
    }
}

/// Writes a complete generation folder and makes it live.
fn write_generation(
    root: &Path,
    manifest: &Manifest,
    contents: Contents,
    source: LexicalSource,
    ann: AnnSource,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    let name = layout::generation_name(manifest.generation);
    let staging = root.join(format!(".{name}"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| IndexError::io(&staging, e))?;
    let Contents {
        docs,
        vectors,
        chunks,
        topics,
        topic_map,
    } = contents;
    write_documents(&staging.join(DOCS), docs)?;
    dense::write_vectors(&staging.join(VECTORS), vectors, manifest.model.dim)?;
    if let Some(q) = manifest.quantized {
        let dim = manifest.model.dim;
        let unit = trine_eval::exact::normalized(vectors, dim);
        if let Some(codes) = Quantized::build(q.format, &unit, dim) {
            codes.write(&staging.join(QUANTIZED))?;
        }
    }
    if let Some(c) = chunks {
        c.write(&staging.join(CHUNKS))?;
    }
    if let Some(t) = topics {
        t.write(&staging.join(TOPICS))?;
        if let Some(m) = topic_map {
            trine_corpus::atomic::write_bytes(&staging.join(TOPIC_MAP_SVG), &m.svg)?;
            trine_corpus::atomic::write_bytes(&staging.join(TOPIC_MAP_PNG), &m.png)?;
        }
    }
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

/// Sources that copy the previous generation's lexical index and graph and append documents
/// from row `doc_start` on (and vectors from row `vector_start`: they differ when documents are
/// split into chunks).
fn appending<'a>(
    lexical: &'a Path,
    ann: &'a Path,
    doc_start: usize,
    vector_start: usize,
) -> (LexicalSource<'a>, AnnSource<'a>) {
    (
        LexicalSource::Append {
            from: lexical,
            start: doc_start,
        },
        AnnSource::Append {
            from: ann,
            start: vector_start,
        },
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

    /// [`Index::build`] with control over the ANN graph, chunking and progress reports.
    pub fn build_with(
        root: &Path,
        docs: &[Document],
        vectors: &[f32],
        model: ModelInfo,
        options: &BuildOptions,
    ) -> Result<Index> {
        let chunks = options.chunking.map(|(_, c)| c);
        check_shape(docs, vectors, model.dim, chunks)?;
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
        let vector_rows = chunks.map_or(docs.len(), ChunkMap::len);
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generation,
            model,
            documents: docs.len(),
            lexical: LexicalSettings::default(),
            fusion: Fusion::default(),
            ann: options
                .ann
                .wants(vector_rows)
                .then_some(options.ann_settings),
            chunking: options.chunking.map(|(s, _)| s),
            quantized: options.quantized,
            topics: None,
        };
        let contents = Contents {
            docs,
            vectors,
            chunks,
            topics: None,
            topic_map: None,
        };
        write_generation(
            root,
            &manifest,
            contents,
            LexicalSource::Rebuild,
            AnnSource::Rebuild,
            options.progress.unwrap_or(&|_| {}),
        )?;
        Index::open(root)
    }

    /// Adds documents with their vectors as a new generation (an index of chunked documents
    /// needs [`Index::add_chunked`]).
    pub fn add(
        root: &Path,
        new_docs: &[Document],
        new_vectors: &[f32],
        model: &ModelInfo,
        policy: AddPolicy,
    ) -> Result<Index> {
        Index::add_chunked(root, new_docs, new_vectors, None, model, policy)
    }

    /// Adds documents with their vectors as a new generation: one vector per document, or per
    /// chunk of `new_chunks` when the index splits documents (split as the manifest records).
    pub fn add_chunked(
        root: &Path,
        new_docs: &[Document],
        new_vectors: &[f32],
        new_chunks: Option<&ChunkMap>,
        model: &ModelInfo,
        policy: AddPolicy,
    ) -> Result<Index> {
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let old = Index::open(root)?;
        old.check_model(model)?;
        match (old.manifest.chunking, new_chunks) {
            (Some(s), None) => {
                return Err(IndexError::Shape {
                    message: format!(
                        "the index splits documents into chunks of {} tokens (overlap {}); \
                         added documents must be split the same way",
                        s.tokens, s.overlap
                    ),
                })
            }
            (None, Some(_)) => {
                return Err(IndexError::Shape {
                    message: "the index holds one vector per document; added documents must \
                              not be split into chunks"
                        .into(),
                })
            }
            _ => {}
        }
        check_shape(new_docs, new_vectors, model.dim, new_chunks)?;
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
        let keep = (0..old.docs.len()).filter(|&i| !replaced.contains(old.docs[i].id.as_str()));
        let mut next = kept(&old, keep);
        let (doc_start, vector_start) = (next.docs.len(), next.vectors.len() / model.dim);
        next.docs.extend_from_slice(new_docs);
        next.vectors.extend_from_slice(new_vectors);
        if let (Some(c), Some(new)) = (next.chunks.as_mut(), new_chunks) {
            c.extend(new);
        }
        if let Some(t) = next.topics.as_mut() {
            t.assign(&document_vectors(new_vectors, model.dim, new_chunks));
        }
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.documents = next.docs.len();
        let gen_dir = layout::current(root)?;
        let (lex_dir, ann_file) = (gen_dir.join(LEXICAL), gen_dir.join(ANN));
        let (source, ann) = if replaced.is_empty() {
            appending(&lex_dir, &ann_file, doc_start, vector_start)
        } else {
            (LexicalSource::Rebuild, AnnSource::Rebuild)
        };
        drop(old);
        write_generation(root, &manifest, next.contents(), source, ann, &|_| {})?;
        Index::open(root)
    }

    /// Removes documents by id as a new generation; returns the index and how many were removed.
    pub fn delete(root: &Path, ids: &[String]) -> Result<(Index, usize)> {
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let old = Index::open(root)?;
        let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let keep = (0..old.docs.len()).filter(|&i| !gone.contains(old.docs[i].id.as_str()));
        let next = kept(&old, keep);
        let removed = old.docs.len() - next.docs.len();
        if removed == 0 {
            return Ok((old, 0));
        }
        if next.docs.is_empty() {
            return Err(IndexError::Shape {
                message: "deleting every document would leave an empty index".into(),
            });
        }
        let mut manifest = old.manifest.clone();
        manifest.generation += 1;
        manifest.documents = next.docs.len();
        drop(old);
        write_generation(
            root,
            &manifest,
            next.contents(),
            LexicalSource::Rebuild,
            AnnSource::Rebuild,
            &|_| {},
        )?;
        Ok((Index::open(root)?, removed))
    }

    /// Stores `fusion` as the index's default for hybrid search (a new generation whose parts
    /// are copies of the current ones).
    pub fn set_default_fusion(root: &Path, fusion: Fusion) -> Result<Index> {
        Index::rewrite(root, |old, manifest, _| {
            manifest.fusion = fusion;
            Ok((old.topics.clone(), old.topic_map.clone()))
        })
    }

    /// Stores topics made from the live generation's documents (by `trine-cluster`) as a new
    /// generation whose other parts are copies of the current ones. Topics made from another
    /// generation are refused: documents may have changed since.
    pub fn set_topics(root: &Path, mut input: TopicsInput) -> Result<Index> {
        let map = input.map.take().map(std::sync::Arc::new);
        Index::rewrite(root, |old, manifest, generation| {
            if input.generation != generation {
                return Err(IndexError::Shape {
                    message: format!(
                        "the topics were made from generation {}, but generation {generation} is                          live now: cluster the index again",
                        input.generation
                    ),
                });
            }
            let topics = Topics::new(input, old.len(), old.manifest.model.dim)?;
            manifest.topics = Some(TopicSettings {
                method: topics.method.clone(),
                topics: topics.len(),
                clustered_at: topics.clustered_at,
            });
            Ok((Some(topics), map))
        })
    }

    /// A new generation with every part copied from the live one but the manifest (changed by
    /// `change`, which also gives the topics and map to keep; it sees the live generation's
    /// number).
    fn rewrite(
        root: &Path,
        change: impl FnOnce(&Index, &mut Manifest, u64) -> Result<KeptTopics>,
    ) -> Result<Index> {
        let _lock = WriterLock::acquire(root, Wait::No)?;
        let old = Index::open(root)?;
        let mut manifest = old.manifest.clone();
        let (topics, topic_map) = change(&old, &mut manifest, old.manifest.generation)?;
        manifest.generation += 1;
        let gen_dir = layout::current(root)?;
        let next = Kept {
            docs: old.docs.clone(),
            vectors: old.vectors.as_slice().to_vec(),
            chunks: old.chunks.clone(),
            topics,
            topic_map,
        };
        let (doc_start, vector_start) = (next.docs.len(), old.vectors.len());
        drop(old);
        let (lex_dir, ann_file) = (gen_dir.join(LEXICAL), gen_dir.join(ANN));
        let (source, ann) = appending(&lex_dir, &ann_file, doc_start, vector_start);
        write_generation(root, &manifest, next.contents(), source, ann, &|_| {})?;
        Index::open(root)
    }
}
