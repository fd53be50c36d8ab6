//! Closed head chunks moved out of memory, kept across restarts.
//!
//! A chunk that is full (or crossed a block boundary) never changes again,
//! yet it stays in the head until the head is cut into a block, up to 3 h
//! later. Keeping those chunks on the heap is most of the head's memory once
//! series hold more than one chunk, so the head writes each chunk here the
//! moment it is closed and keeps only a 32-byte reference; queries read them
//! back with positioned reads (served from the page cache, outside the
//! process's resident memory). Writes go through an in-memory buffer that is
//! flushed when it fills and on every `sync`; reads of a chunk still in the
//! buffer are served from it.
//!
//! At start-up the files are loaded back, so WAL replay only has to apply
//! the samples newer than each series' last spilled chunk (Prometheus does
//! the same with `chunks_head/`). The WAL stays the source of truth: a torn
//! or corrupt record ends the loading there (every later record is ignored
//! and its samples come from the WAL instead), so what is loaded is always
//! a prefix of each series' chunks.
//!
//! Record layout (little endian): `series_ref u64 | min_t i64 | max_t i64 |
//! len u32 | crc32 u32 (over everything before it and the data) | data`,
//! after an 8-byte file header `AWHC` + version 1 + 3 zero bytes.
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

const MAGIC: &[u8; 4] = b"AWHC";
const VERSION: u8 = 1;
const HEADER: u64 = 8;
const RECORD_HEADER: usize = 8 + 8 + 8 + 4 + 4;
/// A file is closed once it grows past this.
const MAX_FILE_BYTES: u64 = 128 << 20;
/// The write buffer is flushed to the file once it holds this much.
const FLUSH_BYTES: usize = 1 << 20;

/// Where a spilled chunk lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskChunk {
    pub file: u32,
    pub len: u32,
    pub offset: u64,
    pub min_t: i64,
    pub max_t: i64,
}

struct Active {
    id: u32,
    file: File,
    /// Bytes already in the file.
    flushed: u64,
    /// Records written after `flushed`, not yet in the file.
    buf: Vec<u8>,
    /// Set while a flush is failing: new chunks stay on the heap meanwhile.
    failing: bool,
}

impl Active {
    fn size(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // Positioned, so a retry after a partial write rewrites the same bytes.
        match self.file.write_all_at(&self.buf, self.flushed) {
            Ok(()) => {
                self.flushed += self.buf.len() as u64;
                self.buf.clear();
                self.failing = false;
                Ok(())
            }
            Err(e) => {
                self.failing = true;
                Err(e)
            }
        }
    }
}

#[derive(Default)]
struct Files {
    active: Option<Active>,
    /// Every file, mapped for reading.
    readers: HashMap<u32, Arc<Mapped>>,
    /// Newest sample time in each file, for deleting files once truncated.
    max_t: HashMap<u32, i64>,
    next_id: u32,
}

/// A chunk file mapped into memory: reads are memory accesses, with no
/// system call and no copy (Prometheus maps its head chunk files too).
/// The active file is mapped at its largest possible size; only bytes
/// already written (below `Active::flushed`) are ever read, so the part of
/// the mapping beyond the end of the file is never touched.
struct Mapped {
    map: memmap2::Mmap,
}

impl Mapped {
    fn open(path: &Path, len: usize) -> io::Result<Mapped> {
        let file = File::open(path)?;
        // SAFETY: the files are private to this process (the data directory
        // is locked) and only ever appended to, never truncated or
        // rewritten below what was flushed, so mapped bytes do not change
        // under a reader; reads stay below the flushed length.
        let map = unsafe { memmap2::MmapOptions::new().len(len.max(1)).map(&file)? };
        Ok(Mapped { map })
    }

    fn get(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.map.get(start..start.checked_add(len)?)
    }
}

/// The mapping of the active file covers its largest size: it is closed
/// once past `MAX_FILE_BYTES`, which one buffer flush can overshoot.
const ACTIVE_MAP_BYTES: usize = MAX_FILE_BYTES as usize + 4 * FLUSH_BYTES;

/// Chunks found in the directory at start-up, by the series ref they were
/// written under, each series' chunks oldest first.
pub(crate) type LoadedChunks = HashMap<u64, Vec<DiskChunk>>;

/// The `head_chunks/` directory.
pub(crate) struct ChunkFiles {
    dir: PathBuf,
    files: Mutex<Files>,
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn file_id(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    (name.len() == 6 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

fn record_crc(head: &[u8], data: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(head);
    crc.update(data);
    crc.finalize()
}

/// Parses the records of one file; stops at the first torn or corrupt one
/// and says where and why.
fn parse_file(id: u32, bytes: &[u8], out: &mut Vec<(u64, DiskChunk)>) -> Result<(), (usize, String)> {
    if bytes.len() < HEADER as usize || &bytes[..4] != MAGIC {
        return Err((0, "bad file header".into()));
    }
    if bytes[4] != VERSION {
        return Err((0, format!("unknown version {}", bytes[4])));
    }
    let mut pos = HEADER as usize;
    while pos < bytes.len() {
        let Some(head) = bytes.get(pos..pos + RECORD_HEADER) else {
            return Err((pos, "torn record header".into()));
        };
        let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or([0; 8]));
        let len = u32::from_le_bytes(head[24..28].try_into().unwrap_or([0; 4]));
        let stored = u32::from_le_bytes(head[28..32].try_into().unwrap_or([0; 4]));
        let data_start = pos + RECORD_HEADER;
        let Some(data) = bytes.get(data_start..data_start + len as usize) else {
            return Err((pos, "torn record".into()));
        };
        if record_crc(&head[..28], data) != stored {
            return Err((pos, "checksum mismatch".into()));
        }
        out.push((
            u64_at(0),
            DiskChunk {
                file: id,
                len,
                offset: pos as u64,
                min_t: u64_at(8) as i64,
                max_t: u64_at(16) as i64,
            },
        ));
        pos = data_start + len as usize;
    }
    Ok(())
}

impl ChunkFiles {
    /// Opens `dir` (creating it) and loads the chunks an earlier run wrote.
    /// Files after a torn or corrupt record are deleted: their chunks are
    /// replayed from the WAL instead.
    pub fn open(dir: &Path) -> io::Result<(ChunkFiles, LoadedChunks)> {
        fs::create_dir_all(dir)?;
        let mut ids: Vec<(u32, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            match file_id(&path) {
                Some(id) => ids.push((id, path)),
                None => tracing::warn!(file = %path.display(), "ignoring a stray file among head chunks"),
            }
        }
        ids.sort_unstable();
        let mut files = Files {
            next_id: ids.last().map(|(id, _)| id + 1).unwrap_or(1),
            ..Files::default()
        };
        let mut found: Vec<(u64, DiskChunk)> = Vec::new();
        let mut broken = false;
        for (id, path) in ids {
            if broken {
                fs::remove_file(&path)?;
                continue;
            }
            let bytes = fs::read(&path)?;
            let before = found.len();
            if let Err((offset, why)) = parse_file(id, &bytes, &mut found) {
                tracing::warn!(file = %path.display(), offset, %why,
                    "head chunk file ends early; later chunks come from the WAL");
                broken = true;
                // Cut the bad tail off, so the next start-up does not stop
                // here again and discard the files written after this one.
                if offset >= HEADER as usize {
                    File::options().write(true).open(&path)?.set_len(offset as u64)?;
                }
            }
            if found.len() == before {
                fs::remove_file(&path)?;
                continue;
            }
            let max_t = found[before..].iter().map(|(_, c)| c.max_t).max().unwrap_or(i64::MIN);
            files.max_t.insert(id, max_t);
            let len = fs::metadata(&path)?.len() as usize;
            files.readers.insert(id, Arc::new(Mapped::open(&path, len)?));
        }
        let mut loaded = LoadedChunks::new();
        for (series_ref, c) in found {
            loaded.entry(series_ref).or_default().push(c);
        }
        let chunk_files = ChunkFiles {
            dir: dir.to_path_buf(),
            files: Mutex::new(files),
        };
        Ok((chunk_files, loaded))
    }

    fn path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("{id:06}"))
    }

    fn open_new(&self, files: &mut Files) -> io::Result<()> {
        let id = files.next_id;
        files.next_id += 1;
        let path = self.path(id);
        let file = File::options().create_new(true).read(true).write(true).open(&path)?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&[VERSION, 0, 0, 0]);
        file.write_all_at(&header, 0)?;
        files
            .readers
            .insert(id, Arc::new(Mapped::open(&path, ACTIVE_MAP_BYTES)?));
        files.active = Some(Active {
            id,
            file,
            flushed: HEADER,
            buf: Vec::with_capacity(FLUSH_BYTES + 4096),
            failing: false,
        });
        Ok(())
    }

    /// Adds one closed chunk and returns where it lives. The record is
    /// buffered; it reaches the file when the buffer fills or on [`flush`](Self::flush).
    pub fn write(&self, series_ref: u64, min_t: i64, max_t: i64, data: &[u8]) -> io::Result<DiskChunk> {
        let mut files = self.files.lock();
        if let Some(active) = files.active.as_mut() {
            if active.failing {
                active.flush()?;
            }
            if active.size() >= MAX_FILE_BYTES
                || active.size() as usize + RECORD_HEADER + data.len() + FLUSH_BYTES > ACTIVE_MAP_BYTES
            {
                active.flush()?;
                files.active = None;
            }
        }
        if files.active.is_none() {
            self.open_new(&mut files)?;
        }
        let Some(active) = files.active.as_mut() else {
            return Err(io::Error::other("no active head chunk file"));
        };
        let start = active.buf.len();
        let offset = active.size();
        active.buf.extend_from_slice(&series_ref.to_le_bytes());
        active.buf.extend_from_slice(&min_t.to_le_bytes());
        active.buf.extend_from_slice(&max_t.to_le_bytes());
        active.buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let crc = record_crc(&active.buf[start..], data);
        active.buf.extend_from_slice(&crc.to_le_bytes());
        active.buf.extend_from_slice(data);
        let id = active.id;
        if active.buf.len() >= FLUSH_BYTES {
            // The record is in the buffer either way; a failed flush is
            // retried by the next write or sync, and reads use the buffer.
            if let Err(e) = active.flush() {
                tracing::warn!(error = %e, "cannot write head chunks; retrying later");
            }
        }
        let entry = files.max_t.entry(id).or_insert(i64::MIN);
        *entry = (*entry).max(max_t);
        Ok(DiskChunk {
            file: id,
            len: data.len() as u32,
            offset,
            min_t,
            max_t,
        })
    }

    /// Writes buffered chunks to their file (no fsync: the WAL is what
    /// survives a power loss).
    pub fn flush(&self) -> io::Result<()> {
        match self.files.lock().active.as_mut() {
            Some(active) => active.flush(),
            None => Ok(()),
        }
    }

    /// Calls `f` with a spilled chunk's bytes: from the write buffer if it
    /// was not flushed yet, else straight from the mapped file. Checksums
    /// were checked when the file was loaded (or the chunk written by this
    /// process), so reads do not check them again.
    pub fn with_chunk<R>(&self, c: &DiskChunk, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        let data_offset = c.offset + RECORD_HEADER as u64;
        let mapped = {
            let files = self.files.lock();
            match files.active.as_ref() {
                Some(a) if a.id == c.file && c.offset >= a.flushed => {
                    let start = (data_offset - a.flushed) as usize;
                    let data = a
                        .buf
                        .get(start..start + c.len as usize)
                        .ok_or_else(|| corrupt(format!("head chunk at {} is beyond the buffer", c.offset)))?;
                    return Ok(f(data));
                }
                _ => files
                    .readers
                    .get(&c.file)
                    .cloned()
                    .ok_or_else(|| corrupt(format!("head chunk file {:06} is gone", c.file)))?,
            }
        };
        let data = mapped.get(data_offset, c.len as usize).ok_or_else(|| {
            corrupt(format!(
                "{}: the chunk at offset {} is beyond the file",
                self.path(c.file).display(),
                c.offset
            ))
        })?;
        Ok(f(data))
    }

    /// A spilled chunk's bytes, copied.
    pub fn read(&self, c: &DiskChunk) -> io::Result<Vec<u8>> {
        self.with_chunk(c, <[u8]>::to_vec)
    }

    /// Deletes files whose chunks all end before `t` (they were truncated
    /// away), closing the active file first if it is one of them.
    pub fn drop_before(&self, t: i64) {
        let mut files = self.files.lock();
        let doomed: Vec<u32> = files.max_t.iter().filter(|(_, m)| **m < t).map(|(id, _)| *id).collect();
        for id in doomed {
            if files.active.as_ref().is_some_and(|a| a.id == id) {
                files.active = None;
            }
            files.readers.remove(&id);
            files.max_t.remove(&id);
            if let Err(e) = fs::remove_file(self.path(id)) {
                tracing::warn!(file = %self.path(id).display(), error = %e, "cannot delete head chunk file");
            }
        }
    }

    /// Bytes of spilled chunks, on disk and buffered.
    pub fn disk_size(&self) -> u64 {
        let files = self.files.lock();
        let on_disk: u64 = files
            .readers
            .keys()
            .filter(|id| files.active.as_ref().is_none_or(|a| a.id != **id))
            .filter_map(|id| fs::metadata(self.path(*id)).ok())
            .map(|m| m.len())
            .sum();
        on_disk + files.active.as_ref().map(|a| a.size()).unwrap_or(0)
    }
}

impl Drop for ChunkFiles {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "cannot flush head chunks at close");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(files: &ChunkFiles, chunks: &[(u64, i64, i64, &[u8])]) -> Vec<DiskChunk> {
        chunks
            .iter()
            .map(|&(r, a, b, d)| files.write(r, a, b, d).unwrap())
            .collect()
    }

    #[test]
    fn write_read_flush_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (files, loaded) = ChunkFiles::open(&dir.path().join("hc")).unwrap();
        assert!(loaded.is_empty());
        let refs = write_all(&files, &[(1, 0, 10, b"abc"), (2, 5, 20, b"defgh")]);
        // Served from the buffer, then from the file.
        assert_eq!(files.read(&refs[0]).unwrap(), b"abc");
        files.flush().unwrap();
        assert_eq!(files.read(&refs[1]).unwrap(), b"defgh");
        let more = write_all(&files, &[(3, 30, 40, b"xyz")]);
        assert_eq!(files.read(&more[0]).unwrap(), b"xyz");
        files.flush().unwrap();
        // Corruption is caught when files are loaded at start-up (see the
        // next test); reads of chunks this process wrote trust the bytes.
        files.drop_before(100);
        assert!(files.read(&more[0]).is_err(), "file deleted");
        let again = write_all(&files, &[(4, 200, 300, b"new")]);
        assert_eq!(files.read(&again[0]).unwrap(), b"new");
        assert!(files.disk_size() > 0);
    }

    #[test]
    fn reopening_loads_chunks_up_to_the_first_bad_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hc");
        {
            let (files, _) = ChunkFiles::open(&path).unwrap();
            write_all(&files, &[(1, 0, 10, b"a1"), (2, 0, 10, b"b1"), (1, 11, 20, b"a2")]);
            // Dropping flushes.
        }
        let (files, loaded) = ChunkFiles::open(&path).unwrap();
        assert_eq!(loaded.len(), 2);
        let a = &loaded[&1];
        assert_eq!(
            a.iter().map(|c| (c.min_t, c.max_t)).collect::<Vec<_>>(),
            vec![(0, 10), (11, 20)]
        );
        assert_eq!(files.read(&a[1]).unwrap(), b"a2");
        // New chunks go to a new file; the old one stays readable.
        let fresh = files.write(1, 21, 30, b"a3").unwrap();
        assert_eq!(fresh.file, 2);
        drop(files);

        // Corrupt series 2's chunk in file 1: it and everything after it
        // (series 1's second chunk, and file 2) are dropped.
        let f = File::options().write(true).open(path.join("000001")).unwrap();
        let b1 = &loaded[&2][0];
        f.write_all_at(b"Z", b1.offset + RECORD_HEADER as u64).unwrap();
        let (_, loaded) = ChunkFiles::open(&path).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[&1].len(), 1);
        assert!(!path.join("000002").exists());

        // The bad tail was cut off. A torn record (a crash mid-write) in a
        // later file is handled the same way.
        let (files, _) = ChunkFiles::open(&path).unwrap();
        let torn = files.write(1, 21, 30, b"a3").unwrap();
        drop(files);
        let torn_path = path.join(format!("{:06}", torn.file));
        let len = fs::metadata(&torn_path).unwrap().len();
        File::options()
            .write(true)
            .open(&torn_path)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        let (files, loaded) = ChunkFiles::open(&path).unwrap();
        assert_eq!(loaded[&1].len(), 1);
        assert!(!torn_path.exists(), "a file left without chunks is deleted");
        assert_eq!(files.read(&loaded[&1][0]).unwrap(), b"a1");
    }
}
