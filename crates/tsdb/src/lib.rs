//! `tsdb`: the series storage engine of Aerowatch.
//!
//! Samples enter through a [`HeadAppender`] (validated, written to the
//! write-ahead log, then made visible) and are read through the [`Querier`]
//! trait, the one seam PromQL and the HTTP APIs use. The head keeps series
//! with interned labels and Gorilla/XOR-compressed chunks; the WAL
//! (`wal/`, opaque checksummed records) makes every acknowledged sample
//! survive a crash. Layout follows Prometheus: `head/` (append, read,
//! replay), `chunk/` (one encoding per file), `index/` (postings),
//! `record.rs` (what the head writes into the WAL).
#![warn(missing_docs)]

pub mod block;
pub mod chunk;
mod encoding;
pub mod head;
pub mod index;
mod querier;
pub mod record;
mod stats;
mod symbols;
pub mod wal;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use head::{AppendError, Head, HeadAppender, HeadOptions, HeadQuerier, ReplayOutcome};
pub use querier::{Querier, QueryError, SeriesSamples};
pub use stats::{CardinalityStats, HeadStats, NameCount};
pub use wal::{FsyncPolicy, ReplayStats, Wal, WalOptions};

/// Storage errors that stop the database from opening or running.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Filesystem trouble with the data directory.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process holds the data directory.
    #[error("data directory {0} is locked by another process (is another Aerowatch running on it?)")]
    Locked(PathBuf),
    /// The WAL failed.
    #[error(transparent)]
    Wal(#[from] wal::WalError),
}

/// How the database is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// WAL segment size and fsync policy.
    pub wal: WalOptions,
    /// Head chunk and bounds settings.
    pub head: HeadOptions,
}

/// What opening the database did, for logs and metrics.
#[derive(Debug, Clone)]
pub struct OpenReport {
    /// WAL-level replay figures (records, truncated tails...).
    pub wal: ReplayStats,
    /// Head-level replay figures (series, samples...).
    pub head: ReplayOutcome,
    /// How long opening took.
    pub duration: Duration,
}

/// The database: a head backed by a WAL in a locked directory.
#[derive(Clone)]
pub struct Db {
    head: Arc<Head>,
    dir: PathBuf,
    _lock: Arc<File>,
}

impl Db {
    /// Opens (creating if needed) the database in `dir`, replaying the WAL.
    pub fn open(dir: &Path, opts: Options) -> Result<(Db, OpenReport), DbError> {
        let start = Instant::now();
        let io = |source| DbError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(DbError::Locked(dir.to_path_buf()));
        }
        let mut head = Head::new(None, opts.head.clone());
        let (wal, wal_stats, outcome) = {
            let mut replayer = head::Replayer::new(&head);
            let (wal, stats) = Wal::open(&dir.join("wal"), opts.wal.clone(), |rec| replayer.apply(rec))?;
            (wal, stats, replayer.outcome)
        };
        head.wal = Some(wal);
        let report = OpenReport {
            wal: wal_stats,
            head: outcome,
            duration: start.elapsed(),
        };
        Ok((
            Db {
                head: Arc::new(head),
                dir: dir.to_path_buf(),
                _lock: Arc::new(lock),
            },
            report,
        ))
    }

    /// A new appender.
    pub fn appender(&self) -> HeadAppender {
        self.head.appender()
    }

    /// A querier over `[mint, maxt]`.
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier {
        self.head.querier(mint, maxt)
    }

    /// The head, for statistics.
    pub fn head(&self) -> &Arc<Head> {
        &self.head
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes the WAL to stable storage (called periodically and at shutdown).
    pub fn sync(&self) -> Result<(), DbError> {
        if let Some(wal) = self.head.wal() {
            wal.sync()?;
        }
        Ok(())
    }
}
