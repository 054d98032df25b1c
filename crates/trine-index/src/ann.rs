//! Approximate dense search: an HNSW graph from [USearch](https://github.com/unum-cloud/USearch).
//!
//! The graph keeps its own (quantised) copy of the vectors and is memory-mapped from `ann.usearch`
//! when an index opens. A search asks the graph for a candidate pool, then rescores the pool
//! exactly against the f32 vectors and orders it with the index's tie rule, so the scores that
//! reach fusion and users are the exact cosines, whichever path found the documents. The exact
//! scan ([`crate::dense::Vectors::search`]) stays the reference that recall is measured against.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use usearch::{IndexOptions, MetricKind, ScalarKind};

use crate::dense::Vectors;
use crate::{IndexError, Result};

/// Collections at least this large get an ANN graph when the build policy is `auto`.
pub const AUTO_THRESHOLD: usize = 50_000;

/// How the graph stores its copy of the vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Full precision: 4 bytes per dimension.
    F32,
    /// Half precision: 2 bytes per dimension.
    F16,
    /// 8-bit integers: 1 byte per dimension; candidates are rescored in f32 anyway.
    #[default]
    I8,
}

impl Quantization {
    fn scalar(self) -> ScalarKind {
        match self {
            Quantization::F32 => ScalarKind::F32,
            Quantization::F16 => ScalarKind::F16,
            Quantization::I8 => ScalarKind::I8,
        }
    }
}

/// HNSW parameters, recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnSettings {
    /// Graph degree M (links per node per layer; twice that on the base layer).
    pub connectivity: usize,
    /// Candidate list size while inserting (ef_construction).
    pub expansion_add: usize,
    /// Candidate list size while searching (ef_search); larger is slower and more exact.
    pub expansion_search: usize,
    pub quantization: Quantization,
}

impl Default for AnnSettings {
    fn default() -> Self {
        AnnSettings {
            connectivity: 32,
            expansion_add: 128,
            expansion_search: 384,
            quantization: Quantization::I8,
        }
    }
}

/// When `index build` makes a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnPolicy {
    /// Only for collections of at least [`AUTO_THRESHOLD`] documents.
    #[default]
    Auto,
    Always,
    Never,
}

impl AnnPolicy {
    /// Whether a collection of `n` documents gets a graph.
    pub fn wants(self, n: usize) -> bool {
        match self {
            AnnPolicy::Auto => n >= AUTO_THRESHOLD,
            AnnPolicy::Always => true,
            AnnPolicy::Never => false,
        }
    }
}

/// An HNSW graph over the rows of an index (key = row number).
pub struct Ann {
    graph: usearch::Index,
    settings: AnnSettings,
}

fn failed(path: &Path, what: &str, e: impl std::fmt::Display) -> IndexError {
    IndexError::Corrupt {
        path: path.to_path_buf(),
        message: format!("ANN graph: {what}: {e}"),
    }
}

fn options(dim: usize, s: &AnnSettings) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        // Stored and query vectors are unit length, so the inner product is the cosine; USearch's
        // inner-product kernel skips the norms and searches about twice as fast at equal recall
        // (measured with ann_bench at 100k: ef 256, recall 0.991, p50 1.1 ms vs 3.0 ms).
        metric: MetricKind::IP,
        quantization: s.quantization.scalar(),
        connectivity: s.connectivity,
        expansion_add: s.expansion_add,
        expansion_search: s.expansion_search,
        multi: false,
    }
}

impl Ann {
    /// An empty graph for vectors of width `dim`.
    pub fn new(dim: usize, settings: AnnSettings) -> Result<Ann> {
        let graph =
            usearch::Index::new(&options(dim, &settings)).map_err(|e| IndexError::Shape {
                message: format!("cannot create ANN graph: {e}"),
            })?;
        Ok(Ann { graph, settings })
    }

    /// Builds a graph over all rows of `vectors` (row-major, `dim` wide), inserting in parallel.
    /// `progress` is called with the number of rows inserted so far, now and then.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        settings: AnnSettings,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Ann> {
        let ann = Ann::new(dim, settings)?;
        ann.extend(vectors, dim, 0, progress)?;
        Ok(ann)
    }

    /// Inserts `vectors` as rows `first_row..`.
    pub fn extend(
        &self,
        vectors: &[f32],
        dim: usize,
        first_row: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<()> {
        let rows = vectors.len() / dim.max(1);
        let threads = rayon::current_num_threads();
        self.graph
            .reserve_capacity_and_threads(self.graph.size() + rows, threads)
            .map_err(|e| IndexError::Shape {
                message: format!("cannot reserve ANN graph for {rows} vectors: {e}"),
            })?;
        let done = std::sync::atomic::AtomicUsize::new(0);
        vectors
            .par_chunks(dim * 1024)
            .enumerate()
            .try_for_each(|(c, chunk)| {
                for (i, v) in chunk.chunks_exact(dim).enumerate() {
                    let row = first_row + c * 1024 + i;
                    // The graph compares by inner product: insert unit vectors.
                    let v = crate::dense::unit(v);
                    self.graph
                        .add(row as u64, &v)
                        .map_err(|e| IndexError::Shape {
                            message: format!("cannot insert row {row} into the ANN graph: {e}"),
                        })?;
                }
                let n = done.fetch_add(chunk.len() / dim, std::sync::atomic::Ordering::Relaxed);
                progress(n + chunk.len() / dim);
                Ok(())
            })
    }

    /// Writes the graph to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.graph
            .save(&path.to_string_lossy())
            .map_err(|e| IndexError::io(path, std::io::Error::other(e.to_string())))
    }

    /// Memory-maps a saved graph and checks it against the manifest.
    pub fn open(path: &Path, dim: usize, rows: usize, settings: AnnSettings) -> Result<Ann> {
        if !path.is_file() {
            return Err(IndexError::Missing {
                path: path.to_path_buf(),
                message: "ANN graph file is missing (the manifest records one)".into(),
            });
        }
        let ann = Ann::new(dim, settings)?;
        ann.graph
            .view(&path.to_string_lossy())
            .map_err(|e| failed(path, "cannot map", e))?;
        ann.check(path, dim, rows)?;
        Ok(ann)
    }

    /// Loads a saved graph into memory so that rows can be added to it.
    pub fn load(path: &Path, dim: usize, rows: usize, settings: AnnSettings) -> Result<Ann> {
        let ann = Ann::new(dim, settings)?;
        ann.graph
            .load(&path.to_string_lossy())
            .map_err(|e| failed(path, "cannot load", e))?;
        ann.check(path, dim, rows)?;
        Ok(ann)
    }

    fn check(&self, path: &Path, dim: usize, rows: usize) -> Result<()> {
        if self.graph.dimensions() != dim || self.graph.size() != rows {
            return Err(failed(
                path,
                "does not match the manifest",
                format!(
                    "{} vectors of {} dims, expected {rows} of {dim}",
                    self.graph.size(),
                    self.graph.dimensions()
                ),
            ));
        }
        // As many keys as rows, and every row a key: no key points past the documents.
        if let Some(missing) = (0..rows as u64).find(|&k| !self.graph.contains(k)) {
            return Err(failed(
                path,
                "does not match the manifest",
                format!("row {missing} has no vector in the graph (its keys are not 0..{rows})"),
            ));
        }
        self.graph
            .change_expansion_search(self.settings.expansion_search);
        Ok(())
    }

    /// Changes the search candidate list size (ef_search) for every later search.
    pub fn set_expansion_search(&mut self, ef: usize) {
        self.settings.expansion_search = ef;
        self.graph.change_expansion_search(ef);
    }

    /// The settings the graph was built with.
    pub fn settings(&self) -> AnnSettings {
        self.settings
    }

    /// Number of vectors in the graph.
    pub fn len(&self) -> usize {
        self.graph.size()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the graph occupies in memory (or in its mapping).
    pub fn memory_bytes(&self) -> usize {
        self.graph.memory_usage()
    }

    /// The `k` best rows for the unit `query`: `pool` graph candidates (at least `k`) rescored
    /// exactly against `vectors`, equal scores ordered by `tie(row)` ascending.
    pub fn search<T: Ord>(
        &self,
        vectors: &Vectors,
        query: &[f32],
        k: usize,
        pool: usize,
        tie: impl Fn(usize) -> T,
    ) -> Result<Vec<(usize, f32)>> {
        let pool = pool.max(k).min(self.len());
        if pool == 0 {
            return Ok(Vec::new());
        }
        let found = self
            .graph
            .search(query, pool)
            .map_err(|e| IndexError::Shape {
                message: format!("ANN search failed: {e}"),
            })?;
        if let Some(&bad) = found
            .keys
            .iter()
            .find(|&&row| row as usize >= vectors.len())
        {
            return Err(IndexError::Corrupt {
                path: "ann.usearch".into(),
                message: format!(
                    "the graph names row {bad} of an index of {} rows",
                    vectors.len()
                ),
            });
        }
        let mut hits: Vec<(usize, f32)> = found
            .keys
            .iter()
            .map(|&row| (row as usize, vectors.score(query, row as usize)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| tie(a.0).cmp(&tie(b.0))));
        hits.truncate(k);
        Ok(hits)
    }
}
