//! The on-disk segment format: file header, record framing, file naming,
//! directory listing and a streaming segment reader.
//!
//! See `crates/tsdb/docs/format/wal.md` for the normative description.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Counters, WalError};

/// First four bytes of every segment file.
pub(crate) const MAGIC: [u8; 4] = *b"AWAL";
/// The format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Segment header: magic (4) + version (1) + reserved zero bytes (3).
pub(crate) const SEGMENT_HEADER_LEN: u64 = 8;
/// Record header: payload length (u32 LE) + CRC32 (u32 LE).
pub(crate) const RECORD_HEADER_LEN: usize = 8;
/// Largest payload the framing can describe.
pub(crate) const MAX_RECORD_LEN: usize = u32::MAX as usize;

/// Read buffer used when scanning segments.
const READ_BUF_SIZE: usize = 1 << 20;

/// The 8 header bytes every segment file starts with.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], FORMAT_VERSION, 0, 0, 0]
}

/// CRC32 (IEEE, as computed by crc32fast) over the little-endian length
/// field followed by the payload. Covering the length means an all-zero
/// record header (as left by a zero-filled tail after a crash) never
/// validates: the checksum of an empty record is `0x2144DF1C`, not 0.
pub(crate) fn record_crc(len_le: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_le);
    h.update(payload);
    h.finalize()
}

/// Appends one framed record to `buf`.
pub(crate) fn encode_record(buf: &mut Vec<u8>, payload: &[u8]) -> Result<(), WalError> {
    let len = u32::try_from(payload.len()).map_err(|_| WalError::RecordTooLarge {
        len: payload.len(),
        max: MAX_RECORD_LEN,
    })?;
    let len_le = len.to_le_bytes();
    buf.extend_from_slice(&len_le);
    buf.extend_from_slice(&record_crc(len_le, payload).to_le_bytes());
    buf.extend_from_slice(payload);
    Ok(())
}

/// `00000042`
pub(crate) fn segment_name(index: u64) -> String {
    format!("{index:08}")
}

/// `checkpoint.00000042`
pub(crate) fn checkpoint_name(index: u64) -> String {
    format!("checkpoint.{index:08}")
}

/// `checkpoint.00000042.tmp`
pub(crate) fn checkpoint_tmp_name(index: u64) -> String {
    format!("checkpoint.{index:08}.tmp")
}

fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Segment files are named by their index, all ASCII digits.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    parse_digits(name)
}

/// `checkpoint.N` → `(N, false)`, `checkpoint.N.tmp` → `(N, true)`.
pub(crate) fn parse_checkpoint_name(name: &str) -> Option<(u64, bool)> {
    let rest = name.strip_prefix("checkpoint.")?;
    match rest.strip_suffix(".tmp") {
        Some(n) => parse_digits(n).map(|i| (i, true)),
        None => parse_digits(rest).map(|i| (i, false)),
    }
}

pub(crate) fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> WalError + 'a {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// What a WAL directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Segment indices, ascending.
    pub segments: Vec<u64>,
    /// Complete checkpoint indices, ascending.
    pub checkpoints: Vec<u64>,
    /// Leftover `checkpoint.N.tmp` directories.
    pub tmp_checkpoints: Vec<PathBuf>,
}

/// Lists a WAL directory. Unknown entries are ignored.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing, WalError> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir).map_err(io_err(dir, "list directory"))? {
        let entry = entry.map_err(io_err(dir, "list directory"))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let ft = entry.file_type().map_err(io_err(dir, "list directory"))?;
        if ft.is_file() {
            if let Some(i) = parse_segment_name(&name) {
                out.segments.push(i);
            }
        } else if ft.is_dir() {
            match parse_checkpoint_name(&name) {
                Some((_, true)) => out.tmp_checkpoints.push(entry.path()),
                Some((i, false)) => out.checkpoints.push(i),
                None => {}
            }
        }
    }
    out.segments.sort_unstable();
    out.checkpoints.sort_unstable();
    Ok(out)
}

/// Segment files inside a checkpoint directory, ascending, as paths.
pub(crate) fn list_segment_files(dir: &Path) -> Result<Vec<PathBuf>, WalError> {
    let listing = list_dir(dir)?;
    Ok(listing
        .segments
        .into_iter()
        .map(|i| dir.join(segment_name(i)))
        .collect())
}

/// fsyncs a directory so that entries created, renamed or removed in it are
/// durable.
pub(crate) fn sync_dir(dir: &Path, counters: &Counters) -> Result<(), WalError> {
    #[cfg(unix)]
    {
        let f = File::open(dir).map_err(io_err(dir, "open directory"))?;
        let start = Instant::now();
        let r = f.sync_all();
        counters.note_fsync(start);
        r.map_err(io_err(dir, "fsync directory"))?;
    }
    #[cfg(not(unix))]
    let _ = (dir, counters);
    Ok(())
}

/// fdatasyncs a file, counting it.
pub(crate) fn sync_file(file: &File, path: &Path, counters: &Counters) -> Result<(), WalError> {
    let start = Instant::now();
    let r = file.sync_data();
    counters.note_fsync(start);
    r.map_err(io_err(path, "fsync"))
}

/// Creates a new segment file (it must not exist), writes its header and
/// makes file and directory entry durable. The file is opened in append
/// mode so that a write undone with `set_len` is followed by a write at the
/// new end.
pub(crate) fn create_segment(dir: &Path, index: u64, counters: &Counters) -> Result<(File, PathBuf), WalError> {
    let path = dir.join(segment_name(index));
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err(&path, "create segment"))?;
    file.write_all(&segment_header())
        .map_err(io_err(&path, "write segment header"))?;
    sync_file(&file, &path, counters)?;
    sync_dir(dir, counters)?;
    counters.segments_created.fetch_add(1, Ordering::Relaxed);
    Ok((file, path))
}

/// Where and why a segment stopped being readable.
#[derive(Debug, Clone)]
pub(crate) struct Corruption {
    /// Offset of the first byte that is not part of a valid record.
    pub offset: u64,
    pub reason: String,
    /// The damage looks like an interrupted append (the data simply ends
    /// early) rather than bytes that are present but wrong.
    pub torn: bool,
}

/// The result of reading one segment file.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    /// File length when the scan started.
    pub file_len: u64,
    /// End of the last valid record (or of the header; 0 if the header is
    /// missing or bad).
    pub good_end: u64,
    /// Valid records delivered.
    pub records: u64,
    /// Set if the scan stopped before `file_len`.
    pub corruption: Option<Corruption>,
}

/// A handler called with every record payload.
pub(crate) type OnRecord<'a> = dyn FnMut(&[u8]) -> Result<(), WalError> + 'a;

/// Reads `path` from the start, calling `on_record` with each valid record,
/// and stops at the end of the file or at the first invalid byte. Damage is
/// reported in [`SegmentScan::corruption`], not as an error; errors are I/O
/// failures, an unsupported format version, or whatever `on_record` returns.
///
/// A zero-length file is a valid, empty segment (a crash between creating
/// the file and writing its header leaves one).
pub(crate) fn scan_segment(
    path: &Path,
    buf: &mut Vec<u8>,
    on_record: &mut OnRecord<'_>,
) -> Result<SegmentScan, WalError> {
    let file = File::open(path).map_err(io_err(path, "open segment"))?;
    let file_len = file.metadata().map_err(io_err(path, "stat segment"))?.len();
    let mut scan = SegmentScan {
        file_len,
        good_end: 0,
        records: 0,
        corruption: None,
    };
    if file_len == 0 {
        return Ok(scan);
    }
    let mut r = BufReader::with_capacity(READ_BUF_SIZE.min(file_len as usize), file);
    let corrupt = |offset: u64, torn: bool, reason: String| Some(Corruption { offset, reason, torn });

    let mut hdr = [0u8; SEGMENT_HEADER_LEN as usize];
    if file_len < SEGMENT_HEADER_LEN {
        scan.corruption = corrupt(
            0,
            true,
            format!("truncated segment header ({file_len} of {SEGMENT_HEADER_LEN} bytes)"),
        );
        return Ok(scan);
    }
    if !read_full(&mut r, &mut hdr).map_err(io_err(path, "read segment"))? {
        scan.corruption = corrupt(0, true, "segment header cut short while reading".to_owned());
        return Ok(scan);
    }
    if hdr[..4] != MAGIC {
        scan.corruption = corrupt(0, false, format!("bad segment magic {:02x?}", &hdr[..4]));
        return Ok(scan);
    }
    if hdr[4] != FORMAT_VERSION {
        return Err(WalError::UnsupportedVersion {
            path: path.to_path_buf(),
            version: hdr[4],
        });
    }

    let mut off = SEGMENT_HEADER_LEN;
    scan.good_end = off;
    loop {
        let remaining = file_len - off;
        if remaining == 0 {
            break;
        }
        if remaining < RECORD_HEADER_LEN as u64 {
            scan.corruption = corrupt(off, true, format!("partial record header ({remaining} bytes)"));
            break;
        }
        let mut rh = [0u8; RECORD_HEADER_LEN];
        if !read_full(&mut r, &mut rh).map_err(io_err(path, "read segment"))? {
            scan.corruption = corrupt(off, true, "file cut short while reading".to_owned());
            break;
        }
        let len_le = [rh[0], rh[1], rh[2], rh[3]];
        let len = u32::from_le_bytes(len_le);
        let want_crc = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]);
        let avail = remaining - RECORD_HEADER_LEN as u64;
        if u64::from(len) > avail {
            scan.corruption = corrupt(
                off,
                true,
                format!("record length {len} exceeds the {avail} bytes left in the file"),
            );
            break;
        }
        buf.clear();
        let got = (&mut r)
            .take(u64::from(len))
            .read_to_end(buf)
            .map_err(io_err(path, "read segment"))?;
        if got != len as usize {
            scan.corruption = corrupt(off, true, "file cut short while reading".to_owned());
            break;
        }
        if record_crc(len_le, buf) != want_crc {
            scan.corruption = corrupt(off, false, "checksum mismatch".to_owned());
            break;
        }
        on_record(buf)?;
        off += RECORD_HEADER_LEN as u64 + u64::from(len);
        scan.good_end = off;
        scan.records += 1;
    }
    Ok(scan)
}

/// `read_exact` that reports a short read as `Ok(false)` instead of an error.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sum of the sizes of the regular files in `dir` (not recursive).
pub(crate) fn dir_file_bytes(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(3), "00000003");
        assert_eq!(parse_segment_name("00000003"), Some(3));
        assert_eq!(parse_segment_name("123456789"), Some(123_456_789));
        assert_eq!(parse_segment_name("0000000a"), None);
        assert_eq!(parse_segment_name(""), None);
        assert_eq!(parse_checkpoint_name(&checkpoint_name(5)), Some((5, false)));
        assert_eq!(parse_checkpoint_name(&checkpoint_tmp_name(5)), Some((5, true)));
        assert_eq!(parse_checkpoint_name("checkpoint.x"), None);
        assert_eq!(parse_checkpoint_name("checkpoint.00000001.old"), None);
    }

    #[test]
    fn empty_record_checksum_is_not_zero() {
        let mut buf = Vec::new();
        encode_record(&mut buf, b"").unwrap();
        assert_eq!(buf.len(), RECORD_HEADER_LEN);
        assert_eq!(&buf[..4], &[0, 0, 0, 0]);
        assert_ne!(
            &buf[4..8],
            &[0, 0, 0, 0],
            "zero padding must not look like a valid empty record"
        );
    }
}
