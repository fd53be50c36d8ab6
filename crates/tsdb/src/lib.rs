//! `tsdb`: the series storage engine of Aerowatch.
//!
//! Samples enter through a [`HeadAppender`] (validated, written to the
//! write-ahead log, then made visible) and are read through the [`Querier`]
//! trait, the one seam PromQL and the HTTP APIs use. The head keeps series
//! with interned labels and Gorilla/XOR-compressed chunks; the WAL
//! (`wal/`, opaque checksummed records) makes every acknowledged sample
//! survive a crash. When the head spans more than 1.5 block ranges, the
//! oldest range is written as an immutable block (`block/`), the head is
//! truncated and the WAL checkpointed; blocks are merged into larger ranges
//! and deleted by retention (`db.rs`). Queries merge blocks and head
//! (`merge.rs`). Layout follows Prometheus: `head/` (append, read, replay,
//! truncate), `chunk/` (one encoding per file), `index/` (postings),
//! `record.rs` (what the head writes into the WAL).
#![warn(missing_docs)]

pub mod block;
pub mod chunk;
mod db;
mod encoding;
pub mod head;
pub mod index;
mod merge;
mod querier;
pub mod record;
mod stats;
mod symbols;
pub mod wal;

pub use db::{Db, DbCounters, DbError, MaintenanceReport, OpenReport, Options};
pub use head::{AppendError, Head, HeadAppender, HeadOptions, HeadQuerier, ReplayOutcome, TruncateStats};
pub use merge::MergeQuerier;
pub use querier::{Querier, QueryError, SeriesSamples};
pub use stats::{CardinalityStats, HeadStats, NameCount};
pub use wal::{FsyncPolicy, ReplayStats, Wal, WalOptions};
