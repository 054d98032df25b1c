//! The search index: one folder holding everything a search needs.
//!
//! ```text
//! IDX/CURRENT             name of the live generation ("gen-000003"), switched by rename
//! IDX/gen-000003/
//!     manifest.json       format version, model name + fingerprint, dimension, counts, settings
//!     docs.parquet        id, title, text (row i ↔ vector i ↔ tantivy `row` i)
//!     vectors.f32         row-major little-endian f32, unit length, memory-mapped
//!     vectors.q           optional int8 or binary copy, read into memory for the first pass
//!     lexical/            tantivy index of title + text (English stemming, stop words, BM25)
//!     ann.usearch         optional HNSW graph over the vectors (USearch), memory-mapped
//!     chunks.bin          when documents are split: each one's vector rows and chunk spans
//!     topics.json         optional topics: each document's, and every topic's keywords and centre
//!     topics-map.svg/png  the topics' map, when one was drawn
//! ```
//!
//! Every change (build, add, delete, new fusion default) writes a complete new generation and then
//! renames `CURRENT`, so a reader (or a crash) only ever sees a whole generation. One writer at
//! a time holds `IDX/.writer.lock` ([`lock`]); readers take no lock.

pub mod ann;
pub mod batch;
pub mod chunks;
pub mod dense;
mod error;
pub mod fusion;
mod index;
mod layout;
pub mod lexical;
pub mod lock;
mod manifest;
pub mod quantized;
pub mod shards;
pub mod synthetic;
pub mod topics;

pub use ann::{Ann, AnnPolicy, AnnSettings, Quantization};
pub use chunks::{Aggregate, ChunkMap, ChunkSettings};
pub use error::{IndexError, Result};
pub use fusion::{FusedHit, Fusion};
pub use index::{
    AddPolicy, BestChunk, BuildOptions, DenseMethod, Index, Mode, ModelInfo, Request, Results,
};
pub use lock::{Wait, WriterLock};
pub use manifest::{LexicalSettings, Manifest, TopicSettings, FORMAT_VERSION};
pub use shards::{Candidates, LexicalStats, ShardHit};
pub use topics::{Topic, TopicCount, TopicLevel, TopicMap, Topics, TopicsInput};
