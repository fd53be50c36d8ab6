//! One series in the head: interned labels and its chunks.
use std::sync::atomic::{AtomicBool, Ordering};

use model::{Label, Labels, Sample};
use parking_lot::Mutex;

use super::chunk_files::{ChunkFiles, DiskChunk};
use crate::chunk::{XorChunk, XorIter, MAX_SAMPLES_PER_CHUNK};
use crate::symbols::{Resolver, Sym};

/// A head chunk: in memory, or (closed and) spilled to the head chunk files.
pub(crate) enum HeadChunk {
    Mem(XorChunk),
    Disk(DiskChunk),
}

impl HeadChunk {
    pub fn first_time(&self) -> Option<i64> {
        match self {
            HeadChunk::Mem(c) => c.first_time(),
            HeadChunk::Disk(d) => Some(d.min_t),
        }
    }

    pub fn last_time(&self) -> Option<i64> {
        match self {
            HeadChunk::Mem(c) => c.last_time(),
            HeadChunk::Disk(d) => Some(d.max_t),
        }
    }

    /// The chunk's XOR bytes (read back from disk when spilled).
    pub fn bytes(&self, files: Option<&ChunkFiles>) -> std::io::Result<Vec<u8>> {
        match (self, files) {
            (HeadChunk::Mem(c), _) => Ok(c.bytes().to_vec()),
            (HeadChunk::Disk(d), Some(f)) => f.read(d),
            (HeadChunk::Disk(_), None) => Err(std::io::Error::other("spilled chunk without chunk files")),
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            HeadChunk::Mem(c) => c.memory_bytes() - std::mem::size_of::<XorChunk>() + std::mem::size_of::<HeadChunk>(),
            HeadChunk::Disk(_) => std::mem::size_of::<HeadChunk>(),
        }
    }
}

/// Why a sample was refused by a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    OutOfOrder,
    DuplicateTimestamp,
}

/// The chunks of a series, oldest first. The last one is open for appends
/// and in memory, except right after start-up when a series' newest chunk
/// was loaded from the head chunk files (the next sample opens a new one).
#[derive(Default)]
pub(crate) struct SeriesData {
    pub chunks: Vec<HeadChunk>,
}

impl SeriesData {
    fn open_chunk(&self) -> Option<&XorChunk> {
        match self.chunks.last()? {
            HeadChunk::Mem(c) => Some(c),
            HeadChunk::Disk(_) => None,
        }
    }

    pub fn last(&self) -> Option<(i64, f64)> {
        let c = self.open_chunk()?;
        Some((c.last_time()?, c.last_value()?))
    }

    /// Newest time held by a spilled chunk that is the series' last chunk.
    pub fn spilled_until(&self) -> Option<i64> {
        match self.chunks.last()? {
            HeadChunk::Disk(d) => Some(d.max_t),
            HeadChunk::Mem(_) => None,
        }
    }

    /// Whether `(t, v)` may follow the newest sample: `Ok(false)` for an exact
    /// duplicate, which Prometheus accepts silently without storing it again.
    pub fn check(&self, t: i64, v: f64) -> Result<bool, Refusal> {
        if let Some(spilled) = self.spilled_until() {
            // The newest value is on disk: an equal timestamp is refused
            // rather than read back to tell a duplicate from a conflict.
            return match t.cmp(&spilled) {
                std::cmp::Ordering::Greater => Ok(true),
                std::cmp::Ordering::Equal => Err(Refusal::DuplicateTimestamp),
                std::cmp::Ordering::Less => Err(Refusal::OutOfOrder),
            };
        }
        match self.last() {
            None => Ok(true),
            Some((lt, _)) if t > lt => Ok(true),
            Some((lt, lv)) if t == lt => {
                if lv.to_bits() == v.to_bits() {
                    Ok(false)
                } else {
                    Err(Refusal::DuplicateTimestamp)
                }
            }
            Some(_) => Err(Refusal::OutOfOrder),
        }
    }

    /// Appends a checked sample; returns true when a new chunk was cut.
    pub fn append(&mut self, t: i64, v: f64, chunk_range_ms: i64) -> bool {
        let cut = match self.open_chunk() {
            None => true,
            Some(c) => {
                let first = c.first_time().unwrap_or(t);
                c.num_samples() >= MAX_SAMPLES_PER_CHUNK || t >= range_end(first, chunk_range_ms)
            }
        };
        if cut {
            // Grow the list one chunk at a time: a head holds a handful of
            // chunks per series, and Vec's default doubling would reserve
            // room for four (over 200 bytes) with the first one.
            self.chunks.reserve_exact(1);
            self.chunks.push(HeadChunk::Mem(XorChunk::new()));
        }
        if let Some(HeadChunk::Mem(c)) = self.chunks.last_mut() {
            c.append(t, v);
        }
        cut
    }

    /// Moves closed chunks (all but the open one) still in memory to
    /// `files`, oldest first, or, without files, trims their spare capacity.
    /// Returns how many moved. On failure the rest stay in memory and a
    /// later call retries them before any newer chunk: a series' chunks reach
    /// the files in time order, which start-up loading relies on.
    pub fn spill_closed(&mut self, files: Option<&ChunkFiles>, series_ref: u64) -> std::io::Result<usize> {
        let closed = self.chunks.len().saturating_sub(1);
        let mut moved = 0;
        for c in &mut self.chunks[..closed] {
            let HeadChunk::Mem(x) = c else { continue };
            let (Some(files), Some(min_t), Some(max_t)) = (files, x.first_time(), x.last_time()) else {
                x.shrink_to_fit();
                continue;
            };
            match files.write(series_ref, min_t, max_t, x.bytes()) {
                Ok(disk) => {
                    *c = HeadChunk::Disk(disk);
                    moved += 1;
                }
                Err(e) => {
                    x.shrink_to_fit();
                    return Err(e);
                }
            }
        }
        Ok(moved)
    }

    /// Adds chunks loaded from the head chunk files (oldest first) in front
    /// of nothing newer: refused (false) if the series already holds data
    /// from their time on, in which case the WAL replays those samples.
    pub fn attach_spilled(&mut self, chunks: &[DiskChunk]) -> bool {
        let Some(first) = chunks.first() else { return true };
        let last_held = self.chunks.last().and_then(|c| c.last_time());
        if last_held.is_some_and(|t| t >= first.min_t) {
            return false;
        }
        self.chunks.reserve_exact(chunks.len());
        self.chunks.extend(chunks.iter().map(|c| HeadChunk::Disk(*c)));
        true
    }

    /// Samples within `[mint, maxt]`. Spilled chunks are read back from
    /// `files` (a positioned read, normally from the page cache).
    pub fn samples_in(
        &self,
        mint: i64,
        maxt: i64,
        files: Option<&ChunkFiles>,
        out: &mut Vec<Sample>,
    ) -> std::io::Result<()> {
        for c in &self.chunks {
            let (Some(first), Some(last)) = (c.first_time(), c.last_time()) else {
                continue;
            };
            if last < mint || first > maxt {
                continue;
            }
            match c {
                // Samples are in time order: stop decoding past `maxt`.
                HeadChunk::Mem(c) => {
                    out.reserve(expected_in_range(c.num_samples(), first, last, mint, maxt));
                    out.extend(c.iter().take_while(|s| s.t <= maxt).filter(|s| s.t >= mint))
                }
                HeadChunk::Disk(d) => {
                    let files = files.ok_or_else(|| std::io::Error::other("spilled chunk without chunk files"))?;
                    files.with_chunk(d, |bytes| {
                        let mut it = XorIter::new(bytes);
                        out.reserve(expected_in_range(it.num_samples(), first, last, mint, maxt));
                        out.extend(it.by_ref().take_while(|s| s.t <= maxt).filter(|s| s.t >= mint));
                        match it.err() {
                            Some(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
                            None => Ok(()),
                        }
                    })??;
                }
            }
        }
        Ok(())
    }

    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks.iter().any(|c| match (c.first_time(), c.last_time()) {
            (Some(f), Some(l)) => f <= maxt && l >= mint,
            _ => false,
        })
    }
}

/// About how many of a chunk's `n` samples, spread over `[first, last]`,
/// fall in `[mint, maxt]`: reserving that once beats growing the output
/// sample by sample (queries spent a fifth of their time in `malloc` here).
fn expected_in_range(n: u16, first: i64, last: i64, mint: i64, maxt: i64) -> usize {
    let n = i64::from(n);
    if first >= mint && last <= maxt {
        return n as usize;
    }
    let span = (last - first).max(1);
    let overlap = (last.min(maxt) - first.max(mint)).max(0);
    (n.saturating_mul(overlap) / span + 1).clamp(1, n.max(1)) as usize
}

/// End (exclusive) of the aligned range of width `range` that holds `t`.
pub(crate) fn range_end(t: i64, range: i64) -> i64 {
    t.div_euclid(range).saturating_add(1).saturating_mul(range)
}

/// A series held by the head.
pub(crate) struct MemSeries {
    pub series_ref: u64,
    pub labels: Box<[(Sym, Sym)]>,
    /// Whether the series' definition is already in the WAL.
    logged: AtomicBool,
    /// Set when truncation removed the series from the head.
    removed: AtomicBool,
    pub data: Mutex<SeriesData>,
}

impl MemSeries {
    pub fn new(series_ref: u64, labels: Box<[(Sym, Sym)]>, logged: bool) -> Self {
        MemSeries {
            series_ref,
            labels,
            logged: AtomicBool::new(logged),
            removed: AtomicBool::new(false),
            data: Mutex::new(SeriesData::default()),
        }
    }

    pub fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Acquire)
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release)
    }

    pub fn mark_logged(&self) {
        self.logged.store(true, Ordering::Release)
    }

    pub fn labels_equal(&self, other: &[(&str, &str)], resolve: &Resolver<'_>) -> bool {
        self.labels.len() == other.len()
            && self
                .labels
                .iter()
                .zip(other.iter())
                .all(|((n, v), (on, ov))| resolve.get(*n) == *on && resolve.get(*v) == *ov)
    }

    pub fn labels(&self, resolve: &Resolver<'_>) -> Labels {
        Labels::from_sorted_unchecked(
            self.labels
                .iter()
                .map(|(n, v)| Label {
                    name: resolve.shared(*n),
                    value: resolve.shared(*v),
                })
                .collect(),
        )
    }

    pub fn memory_bytes(&self) -> usize {
        let data = self.data.lock();
        std::mem::size_of::<Self>()
            + self.labels.len() * 8
            + data.chunks.capacity() * std::mem::size_of::<HeadChunk>()
            + data
                .chunks
                .iter()
                .map(|c| c.memory_bytes().saturating_sub(std::mem::size_of::<HeadChunk>()))
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_at_sample_count_and_range_boundaries() {
        let mut d = SeriesData::default();
        let range = 1000;
        for t in 0..130 {
            d.append(t, t as f64, range);
        }
        assert_eq!(d.chunks.len(), 2, "cut at 120 samples");
        d.append(1000, 1.0, range);
        assert_eq!(d.chunks.len(), 3, "cut at the range boundary");
        let mut out = Vec::new();
        d.samples_in(5, 124, None, &mut out).unwrap();
        assert_eq!(out.len(), 120);
        assert_eq!(out.first().map(|s| s.t), Some(5));
        assert_eq!(out.last().map(|s| s.t), Some(124));
    }

    #[test]
    fn ordering_rules() {
        let mut d = SeriesData::default();
        d.append(10, 1.0, 1000);
        assert_eq!(d.check(10, 1.0), Ok(false));
        assert_eq!(d.check(10, 2.0), Err(Refusal::DuplicateTimestamp));
        assert_eq!(d.check(9, 1.0), Err(Refusal::OutOfOrder));
        assert_eq!(d.check(11, 1.0), Ok(true));
        assert_eq!(range_end(-1, 1000), 0);
        assert_eq!(range_end(0, 1000), 1000);
    }
}
