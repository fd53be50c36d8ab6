//! Rebuilding the head from the WAL at start-up.
//!
//! Replay is bound by memory latency, not by reading: applying samples one
//! by one in WAL order touches a different series (its lock, its chunk list,
//! its chunk bytes) for every sample. So samples are buffered, grouped by
//! series with a counting sort (stable, so each series keeps WAL order), and
//! applied series by series on several threads; each series' memory is then
//! touched once per batch instead of once per sample.
use std::sync::Arc;

use model::Labels;
use rustc_hash::FxHashMap;

use super::chunk_files::{ChunkFiles, LoadedChunks};
use super::{Head, MemSeries};
use crate::record;
use crate::wal::WalError;

/// Samples buffered before they are applied (about 20 bytes each).
const BATCH: usize = 2 << 20;
/// Raw record bytes buffered before they are decompressed, in parallel.
const RAW_BATCH: usize = 8 << 20;
/// Refs below this are looked up in a dense table rather than a map.
const DENSE_REFS: u64 = 1 << 24;

/// Series index of a WAL ref: `dense` holds index + 1 (0: unknown) for
/// small refs, `sparse` the rest.
fn index_of_wal_ref(dense: &[u32], sparse: &FxHashMap<u64, u32>, r: u64) -> Option<u32> {
    if r < DENSE_REFS {
        dense.get(r as usize).copied().filter(|i| *i > 0).map(|i| i - 1)
    } else {
        sparse.get(&r).copied()
    }
}

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
    /// Chunks loaded from the head chunk files.
    pub chunks_loaded: u64,
    /// Samples skipped because a loaded chunk already holds them.
    pub chunk_skipped: u64,
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
    /// One per worker, reused between flushes: fresh buffers would page-fault every time.
    sorted: Vec<Vec<(i64, f64)>>,
    floor: i64,
    batch: usize,
    /// Spilled chunks by the ref they were written under, attached when the
    /// WAL defines that ref.
    loaded: LoadedChunks,
    /// Per series index: samples up to this time are already in a loaded chunk.
    covered_until: Vec<i64>,
    /// Decompression buffer, reused.
    scratch: Vec<u8>,
    /// Records as read from the WAL, not yet decompressed, and where each ends.
    raw: Vec<u8>,
    raw_ends: Vec<usize>,
    raw_batch: usize,
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
            loaded: LoadedChunks::new(),
            covered_until: Vec::new(),
            scratch: Vec::new(),
            raw: Vec::new(),
            raw_ends: Vec::new(),
            raw_batch: RAW_BATCH,
            outcome: ReplayOutcome::default(),
        }
    }

    /// Chunks from the head chunk files, to attach as their series appear.
    pub fn with_loaded_chunks(mut self, loaded: LoadedChunks) -> Self {
        self.loaded = loaded;
        self
    }

    /// Attaches the chunks spilled under `wal_ref`, minus those a block
    /// already holds. Samples applied before (under another ref of the same
    /// series) win: then the chunks are left out and the WAL replays them.
    fn attach_loaded(&mut self, wal_ref: u64, idx: u32, known_series: bool) {
        let Some(mut chunks) = self.loaded.remove(&wal_ref) else {
            return;
        };
        chunks.retain(|c| c.min_t >= self.floor);
        if chunks.is_empty() {
            return;
        }
        // Buffered samples (of an earlier ref of this series) must land first.
        if known_series && !self.pending_series.is_empty() {
            self.flush();
        }
        let series = self.series[idx as usize].clone();
        if series.data.lock().attach_spilled(&chunks) {
            self.covered_until[idx as usize] = chunks[chunks.len() - 1].max_t;
            let (mint, maxt) = (chunks[0].min_t, chunks[chunks.len() - 1].max_t);
            self.head.observe_time(mint);
            self.head.observe_time(maxt);
            self.outcome.chunks_loaded += chunks.len() as u64;
            self.head
                .counters
                .chunks_loaded
                .fetch_add(chunks.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn define(&mut self, wal_ref: u64, series: Arc<MemSeries>) -> u32 {
        let next = self.series.len() as u32;
        let idx = *self.index_of_head_ref.entry(series.series_ref).or_insert(next);
        if idx == next {
            self.series.push(series);
            self.covered_until.push(i64::MIN);
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
        idx
    }

    /// Takes one WAL record. Records are buffered and handled in batches:
    /// series definitions in WAL order, then the batch's samples decompressed
    /// and decoded on every core (that is most of replay's work).
    pub fn apply(&mut self, payload: &[u8]) -> Result<(), WalError> {
        self.raw.extend_from_slice(payload);
        self.raw_ends.push(self.raw.len());
        if self.raw.len() >= self.raw_batch {
            self.decode_raw();
        }
        Ok(())
    }

    /// Applies what is still buffered.
    pub fn finish(&mut self) {
        self.decode_raw();
        self.flush();
    }

    fn decode_raw(&mut self) {
        if self.raw_ends.is_empty() {
            return;
        }
        let (raw, ends) = (std::mem::take(&mut self.raw), std::mem::take(&mut self.raw_ends));
        let record_at = |i: usize| &raw[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        // Series first: a writer logs a series before any sample of it, so
        // defining the batch's series before decoding its samples changes
        // nothing but lets the samples be decoded in parallel.
        for i in 0..ends.len() {
            if record::is_series(record_at(i)) {
                self.define_series(record_at(i));
            }
        }
        let workers = replay_workers();
        let per = raw.len().div_ceil(workers).max(1);
        let mut runs: Vec<(usize, usize)> = Vec::with_capacity(workers);
        let mut first = 0;
        for (i, &end) in ends.iter().enumerate() {
            if end >= per * (runs.len() + 1) || i + 1 == ends.len() {
                runs.push((first, i + 1));
                first = i + 1;
            }
        }
        let lookup = SampleLookup {
            dense: &self.dense,
            sparse: &self.sparse,
            covered_until: &self.covered_until,
            floor: self.floor,
        };
        let parts: Vec<DecodedSamples> = std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .map(|&(from, to)| {
                    let (lookup, record_at, ends) = (&lookup, &record_at, &ends);
                    scope.spawn(move || {
                        // About 8 bytes per sample in compressed records:
                        // reserve once instead of growing and copying.
                        let bytes = ends[to - 1] - if from == 0 { 0 } else { ends[from - 1] };
                        let mut part = DecodedSamples::with_capacity(bytes / 6);
                        let mut scratch = Vec::new();
                        for i in from..to {
                            let rec = record_at(i);
                            if !record::is_series(rec) {
                                part.decode(rec, &mut scratch, lookup);
                            }
                        }
                        part
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        for part in parts {
            let o = &mut self.outcome;
            o.persisted_skipped += part.persisted_skipped;
            o.unknown_refs += part.unknown_refs;
            o.chunk_skipped += part.chunk_skipped;
            o.bad_records += part.bad_records;
            self.pending_series.extend_from_slice(&part.series);
            self.pending_samples.extend_from_slice(&part.samples);
        }
        self.raw = raw;
        self.raw.clear();
        self.raw_ends = ends;
        self.raw_ends.clear();
        if self.pending_series.len() >= self.batch {
            self.flush();
        }
    }

    fn define_series(&mut self, rec: &[u8]) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let decoded = record::visit_series(rec, &mut scratch, |series_ref, pairs| {
            let sorted = pairs.windows(2).all(|w| w[0].0 < w[1].0);
            if !sorted || pairs.iter().any(|(n, v)| n.is_empty() || v.is_empty()) {
                // Not what the head writes; normalise it as a new series would be.
                let labels = Labels::from_pairs(pairs.iter().copied());
                self.define_one(series_ref, &super::label_pairs(&labels));
            } else {
                self.define_one(series_ref, pairs);
            }
        });
        self.scratch = scratch;
        if let Err(e) = decoded {
            tracing::warn!(error = %e, "skipping undecodable WAL record");
            self.outcome.bad_records += 1;
        }
    }

    fn define_one(&mut self, series_ref: u64, pairs: &[(&str, &str)]) {
        if pairs.is_empty() {
            self.outcome.bad_records += 1;
            return;
        }
        let (s, _) = self.head.get_or_create(pairs, Some(series_ref));
        s.mark_logged();
        let known = self.index_of_head_ref.contains_key(&s.series_ref);
        let idx = self.define(series_ref, s);
        self.attach_loaded(series_ref, idx, known);
        self.outcome.series += 1;
    }

    /// Applies the buffered samples: every worker takes a range of series,
    /// picks their samples out of the buffer in WAL order (a counting sort)
    /// and appends them series by series.
    fn flush(&mut self) {
        if self.pending_series.is_empty() {
            return;
        }
        let n = self.series.len();
        let workers = replay_workers();
        let per = n.div_ceil(workers).max(1);
        let range_ms = self.head.opts.chunk_range_ms;
        let files = self.head.chunk_files.as_ref();
        let (series, pending_series, pending_samples) = (&self.series, &self.pending_series, &self.pending_samples);
        let mut buffers = std::mem::take(&mut self.sorted);
        buffers.resize_with(workers, Vec::new);
        let results: Vec<(ApplyStats, Vec<(i64, f64)>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = buffers
                .drain(..)
                .enumerate()
                .map(|(w, mut sorted)| {
                    scope.spawn(move || {
                        let (lo, hi) = ((w * per).min(n), ((w + 1) * per).min(n));
                        let mut start = vec![0u32; hi - lo + 1];
                        for &i in pending_series {
                            let i = i as usize;
                            if (lo..hi).contains(&i) {
                                start[i - lo + 1] += 1;
                            }
                        }
                        for i in 0..hi - lo {
                            start[i + 1] += start[i];
                        }
                        let mut cursor = start.clone();
                        sorted.clear();
                        sorted.resize(start[hi - lo] as usize, (0, 0.0));
                        for (&i, &s) in pending_series.iter().zip(pending_samples) {
                            let i = i as usize;
                            if (lo..hi).contains(&i) {
                                let c = &mut cursor[i - lo];
                                sorted[*c as usize] = s;
                                *c += 1;
                            }
                        }
                        let mut stats = ApplyStats::default();
                        for idx in lo..hi {
                            let (a, b) = (start[idx - lo] as usize, start[idx - lo + 1] as usize);
                            if a < b {
                                stats.apply(&series[idx], &sorted[a..b], range_ms, files);
                            }
                        }
                        (stats, sorted)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        self.pending_series.clear();
        self.pending_samples.clear();
        for (stats, sorted) in results {
            buffers.push(sorted);
            self.outcome.samples += stats.applied;
            self.outcome.refused += stats.refused;
            self.outcome.chunk_skipped += stats.covered;
            if stats.applied > 0 {
                self.head.observe_time(stats.mint);
                self.head.observe_time(stats.maxt);
            }
            self.head
                .counters
                .chunks_created
                .fetch_add(stats.chunks, std::sync::atomic::Ordering::Relaxed);
        }
        self.sorted = buffers;
    }
}

fn replay_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// What a sample-decoding worker reads: the ref tables as of the batch.
struct SampleLookup<'a> {
    dense: &'a [u32],
    sparse: &'a FxHashMap<u64, u32>,
    covered_until: &'a [i64],
    floor: i64,
}

/// One worker's decoded samples, in WAL order, and what it skipped.
#[derive(Default)]
struct DecodedSamples {
    series: Vec<u32>,
    samples: Vec<(i64, f64)>,
    persisted_skipped: u64,
    unknown_refs: u64,
    chunk_skipped: u64,
    bad_records: u64,
}

impl DecodedSamples {
    fn with_capacity(n: usize) -> Self {
        DecodedSamples {
            series: Vec::with_capacity(n),
            samples: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    fn decode(&mut self, rec: &[u8], scratch: &mut Vec<u8>, lookup: &SampleLookup<'_>) {
        let decoded = record::visit(
            rec,
            scratch,
            |_| {},
            |series_ref, t, v| {
                if t < lookup.floor {
                    // Already persisted in a block before the crash.
                    self.persisted_skipped += 1;
                    return;
                }
                let Some(idx) = index_of_wal_ref(lookup.dense, lookup.sparse, series_ref) else {
                    self.unknown_refs += 1;
                    return;
                };
                if t <= lookup.covered_until[idx as usize] {
                    self.chunk_skipped += 1;
                    return;
                }
                self.series.push(idx);
                self.samples.push((t, v));
            },
        );
        if let Err(e) = decoded {
            tracing::warn!(error = %e, "skipping undecodable WAL record");
            self.bad_records += 1;
        }
    }
}

/// What applying samples to series did.
#[derive(Default)]
struct ApplyStats {
    applied: u64,
    refused: u64,
    covered: u64,
    chunks: u64,
    mint: i64,
    maxt: i64,
}

impl ApplyStats {
    fn apply(&mut self, series: &MemSeries, samples: &[(i64, f64)], range_ms: i64, files: Option<&ChunkFiles>) {
        if self.applied == 0 {
            (self.mint, self.maxt) = (i64::MAX, i64::MIN);
        }
        let mut data = series.data.lock();
        let spilled_until = data.spilled_until().unwrap_or(i64::MIN);
        for &(t, v) in samples {
            if t <= spilled_until {
                self.covered += 1;
                continue;
            }
            match data.check(t, v) {
                Ok(true) => {
                    if data.append(t, v, range_ms) {
                        self.chunks += 1;
                        // Failures leave the chunk in memory for maintenance.
                        let _ = data.spill_closed(files, series.series_ref);
                    }
                    self.mint = self.mint.min(t);
                    self.maxt = self.maxt.max(t);
                    self.applied += 1;
                }
                Ok(false) => {}
                Err(_) => self.refused += 1,
            }
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
        r.raw_batch = 100;
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
