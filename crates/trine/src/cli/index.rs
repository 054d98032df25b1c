//! Arguments of `trine index` and the index options other commands share: how vectors are kept
//! (ANN graph, quantised copy), how long documents are chunked, how dense candidates are found.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::*;

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build an index from a corpus.
    Build(IndexBuildArgs),
    /// Add documents to an index (duplicate ids rejected unless --replace).
    Add(IndexAddArgs),
    /// Delete documents by id.
    Delete(IndexDeleteArgs),
    /// Show what an index holds.
    Info(IndexInfoArgs),
    /// Cluster an index's documents into topics and store them in it (a new generation):
    /// keywords, representative documents and, with --levels, coarser topics above them.
    Cluster(IndexClusterArgs),
}

#[derive(Debug, Args)]
pub struct IndexClusterArgs {
    /// Index folder.
    pub index: PathBuf,
    #[command(flatten)]
    pub algorithm: AlgorithmArgs,
    /// Keywords kept per topic (c-TF-IDF).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub keywords: u64,
    /// Representative documents kept per topic (nearest its centre).
    #[arg(long, default_value_t = 5)]
    pub representatives: usize,
    /// Coarser levels of a topic hierarchy, as numbers of groups (e.g. `--k 50 --levels 20,5`):
    /// topics merged by average linkage over their centres.
    #[arg(long, value_delimiter = ',')]
    pub levels: Vec<usize>,
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct IndexBuildArgs {
    /// Corpus to index (BEIR folder, JSONL, Parquet or text; or a dataset name under the data root).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Index folder to create.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an index already in --out (atomically: the old one stays until the new is whole).
    #[arg(long)]
    pub force: bool,
    /// Use these document embeddings (from `trine embed` with the same model) instead of
    /// embedding the corpus again; they are checked against the model's fingerprint and the ids.
    #[arg(long, conflicts_with = "chunk_tokens")]
    pub embeddings: Option<PathBuf>,
    /// Split the corpus into N indexes of contiguous, near-equal parts (`OUT/shard-000`, ...,
    /// listed in `OUT/shards.json`) that search as one (`trine search OUT`, or one machine per
    /// shard with `trine.ray.serve`); --embeddings may then be a folder of embeddings files,
    /// as `trine.ray.embed` writes them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: Option<u64>,
    #[command(flatten)]
    pub chunks: ChunkArgs,
    #[command(flatten)]
    pub ann: AnnArgs,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub corpus_args: CorpusArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// How an index keeps its vectors in memory for dense search.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum VectorsArg {
    /// The f32 vectors, scanned exactly.
    F32,
    /// One byte per dimension over the corpus's range of it (a quarter of f32's memory).
    Int8,
    /// One sign bit per dimension, compared by Hamming distance (a thirty-second).
    Binary,
}

/// Quantised vectors for `index build`.
#[derive(Debug, Args, Clone)]
pub struct VectorArgs {
    /// Vectors kept in memory for dense search's first pass; with int8 or binary the best
    /// --rescore candidates are rescored against the f32 vectors, memory-mapped from disk (an
    /// ANN graph, where there is one, answers first).
    #[arg(long, value_enum, default_value_t = VectorsArg::F32)]
    pub vectors: VectorsArg,
    /// Candidates of the int8 or binary pass rescored in f32 (at least the k asked for).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub rescore: u64,
}

/// How a document's chunk scores make its dense score.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AggregateArg {
    /// The best chunk's (MaxP).
    Max,
    /// The mean of its chunks'.
    Mean,
}

/// Long documents: split into chunks, one vector each, instead of truncating them.
#[derive(Debug, Args, Clone)]
pub struct ChunkArgs {
    /// Split documents into chunks of at most N tokens (special and prompt tokens included; at
    /// most the model's max_seq_length), each embedded and indexed; without it documents are
    /// cut off at max_seq_length.
    #[arg(long, value_name = "N")]
    pub chunk_tokens: Option<usize>,
    /// Tokens each chunk repeats from the one before.
    #[arg(
        long,
        value_name = "M",
        default_value_t = 32,
        requires = "chunk_tokens"
    )]
    pub chunk_overlap: usize,
    /// A document's dense score from its chunks': the best one (MaxP) or the mean.
    #[arg(long, value_enum, default_value_t = AggregateArg::Max, requires = "chunk_tokens")]
    pub chunk_aggregate: AggregateArg,
}

/// Whether `index build` makes an ANN graph.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AnnPolicyArg {
    /// For collections of 50,000 documents or more.
    Auto,
    Always,
    Never,
}

/// How the ANN graph stores vectors.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum QuantizationArg {
    F32,
    F16,
    I8,
}

/// ANN (HNSW) graph options for `index build`.
#[derive(Debug, Args, Clone)]
pub struct AnnArgs {
    /// Build an HNSW graph for approximate dense search.
    #[arg(long, value_enum, default_value_t = AnnPolicyArg::Auto)]
    pub ann: AnnPolicyArg,
    /// Graph degree M.
    #[arg(long, default_value_t = 32)]
    pub ann_connectivity: usize,
    /// Candidate list size while inserting (ef_construction).
    #[arg(long, default_value_t = 128)]
    pub ann_ef_construction: usize,
    /// Default candidate list size while searching (ef_search); 384 gives recall@10 ≈ 0.97 at 1M
    /// vectors shaped like real embeddings (see eval/results).
    #[arg(long, default_value_t = 384)]
    pub ann_ef_search: usize,
    /// How the graph stores its copy of the vectors (hits are rescored in f32 either way).
    #[arg(long, value_enum, default_value_t = QuantizationArg::I8)]
    pub ann_quantization: QuantizationArg,
}

/// How dense candidates are found at query time.
#[derive(Debug, Args, Clone)]
pub struct DenseSearchArgs {
    /// Scan every vector exactly even when the index has an ANN graph.
    #[arg(long)]
    pub exact: bool,
    /// ANN candidate list size (ef_search) for this run; larger is slower and closer to exact.
    #[arg(long, conflicts_with = "exact")]
    pub ef: Option<usize>,
}

#[derive(Debug, Args)]
pub struct IndexAddArgs {
    /// Index folder.
    pub index: PathBuf,
    /// Corpus with the documents to add.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Replace documents whose ids are already in the index instead of failing.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub corpus_args: CorpusArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct IndexDeleteArgs {
    /// Index folder.
    pub index: PathBuf,
    /// Ids to delete (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct IndexInfoArgs {
    /// Index folder.
    pub index: PathBuf,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}
