//! Reading a block: matcher resolution over the index, batched range reads
//! of the chunks file, page decoding.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{Labels, Matcher, Sample};

use super::codec::{decode_column, SeriesBlob, TsSource};
use super::dir::{BlockDir, LocalDir};
use super::index::{corrupt, Index, SeriesRecord};
use super::meta::BlockMeta;
use super::{BlockError, BlockSeries, ChunkData, CHUNKS_FILE, CHUNKS_MAGIC, CHUNKS_VERSION, INDEX_FILE, META_FILE};
use crate::chunk::{XorChunk, MAX_SAMPLES_PER_CHUNK};
use crate::index::{intersect, merge, without};
use crate::querier::{Querier, QueryError, SeriesSamples};

/// Ranges closer than this are fetched with one read.
const COALESCE_GAP: u64 = 64 * 1024;
/// Series read per batch when iterating a whole block.
const ITER_BATCH: usize = 1024;

/// An open, immutable block. `Send + Sync`; share it through an `Arc`.
#[derive(Debug)]
pub struct Block {
    meta: BlockMeta,
    dir: PathBuf,
    store: Box<dyn BlockDir>,
    index: Index,
}

/// Byte spans read from the chunks file, sorted by start.
struct Spans {
    spans: Vec<(u64, Vec<u8>)>,
}

impl Spans {
    fn get(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let i = self.spans.partition_point(|(s, _)| *s <= offset).checked_sub(1)?;
        let (start, bytes) = self.spans.get(i)?;
        let from = usize::try_from(offset - start).ok()?;
        bytes.get(from..from.checked_add(usize::try_from(len).ok()?)?)
    }
}

impl Block {
    /// Opens the block in directory `dir` on the local filesystem.
    pub fn open(dir: &Path) -> Result<Block, BlockError> {
        Block::open_with(dir, Box::new(LocalDir::new(dir)))
    }

    /// Opens a block whose files are read through `store`; `dir` is what
    /// [`Block::dir`] reports.
    ///
    /// Reads and checks `meta.json`, reads the whole index and verifies the
    /// checksums of all its sections, and checks the chunks file's header
    /// and length. Series data checksums are verified when read.
    pub fn open_with(dir: &Path, store: Box<dyn BlockDir>) -> Result<Block, BlockError> {
        let io = |name: &str, e| BlockError::Io {
            path: store.describe(name),
            source: e,
        };
        let meta_bytes = store.read(META_FILE).map_err(|e| io(META_FILE, e))?;
        let meta = BlockMeta::parse(&meta_bytes, &store.describe(META_FILE))?;
        let index_bytes = store.read(INDEX_FILE).map_err(|e| io(INDEX_FILE, e))?;
        let index = Index::parse(index_bytes, &store.describe(INDEX_FILE))?;
        let chunks_path = store.describe(CHUNKS_FILE);
        let size = store.size(CHUNKS_FILE).map_err(|e| io(CHUNKS_FILE, e))?;
        if size < 8 {
            return Err(corrupt(
                &chunks_path,
                0,
                format!("file of {size} bytes is shorter than its header"),
            ));
        }
        let header = store.read_range(CHUNKS_FILE, 0, 8).map_err(|e| io(CHUNKS_FILE, e))?;
        if header.get(..4) != Some(&CHUNKS_MAGIC[..]) {
            return Err(corrupt(&chunks_path, 0, "bad magic (not a block chunks file)"));
        }
        let version = header.get(4).copied().unwrap_or(0);
        if version != CHUNKS_VERSION {
            return Err(BlockError::UnsupportedVersion {
                file: chunks_path,
                found: u32::from(version),
                supported: u32::from(CHUNKS_VERSION),
            });
        }
        if size != index.chunks_len {
            return Err(corrupt(
                &chunks_path,
                size.min(index.chunks_len) as usize,
                format!("file is {size} bytes, the index expects {}", index.chunks_len),
            ));
        }
        Ok(Block {
            meta,
            dir: dir.to_path_buf(),
            store,
            index,
        })
    }

    /// The block's metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A querier over `[mint, maxt]` (both inclusive, as [`Querier`] wants).
    pub fn querier(self: &Arc<Self>, mint: i64, maxt: i64) -> BlockQuerier {
        BlockQuerier {
            block: self.clone(),
            mint,
            maxt,
        }
    }

    /// Matching series (sorted) with their samples in `[mint, maxt]` as XOR
    /// chunks of at most 120 samples; series without samples there are left
    /// out. Chunk boundaries are the reader's, not those given when writing.
    pub fn series_chunks(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<BlockSeries>, BlockError> {
        let series = self.select_samples(matchers, mint, maxt)?;
        Ok(series
            .into_iter()
            .map(|(labels, samples)| BlockSeries {
                labels,
                chunks: to_xor_chunks(&samples),
            })
            .collect())
    }

    /// Series refs matching all `matchers`, as the head resolves them:
    /// matchers that reject "" intersect their postings, those that accept
    /// it subtract the postings of the values they reject.
    pub(crate) fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<Vec<u64>, BlockError> {
        let ix = &self.index;
        let mut include: Vec<Vec<u64>> = Vec::new();
        let mut exclude: Vec<Vec<u64>> = Vec::new();
        if matchers.iter().all(|m| m.matches_empty()) {
            include.push(ix.all_postings()?);
        }
        for m in matchers {
            if !ix.has_name(&m.name) {
                if m.matches_empty() {
                    continue;
                }
                return Ok(Vec::new());
            }
            if m.matches_empty() {
                let rejected: Vec<Vec<u64>> = ix
                    .values(&m.name)
                    .filter(|(v, _)| !m.matches(v))
                    .map(|(_, off)| ix.postings(off))
                    .collect::<Result<_, _>>()?;
                if !rejected.is_empty() {
                    exclude.push(merge(rejected.iter().map(Vec::as_slice).collect()));
                }
                continue;
            }
            let offsets: Vec<u64> = if let Some(values) = m.set_matches() {
                values.iter().filter_map(|v| ix.value(&m.name, v)).collect()
            } else if let Some(prefix) = m.prefix() {
                ix.values_with_prefix(&m.name, prefix)
                    .filter(|(v, _)| m.matches(v))
                    .map(|(_, off)| off)
                    .collect()
            } else {
                ix.values(&m.name)
                    .filter(|(v, _)| m.matches(v))
                    .map(|(_, off)| off)
                    .collect()
            };
            if offsets.is_empty() {
                return Ok(Vec::new());
            }
            let lists: Vec<Vec<u64>> = offsets
                .into_iter()
                .map(|off| ix.postings(off))
                .collect::<Result<_, _>>()?;
            include.push(merge(lists.iter().map(Vec::as_slice).collect()));
        }
        let base = intersect(include.iter().map(Vec::as_slice).collect());
        Ok(exclude.iter().fold(base, |acc, ex| without(acc, ex)))
    }

    /// Index records of matching series whose time range overlaps `[mint, maxt]`.
    fn matching(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesRecord>, BlockError> {
        let mut out = Vec::new();
        for r in self.postings_for_matchers(matchers)? {
            let s = self.index.series(r)?;
            if s.max_t >= mint && s.min_t <= maxt {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Reads the given ranges of the chunks file, merging close ones.
    fn read_spans(&self, mut ranges: Vec<(u64, u64)>) -> Result<Spans, BlockError> {
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (off, len) in ranges {
            let end = off.saturating_add(len);
            match merged.last_mut() {
                Some((_, e)) if off <= e.saturating_add(COALESCE_GAP) => *e = (*e).max(end),
                _ => merged.push((off, end)),
            }
        }
        let mut spans = Vec::with_capacity(merged.len());
        for (start, end) in merged {
            let len = usize::try_from(end - start)
                .map_err(|_| corrupt(&self.store.describe(CHUNKS_FILE), start as usize, "read too large"))?;
            let bytes = self
                .store
                .read_range(CHUNKS_FILE, start, len)
                .map_err(|e| BlockError::Io {
                    path: self.store.describe(CHUNKS_FILE),
                    source: e,
                })?;
            spans.push((start, bytes));
        }
        Ok(Spans { spans })
    }

    /// Decodes the samples in `[mint, maxt]` of each record, in order.
    fn load(&self, records: &[SeriesRecord], mint: i64, maxt: i64) -> Result<Vec<Vec<Sample>>, BlockError> {
        let file = self.store.describe(CHUNKS_FILE);
        let spans = self.read_spans(records.iter().map(|r| (r.offset, r.len)).collect())?;
        let mut blobs = Vec::with_capacity(records.len());
        let mut wanted: Vec<(u64, u64)> = Vec::new();
        for r in records {
            let bytes = spans
                .get(r.offset, r.len)
                .ok_or_else(|| corrupt(&file, r.offset as usize, "series data missing"))?;
            let blob = SeriesBlob::parse(bytes).map_err(|why| corrupt(&file, r.offset as usize, why))?;
            if let TsSource::Column { offset, len, .. } = blob.ts {
                if offset.checked_add(len).is_none_or(|e| e > self.index.chunks_len) {
                    return Err(corrupt(
                        &file,
                        r.offset as usize,
                        "timestamp column beyond the end of the file",
                    ));
                }
                wanted.push((offset, len));
            }
            blobs.push(blob);
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut columns: HashMap<u64, Vec<i64>> = HashMap::with_capacity(wanted.len());
        if !wanted.is_empty() {
            let col_spans = self.read_spans(wanted.clone())?;
            for (offset, len) in wanted {
                let bytes = col_spans
                    .get(offset, len)
                    .ok_or_else(|| corrupt(&file, offset as usize, "timestamp column missing"))?;
                let ts = decode_column(bytes).map_err(|why| corrupt(&file, offset as usize, why))?;
                columns.insert(offset, ts);
            }
        }
        let mut out = Vec::with_capacity(records.len());
        for (r, blob) in records.iter().zip(&blobs) {
            let column = match blob.ts {
                TsSource::Column { offset, .. } => columns.get(&offset).map(Vec::as_slice),
                TsSource::Own => None,
            };
            let mut samples = Vec::with_capacity(blob.num_samples().min(r.num_samples) as usize);
            blob.decode(column, mint, maxt, &mut samples)
                .map_err(|why| corrupt(&file, r.offset as usize, why))?;
            out.push(samples);
        }
        Ok(out)
    }

    /// Matching series (sorted) with their samples in `[mint, maxt]`;
    /// series without samples there are left out.
    pub(crate) fn select_samples(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, BlockError> {
        let records = self.matching(matchers, mint, maxt)?;
        let samples = self.load(&records, mint, maxt)?;
        Ok(records
            .into_iter()
            .zip(samples)
            .filter(|(_, s)| !s.is_empty())
            .map(|(r, s)| (r.labels, s))
            .collect())
    }

    /// Every series with all its samples, in label order, read in batches.
    pub(crate) fn iter_series(self: &Arc<Self>) -> SeriesIter {
        SeriesIter {
            block: self.clone(),
            refs: None,
            next: 0,
            batch: Vec::new().into_iter(),
        }
    }
}

/// Splits samples into XOR chunks of at most [`MAX_SAMPLES_PER_CHUNK`].
pub(crate) fn to_xor_chunks(samples: &[Sample]) -> Vec<ChunkData> {
    samples
        .chunks(usize::from(MAX_SAMPLES_PER_CHUNK))
        .filter_map(|part| {
            let (first, last) = (part.first()?, part.last()?);
            let mut c = XorChunk::new();
            for s in part {
                c.append(s.t, s.v);
            }
            Some(ChunkData {
                min_time: first.t,
                max_time: last.t,
                data: c.bytes().to_vec(),
            })
        })
        .collect()
}

/// Iterates a whole block (see [`Block::iter_series`]).
pub(crate) struct SeriesIter {
    block: Arc<Block>,
    refs: Option<Vec<u64>>,
    next: usize,
    batch: std::vec::IntoIter<(Labels, Vec<Sample>)>,
}

impl SeriesIter {
    fn fill(&mut self) -> Result<(), BlockError> {
        let refs = match &self.refs {
            Some(r) => r,
            None => self.refs.insert(self.block.index.all_postings()?),
        };
        let end = (self.next + ITER_BATCH).min(refs.len());
        let records: Vec<SeriesRecord> = refs[self.next.min(end)..end]
            .iter()
            .map(|&r| self.block.index.series(r))
            .collect::<Result<_, _>>()?;
        self.next = end;
        let samples = self.block.load(&records, i64::MIN, i64::MAX)?;
        let batch: Vec<(Labels, Vec<Sample>)> = records.into_iter().map(|r| r.labels).zip(samples).collect();
        self.batch = batch.into_iter();
        Ok(())
    }
}

impl Iterator for SeriesIter {
    type Item = Result<(Labels, Vec<Sample>), BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(s) = self.batch.next() {
                return Some(Ok(s));
            }
            if self.refs.as_ref().is_some_and(|r| self.next >= r.len()) {
                return None;
            }
            if let Err(e) = self.fill() {
                // Stop after the first error.
                self.refs = Some(Vec::new());
                self.next = 0;
                return Some(Err(e));
            }
        }
    }
}

/// A [`Querier`] over one block and a time range.
pub struct BlockQuerier {
    block: Arc<Block>,
    mint: i64,
    maxt: i64,
}

fn qerr(e: BlockError) -> QueryError {
    QueryError::Storage(e.to_string())
}

impl BlockQuerier {
    /// The block read.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    fn matching(&self, matchers: &[Matcher]) -> Result<Vec<SeriesRecord>, QueryError> {
        self.block.matching(matchers, self.mint, self.maxt).map_err(qerr)
    }
}

impl Querier for BlockQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<SeriesSamples>, QueryError> {
        let series = self
            .block
            .select_samples(matchers, self.mint, self.maxt)
            .map_err(qerr)?;
        Ok(series
            .into_iter()
            .map(|(labels, samples)| SeriesSamples { labels, samples })
            .collect())
    }

    fn series(&self, matchers: &[Matcher]) -> Result<Vec<Labels>, QueryError> {
        Ok(self.matching(matchers)?.into_iter().map(|r| r.labels).collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if matchers.is_empty() {
            return Ok(self.block.index.label_names());
        }
        let mut names = BTreeSet::new();
        for r in self.matching(matchers)? {
            for l in r.labels.iter() {
                if !names.contains(&l.name) {
                    names.insert(l.name.clone());
                }
            }
        }
        Ok(names.into_iter().map(String::from).collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if matchers.is_empty() {
            return Ok(self.block.index.values(name).map(|(v, _)| v.to_string()).collect());
        }
        let mut values = BTreeSet::new();
        for r in self.matching(matchers)? {
            if let Some(v) = r.labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }
}
