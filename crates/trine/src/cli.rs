//! Command-line arguments (clap derive; every option that a script may want to set has an
//! environment variable).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// Which retriever to evaluate.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RetrieverArg {
    /// Exact cosine similarity over all document embeddings.
    Dense,
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
    #[arg(long, value_enum, default_value_t = RetrieverArg::Dense)]
    pub retriever: RetrieverArg,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Reuse document embeddings from this file when it was made by the same model; otherwise
    /// compute them and save them here.
    #[arg(long)]
    pub doc_embeddings: Option<PathBuf>,
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
