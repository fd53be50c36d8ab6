//! Rebuilding the head from the WAL at start-up.
//!
//! Replay is bound by memory latency, not by reading: applying samples one
//! by one in WAL order touches a different series (its lock, its chunk list,
//! its chunk bytes) for every sample. So samples are buffered, grouped by
//! series with a counting sort (stable, so each series keeps WAL order), and
//! applied series by series on several threads; each series' memory is then
//! touched once per batch instead of once per sample.
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{Head, MemSeries};
use crate::record::{self, Record};
use crate::wal::WalError;

/// Samples buffered before they are applied (about 20 bytes each).
const BATCH: usize = 2 << 20;
/// Refs below this are looked up in a dense table rather than a map.
const DENSE_REFS: u64 = 1 << 24;

/// What replay found.
#[derive(Debug, Default, Clone)]
pub struct ReplayOutcome {
    /// Series definitions read.
    pub series: u64,
    /// Samples restored.
    pub samples: u64,
    /// Samples for series that no record defined (dropped, counted).
    pub unknown_refs: u64,
    /// Samples refused as out of order or duplicate during replay.
    pub refused: u64,
    /// Records that failed to decode (skipped, counted).
    pub bad_records: u64,
    /// Samples skipped because a block already holds their time range.
    pub persisted_skipped: u64,
}

/// Feeds decoded WAL records into a head. Refs in the WAL are kept so that
/// later records keep pointing at the right series; call [`finish`](Self::finish)
/// after the last record.
pub(crate) struct Replayer<'a> {
    head: &'a Head,
    /// Series by index; samples refer to an index.
    series: Vec<Arc<MemSeries>>,
    /// Head ref → index, so that two WAL refs of one series share an index.
    index_of_head_ref: FxHashMap<u64, u32>,
    /// WAL ref → index + 1 (0: unknown), for small refs.
    dense: Vec<u32>,
    /// WAL ref → index, for refs beyond the dense table.
    sparse: FxHashMap<u64, u32>,
    pending_series: Vec<u32>,
    pending_samples: Vec<(i64, f64)>,
    /// Reused between flushes: fresh buffers would page-fault every time.
    sorted: Vec<(i64, f64)>,
    floor: i64,
    batch: usize,
    pub outcome: ReplayOutcome,
}

impl<'a> Replayer<'a> {
    pub fn new(head: &'a Head) -> Self {
        Replayer {
            head,
            series: Vec::new(),
            index_of_head_ref: FxHashMap::default(),
            dense: Vec::new(),
            sparse: FxHashMap::default(),
            pending_series: Vec::new(),
            pending_samples: Vec::new(),
            sorted: Vec::new(),
            floor: head.min_valid_time.load(std::sync::atomic::Ordering::Relaxed),
            batch: BATCH,
            outcome: ReplayOutcome::default(),
        }
    }

    fn index_of_wal_ref(&self, r: u64) -> Option<u32> {
        if r < DENSE_REFS {
            self.dense.get(r as usize).copied().filter(|i| *i > 0).map(|i| i - 1)
        } else {
            self.sparse.get(&r).copied()
        }
    }

    fn define(&mut self, wal_ref: u64, series: Arc<MemSeries>) {
        let next = self.series.len() as u32;
        let idx = *self.index_of_head_ref.entry(series.series_ref).or_insert(next);
        if idx == next {
            self.series.push(series);
        }
        if wal_ref < DENSE_REFS {
            let i = wal_ref as usize;
            if self.dense.len() <= i {
                self.dense.resize(i + 1, 0);
            }
            self.dense[i] = idx + 1;
        } else {
            self.sparse.insert(wal_ref, idx);
        }
    }

    pub fn apply(&mut self, payload: &[u8]) -> Result<(), WalError> {
        let rec = match record::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "skipping undecodable WAL record");
                self.outcome.bad_records += 1;
                return Ok(());
            }
        };
        match rec {
            Record::Series(defs) => {
                for d in defs {
                    let (s, _) = self
                        .head
                        .get_or_create(&super::label_pairs(&d.labels), Some(d.series_ref));
                    s.mark_logged();
                    self.define(d.series_ref, s);
                    self.outcome.series += 1;
                }
            }
            Record::Samples(samples) => {
                for rs in samples {
                    if rs.sample.t < self.floor {
                        // Already persisted in a block before the crash.
                        self.outcome.persisted_skipped += 1;
                        continue;
                    }
                    let Some(idx) = self.index_of_wal_ref(rs.series_ref) else {
                        self.outcome.unknown_refs += 1;
                        continue;
                    };
                    self.pending_series.push(idx);
                    self.pending_samples.push((rs.sample.t, rs.sample.v));
                }
                if self.pending_series.len() >= self.batch {
                    self.flush();
                }
            }
        }
        Ok(())
    }

    /// Applies what is still buffered.
    pub fn finish(&mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if self.pending_series.is_empty() {
            return;
        }
        // Counting sort by series index, stable.
        let n = self.series.len();
        let mut start = vec![0u32; n + 1];
        for &i in &self.pending_series {
            start[i as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut cursor = start.clone();
        let mut sorted = std::mem::take(&mut self.sorted);
        sorted.clear();
        sorted.resize(self.pending_samples.len(), (0, 0.0));
        for (&i, &s) in self.pending_series.iter().zip(&self.pending_samples) {
            let c = &mut cursor[i as usize];
            sorted[*c as usize] = s;
            *c += 1;
        }
        self.pending_series.clear();
        self.pending_samples.clear();

        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let per = n.div_ceil(workers).max(1);
        let range_ms = self.head.opts.chunk_range_ms;
        let (series, start, sorted_ref) = (&self.series, &start, &sorted);
        let results: Vec<(u64, u64, i64, i64, u64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    scope.spawn(move || {
                        let (mut applied, mut refused, mut chunks) = (0u64, 0u64, 0u64);
                        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
                        for idx in (w * per)..((w + 1) * per).min(n) {
                            let (a, b) = (start[idx] as usize, start[idx + 1] as usize);
                            if a == b {
                                continue;
                            }
                            let mut data = series[idx].data.lock();
                            for &(t, v) in &sorted_ref[a..b] {
                                match data.check(t, v) {
                                    Ok(true) => {
                                        if data.append(t, v, range_ms) {
                                            chunks += 1;
                                        }
                                        mint = mint.min(t);
                                        maxt = maxt.max(t);
                                        applied += 1;
                                    }
                                    Ok(false) => {}
                                    Err(_) => refused += 1,
                                }
                            }
                        }
                        (applied, refused, mint, maxt, chunks)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or((0, 0, i64::MAX, i64::MIN, 0)))
                .collect()
        });
        self.sorted = sorted;
        for (applied, refused, mint, maxt, chunks) in results {
            self.outcome.samples += applied;
            self.outcome.refused += refused;
            if applied > 0 {
                self.head.observe_time(mint);
                self.head.observe_time(maxt);
            }
            self.head
                .counters
                .chunks_created
                .fetch_add(chunks, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use model::{MatchType, Matcher, Sample};

    use super::*;
    use crate::head::HeadOptions;
    use crate::querier::Querier;
    use crate::record::{encode_samples, encode_series, RefSample};

    #[test]
    fn batches_keep_per_series_order_across_flushes_and_refs() {
        let head = Arc::new(Head::new(None, HeadOptions::default()));
        let mut r = Replayer::new(&head);
        r.batch = 7;
        let mut rec = Vec::new();
        // Series 1..=5, and ref 9 naming the same labels as ref 2 (a series
        // re-created under a new ref): both must feed one series in order.
        let defs: Vec<(u64, Vec<(&str, &str)>)> = (1..=5u64)
            .map(|i| {
                (
                    i,
                    vec![("__name__", "m"), ("i", ["a", "b", "c", "d", "e"][i as usize - 1])],
                )
            })
            .chain(std::iter::once((9u64, vec![("__name__", "m"), ("i", "b")])))
            .collect();
        encode_series(&mut rec, defs.into_iter());
        r.apply(&rec).unwrap();
        for round in 0..10i64 {
            let samples: Vec<RefSample> = (1..=5u64)
                .map(|i| {
                    let series_ref = if i == 2 && round >= 5 { 9 } else { i };
                    RefSample {
                        series_ref,
                        sample: Sample {
                            t: round * 1000,
                            v: (round * 10 + i as i64) as f64,
                        },
                    }
                })
                .chain(std::iter::once(RefSample {
                    series_ref: 77,
                    sample: Sample { t: 0, v: 0.0 },
                }))
                .collect();
            rec.clear();
            encode_samples(&mut rec, &samples);
            r.apply(&rec).unwrap();
        }
        r.finish();
        assert_eq!(r.outcome.samples, 50);
        assert_eq!(r.outcome.unknown_refs, 10);
        assert_eq!(r.outcome.refused, 0);
        let all = head
            .querier(i64::MIN, i64::MAX)
            .select(&[Matcher::new(MatchType::Equal, "__name__", "m").unwrap()])
            .unwrap();
        assert_eq!(all.len(), 5);
        for s in &all {
            let i = ["a", "b", "c", "d", "e"]
                .iter()
                .position(|x| Some(*x) == s.labels.get("i"))
                .unwrap() as i64
                + 1;
            let want: Vec<(i64, f64)> = (0..10).map(|round| (round * 1000, (round * 10 + i) as f64)).collect();
            assert_eq!(
                s.samples.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>(),
                want,
                "{}",
                s.labels
            );
        }
        assert_eq!(head.min_time(), Some(0));
        assert_eq!(head.max_time(), Some(9000));
    }
}
