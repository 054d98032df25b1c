//! Arguments of `trine mine`, `trine train` and `trine finetune`. The mining and training flags
//! are shared: `finetune` takes every flag of the two steps it is made of. Unset flags take the
//! step's defaults (`mine`, `train`) or the recommended recipe (`finetune`).

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

/// How negatives are taken from the rank window.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SamplingArg {
    /// The best-ranked eligible candidates.
    Top,
    /// A seeded random sample of the eligible candidates.
    Random,
}

/// Which positives a query keeps under --max-pairs-per-query.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PositiveArg {
    /// A seeded random sample.
    Random,
    /// Highest grade first, then highest dense score.
    Best,
}

/// Mining flags (`trine mine` and `trine finetune`).
#[derive(Debug, Args, Clone)]
pub struct MiningFlags {
    /// Retriever that ranks candidates (mine: bm25; finetune: hybrid).
    #[arg(long, value_enum)]
    pub retriever: Option<MineRetriever>,
    /// Negatives per (query, positive) pair (1).
    #[arg(long)]
    pub negatives: Option<usize>,
    /// Never take negatives from the first this many ranks (sentence-transformers' range_min;
    /// mine: 0, finetune: 10).
    #[arg(long)]
    pub skip_top: Option<usize>,
    /// Take negatives from the first this many ranks (range_max; 100).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Which eligible candidates of the window become negatives (mine: top; finetune: random).
    #[arg(long, value_enum)]
    pub sampling: Option<SamplingArg>,
    /// Drop candidates whose dense score is above this fraction of the positive's (the
    /// positive-aware filter; 0 turns it off; mine: off, finetune: 0.95).
    #[arg(long)]
    pub max_score_ratio: Option<f32>,
    /// Lowest judgement grade that makes a document a positive (1).
    #[arg(long)]
    pub min_grade: Option<i32>,
    /// Most (query, positive) pairs per query; 0 keeps all (mine: all; finetune: 8).
    #[arg(long)]
    pub max_pairs_per_query: Option<usize>,
    /// Which positives a query keeps under the cap (random).
    #[arg(long, value_enum)]
    pub positives: Option<PositiveArg>,
    /// Fusion of the hybrid retriever (RRF k = 60 unless set).
    #[arg(long, value_enum)]
    pub fusion: Option<FusionArg>,
    /// Dense weight of convex / z-score mining fusion.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// RRF's k for mining fusion.
    #[arg(long, default_value_t = 60.0)]
    pub rrf_k: f32,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// BEIR-layout dataset folder, or a dataset name under the data root.
    #[arg(long)]
    pub data: PathBuf,
    /// Qrels split whose queries and positives are mined (never mine from test).
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Output triplets file (Parquet).
    #[arg(long)]
    pub out: PathBuf,
    /// Mine from this trine index of the dataset's corpus (its vectors and BM25 index) instead
    /// of one built with --model.
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Reuse document embeddings from this file when the same model made them.
    #[arg(long)]
    pub doc_embeddings: Option<PathBuf>,
    /// Seed of the random choices (sampled negatives, capped positives).
    #[arg(long, env = "TRINE_SEED", default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub mining: MiningFlags,
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
    /// InfoNCE / multiple-negatives ranking with in-batch negatives (on labelled texts: the
    /// supervised contrastive loss, InfoNCE over labels).
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

/// Training flags (`trine train` and `trine finetune`).
#[derive(Debug, Args, Clone)]
pub struct TrainingFlags {
    /// Loss (train: infonce; finetune: infonce on retrieval data, proxy-nca on labelled data).
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// Distance for the margin losses (cosine).
    #[arg(long, value_enum)]
    pub distance: Option<DistanceArg>,
    /// Margin (0.1 for cosine, 0.5 for Euclidean and squared Euclidean; contrastive 0.5).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Quadruplet loss's second margin (half the margin).
    #[arg(long)]
    pub second_margin: Option<f64>,
    /// Logit scale: InfoNCE (20) and Proxy-NCA (9).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Proxy-Anchor's α (32).
    #[arg(long)]
    pub proxy_alpha: Option<f64>,
    /// Proxy-Anchor's δ (0.1).
    #[arg(long)]
    pub proxy_delta: Option<f64>,
    /// Learning rate of the proxies (100 × --lr, as the Proxy-Anchor paper).
    #[arg(long)]
    pub proxy_lr: Option<f64>,
    #[arg(long, value_enum)]
    pub proxy_init: Option<ProxyInitArg>,
    /// Rows per batch (train: 16; finetune: 64 triplets, 32 labelled texts).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Cache embedding gradients and run the model on this many texts at a time (GradCache:
    /// a large --batch-size in the memory of a small one; finetune: 16 on retrieval data).
    #[arg(long)]
    pub mini_batch_size: Option<usize>,
    /// Labelled texts per class in a batch (K of P × K; 4).
    #[arg(long)]
    pub per_class: Option<usize>,
    /// Micro-batches per optimizer step (1).
    #[arg(long)]
    pub accumulation: Option<usize>,
    /// Epochs (1).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Peak learning rate (AdamW; 2e-5).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Decoupled weight decay (0.01).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Fraction of steps for the linear warm-up (0.1).
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// Gradient-norm clipping (0: off; 1).
    #[arg(long)]
    pub max_grad_norm: Option<f64>,
    /// Seed of shuffling, dropout, dev hold-out and mining samples (42).
    #[arg(long, env = "TRINE_SEED")]
    pub seed: Option<u64>,
    /// Evaluate every this many steps (train: 0 = only at the end; finetune: 3 times a run on a
    /// BEIR folder, 6 on labelled texts).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Number format for dev evaluation during training (train: f32; finetune: bf16).
    #[arg(long, value_enum)]
    pub eval_dtype: Option<DtypeArg>,
    /// Number format of the training pass's matrix products: bf16 rounds their operands and
    /// accumulates in f32, weights and gradients stay f32 (train and labelled finetune: f32;
    /// finetune on a BEIR folder: bf16). BERT-shaped families only; ModernBERT and Qwen3 train
    /// in f32.
    #[arg(long, value_enum)]
    pub train_dtype: Option<TrainDtypeArg>,
    /// Write a resumable checkpoint every this many steps (0: never; 20).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Checkpoints kept (2).
    #[arg(long)]
    pub keep_checkpoints: Option<usize>,
    /// The run's length in steps, overriding --epochs (the data is cycled as needed and the
    /// learning-rate schedule spans these steps, as Hugging Face's max_steps).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Continue from the latest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Start over in an --out that holds an earlier run's checkpoints, deleting them (without
    /// it, such a run is refused).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Sleep after each step (for tests that interrupt a run).
    #[arg(long, default_value_t = 0, hide = true)]
    pub step_delay_ms: u64,
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
    /// BEIR folder whose `--judgements-split` qrels mask in-batch candidates judged for a row's
    /// query (InfoNCE); rows need query and document ids.
    #[arg(long)]
    pub judgements: Option<PathBuf>,
    /// The split the triplets were mined from.
    #[arg(long, default_value = "train")]
    pub judgements_split: String,
    /// BEIR folder (or name under the data root) whose --eval-split provides the dev set. When
    /// that split is the one trained on, --dev-queries of it are held out and their rows
    /// removed from training; another split is used whole, over the whole corpus.
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
    /// Output folder (sentence-transformers layout, plus checkpoints/, logs and curves.svg).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub training: TrainingFlags,
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// A BEIR folder with a train split (or a dataset name under the data root), or a
    /// labelled JSON Lines / Parquet collection.
    #[arg(long)]
    pub data: PathBuf,
    /// Output model folder (with README.md, finetune-report.json, logs and curves).
    #[arg(long)]
    pub out: PathBuf,
    /// Starting model (a sentence-transformers folder).
    #[arg(long, env = "TRINE_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    pub model: PathBuf,
    /// BEIR: the split trained on.
    #[arg(long, default_value = "train")]
    pub train_split: String,
    /// BEIR: the split checkpoints are chosen on, when its qrels file exists (else
    /// --dev-queries are held out of the train split).
    #[arg(long, default_value = "dev")]
    pub dev_split: String,
    #[arg(long, default_value_t = 100)]
    pub dev_queries: usize,
    #[arg(long, default_value_t = 1000)]
    pub dev_docs: usize,
    /// Labelled data: the fraction of every class held out as dev.
    #[arg(long, default_value_t = 0.1)]
    pub dev_fraction: f64,
    /// Labelled data: the field (JSONL) or column (Parquet) holding the class.
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// Labelled data: the id field.
    #[arg(long, default_value = "_id")]
    pub id_field: String,
    /// Labelled data: a title field prepended to the text (none by default, as `eval-cluster`:
    /// 20 Newsgroups' `text` starts with its subject).
    #[arg(long, default_value = "")]
    pub title_field: String,
    /// Labelled data: the text field.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Number format of the before/after report's embeddings (f32 reproduces
    /// sentence-transformers; bf16 is twice as fast).
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub report_dtype: DtypeArg,
    #[command(flatten)]
    pub mining: MiningFlags,
    #[command(flatten)]
    pub training: TrainingFlags,
}
