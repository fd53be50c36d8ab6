//! The head: the in-memory, writable part of the store.
//!
//! Series live in memory with their recent samples in compressed XOR chunks;
//! every committed sample is in the write-ahead log first, so the head can be
//! rebuilt after a crash (`replay.rs`). Appends are in `append.rs`, reads in
//! `read.rs`.
//!
//! Locking: a series is found through one of `STRIPES` hash-striped maps, so
//! appenders for different series rarely contend. Lock order is stripe →
//! symbols → refs → postings; readers take postings, release it, then refs.
mod append;
mod chunk_files;
pub(crate) use replay::Replayer;
mod read;
mod replay;
mod series;
mod truncate;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use model::Labels;
use parking_lot::RwLock;

pub use append::{AppendError, HeadAppender};
pub use read::HeadQuerier;
pub use replay::ReplayOutcome;
pub(crate) use series::MemSeries;
pub use truncate::TruncateStats;

use crate::index::MemPostings;
use crate::symbols::{Sym, Symbols};
use crate::wal::Wal;

const STRIPES: usize = 256;

/// Series by reference, one map per stripe.
type RefMap = HashMap<u64, Arc<MemSeries>>;

/// Borrowed `(name, value)` pairs of a label set.
pub(crate) fn label_pairs(labels: &Labels) -> Vec<(&str, &str)> {
    labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect()
}

/// Hash of a sorted label set, for finding its series. In-memory only, so
/// it need not be stable across versions.
pub(crate) fn hash_pairs(pairs: &[(&str, &str)]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

enum Slot {
    One(Arc<MemSeries>),
    Many(Vec<Arc<MemSeries>>),
}

impl Slot {
    fn iter(&self) -> impl Iterator<Item = &Arc<MemSeries>> {
        let (one, many) = match self {
            Slot::One(s) => (Some(s), &[][..]),
            Slot::Many(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter())
    }
}

/// Counters the head keeps about what it accepted and refused.
#[derive(Default)]
pub struct HeadCounters {
    /// Samples committed into the head.
    pub samples_appended: AtomicU64,
    /// Samples refused because they were older than the series' newest sample.
    pub out_of_order: AtomicU64,
    /// Samples refused because the series already had a different value at that time.
    pub duplicate_timestamp: AtomicU64,
    /// Samples refused because they were older than the head accepts.
    pub out_of_bounds: AtomicU64,
    /// Series ever created.
    pub series_created: AtomicU64,
    /// Series removed by garbage collection.
    pub series_removed: AtomicU64,
    /// Chunks created.
    pub chunks_created: AtomicU64,
    /// Commits that failed to write the WAL.
    pub wal_failures: AtomicU64,
    /// Closed chunks that could not be moved to the head chunk files (they
    /// stay in memory until maintenance moves them).
    pub chunk_spill_failures: AtomicU64,
    /// Chunks loaded from the head chunk files at start-up.
    pub chunks_loaded: AtomicU64,
}

/// Head tuning.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Width of the aligned ranges that chunks never cross (2 h, the block range).
    pub chunk_range_ms: i64,
    /// How far behind the newest sample of the head a new sample may be, for
    /// series that have no newer sample (Prometheus: half the chunk range).
    pub out_of_bounds_window_ms: i64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range_ms: 2 * 3600 * 1000,
            out_of_bounds_window_ms: 3600 * 1000,
        }
    }
}

/// The writable in-memory part of the store.
pub struct Head {
    pub(crate) symbols: Symbols,
    stripes: Box<[RwLock<HashMap<u64, Slot>>]>,
    refs: Box<[RwLock<RefMap>]>,
    pub(crate) postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Lower bound below which no sample is accepted (the end of persisted data).
    pub(crate) min_valid_time: AtomicI64,
    pub(crate) wal: Option<Wal>,
    /// Where closed chunks are moved out of memory (None: they stay).
    pub(crate) chunk_files: Option<chunk_files::ChunkFiles>,
    /// Held for reading by commits, for writing by truncation.
    pub(crate) gc: RwLock<()>,
    /// Accept/refuse counters.
    pub counters: HeadCounters,
    pub(crate) opts: HeadOptions,
}

impl Head {
    /// An empty head writing to `wal` (None: no durability, for tests and benches).
    pub fn new(wal: Option<Wal>, opts: HeadOptions) -> Head {
        Head {
            symbols: Symbols::default(),
            stripes: (0..STRIPES).map(|_| RwLock::new(HashMap::new())).collect(),
            refs: (0..STRIPES).map(|_| RwLock::new(HashMap::new())).collect(),
            postings: RwLock::new(MemPostings::default()),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            wal,
            chunk_files: None,
            gc: RwLock::new(()),
            counters: HeadCounters::default(),
            opts,
        }
    }

    /// A new appender; see [`HeadAppender`] for its contract.
    pub fn appender(self: &Arc<Self>) -> HeadAppender {
        HeadAppender::new(self.clone())
    }

    /// A querier over `[mint, maxt]` (inclusive, milliseconds).
    pub fn querier(self: &Arc<Self>, mint: i64, maxt: i64) -> HeadQuerier {
        HeadQuerier::new(self.clone(), mint, maxt)
    }

    /// Number of series in memory.
    pub fn num_series(&self) -> usize {
        self.refs.iter().map(|r| r.read().len()).sum()
    }

    /// Oldest sample time in the head, if any.
    pub fn min_time(&self) -> Option<i64> {
        let t = self.min_time.load(Ordering::Relaxed);
        (t != i64::MAX).then_some(t)
    }

    /// Newest sample time in the head, if any.
    pub fn max_time(&self) -> Option<i64> {
        let t = self.max_time.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(t)
    }

    /// Raises the floor below which samples are refused (after persisting).
    pub fn set_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::Relaxed);
    }

    /// The oldest timestamp an appender accepts right now for a series with
    /// no newer sample, mirroring Prometheus's head appender.
    pub(crate) fn append_floor(&self) -> i64 {
        let persisted = self.min_valid_time.load(Ordering::Relaxed);
        match self.max_time() {
            Some(maxt) => persisted.max(maxt.saturating_sub(self.opts.out_of_bounds_window_ms)),
            None => persisted,
        }
    }

    pub(crate) fn observe_time(&self, t: i64) {
        self.min_time.fetch_min(t, Ordering::Relaxed);
        self.max_time.fetch_max(t, Ordering::Relaxed);
    }

    /// The WAL, if the head has one.
    pub fn wal(&self) -> Option<&Wal> {
        self.wal.as_ref()
    }

    /// Approximate heap bytes held by series, chunks, symbols and the index.
    pub fn memory_bytes(&self) -> usize {
        let mut total = self.symbols.memory_bytes() + self.postings.read().memory_bytes();
        for stripe in self.refs.iter() {
            for s in stripe.read().values() {
                total += s.memory_bytes() + 48;
            }
        }
        total
    }

    pub(crate) fn series_by_ref(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.refs[(r as usize) % STRIPES].read().get(&r).cloned()
    }

    fn find(&self, hash: u64, pairs: &[(&str, &str)]) -> Option<Arc<MemSeries>> {
        let stripe = self.stripes[(hash as usize) % STRIPES].read();
        let slot = stripe.get(&hash)?;
        self.symbols
            .with_resolver(|resolve| slot.iter().find(|s| s.labels_equal(pairs, resolve)).cloned())
    }

    /// Whether a series with exactly these sorted pairs exists.
    pub fn contains_pairs(&self, pairs: &[(&str, &str)]) -> bool {
        self.find(hash_pairs(pairs), pairs).is_some()
    }

    /// Finds the series with exactly `labels`, creating it (with `want_ref`
    /// if given, as during WAL replay) when absent. Returns whether it was new.
    /// `pairs` must be sorted by name with unique names and no empty values.
    pub(crate) fn get_or_create(&self, pairs: &[(&str, &str)], want_ref: Option<u64>) -> (Arc<MemSeries>, bool) {
        let hash = hash_pairs(pairs);
        if let Some(s) = self.find(hash, pairs) {
            return (s, false);
        }
        let mut stripe = self.stripes[(hash as usize) % STRIPES].write();
        if let Some(slot) = stripe.get(&hash) {
            let found = self
                .symbols
                .with_resolver(|resolve| slot.iter().find(|s| s.labels_equal(pairs, resolve)).cloned());
            if let Some(s) = found {
                return (s, false);
            }
        }
        let r = match want_ref {
            Some(r) => {
                self.next_ref.fetch_max(r + 1, Ordering::Relaxed);
                r
            }
            None => self.next_ref.fetch_add(1, Ordering::Relaxed),
        };
        let interned: Box<[(Sym, Sym)]> = pairs
            .iter()
            .map(|(n, v)| (self.symbols.intern(n), self.symbols.intern(v)))
            .collect();
        let series = Arc::new(MemSeries::new(r, interned, want_ref.is_some()));
        match stripe.remove(&hash) {
            None => {
                stripe.insert(hash, Slot::One(series.clone()));
            }
            Some(Slot::One(other)) => {
                stripe.insert(hash, Slot::Many(vec![other, series.clone()]));
            }
            Some(Slot::Many(mut v)) => {
                v.push(series.clone());
                stripe.insert(hash, Slot::Many(v));
            }
        }
        self.refs[(r as usize) % STRIPES].write().insert(r, series.clone());
        self.postings.write().add(r, &series.labels);
        drop(stripe);
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
        (series, true)
    }

    /// Opens the head chunk directory that closed chunks move to, returning
    /// the chunks an earlier run left there for [`Replayer`] to attach.
    pub(crate) fn enable_chunk_spill(&mut self, dir: &std::path::Path) -> std::io::Result<chunk_files::LoadedChunks> {
        let (files, loaded) = chunk_files::ChunkFiles::open(dir)?;
        self.chunk_files = Some(files);
        Ok(loaded)
    }

    /// Bytes of spilled head chunks on disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.chunk_files.as_ref().map(|f| f.disk_size()).unwrap_or(0)
    }

    /// Writes buffered spilled chunks to their file.
    pub fn flush_spilled(&self) -> std::io::Result<()> {
        self.chunk_files.as_ref().map_or(Ok(()), |f| f.flush())
    }

    /// Moves every closed chunk still in memory to the head chunk files (chunks
    /// normally move when they close; this retries those whose move failed)
    /// and returns how many moved. Appends go on meanwhile.
    pub fn spill(&self) -> std::io::Result<usize> {
        let Some(files) = &self.chunk_files else { return Ok(0) };
        let mut moved = 0;
        for s in self.all_series() {
            moved += s.data.lock().spill_closed(Some(files), s.series_ref)?;
        }
        files.flush()?;
        Ok(moved)
    }

    /// Unlinks a series from the stripes, the ref map and the postings.
    pub(crate) fn remove_series(&self, s: &Arc<MemSeries>) {
        let labels = self.labels_of(s);
        let hash = hash_pairs(&label_pairs(&labels));
        {
            let mut stripe = self.stripes[(hash as usize) % STRIPES].write();
            let remaining: Option<Slot> = match stripe.remove(&hash) {
                Some(Slot::One(one)) if !Arc::ptr_eq(&one, s) => Some(Slot::One(one)),
                Some(Slot::Many(v)) => {
                    let mut v: Vec<Arc<MemSeries>> = v.into_iter().filter(|x| !Arc::ptr_eq(x, s)).collect();
                    match v.len() {
                        0 => None,
                        1 => v.pop().map(Slot::One),
                        _ => Some(Slot::Many(v)),
                    }
                }
                _ => None,
            };
            if let Some(slot) = remaining {
                stripe.insert(hash, slot);
            }
        }
        self.refs[(s.series_ref as usize) % STRIPES]
            .write()
            .remove(&s.series_ref);
        self.postings.write().delete(s.series_ref, &s.labels);
    }

    /// Resolves a series' interned labels to a [`Labels`].
    pub(crate) fn labels_of(&self, s: &MemSeries) -> Labels {
        self.symbols.with_resolver(|resolve| s.labels(resolve))
    }

    /// Every series, for statistics and maintenance.
    pub(crate) fn all_series(&self) -> Vec<Arc<MemSeries>> {
        let mut out = Vec::with_capacity(self.num_series());
        for stripe in self.refs.iter() {
            out.extend(stripe.read().values().cloned());
        }
        out
    }
}
