//! Writing a block: series are encoded into `chunks` as they arrive, the
//! index and `meta.json` follow, all inside `<id>.tmp/` which is renamed
//! into place once durable.
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use model::{Labels, Sample};

use super::codec::{encode_column, encode_series, TsSource, COLUMN_MAX_SAMPLES};
use super::dir::sync_dir;
use super::index::{build_index, SeriesEntry};
use super::meta::{new_block_id, BlockMeta, BlockStats, Compaction, META_VERSION};
use super::{BlockError, CHUNKS_FILE, CHUNKS_MAGIC, CHUNKS_VERSION, INDEX_FILE, META_FILE};

/// Series shorter than this keep their own timestamps.
const MIN_COLUMN_SAMPLES: usize = 8;
/// Timestamps the writer keeps in memory to find shared columns; beyond
/// this, series that match no known column store their own timestamps.
const COLUMN_BUDGET: usize = 2_000_000;

/// Distinct timestamp sequences written so far, found by first timestamp.
#[derive(Default)]
struct Columns {
    /// Timestamp → (column, position) of the occurrence followed by the
    /// most timestamps.
    by_time: HashMap<i64, (u32, u32)>,
    cols: Vec<Column>,
    held: usize,
}

struct Column {
    offset: u64,
    len: u64,
    ts: Vec<i64>,
}

impl Columns {
    fn find(&self, ts: &[i64]) -> Option<TsSource> {
        let &(c, pos) = self.by_time.get(ts.first()?)?;
        let col = self.cols.get(c as usize)?;
        let start = pos as usize;
        (col.ts.get(start..start + ts.len())? == ts).then_some(TsSource::Column {
            offset: col.offset,
            len: col.len,
            start: start as u64,
        })
    }

    fn add(&mut self, ts: &[i64], offset: u64, len: u64) -> TsSource {
        let c = self.cols.len() as u32;
        // Each timestamp points at the column that continues longest after it.
        for (i, t) in ts.iter().enumerate() {
            let remaining = ts.len() - i;
            let e = self.by_time.entry(*t).or_insert((c, i as u32));
            let longer = self
                .cols
                .get(e.0 as usize)
                .is_some_and(|col| col.ts.len() - (e.1 as usize) < remaining);
            if longer {
                *e = (c, i as u32);
            }
        }
        self.held += ts.len();
        self.cols.push(Column {
            offset,
            len,
            ts: ts.to_vec(),
        });
        TsSource::Column { offset, len, start: 0 }
    }
}

struct ChunksWriter {
    w: BufWriter<File>,
    pos: u64,
    path: PathBuf,
}

impl ChunksWriter {
    fn write(&mut self, b: &[u8]) -> Result<u64, BlockError> {
        let at = self.pos;
        self.w.write_all(b).map_err(|e| io_err(&self.path, e))?;
        self.pos += b.len() as u64;
        Ok(at)
    }
}

pub(crate) fn io_err(path: &Path, source: io::Error) -> BlockError {
    BlockError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Sorts by time and drops later duplicates of a timestamp, then keeps
/// `[min_time, max_time)`.
fn normalize(samples: &mut Vec<Sample>, min_time: i64, max_time: i64) {
    if !samples.windows(2).all(|w| w[0].t < w[1].t) {
        samples.sort_by_key(|s| s.t);
        samples.dedup_by_key(|s| s.t);
    }
    samples.retain(|s| s.t >= min_time && s.t < max_time);
}

/// Writes a block from series given as samples; see [`super::write_block`].
pub(crate) fn write_samples(
    root: &Path,
    series: impl Iterator<Item = Result<(Labels, Vec<Sample>), BlockError>>,
    min_time: i64,
    max_time: i64,
    level: u32,
    sources: Vec<String>,
) -> Result<BlockMeta, BlockError> {
    if min_time > max_time {
        return Err(BlockError::InvalidInput(format!(
            "min_time {min_time} is after max_time {max_time}"
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
    let id = new_block_id();
    let tmp = root.join(format!("{id}.tmp"));
    std::fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
    let result = write_into(&tmp, &id, series, min_time, max_time, level, sources);
    let meta = match result {
        Ok(meta) => meta,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let dst = root.join(&id);
    let finish = std::fs::rename(&tmp, &dst)
        .map_err(|e| io_err(&dst, e))
        .and_then(|()| sync_dir(root).map_err(|e| io_err(root, e)));
    if let Err(e) = finish {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(meta)
}

fn write_into(
    tmp: &Path,
    id: &str,
    series: impl Iterator<Item = Result<(Labels, Vec<Sample>), BlockError>>,
    min_time: i64,
    max_time: i64,
    level: u32,
    mut sources: Vec<String>,
) -> Result<BlockMeta, BlockError> {
    let chunks_path = tmp.join(CHUNKS_FILE);
    let file = File::create(&chunks_path).map_err(|e| io_err(&chunks_path, e))?;
    let mut chunks = ChunksWriter {
        w: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        path: chunks_path.clone(),
    };
    chunks.write(CHUNKS_MAGIC)?;
    chunks.write(&[CHUNKS_VERSION, 0, 0, 0])?;

    let mut columns = Columns::default();
    let mut entries: Vec<SeriesEntry> = Vec::new();
    let mut stats = BlockStats::default();
    let mut ts = Vec::new();
    let mut vals = Vec::new();
    let mut sorted = true;
    for item in series {
        let (labels, mut samples) = item?;
        normalize(&mut samples, min_time, max_time);
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            continue;
        };
        let (min_t, max_t) = (first.t, last.t);
        ts.clear();
        vals.clear();
        ts.extend(samples.iter().map(|s| s.t));
        vals.extend(samples.iter().map(|s| s.v.to_bits()));
        let src = if ts.len() < MIN_COLUMN_SAMPLES {
            TsSource::Own
        } else if let Some(src) = columns.find(&ts) {
            src
        } else if columns.held + ts.len() <= COLUMN_BUDGET && ts.len() as u64 <= COLUMN_MAX_SAMPLES {
            let col = encode_column(&ts);
            let offset = chunks.write(&col)?;
            columns.add(&ts, offset, col.len() as u64)
        } else {
            TsSource::Own
        };
        let (blob, pages) = encode_series(&ts, &vals, src);
        let offset = chunks.write(&blob)?;
        if entries.last().is_some_and(|e| e.labels >= labels) {
            sorted = false;
        }
        stats.num_samples += samples.len() as u64;
        stats.num_chunks += pages as u64;
        entries.push(SeriesEntry {
            labels,
            min_t,
            max_t,
            num_samples: samples.len() as u64,
            offset,
            len: blob.len() as u64,
        });
    }
    let chunks_len = chunks.pos;
    let file = chunks
        .w
        .into_inner()
        .map_err(|e| io_err(&chunks_path, e.into_error()))?;
    file.sync_all().map_err(|e| io_err(&chunks_path, e))?;
    drop(file);

    if !sorted {
        entries.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    if let Some(w) = entries.windows(2).find(|w| w[0].labels == w[1].labels) {
        return Err(BlockError::InvalidInput(format!("series {} given twice", w[0].labels)));
    }
    stats.num_series = entries.len() as u64;

    let index = build_index(&entries, chunks_len);
    let index_path = tmp.join(INDEX_FILE);
    write_file(&index_path, &index)?;
    stats.size_bytes = chunks_len + index.len() as u64;

    if sources.is_empty() {
        sources.push(id.to_string());
    }
    sources.sort();
    sources.dedup();
    let meta = BlockMeta {
        id: id.to_string(),
        min_time,
        max_time,
        stats,
        compaction: Compaction { level, sources },
        version: META_VERSION,
    };
    let meta_path = tmp.join(META_FILE);
    write_file(&meta_path, meta.to_json().as_bytes())?;
    sync_dir(tmp).map_err(|e| io_err(tmp, e))?;
    Ok(meta)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BlockError> {
    let mut f = File::create(path).map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}
