//! Immutable persisted blocks: a time range of series written once by
//! [`write_block`] (or [`compact`]), read through [`Block`].
//!
//! A block is a directory `<root>/<id>/` holding `meta.json`, `index`
//! (symbols, series, postings, label table; all checksummed and loaded at
//! open) and `chunks` (samples, read on demand through the [`BlockDir`]
//! storage seam). The byte layout is in `docs/format/block.md`.
//!
//! Samples are re-encoded when written: timestamps shared by the series of
//! one scrape target are stored once per block, other timestamps as
//! residuals against the series' median interval; values that are decimal
//! numbers are stored as bit-packed integer deltas, the rest as Gorilla XOR.
//! Every timestamp and every value bit pattern round-trips exactly.
mod bits;
mod codec;
mod compact;
mod dir;
mod index;
mod json;
mod meta;
mod reader;
#[cfg(test)]
pub(crate) mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{Labels, Sample};

pub use dir::{BlockDir, LocalDir};
pub use meta::{is_block_id, new_block_id, BlockMeta, BlockStats, Compaction, META_VERSION};
pub use reader::{Block, BlockQuerier};

use crate::chunk::XorIter;

/// Name of the metadata file.
pub const META_FILE: &str = "meta.json";
/// Name of the index file.
pub const INDEX_FILE: &str = "index";
/// Name of the sample data file.
pub const CHUNKS_FILE: &str = "chunks";
/// Magic of the chunks file.
const CHUNKS_MAGIC: &[u8; 4] = b"AWBC";
/// Version of the chunks file format.
const CHUNKS_VERSION: u8 = 1;

/// One XOR chunk of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkData {
    /// First timestamp in the chunk.
    pub min_time: i64,
    /// Last timestamp in the chunk (inclusive).
    pub max_time: i64,
    /// XOR chunk bytes exactly as [`crate::chunk::XorChunk::bytes`] returns them.
    pub data: Vec<u8>,
}

/// A series with its chunks, as written to and read from blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Time-ordered, non-overlapping chunks.
    pub chunks: Vec<ChunkData>,
}

/// A block could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file's content is damaged.
    #[error("{file}: corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in that file of the damaged structure.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file was written by a format version this build does not know.
    #[error("{file}: unsupported format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// `meta.json` is not valid.
    #[error("{file}: invalid block metadata: {reason}")]
    Meta {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The caller's input cannot be written.
    #[error("invalid block input: {0}")]
    InvalidInput(String),
}

/// Decodes a series' XOR chunks into samples.
fn decode_chunks(s: BlockSeries) -> Result<(Labels, Vec<Sample>), BlockError> {
    let mut samples = Vec::with_capacity(s.chunks.len() * 120);
    for (i, c) in s.chunks.iter().enumerate() {
        let mut it = XorIter::new(&c.data);
        samples.extend(it.by_ref());
        if let Some(e) = it.err() {
            return Err(BlockError::InvalidInput(format!("series {}: chunk {i}: {e}", s.labels)));
        }
    }
    Ok((s.labels, samples))
}

/// Writes a block atomically: into `<root>/<id>.tmp/`, fsyncs the files and
/// the directory, renames it to `<root>/<id>/` and fsyncs `root`.
///
/// `series` should come sorted by labels (any order is accepted; the same
/// labels twice is an error). Chunks are decoded and re-encoded: samples are
/// sorted by time (at equal timestamps the first one is kept) and only
/// those within `[min_time, max_time)` are stored, so head chunks that
/// straddle the block's end can be passed as they are; series left without
/// samples are not written. An empty `sources` becomes `[id]`.
pub fn write_block(
    root: &Path,
    series: impl Iterator<Item = BlockSeries>,
    min_time: i64,
    max_time: i64,
    level: u32,
    sources: Vec<String>,
) -> Result<BlockMeta, BlockError> {
    writer::write_samples(root, series.map(decode_chunks), min_time, max_time, level, sources)
}

/// Merges blocks (possibly overlapping in time) into one new block of level
/// `max(levels) + 1` covering `[min(min_time), max(max_time))`, with the
/// union of their sources. Series with equal labels have their samples
/// merged by time; at equal timestamps the sample of the block earliest in
/// `blocks` is kept. The inputs are left in place (the caller deletes them).
pub fn compact(root: &Path, blocks: &[Arc<Block>]) -> Result<BlockMeta, BlockError> {
    compact::compact(root, blocks)
}

/// Opens every block under `root` (directories holding `meta.json`), after
/// deleting leftover `*.tmp` directories of interrupted writes. Returns the
/// blocks sorted by `min_time` (then id), and separately the directories
/// that could not be opened with why (also logged with `tracing::warn!`).
///
/// Call it when no block is being written under `root` (at startup): a
/// write in progress is a `.tmp` directory and would be deleted.
pub fn open_all(root: &Path) -> (Vec<Arc<Block>>, Vec<(PathBuf, BlockError)>) {
    let mut blocks = Vec::new();
    let mut failed = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (blocks, failed),
        Err(e) => {
            tracing::warn!(dir = %root.display(), error = %e, "cannot list blocks");
            failed.push((
                root.to_path_buf(),
                BlockError::Io {
                    path: root.to_path_buf(),
                    source: e,
                },
            ));
            return (blocks, failed);
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for path in dirs {
        if path.extension().is_some_and(|e| e == "tmp") {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(dir = %path.display(), "removed leftover of an interrupted block write"),
                Err(e) => tracing::warn!(dir = %path.display(), error = %e, "cannot remove leftover block directory"),
            }
            continue;
        }
        if !path.join(META_FILE).exists() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "skipping unreadable block");
                failed.push((path, e));
            }
        }
    }
    blocks.sort_by(|a: &Arc<Block>, b| (a.meta().min_time, &a.meta().id).cmp(&(b.meta().min_time, &b.meta().id)));
    (blocks, failed)
}
