//! The database: a head backed by a WAL, persisted blocks, and the
//! maintenance that moves data from one to the other (head compaction,
//! WAL checkpoints, block compaction, retention).
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::block::{self, Block, BlockError};
use crate::head::{self, Head, HeadAppender, HeadOptions, ReplayOutcome};
use crate::merge::MergeQuerier;
use crate::querier::Querier;
use crate::record::{self, Record, RefSample};
use crate::wal::{ReplayStats, Wal, WalError, WalOptions};

/// Storage errors that stop the database from opening or maintaining itself.
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
    Wal(#[from] WalError),
    /// A block could not be written or read.
    #[error(transparent)]
    Block(#[from] BlockError),
}

/// How the database is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// WAL segment size and fsync policy.
    pub wal: WalOptions,
    /// Head chunk and bounds settings; `chunk_range_ms` is also the block range.
    pub head: HeadOptions,
    /// Delete blocks older than this behind the newest sample (0: keep forever).
    pub retention_ms: i64,
    /// Delete the oldest blocks while blocks + WAL exceed this (0: no limit).
    pub retention_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wal: WalOptions::default(),
            head: HeadOptions::default(),
            retention_ms: 15 * 24 * 3600 * 1000,
            retention_bytes: 0,
        }
    }
}

/// What opening the database did, for logs and metrics.
#[derive(Debug, Clone)]
pub struct OpenReport {
    /// WAL-level replay figures (records, truncated tails...).
    pub wal: ReplayStats,
    /// Head-level replay figures (series, samples...).
    pub head: ReplayOutcome,
    /// Blocks opened.
    pub blocks: usize,
    /// Block directories that could not be opened (skipped).
    pub blocks_failed: Vec<String>,
    /// How long opening took.
    pub duration: Duration,
}

/// Counters of maintenance work, for `/metrics`.
#[derive(Debug, Default)]
pub struct DbCounters {
    /// Blocks cut from the head.
    pub head_compactions: AtomicU64,
    /// Block merges.
    pub compactions: AtomicU64,
    /// Maintenance runs that failed.
    pub maintenance_failures: AtomicU64,
    /// WAL checkpoints written.
    pub checkpoints: AtomicU64,
    /// Blocks deleted by retention.
    pub retention_deletions: AtomicU64,
    /// Duration of the last maintenance run, in milliseconds.
    pub last_maintenance_ms: AtomicU64,
}

/// What one maintenance run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Blocks cut from the head.
    pub head_blocks: usize,
    /// Blocks produced by merging.
    pub compacted: usize,
    /// Blocks deleted by retention.
    pub deleted: usize,
    /// Whether a WAL checkpoint was written.
    pub checkpointed: bool,
    /// Closed head chunks moved out of memory.
    pub spilled: usize,
}

struct Inner {
    head: Arc<Head>,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Blocks taken out of service, deleted once no querier holds them.
    doomed: Mutex<Vec<Arc<Block>>>,
    dir: PathBuf,
    opts: Options,
    maintenance: Mutex<()>,
    counters: DbCounters,
    _lock: File,
}

/// The database. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: blocks, then the WAL
    /// replayed into the head (skipping samples a block already holds).
    pub fn open(dir: &Path, opts: Options) -> Result<(Db, OpenReport), DbError> {
        let start = Instant::now();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(DbError::Locked(dir.to_path_buf()));
        }
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir).map_err(io(&blocks_dir))?;
        let (blocks, failed) = block::open_all(&blocks_dir);
        let mut head = Head::new(None, opts.head.clone());
        let chunks_dir = dir.join("head_chunks");
        let spilled = head.enable_chunk_spill(&chunks_dir).map_err(io(&chunks_dir))?;
        if let Some(maxt) = blocks.iter().map(|b| b.meta().max_time).max() {
            head.set_min_valid_time(maxt);
        }
        let (wal, wal_stats, outcome) = {
            let mut replayer = head::Replayer::new(&head).with_loaded_chunks(spilled);
            let (wal, stats) = Wal::open(&dir.join("wal"), opts.wal.clone(), |rec| replayer.apply(rec))?;
            replayer.finish();
            (wal, stats, replayer.outcome)
        };
        head.wal = Some(wal);
        let report = OpenReport {
            wal: wal_stats,
            head: outcome,
            blocks: blocks.len(),
            blocks_failed: failed.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect(),
            duration: start.elapsed(),
        };
        let inner = Inner {
            head: Arc::new(head),
            blocks: RwLock::new(blocks),
            doomed: Mutex::new(Vec::new()),
            dir: dir.to_path_buf(),
            opts,
            maintenance: Mutex::new(()),
            counters: DbCounters::default(),
            _lock: lock,
        };
        Ok((Db { inner: Arc::new(inner) }, report))
    }

    /// A new appender.
    pub fn appender(&self) -> HeadAppender {
        self.inner.head.appender()
    }

    /// A querier over `[mint, maxt]` across blocks and head.
    pub fn querier(&self, mint: i64, maxt: i64) -> MergeQuerier {
        let mut sources: Vec<Box<dyn Querier + Send + Sync>> = Vec::new();
        for b in self.inner.blocks.read().iter() {
            let m = b.meta();
            if m.min_time <= maxt && m.max_time > mint {
                sources.push(Box::new(b.querier(mint, maxt)));
            }
        }
        sources.push(Box::new(self.inner.head.querier(mint, maxt)));
        MergeQuerier::new(sources, None)
    }

    /// The head, for statistics.
    pub fn head(&self) -> &Arc<Head> {
        &self.inner.head
    }

    /// The persisted blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.inner.blocks.read().clone()
    }

    /// Maintenance counters.
    pub fn counters(&self) -> &DbCounters {
        &self.inner.counters
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Oldest sample time across blocks and head.
    pub fn min_time(&self) -> Option<i64> {
        let blocks = self.inner.blocks.read().first().map(|b| b.meta().min_time);
        match (blocks, self.inner.head.min_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Newest sample time across blocks and head.
    pub fn max_time(&self) -> Option<i64> {
        let blocks = self.inner.blocks.read().iter().map(|b| b.meta().max_time - 1).max();
        match (blocks, self.inner.head.max_time()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Bytes of persisted blocks.
    pub fn blocks_size(&self) -> u64 {
        self.inner.blocks.read().iter().map(|b| b.meta().stats.size_bytes).sum()
    }

    /// Flushes the WAL to stable storage and buffered head chunks to their
    /// file (called periodically and at shutdown).
    pub fn sync(&self) -> Result<(), DbError> {
        if let Some(wal) = self.inner.head.wal() {
            wal.sync()?;
        }
        let chunks_dir = self.inner.dir.join("head_chunks");
        self.inner.head.flush_spilled().map_err(io(&chunks_dir))?;
        Ok(())
    }

    /// Runs one round of maintenance: cuts blocks from the head while it
    /// spans more than 1.5 block ranges, checkpoints the WAL, merges blocks
    /// into larger ranges, applies retention and deletes unused blocks.
    /// Blocking; call it off the async threads.
    pub fn maintain(&self) -> Result<MaintenanceReport, DbError> {
        let started = Instant::now();
        let _one_at_a_time = self.inner.maintenance.lock();
        let result = self.maintain_locked();
        let c = &self.inner.counters;
        c.last_maintenance_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        if result.is_err() {
            c.maintenance_failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn maintain_locked(&self) -> Result<MaintenanceReport, DbError> {
        let head_blocks = self.compact_head()?;
        let checkpointed = head_blocks > 0;
        if checkpointed {
            self.checkpoint()?;
        }
        let spilled = self
            .inner
            .head
            .spill()
            .map_err(io(&self.inner.dir.join("head_chunks")))?;
        let compacted = self.compact_blocks()?;
        let deleted = self.apply_retention();
        self.delete_unused_blocks();
        Ok(MaintenanceReport {
            head_blocks,
            compacted,
            deleted,
            checkpointed,
            spilled,
        })
    }

    fn blocks_dir(&self) -> PathBuf {
        self.inner.dir.join("blocks")
    }

    fn add_block(&self, meta: &block::BlockMeta) -> Result<(), DbError> {
        let b = Arc::new(Block::open(&self.blocks_dir().join(&meta.id))?);
        let mut blocks = self.inner.blocks.write();
        blocks.push(b);
        blocks.sort_by(|a, b| {
            a.meta()
                .min_time
                .cmp(&b.meta().min_time)
                .then_with(|| a.meta().id.cmp(&b.meta().id))
        });
        Ok(())
    }

    fn compact_head(&self) -> Result<usize, DbError> {
        let head = &self.inner.head;
        let range = self.inner.opts.head.chunk_range_ms;
        let mut cut = 0;
        while let (Some(hmin), Some(hmax)) = (head.min_time(), head.max_time()) {
            if hmax.saturating_sub(hmin) <= range / 2 * 3 {
                break;
            }
            let mint = hmin.div_euclid(range) * range;
            let maxt = mint + range;
            let series = head.persistable(mint, maxt).map_err(|source| DbError::Io {
                path: self.inner.dir.join("head_chunks"),
                source,
            })?;
            if !series.is_empty() {
                let meta = block::write_block(&self.blocks_dir(), series.into_iter(), mint, maxt, 1, Vec::new())?;
                tracing::info!(block = %meta.id, mint, maxt, series = meta.stats.num_series, samples = meta.stats.num_samples, "persisted head block");
                self.add_block(&meta)?;
                self.inner.counters.head_compactions.fetch_add(1, Ordering::Relaxed);
                cut += 1;
            }
            let t = head.truncate(maxt);
            tracing::debug!(chunks = t.chunks_removed, series = t.series_removed, "head truncated");
        }
        Ok(cut)
    }

    /// Rewrites the closed WAL segments as a checkpoint holding only what
    /// the head still needs: definitions of live series and samples newer
    /// than the persisted range.
    fn checkpoint(&self) -> Result<(), DbError> {
        let head = &self.inner.head;
        let Some(wal) = head.wal() else { return Ok(()) };
        let closed = wal.cut_segment()?;
        let (first, _) = wal.segment_range()?;
        if first > closed {
            return Ok(());
        }
        let floor = head.min_valid_time.load(Ordering::Relaxed);
        let mut kept: Vec<Vec<u8>> = Vec::new();
        wal.read_range(first, closed, |payload| {
            match record::decode(payload) {
                Ok(Record::Series(defs)) => {
                    let live: Vec<_> = defs
                        .into_iter()
                        .filter(|d| head.series_by_ref(d.series_ref).is_some())
                        .collect();
                    if !live.is_empty() {
                        let mut buf = Vec::new();
                        let pairs: Vec<(u64, Vec<(&str, &str)>)> = live
                            .iter()
                            .map(|d| {
                                (
                                    d.series_ref,
                                    d.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect(),
                                )
                            })
                            .collect();
                        record::encode_series(&mut buf, pairs.into_iter());
                        kept.push(buf);
                    }
                }
                Ok(Record::Samples(samples)) => {
                    let live: Vec<RefSample> = samples
                        .into_iter()
                        .filter(|s| s.sample.t >= floor && head.series_by_ref(s.series_ref).is_some())
                        .collect();
                    if !live.is_empty() {
                        let mut buf = Vec::new();
                        record::encode_samples(&mut buf, &live);
                        kept.push(buf);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "dropping undecodable WAL record from checkpoint"),
            }
            Ok(())
        })?;
        let records = kept.len();
        wal.write_checkpoint(closed, &mut kept.into_iter())?;
        self.inner.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(upto = closed, records, "WAL checkpoint written");
        Ok(())
    }

    /// The compaction ranges: 3× the block range, then ×3 each step, up to
    /// 31 days or a tenth of the retention, whichever is smaller (as
    /// Prometheus chooses them).
    fn compaction_ranges(&self) -> Vec<i64> {
        let base = self.inner.opts.head.chunk_range_ms;
        let mut cap = 31 * 24 * 3600 * 1000i64;
        if self.inner.opts.retention_ms > 0 {
            cap = cap.min(self.inner.opts.retention_ms / 10);
        }
        let mut ranges = Vec::new();
        let mut r = base * 3;
        while r <= cap {
            ranges.push(r);
            r *= 3;
        }
        ranges
    }

    /// Merges blocks that fall in the same aligned range, once that range
    /// lies wholly behind the newest block.
    fn compact_blocks(&self) -> Result<usize, DbError> {
        let mut done = 0;
        'plan: loop {
            let blocks = self.blocks();
            let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() else {
                break;
            };
            for r in self.compaction_ranges() {
                let mut groups: std::collections::BTreeMap<i64, Vec<Arc<Block>>> = Default::default();
                for b in &blocks {
                    let m = b.meta();
                    if m.max_time - m.min_time < r {
                        groups.entry(m.min_time.div_euclid(r)).or_default().push(b.clone());
                    }
                }
                for (bucket, group) in groups {
                    let end = (bucket + 1) * r;
                    let fits = group.iter().all(|b| b.meta().max_time <= end);
                    if group.len() >= 2 && fits && end <= newest {
                        let meta = block::compact(&self.blocks_dir(), &group)?;
                        tracing::info!(block = %meta.id, sources = group.len(), mint = meta.min_time, maxt = meta.max_time, "compacted blocks");
                        self.add_block(&meta)?;
                        self.retire(&group);
                        self.inner.counters.compactions.fetch_add(1, Ordering::Relaxed);
                        done += 1;
                        continue 'plan;
                    }
                }
            }
            break;
        }
        Ok(done)
    }

    fn retire(&self, gone: &[Arc<Block>]) {
        let mut blocks = self.inner.blocks.write();
        blocks.retain(|b| !gone.iter().any(|g| Arc::ptr_eq(g, b)));
        self.inner.doomed.lock().extend(gone.iter().cloned());
    }

    /// Retention by time (from the newest sample) and by size.
    fn apply_retention(&self) -> usize {
        let opts = &self.inner.opts;
        let mut gone: Vec<Arc<Block>> = Vec::new();
        let blocks = self.blocks();
        if opts.retention_ms > 0 {
            if let Some(newest) = self.max_time() {
                let cutoff = newest.saturating_sub(opts.retention_ms);
                gone.extend(blocks.iter().filter(|b| b.meta().max_time <= cutoff).cloned());
            }
        }
        if opts.retention_bytes > 0 {
            let wal = self.inner.head.wal().map(|w| w.disk_size()).unwrap_or(0);
            let mut total: u64 = wal + blocks.iter().map(|b| b.meta().stats.size_bytes).sum::<u64>();
            for b in &blocks {
                if total <= opts.retention_bytes {
                    break;
                }
                total = total.saturating_sub(b.meta().stats.size_bytes);
                if !gone.iter().any(|g| Arc::ptr_eq(g, b)) {
                    gone.push(b.clone());
                }
            }
        }
        for b in &gone {
            tracing::info!(block = %b.meta().id, mint = b.meta().min_time, maxt = b.meta().max_time, "deleting block past retention");
        }
        self.retire(&gone);
        self.inner
            .counters
            .retention_deletions
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        gone.len()
    }

    /// Deletes retired blocks no querier still holds.
    fn delete_unused_blocks(&self) {
        let mut doomed = self.inner.doomed.lock();
        doomed.retain(|b| {
            if Arc::strong_count(b) > 1 {
                return true;
            }
            if let Err(e) = std::fs::remove_dir_all(b.dir()) {
                tracing::warn!(block = %b.dir().display(), error = %e, "cannot delete retired block; will retry");
                return true;
            }
            false
        });
    }
}
