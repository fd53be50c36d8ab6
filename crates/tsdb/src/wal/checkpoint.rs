//! Writing and reading checkpoint directories.
//!
//! A checkpoint `checkpoint.N` holds, in ordinary segment files numbered
//! from `00000000`, the records the head still needs from segments `..=N`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::segment::{
    encode_record, io_err, list_segment_files, scan_segment, segment_header, segment_name, sync_dir, sync_file,
    OnRecord, SegmentScan, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use super::{Counters, WalError};

/// Bytes buffered before a write to a checkpoint segment.
const WRITE_BUF_SIZE: usize = 1 << 20;

/// Writes `records` into segment files inside the (new, empty) directory
/// `tmp`, fsyncing every file and the directory. Returns the number of
/// records written.
pub(crate) fn write_dir(
    tmp: &Path,
    segment_size: u64,
    records: &mut dyn Iterator<Item = Vec<u8>>,
    counters: &Counters,
) -> Result<u64, WalError> {
    fs::create_dir(tmp).map_err(io_err(tmp, "create checkpoint directory"))?;
    let mut w = SegWriter::create(tmp, 0)?;
    let mut n = 0u64;
    for rec in records {
        let framed = (RECORD_HEADER_LEN + rec.len()) as u64;
        if w.len() > SEGMENT_HEADER_LEN && w.len() + framed > segment_size {
            let next = w.index + 1;
            w.finish(counters)?;
            w = SegWriter::create(tmp, next)?;
        }
        encode_record(&mut w.buf, &rec)?;
        if w.buf.len() >= WRITE_BUF_SIZE {
            w.flush()?;
        }
        n += 1;
    }
    w.finish(counters)?;
    sync_dir(tmp, counters)?;
    Ok(n)
}

/// A buffered writer for one checkpoint segment file.
struct SegWriter {
    file: File,
    path: PathBuf,
    index: u64,
    written: u64,
    buf: Vec<u8>,
}

impl SegWriter {
    fn create(dir: &Path, index: u64) -> Result<SegWriter, WalError> {
        let path = dir.join(segment_name(index));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path, "create segment"))?;
        let mut buf = Vec::with_capacity(WRITE_BUF_SIZE + RECORD_HEADER_LEN);
        buf.extend_from_slice(&segment_header());
        Ok(SegWriter {
            file,
            path,
            index,
            written: 0,
            buf,
        })
    }

    /// Bytes in the file once the buffer is flushed.
    fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn flush(&mut self) -> Result<(), WalError> {
        self.file.write_all(&self.buf).map_err(io_err(&self.path, "write"))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self, counters: &Counters) -> Result<(), WalError> {
        self.flush()?;
        sync_file(&self.file, &self.path, counters)
    }
}

/// Reads every segment file of checkpoint directory `dir` in order. Stops at
/// the first damaged file and returns its path and scan; the caller decides
/// whether that is fatal.
pub(crate) fn read_dir(
    dir: &Path,
    buf: &mut Vec<u8>,
    on_record: &mut OnRecord<'_>,
    mut on_scanned: impl FnMut(&SegmentScan),
) -> Result<Option<(PathBuf, SegmentScan)>, WalError> {
    for path in list_segment_files(dir)? {
        let scan = scan_segment(&path, buf, on_record)?;
        on_scanned(&scan);
        if scan.corruption.is_some() {
            return Ok(Some((path, scan)));
        }
    }
    Ok(None)
}
