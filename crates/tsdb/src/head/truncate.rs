//! Handing head data over to blocks: reading out a persistable range, then
//! dropping it from memory and garbage-collecting empty series.
use std::sync::atomic::Ordering;

use super::Head;
use crate::block::{BlockSeries, ChunkData};

/// What a truncation removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TruncateStats {
    /// Chunks dropped from memory.
    pub chunks_removed: usize,
    /// Series removed because no data was left.
    pub series_removed: usize,
}

impl Head {
    /// Every series' chunks that hold data in `[mint, maxt)`, sorted by
    /// labels, for writing a block. Chunks never cross a block-range
    /// boundary, so each one belongs wholly to one block.
    /// A spilled chunk that cannot be read back fails the whole call, so the
    /// head is not truncated and nothing is lost (the WAL still has it).
    pub fn persistable(&self, mint: i64, maxt: i64) -> std::io::Result<Vec<BlockSeries>> {
        let mut out = Vec::new();
        for s in self.all_series() {
            let mut chunks: Vec<ChunkData> = Vec::new();
            {
                let data = s.data.lock();
                for c in &data.chunks {
                    let (Some(first), Some(last)) = (c.first_time(), c.last_time()) else {
                        continue;
                    };
                    if first >= maxt || last < mint {
                        continue;
                    }
                    chunks.push(ChunkData {
                        min_time: first,
                        max_time: last,
                        data: c.bytes(self.chunk_files.as_ref())?,
                    });
                }
            }
            if !chunks.is_empty() {
                out.push(BlockSeries {
                    labels: self.labels_of(&s),
                    chunks,
                });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Drops chunks whose samples are all older than `maxt` (now persisted),
    /// refuses samples older than `maxt` from now on, and removes series left
    /// without data from the index.
    pub fn truncate(&self, maxt: i64) -> TruncateStats {
        let _gc = self.gc.write();
        self.set_min_valid_time(maxt);
        let mut stats = TruncateStats::default();
        let mut new_min = i64::MAX;
        for s in self.all_series() {
            let mut data = s.data.lock();
            let before = data.chunks.len();
            data.chunks.retain(|c| c.last_time().is_some_and(|t| t >= maxt));
            stats.chunks_removed += before - data.chunks.len();
            if let Some(t) = data.chunks.first().and_then(|c| c.first_time()) {
                new_min = new_min.min(t);
            }
            // Empty series go too, including ones replayed whose samples were
            // all persisted already; an appender that still holds one finds
            // it again by its labels at commit.
            if data.chunks.is_empty() {
                s.mark_removed();
                drop(data);
                self.remove_series(&s);
                stats.series_removed += 1;
            }
        }
        self.min_time.store(new_min, Ordering::Relaxed);
        if let Some(files) = &self.chunk_files {
            files.drop_before(maxt);
        }
        self.counters
            .series_removed
            .fetch_add(stats.series_removed as u64, Ordering::Relaxed);
        stats
    }
}
