//! Arguments of `trine mine` and `trine train`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::*;

/// Retriever that proposes hard negatives.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MineRetriever {
    /// BM25 over title + text.
    Bm25,
    /// Cosine over the model's embeddings.
    Dense,
    /// Both, fused (RRF unless --fusion says otherwise).
    Hybrid,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// BEIR-layout dataset folder, or a dataset name under the data root.
    #[arg(long)]
    pub data: PathBuf,
    /// Qrels split whose queries and positives are mined (never mine from test).
    #[arg(long, default_value = "train")]
    pub split: String,
    #[arg(long, value_enum, default_value_t = MineRetriever::Bm25)]
    pub retriever: MineRetriever,
    /// Negatives per (query, positive) pair.
    #[arg(long, default_value_t = 1)]
    pub negatives: usize,
    /// Never take negatives from the first this many ranks.
    #[arg(long, default_value_t = 0)]
    pub skip_top: usize,
    /// Drop candidates scoring above this fraction of the positive's score (when the positive
    /// was retrieved, or always for dense); 0 (the default, as sentence-transformers) turns the
    /// guard off. 0.95 is a common choice for dense mining.
    #[arg(long, default_value_t = 0.0)]
    pub max_score_ratio: f32,
    /// Ranking depth searched for negatives.
    #[arg(long, default_value_t = 100)]
    pub depth: usize,
    /// Output triplets file (Parquet).
    #[arg(long)]
    pub out: PathBuf,
    /// Reuse document embeddings from this file when the same model made them (dense, hybrid).
    #[arg(long)]
    pub doc_embeddings: Option<PathBuf>,
    #[command(flatten)]
    pub fusion: FusionArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Training loss.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LossArg {
    /// Triplet margin loss on each row's own triplet.
    Triplet,
    /// Triplet loss over every valid in-batch triplet (mean over the violating ones).
    BatchAll,
    /// Triplet loss with each anchor's hardest in-batch positive and negative.
    BatchHard,
    /// Triplet loss with semi-hard in-batch negatives (fallback: the farthest negative).
    SemiHard,
    /// Contrastive loss on (query, positive) and (query, negative) pairs.
    Contrastive,
    /// Quadruplet loss (second negative from another row).
    Quadruplet,
    /// Proxy-NCA with learnable class proxies.
    ProxyNca,
    /// Proxy-Anchor with learnable class proxies.
    ProxyAnchor,
    /// InfoNCE / multiple-negatives ranking with in-batch negatives.
    Infonce,
}

/// Distance of the margin losses.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DistanceArg {
    Euclidean,
    SquaredEuclidean,
    Cosine,
}

/// How proxies start.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProxyInitArg {
    /// Each class's mean embedding under the starting model.
    Mean,
    /// Random values.
    Random,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Starting model (a sentence-transformers folder).
    #[arg(long, env = "TRINE_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    pub model: PathBuf,
    /// Training triplets (Parquet: query, positive, negative [, query_id, positive_id,
    /// negative_id, label]).
    #[arg(long)]
    pub triplets: PathBuf,
    #[arg(long, value_enum, default_value_t = LossArg::Infonce)]
    pub loss: LossArg,
    /// Distance for the margin losses (triplet family, contrastive, quadruplet).
    #[arg(long, value_enum, default_value_t = DistanceArg::Cosine)]
    pub distance: DistanceArg,
    /// Margin (default: 0.1 for cosine, 0.5 for Euclidean and squared Euclidean).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Quadruplet loss's second margin (default: half the margin).
    #[arg(long)]
    pub second_margin: Option<f64>,
    /// Logit scale: InfoNCE (default 20) and Proxy-NCA (default 9).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Proxy-Anchor's α.
    #[arg(long, default_value_t = 32.0)]
    pub proxy_alpha: f64,
    /// Proxy-Anchor's δ.
    #[arg(long, default_value_t = 0.1)]
    pub proxy_delta: f64,
    /// Learning rate of the proxies (default: 100 × --lr, as the Proxy-Anchor paper).
    #[arg(long)]
    pub proxy_lr: Option<f64>,
    #[arg(long, value_enum, default_value_t = ProxyInitArg::Mean)]
    pub proxy_init: ProxyInitArg,
    /// Triplets per micro-batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub accumulation: usize,
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Peak learning rate (AdamW).
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Fraction of steps for the linear warm-up.
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    /// Gradient-norm clipping (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    #[arg(long, env = "TRINE_SEED", default_value_t = 42)]
    pub seed: u64,
    /// BEIR folder (or name under the data root) whose --eval-split provides the dev set; its
    /// queries are removed from training.
    #[arg(long)]
    pub eval_data: Option<PathBuf>,
    #[arg(long, default_value = "train")]
    pub eval_split: String,
    /// Queries held out of the split as the dev set.
    #[arg(long, default_value_t = 100)]
    pub dev_queries: usize,
    /// Unjudged documents sampled into the dev corpus (besides every judged one).
    #[arg(long, default_value_t = 1000)]
    pub dev_docs: usize,
    /// Evaluate every this many steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub eval_every: usize,
    /// Number format for dev evaluation.
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub eval_dtype: DtypeArg,
    /// Write a resumable checkpoint every this many steps (0: never).
    #[arg(long, default_value_t = 20)]
    pub checkpoint_every: usize,
    #[arg(long, default_value_t = 2)]
    pub keep_checkpoints: usize,
    /// Stop after this many steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Continue from the latest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Start over in an --out that holds an earlier run's checkpoints, deleting them (without
    /// it, such a run is refused).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Output folder (sentence-transformers layout, plus checkpoints/, logs and curves.svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Sleep after each step (for tests that interrupt a run).
    #[arg(long, default_value_t = 0, hide = true)]
    pub step_delay_ms: u64,
}
