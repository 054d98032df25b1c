//! Command-line arguments (clap derive; every option that a script may want to set has an
//! environment variable).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod index;
mod train;

pub use index::*;
pub use train::*;

/// trine: fine-tune, embed, index, search, cluster and benchmark text embeddings.
#[derive(Debug, Parser)]
#[command(name = "trine", version, about)]
pub struct Cli {
    /// Worker threads for encoding and search (default: all cores).
    #[arg(long, global = true, env = "TRINE_THREADS")]
    pub threads: Option<usize>,
    /// Folder that holds the public data sets (BEIR folders and others); dataset names given
    /// to `--data` are looked up here.
    #[arg(
        long,
        global = true,
        env = "TRINE_DATA_ROOT",
        default_value = "../shared/corpora"
    )]
    pub data_root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Embed a corpus into a Parquet file (`id`, `embedding`).
    Embed(EmbedArgs),
    /// Evaluate a retriever on a BEIR-layout dataset (nDCG, recall, MRR, MAP).
    Eval(EvalArgs),
    /// Print the token count and embedding of texts given on the command line, as JSON lines.
    Encode(EncodeArgs),
    /// Build and maintain a search index (tantivy BM25 beside dense vectors).
    #[command(subcommand)]
    Index(IndexCommand),
    /// Search an index: one query, or a queries file into a TREC run.
    Search(SearchArgs),
    /// Choose the hybrid fusion method and weight on labelled queries; store it in the index.
    TuneFusion(TuneFusionArgs),
    /// Cluster documents: assignments, per-cluster keywords and central documents, a map.
    Cluster(ClusterArgs),
    /// Serve an index over HTTP: search API, embeddings (OpenAI-compatible), metrics, a page.
    Serve(ServeArgs),
    /// Cluster a labelled corpus and score it against the gold labels (V-measure, NMI, ARI,
    /// silhouette).
    EvalCluster(EvalClusterArgs),
    /// Mine hard negatives for a BEIR split into a triplets Parquet file.
    Mine(MineArgs),
    /// Fine-tune the encoder on triplets (triplet, mined, contrastive, quadruplet, proxy or
    /// InfoNCE loss); writes a sentence-transformers model folder.
    Train(TrainArgs),
    /// From a corpus to a fine-tuned model in one command: mine (BEIR) or batch by class
    /// (labelled texts), train with the recommended recipe, choose on dev, write the model, its
    /// card and a before/after report.
    Finetune(FinetuneArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Index folder to serve.
    pub index: PathBuf,
    /// Address to listen on (loopback by default).
    #[arg(long, env = "TRINE_ADDR", default_value = "127.0.0.1:7700")]
    pub addr: String,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Most texts in one embeddings request.
    #[arg(long, default_value_t = 64)]
    pub max_batch: usize,
    /// Largest k for a search.
    #[arg(long, default_value_t = 100)]
    pub max_k: usize,
    /// Seconds a request may take (408 beyond).
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// Requests encoding at the same time; the rest wait.
    #[arg(long, default_value_t = 2)]
    pub concurrent_encodes: usize,
    /// Dynamic batching: concurrent searches and embedding requests wait in one queue and each
    /// encoder batch takes up to this many texts (a larger request is a batch of its own). Off
    /// unless given: on 2 CPU cores it did not raise throughput (README).
    #[arg(long, env = "TRINE_MAX_BATCH_TEXTS")]
    pub max_batch_texts: Option<usize>,
    /// Token that writes (POST /documents, deletes) must bear as `Authorization: Bearer TOKEN`;
    /// without one, writes are off and the index is read-only over HTTP.
    #[arg(long, env = "TRINE_WRITE_TOKEN", hide_env_values = true)]
    pub write_token: Option<String>,
    /// How often to look for a new generation written by another process, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub reload_ms: u64,
    #[command(flatten)]
    pub dense: DenseSearchArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Clustering algorithm.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AlgorithmArg {
    /// k-means with k-means++ seeding and restarts (needs --k).
    Kmeans,
    /// Average-linkage agglomerative clustering cut at --threshold (cosine distance); no k.
    Agglomerative,
    /// Threshold communities (cosine ≥ --threshold, at least --min-size members); no k.
    Community,
}

/// Geometry of k-means.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum KMeansMetricArg {
    Cosine,
    Euclidean,
}

/// The 2-D layout of a cluster map.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MapArg {
    /// t-SNE for more than five clusters, PCA for fewer.
    Auto,
    /// Barnes-Hut t-SNE (neighbourhoods kept).
    Tsne,
    /// The first two principal components.
    Pca,
    /// No map.
    None,
}

/// The cluster map.
#[derive(Debug, Args, Clone)]
pub struct MapArgs {
    /// Layout of the map (SVG and PNG).
    #[arg(long, value_enum, default_value_t = MapArg::Auto)]
    pub map: MapArg,
}

/// Clustering algorithm and its settings.
#[derive(Debug, Args, Clone)]
pub struct AlgorithmArgs {
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Kmeans)]
    pub algorithm: AlgorithmArg,
    /// Number of clusters (k-means).
    #[arg(long, default_value_t = 20)]
    pub k: usize,
    /// k-means restarts; the run with the lowest inertia is kept.
    #[arg(long, default_value_t = 10)]
    pub n_init: usize,
    /// k-means iterations per run (steps in mini-batch mode).
    #[arg(long, default_value_t = 300)]
    pub max_iter: usize,
    /// k-means geometry: `cosine` (spherical k-means: unit points and centres, the geometry
    /// sentence embeddings are compared in) or `euclidean` (scikit-learn's KMeans).
    #[arg(long, value_enum, default_value_t = KMeansMetricArg::Cosine)]
    pub metric: KMeansMetricArg,
    /// Mini-batch k-means with this many points per step (for large inputs).
    #[arg(long)]
    pub mini_batch: Option<usize>,
    /// Cosine distance (agglomerative, default 0.5) or similarity (community, default 0.75).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Smallest community (community detection).
    #[arg(long, default_value_t = 10)]
    pub min_size: usize,
    /// Random seed (k-means seeding, sampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["index", "embeddings", "corpus"])))]
pub struct ClusterArgs {
    /// Cluster the documents of this index (its stored vectors).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Cluster the vectors of an embeddings Parquet file from `trine embed`.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// Embed this corpus with --model and cluster it; with --embeddings, only its texts are used
    /// (for keywords).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Output folder: assignments.parquet, clusters.json, clusters.txt, map.svg.
    #[arg(long)]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub algorithm: AlgorithmArgs,
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub corpus_args: CorpusArgs,
}

#[derive(Debug, Args)]
pub struct EvalClusterArgs {
    /// Labelled corpus: a JSONL file or a folder holding docs.jsonl (or a name under the data
    /// root, e.g. `twentynewsgroups`).
    #[arg(long)]
    pub data: PathBuf,
    /// Gold labels: this field of the corpus, unless --labels names a file.
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// Gold labels from a separate file (`id<TAB>label` .tsv, or JSONL with --id-field and
    /// --label-field).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Field embedded as each document's text (20 Newsgroups' `text` starts with its subject).
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Title field prepended to the text (none by default).
    #[arg(long, default_value = "")]
    pub title_field: String,
    #[arg(long, default_value = "_id")]
    pub id_field: String,
    /// Reuse document embeddings from this file when the same model made them; otherwise compute
    /// and save them here.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
    /// Also write assignments, summaries and the map here.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Score another engine's topics instead of clustering: NPMI coherence and diversity of the
    /// keyword lists in this JSON file (`{"topics": [["word", ...], ...]}`) over the corpus.
    #[arg(long, conflicts_with_all = ["out_dir", "embeddings"])]
    pub score_topics: Option<PathBuf>,
    /// Print the scores as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub algorithm: AlgorithmArgs,
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Retrieval mode.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    /// BM25 over title + text.
    Lexical,
    /// Cosine over document embeddings (ANN graph when the index has one, else exact).
    Dense,
    /// Fusion of lexical and dense.
    Hybrid,
}

/// Fusion method for hybrid search.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FusionArg {
    Rrf,
    Convex,
    Zscore,
}

/// Hybrid fusion options; unset ones come from the index's stored default.
#[derive(Debug, Args, Clone)]
pub struct FusionArgs {
    /// Fusion method (default: the index's, set by tune-fusion; RRF k=60 when never tuned).
    #[arg(long, value_enum)]
    pub fusion: Option<FusionArg>,
    /// Weight of the dense score for convex and z-score fusion.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// RRF's k.
    #[arg(long, default_value_t = 60.0)]
    pub rrf_k: f32,
    /// Candidates taken from each retriever before fusion.
    #[arg(long, default_value_t = 100)]
    pub candidates: usize,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Index folder.
    pub index: PathBuf,
    /// Query text (or use --queries).
    pub query: Option<String>,
    /// Search mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Hybrid)]
    pub mode: ModeArg,
    /// Hits to return.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Print hits as JSON.
    #[arg(long)]
    pub json: bool,
    /// A queries file (BEIR queries.jsonl, or one query per line) to run in batch.
    #[arg(long, requires = "run")]
    pub queries: Option<PathBuf>,
    /// TREC run file written by the batch form.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Only documents of this topic (an index clustered by `trine index cluster`).
    #[arg(long)]
    pub topic: Option<usize>,
    /// Print topic counts (facets) of the unfiltered top --candidates hits.
    #[arg(long)]
    pub facets: bool,
    /// Batch form: run the queries one at a time (encoding included) and write latency
    /// percentiles as JSON to this file.
    #[arg(long, requires = "queries")]
    pub latency_report: Option<PathBuf>,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub dense: DenseSearchArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct TuneFusionArgs {
    /// BEIR dataset whose corpus the index holds.
    #[arg(long)]
    pub data: PathBuf,
    /// Labelled split to tune on (never the test split you report).
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Index to tune and store the choice in.
    #[arg(long)]
    pub index: PathBuf,
    /// Use at most this many queries of the split (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_queries: usize,
    /// Candidates taken from each retriever before fusion.
    #[arg(long, default_value_t = 100)]
    pub candidates: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// How a command that writes an index treats another writer.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// When another process is writing the index, wait for it instead of failing.
    #[arg(long, env = "TRINE_WAIT")]
    pub wait: bool,
}

/// Model and batching options shared by every command that encodes text.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A sentence-transformers model folder.
    #[arg(long, env = "TRINE_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    pub model: PathBuf,
    /// Texts per forward pass.
    #[arg(long, env = "TRINE_BATCH_SIZE", default_value_t = 32)]
    pub batch_size: usize,
    /// Fill each forward pass up to this many (padded) tokens instead of --batch-size texts:
    /// short texts run in large batches, long ones in small (text-embeddings-inference's
    /// --max-batch-tokens).
    #[arg(long, env = "TRINE_MAX_BATCH_TOKENS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_tokens: Option<u64>,
    /// Number format of the encoder's matrix products: f32 (reproduces sentence-transformers),
    /// bf16 (faster on CPUs with AMX; needs the MKL build) or int8 (quantised linear layers).
    #[arg(long, value_enum, env = "TRINE_DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
    /// Prompt every text with the model's prompt of this name (`config_sentence_transformers.json`);
    /// without it queries get the `query` prompt, documents the `document` one, where the model
    /// has them.
    #[arg(long, env = "TRINE_PROMPT_NAME", conflicts_with = "prompt")]
    pub prompt_name: Option<String>,
    /// Prompt every text with this text.
    #[arg(long, env = "TRINE_PROMPT")]
    pub prompt: Option<String>,
    /// Keep the first N dimensions of each embedding (Matryoshka models), renormalised.
    #[arg(long, env = "TRINE_TRUNCATE_DIM")]
    pub truncate_dim: Option<usize>,
}

/// Encoder number format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DtypeArg {
    F32,
    Bf16,
    Int8,
}

impl From<DtypeArg> for trine_encoder::Precision {
    fn from(d: DtypeArg) -> Self {
        match d {
            DtypeArg::F32 => trine_encoder::Precision::F32,
            DtypeArg::Bf16 => trine_encoder::Precision::Bf16,
            DtypeArg::Int8 => trine_encoder::Precision::Int8,
        }
    }
}

/// Number format of the training pass's matrix products.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TrainDtypeArg {
    F32,
    Bf16,
}

/// The on-disk layout of a corpus.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// A folder is BEIR; `.jsonl`/`.json` JSON Lines; `.parquet` Parquet; anything else text.
    Auto,
    Beir,
    Jsonl,
    Parquet,
    Text,
}

/// How to read a corpus.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// Corpus format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Id field (JSONL) or column (Parquet); absent ids become line/row numbers.
    #[arg(long, default_value = "_id")]
    pub id_field: String,
    /// Title field or column (optional in the data).
    #[arg(long, default_value = "title")]
    pub title_field: String,
    /// Text field or column (required in the data).
    #[arg(long, default_value = "text")]
    pub text_field: String,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Corpus to embed: a BEIR folder, JSONL, Parquet or text file (or a dataset name under the
    /// data root).
    #[arg(long)]
    pub input: PathBuf,
    /// Output Parquet file, written atomically.
    #[arg(long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Embed only the first N documents (for quick benchmarks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write throughput figures (docs/s, tokens/s, peak RSS) as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// BEIR-layout dataset folder, or a dataset name under the data root (e.g. `scifact`).
    #[arg(long)]
    pub data: PathBuf,
    /// Qrels split to evaluate (`qrels/<split>.tsv`).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Retriever to evaluate.
    #[arg(long, value_enum, default_value_t = ModeArg::Dense)]
    pub retriever: ModeArg,
    /// Evaluate this index (built from the dataset's corpus); without it a temporary index is
    /// built from --data with --model.
    #[arg(long)]
    pub index: Option<PathBuf>,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub dense: DenseSearchArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Reuse document embeddings from this file when it was made by the same model; otherwise
    /// compute them and save them here.
    #[arg(long, conflicts_with = "chunk_tokens")]
    pub doc_embeddings: Option<PathBuf>,
    #[command(flatten)]
    pub chunks: ChunkArgs,
    /// Hits kept per query (the run file's depth; metrics need at least 100).
    #[arg(long, default_value_t = 100)]
    pub top_k: usize,
    /// Folder for the TREC run file and the JSON report.
    #[arg(long, default_value = "eval/runs")]
    pub out_dir: PathBuf,
    /// Print the metrics as one JSON object on stdout (and nothing else there).
    #[arg(long)]
    pub json: bool,
    /// Also print this many queries with their top 3 hits (relevant ones marked `*`).
    #[arg(long, default_value_t = 0)]
    pub examples: usize,
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Texts to encode.
    #[arg(required = true)]
    pub texts: Vec<String>,
}
