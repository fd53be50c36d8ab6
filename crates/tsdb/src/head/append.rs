//! Appending to the head: validate on `append`, make durable and visible on
//! `commit`.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use model::{Labels, Sample};

use super::series::{MemSeries, Refusal};
use super::Head;
use crate::record::{encode_samples, encode_series, RefSample};
use crate::wal::WalError;

/// Why an append or commit was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Older than the newest sample of the series (Prometheus: "out of order sample").
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// Older than the head accepts (Prometheus: "out of bounds").
    #[error("out of bounds")]
    OutOfBounds,
    /// A label set that cannot name a series.
    #[error("invalid series labels: {0}")]
    InvalidLabels(String),
    /// The WAL could not be written; nothing of the batch was committed.
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
}

/// Outcome of a commit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Samples made visible.
    pub samples: usize,
    /// Series first logged by this commit.
    pub series_logged: usize,
    /// Samples dropped at commit because a concurrent appender got there
    /// first with a newer sample (already counted as out of order).
    pub raced: usize,
}

/// A batch of appends to the head.
///
/// Contract (as Prometheus's `storage.Appender`): samples are validated as
/// they are appended and become visible to queries only at [`commit`](Self::commit),
/// after the WAL holds them; [`rollback`](Self::rollback) (or dropping the
/// appender) discards the batch. An appender is used by one thread and is
/// not reused after commit or rollback. Series created by `append` exist in
/// the index immediately but carry no samples until a commit.
pub struct HeadAppender {
    head: Arc<Head>,
    series: Vec<Arc<MemSeries>>,
    /// Index into `series` by ref, and the newest pending sample per series.
    pending_by_ref: rustc_hash::FxHashMap<u64, (usize, i64, u64)>,
    samples: Vec<(usize, Sample)>,
    floor: i64,
    created: u64,
}

impl HeadAppender {
    pub(super) fn new(head: Arc<Head>) -> Self {
        let floor = head.append_floor();
        HeadAppender {
            head,
            series: Vec::new(),
            pending_by_ref: rustc_hash::FxHashMap::default(),
            samples: Vec::new(),
            floor,
            created: 0,
        }
    }

    /// Adds a sample for the series named by `labels`, returning its ref for
    /// use with [`append_ref`](Self::append_ref).
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<u64, AppendError> {
        self.append_pairs(&super::label_pairs(labels), t, v)
    }

    /// Like [`append`](Self::append) for borrowed pairs, which must be sorted
    /// by name, with unique names and no empty values (ingest paths that
    /// decode without allocating use this).
    pub fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<u64, AppendError> {
        if pairs.is_empty() {
            return Err(AppendError::InvalidLabels("empty label set".into()));
        }
        debug_assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0),
            "pairs must be sorted and unique"
        );
        let (series, created) = self.head.get_or_create(pairs, None);
        if created {
            self.created += 1;
        }
        let r = series.series_ref;
        self.append_series(series, t, v)?;
        Ok(r)
    }

    /// Series this appender created so far.
    pub fn series_created(&self) -> u64 {
        self.created
    }

    /// Adds a sample for a series already known by its ref (scrape caches).
    /// Returns false when the ref is unknown (the series was garbage-collected).
    pub fn append_ref(&mut self, series_ref: u64, t: i64, v: f64) -> Result<bool, AppendError> {
        match self.head.series_by_ref(series_ref) {
            Some(s) => self.append_series(s, t, v).map(|_| true),
            None => Ok(false),
        }
    }

    fn append_series(&mut self, series: Arc<MemSeries>, t: i64, v: f64) -> Result<(), AppendError> {
        let r = series.series_ref;
        let counters = &self.head.counters;
        if let Some(&(idx, pt, pv)) = self.pending_by_ref.get(&r) {
            if t < pt {
                counters.out_of_order.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::OutOfOrder);
            }
            if t == pt {
                if pv == v.to_bits() {
                    return Ok(());
                }
                counters.duplicate_timestamp.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::DuplicateTimestamp);
            }
            self.pending_by_ref.insert(r, (idx, t, v.to_bits()));
            self.samples.push((idx, Sample { t, v }));
            return Ok(());
        }
        // One lock for both the ordering check and "has any data yet".
        let (verdict, has_data) = {
            let data = series.data.lock();
            (
                data.check(t, v),
                data.last().is_some() || data.spilled_until().is_some(),
            )
        };
        match verdict {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(Refusal::OutOfOrder) => {
                counters.out_of_order.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::OutOfOrder);
            }
            Err(Refusal::DuplicateTimestamp) => {
                counters.duplicate_timestamp.fetch_add(1, Ordering::Relaxed);
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        if !has_data && t < self.floor {
            counters.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds);
        }
        let idx = self.series.len();
        self.series.push(series);
        self.pending_by_ref.insert(r, (idx, t, v.to_bits()));
        self.samples.push((idx, Sample { t, v }));
        Ok(())
    }

    /// Number of samples waiting for commit.
    pub fn pending(&self) -> usize {
        self.samples.len()
    }

    /// Writes the batch to the WAL, then makes it visible.
    pub fn commit(mut self) -> Result<CommitStats, AppendError> {
        let mut stats = CommitStats::default();
        if self.samples.is_empty() {
            return Ok(stats);
        }
        let head = self.head.clone();
        // Truncation cannot remove series while this commit runs; a series it
        // removed since `append` looked it up is found again (recreated) by
        // its labels, so no sample lands in an unreachable series.
        let _gc = head.gc.read();
        for i in 0..self.series.len() {
            if self.series[i].is_removed() {
                let labels = head.labels_of(&self.series[i]);
                let (fresh, _) = head.get_or_create(&super::label_pairs(&labels), None);
                self.series[i] = fresh;
            }
        }
        let unlogged: Vec<&Arc<MemSeries>> = self.series.iter().filter(|s| !s.is_logged()).collect();
        if let Some(wal) = &head.wal {
            let mut series_rec = Vec::new();
            if !unlogged.is_empty() {
                head.symbols.with_resolver(|resolve| {
                    let defs = unlogged.iter().map(|s| {
                        (
                            s.series_ref,
                            s.labels
                                .iter()
                                .map(|(n, v)| (resolve.get(*n), resolve.get(*v)))
                                .collect::<Vec<_>>(),
                        )
                    });
                    encode_series(&mut series_rec, defs.collect::<Vec<_>>().into_iter());
                });
            }
            let ref_samples: Vec<RefSample> = self
                .samples
                .iter()
                .map(|(idx, s)| RefSample {
                    series_ref: self.series[*idx].series_ref,
                    sample: *s,
                })
                .collect();
            let mut samples_rec = Vec::with_capacity(ref_samples.len() * 12 + 16);
            encode_samples(&mut samples_rec, &ref_samples);
            let result = if series_rec.is_empty() {
                wal.log(&[&samples_rec])
            } else {
                wal.log(&[&series_rec, &samples_rec])
            };
            if let Err(e) = result {
                head.counters.wal_failures.fetch_add(1, Ordering::Relaxed);
                return Err(e.into());
            }
        }
        for s in &unlogged {
            s.mark_logged();
        }
        stats.series_logged = unlogged.len();
        let range = head.opts.chunk_range_ms;
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut i = 0;
        while i < self.samples.len() {
            let idx = self.samples[i].0;
            let series = &self.series[idx];
            let mut data = series.data.lock();
            while i < self.samples.len() && self.samples[i].0 == idx {
                let Sample { t, v } = self.samples[i].1;
                i += 1;
                match data.check(t, v) {
                    Ok(true) => {
                        if data.append(t, v, range) {
                            head.counters.chunks_created.fetch_add(1, Ordering::Relaxed);
                            if data.spill_closed(head.chunk_files.as_ref(), series.series_ref).is_err() {
                                head.counters.chunk_spill_failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        mint = mint.min(t);
                        maxt = maxt.max(t);
                        stats.samples += 1;
                    }
                    Ok(false) => {}
                    Err(_) => {
                        head.counters.out_of_order.fetch_add(1, Ordering::Relaxed);
                        stats.raced += 1;
                    }
                }
            }
        }
        if stats.samples > 0 {
            head.observe_time(mint);
            head.observe_time(maxt);
        }
        head.counters
            .samples_appended
            .fetch_add(stats.samples as u64, Ordering::Relaxed);
        Ok(stats)
    }

    /// Discards the batch.
    pub fn rollback(self) {}
}
