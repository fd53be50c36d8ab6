//! The `index` file: symbols, series, postings and the label table.
//!
//! Layout (all integers little-endian; see `docs/format/block.md`):
//!
//! ```text
//! "AWBI" | u8 version | 3 reserved bytes
//! symbols section  | u32 crc
//! series section   | u32 crc
//! postings section | u32 crc
//! label section    | u32 crc
//! TOC: 10 × u64 | u32 crc of the TOC
//! ```
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use model::{Label, Labels, SharedStr};

use super::BlockError;
use crate::encoding::{put_str, put_uvarint, put_varint, DecodeError, Decoder};

/// Magic of the index file.
pub(crate) const INDEX_MAGIC: &[u8; 4] = b"AWBI";
/// Version of the index file format.
pub(crate) const INDEX_VERSION: u8 = 1;
/// Bytes of the file header.
pub(crate) const HEADER_LEN: usize = 8;
/// Bytes of the table of contents at the end, checksum included.
pub(crate) const TOC_LEN: usize = 10 * 8 + 4;

/// One series as the writer records it.
#[derive(Debug, Clone)]
pub(crate) struct SeriesEntry {
    pub(crate) labels: Labels,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) num_samples: u64,
    /// Offset of the series blob in the chunks file.
    pub(crate) offset: u64,
    /// Length of the blob, checksum included.
    pub(crate) len: u64,
}

fn section(out: &mut Vec<u8>, payload: &[u8]) -> (u64, u64) {
    let off = out.len() as u64;
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    (off, payload.len() as u64)
}

fn put_postings(out: &mut Vec<u8>, refs: &[u64]) {
    put_uvarint(out, refs.len() as u64);
    let mut prev = 0;
    for (i, &r) in refs.iter().enumerate() {
        put_uvarint(out, if i == 0 { r } else { r - prev });
        prev = r;
    }
}

/// Builds the index file for `entries`, sorted by labels and unique.
pub(crate) fn build_index(entries: &[SeriesEntry], chunks_len: u64) -> Vec<u8> {
    let mut symbols: Vec<&str> = entries
        .iter()
        .flat_map(|e| e.labels.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()]))
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    let sym = |s: &str| symbols.binary_search(&s).unwrap_or(0) as u64;

    let mut sym_buf = Vec::new();
    put_uvarint(&mut sym_buf, symbols.len() as u64);
    for s in &symbols {
        put_str(&mut sym_buf, s);
    }

    let mut series_buf = Vec::new();
    let mut pairs: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    let mut all = Vec::with_capacity(entries.len());
    for e in entries {
        let r = series_buf.len() as u64;
        all.push(r);
        put_uvarint(&mut series_buf, e.labels.len() as u64);
        for l in e.labels.iter() {
            let (n, v) = (sym(&l.name), sym(&l.value));
            put_uvarint(&mut series_buf, n);
            put_uvarint(&mut series_buf, v);
            pairs.entry((n, v)).or_default().push(r);
        }
        put_varint(&mut series_buf, e.min_t);
        put_uvarint(&mut series_buf, e.max_t.wrapping_sub(e.min_t) as u64);
        put_uvarint(&mut series_buf, e.num_samples);
        put_uvarint(&mut series_buf, e.offset);
        put_uvarint(&mut series_buf, e.len);
    }

    let mut postings_buf = Vec::new();
    let all_off = postings_buf.len() as u64;
    put_postings(&mut postings_buf, &all);
    let mut by_name: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for ((n, v), refs) in &pairs {
        by_name.entry(*n).or_default().push((*v, postings_buf.len() as u64));
        put_postings(&mut postings_buf, refs);
    }

    let mut labels_buf = Vec::new();
    put_uvarint(&mut labels_buf, by_name.len() as u64);
    for (n, values) in &by_name {
        put_uvarint(&mut labels_buf, *n);
        put_uvarint(&mut labels_buf, values.len() as u64);
        for (v, off) in values {
            put_uvarint(&mut labels_buf, *v);
            put_uvarint(&mut labels_buf, *off);
        }
    }

    let mut out = Vec::with_capacity(
        HEADER_LEN + sym_buf.len() + series_buf.len() + postings_buf.len() + labels_buf.len() + 16 + TOC_LEN,
    );
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&[INDEX_VERSION, 0, 0, 0]);
    let mut toc = Vec::with_capacity(TOC_LEN);
    for buf in [&sym_buf, &series_buf, &postings_buf, &labels_buf] {
        let (off, len) = section(&mut out, buf);
        toc.extend_from_slice(&off.to_le_bytes());
        toc.extend_from_slice(&len.to_le_bytes());
    }
    toc.extend_from_slice(&all_off.to_le_bytes());
    toc.extend_from_slice(&chunks_len.to_le_bytes());
    let sum = crc32fast::hash(&toc);
    toc.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(&toc);
    out
}

/// The values of one label name: `(value symbol, postings offset)`, sorted.
#[derive(Debug)]
struct NameEntry {
    name: u32,
    values: Vec<(u32, u64)>,
}

/// One series as read back from the index.
#[derive(Debug, Clone)]
pub(crate) struct SeriesRecord {
    pub(crate) labels: Labels,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) num_samples: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// A parsed, checksum-verified index held in memory.
#[derive(Debug)]
pub(crate) struct Index {
    bytes: Vec<u8>,
    file: PathBuf,
    symbols: Vec<SharedStr>,
    series: Range<usize>,
    postings: Range<usize>,
    names: Vec<NameEntry>,
    all_postings: u64,
    pub(crate) chunks_len: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

impl Index {
    fn corrupt(&self, offset: usize, reason: impl Into<String>) -> BlockError {
        corrupt(&self.file, offset, reason)
    }

    /// Parses and verifies index bytes.
    pub(crate) fn parse(bytes: Vec<u8>, file: &Path) -> Result<Index, BlockError> {
        let bad = |offset: usize, reason: String| corrupt(file, offset, reason);
        if bytes.len() < HEADER_LEN {
            return Err(bad(
                0,
                format!("file of {} bytes is shorter than its header", bytes.len()),
            ));
        }
        if bytes.get(..4) != Some(&INDEX_MAGIC[..]) {
            return Err(bad(0, "bad magic (not a block index)".into()));
        }
        let version = bytes.get(4).copied().unwrap_or(0);
        if version != INDEX_VERSION {
            return Err(BlockError::UnsupportedVersion {
                file: file.to_path_buf(),
                found: u32::from(version),
                supported: u32::from(INDEX_VERSION),
            });
        }
        let Some(toc_at) = bytes.len().checked_sub(TOC_LEN).filter(|&t| t >= HEADER_LEN) else {
            return Err(bad(
                HEADER_LEN,
                format!("file of {} bytes has no room for its TOC", bytes.len()),
            ));
        };
        let toc = &bytes[toc_at..];
        let stored = u32_at(toc, TOC_LEN - 4);
        if crc32fast::hash(&toc[..TOC_LEN - 4]) != stored {
            return Err(bad(toc_at, "TOC checksum mismatch".into()));
        }
        let mut ranges = Vec::with_capacity(4);
        for (i, name) in ["symbols", "series", "postings", "label"].iter().enumerate() {
            let (off, len) = (u64_at(toc, i * 16), u64_at(toc, i * 16 + 8));
            let range = usize::try_from(off)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(o, l)| Some(o..o.checked_add(l)?))
                .filter(|r| r.start >= HEADER_LEN && r.end.checked_add(4).is_some_and(|e| e <= toc_at));
            let Some(range) = range else {
                return Err(bad(
                    toc_at + i * 16,
                    format!("{name} section {off}+{len} out of bounds"),
                ));
            };
            let stored = u32_at(&bytes, range.end);
            if crc32fast::hash(&bytes[range.clone()]) != stored {
                return Err(bad(range.start, format!("{name} section checksum mismatch")));
            }
            ranges.push(range);
        }
        let all_postings = u64_at(toc, 64);
        let chunks_len = u64_at(toc, 72);
        let (symbols_r, series, postings, labels_r) = (
            ranges[0].clone(),
            ranges[1].clone(),
            ranges[2].clone(),
            ranges[3].clone(),
        );

        let symbols = parse_symbols(&bytes[symbols_r.clone()]).map_err(|(at, why)| bad(symbols_r.start + at, why))?;
        let names = parse_labels(&bytes[labels_r.clone()], symbols.len(), postings.len())
            .map_err(|(at, why)| bad(labels_r.start + at, why))?;
        if all_postings >= postings.len() as u64 {
            return Err(bad(
                toc_at + 64,
                format!("all-series postings offset {all_postings} out of bounds"),
            ));
        }
        Ok(Index {
            bytes,
            file: file.to_path_buf(),
            symbols,
            series,
            postings,
            names,
            all_postings,
            chunks_len,
        })
    }

    /// The symbol `id` (validated ids only; "" otherwise).
    fn sym(&self, id: u32) -> &str {
        self.symbols.get(id as usize).map(SharedStr::as_str).unwrap_or("")
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        self.symbols
            .binary_search_by(|x| x.as_str().cmp(s))
            .ok()
            .map(|i| i as u32)
    }

    fn name_entry(&self, name: &str) -> Option<&NameEntry> {
        let id = self.lookup(name)?;
        self.names
            .binary_search_by_key(&id, |e| e.name)
            .ok()
            .and_then(|i| self.names.get(i))
    }

    /// Every label name, sorted.
    pub(crate) fn label_names(&self) -> Vec<String> {
        self.names.iter().map(|e| self.sym(e.name).to_string()).collect()
    }

    /// Whether any series carries label `name`.
    pub(crate) fn has_name(&self, name: &str) -> bool {
        self.name_entry(name).is_some()
    }

    /// The values of `name` (sorted) with their postings offsets.
    pub(crate) fn values(&self, name: &str) -> impl Iterator<Item = (&str, u64)> {
        self.name_entry(name)
            .into_iter()
            .flat_map(|e| e.values.iter().map(|(v, off)| (self.sym(*v), *off)))
    }

    /// The values of `name` starting with `prefix`.
    pub(crate) fn values_with_prefix<'a>(
        &'a self,
        name: &str,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        let values: &[(u32, u64)] = self.name_entry(name).map(|e| e.values.as_slice()).unwrap_or(&[]);
        let from = values.partition_point(|(v, _)| self.sym(*v) < prefix);
        values[from..]
            .iter()
            .map(|(v, off)| (self.sym(*v), *off))
            .take_while(move |(v, _)| v.starts_with(prefix))
    }

    /// The postings offset of `name="value"`.
    pub(crate) fn value(&self, name: &str, value: &str) -> Option<u64> {
        let v = self.lookup(value)?;
        let e = self.name_entry(name)?;
        e.values
            .binary_search_by_key(&v, |(s, _)| *s)
            .ok()
            .and_then(|i| e.values.get(i))
            .map(|(_, off)| *off)
    }

    /// All series refs.
    pub(crate) fn all_postings(&self) -> Result<Vec<u64>, BlockError> {
        self.postings(self.all_postings)
    }

    /// Decodes the postings list at `off` (within the postings section).
    pub(crate) fn postings(&self, off: u64) -> Result<Vec<u64>, BlockError> {
        let section = &self.bytes[self.postings.clone()];
        let at = usize::try_from(off).ok().filter(|&o| o < section.len());
        let at = at.ok_or_else(|| self.corrupt(self.postings.start, format!("postings offset {off} out of bounds")))?;
        let mut d = Decoder::new(&section[at..]);
        let fail = |e: DecodeError| self.corrupt(self.postings.start + at, format!("postings list: {e}"));
        let n = d.uvarint().map_err(fail)?;
        if n > d.remaining() as u64 {
            return Err(self.corrupt(self.postings.start + at, format!("postings list of {n} entries")));
        }
        let mut out = Vec::with_capacity(n as usize);
        let mut prev = 0u64;
        for i in 0..n {
            let delta = d.uvarint().map_err(fail)?;
            let r = if i == 0 {
                Some(delta)
            } else {
                prev.checked_add(delta).filter(|_| delta > 0)
            };
            prev = r.ok_or_else(|| self.corrupt(self.postings.start + at, "postings list not increasing"))?;
            out.push(prev);
        }
        Ok(out)
    }

    /// Decodes the series at `r` (its offset within the series section).
    pub(crate) fn series(&self, r: u64) -> Result<SeriesRecord, BlockError> {
        let section = &self.bytes[self.series.clone()];
        let at = usize::try_from(r).ok().filter(|&o| o < section.len());
        let at = at.ok_or_else(|| self.corrupt(self.series.start, format!("series ref {r} out of bounds")))?;
        let file_at = self.series.start + at;
        let mut d = Decoder::new(&section[at..]);
        let fail = |e: DecodeError| self.corrupt(file_at, format!("series entry: {e}"));
        let n = d.uvarint().map_err(fail)?;
        if n > d.remaining() as u64 {
            return Err(self.corrupt(file_at, format!("series entry with {n} labels")));
        }
        let mut labels = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (name, value) = (d.uvarint().map_err(fail)?, d.uvarint().map_err(fail)?);
            let get = |id: u64| self.symbols.get(usize::try_from(id).unwrap_or(usize::MAX));
            let (Some(name), Some(value)) = (get(name), get(value)) else {
                return Err(self.corrupt(file_at, "series entry: symbol ref out of bounds"));
            };
            if value.is_empty() || labels.last().is_some_and(|l: &Label| l.name >= *name) {
                return Err(self.corrupt(file_at, "series entry: labels not sorted, unique and non-empty"));
            }
            labels.push(Label::new(name.clone(), value.clone()));
        }
        let min_t = d.varint().map_err(fail)?;
        let max_t = min_t.wrapping_add(d.uvarint().map_err(fail)? as i64);
        let num_samples = d.uvarint().map_err(fail)?;
        let offset = d.uvarint().map_err(fail)?;
        let len = d.uvarint().map_err(fail)?;
        if offset.checked_add(len).is_none_or(|end| end > self.chunks_len) {
            return Err(self.corrupt(file_at, format!("series data {offset}+{len} beyond the chunks file")));
        }
        Ok(SeriesRecord {
            labels: Labels::from_sorted_unchecked(labels),
            min_t,
            max_t,
            num_samples,
            offset,
            len,
        })
    }
}

pub(crate) fn corrupt(file: &Path, offset: usize, reason: impl Into<String>) -> BlockError {
    BlockError::Corrupt {
        file: file.to_path_buf(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

type ParseRes<T> = Result<T, (usize, String)>;

fn at_err(d: &Decoder, len: usize) -> impl Fn(DecodeError) -> (usize, String) {
    let at = len - d.remaining();
    move |e| (at, e.to_string())
}

fn parse_symbols(b: &[u8]) -> ParseRes<Vec<SharedStr>> {
    let mut d = Decoder::new(b);
    let n = d.uvarint().map_err(at_err(&d, b.len()))?;
    if n > d.remaining() as u64 {
        return Err((0, format!("{n} symbols in {} bytes", b.len())));
    }
    let mut out: Vec<SharedStr> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let at = b.len() - d.remaining();
        let s = d.str().map_err(at_err(&d, b.len()))?;
        if out.last().is_some_and(|p| p.as_str() >= s) {
            return Err((at, "symbols not strictly sorted".into()));
        }
        out.push(SharedStr::from(s));
    }
    if d.remaining() != 0 {
        return Err((b.len() - d.remaining(), "trailing bytes after the symbols".into()));
    }
    Ok(out)
}

fn parse_labels(b: &[u8], num_symbols: usize, postings_len: usize) -> ParseRes<Vec<NameEntry>> {
    let mut d = Decoder::new(b);
    let sym_ok = |id: u64| -> Option<u32> { u32::try_from(id).ok().filter(|&i| (i as usize) < num_symbols) };
    let n = d.uvarint().map_err(at_err(&d, b.len()))?;
    if n > d.remaining() as u64 {
        return Err((0, format!("{n} label names in {} bytes", b.len())));
    }
    let mut out: Vec<NameEntry> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let at = b.len() - d.remaining();
        let name = d.uvarint().map_err(at_err(&d, b.len()))?;
        let name = sym_ok(name).ok_or((at, format!("label name symbol {name} out of bounds")))?;
        if out.last().is_some_and(|e| e.name >= name) {
            return Err((at, "label names not sorted".into()));
        }
        let count = d.uvarint().map_err(at_err(&d, b.len()))?;
        if count > d.remaining() as u64 {
            return Err((at, format!("{count} values in {} bytes", d.remaining())));
        }
        let mut values: Vec<(u32, u64)> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let at = b.len() - d.remaining();
            let v = d.uvarint().map_err(at_err(&d, b.len()))?;
            let v = sym_ok(v).ok_or((at, format!("label value symbol {v} out of bounds")))?;
            let off = d.uvarint().map_err(at_err(&d, b.len()))?;
            if values.last().is_some_and(|(p, _)| *p >= v) || off >= postings_len as u64 {
                return Err((at, "label values not sorted or postings offset out of bounds".into()));
            }
            values.push((v, off));
        }
        out.push(NameEntry { name, values });
    }
    if d.remaining() != 0 {
        return Err((b.len() - d.remaining(), "trailing bytes after the label table".into()));
    }
    Ok(out)
}
