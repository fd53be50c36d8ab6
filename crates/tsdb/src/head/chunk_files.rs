//! Closed head chunks moved out of memory.
//!
//! A chunk that is full (or crossed a block boundary) never changes again,
//! yet it stays in the head until the head is cut into a block, up to 3 h
//! later. Keeping those chunks on the heap is most of the head's memory once
//! series hold more than one chunk, so maintenance writes them to files in
//! `head_chunks/` and keeps only a 40-byte reference; queries read them back
//! with positioned reads (served from the page cache, outside the process's
//! resident memory). The WAL stays the source of truth: these files are a
//! cache, wiped at start-up and rebuilt from the replayed head.
//!
//! Record layout (little endian): `series_ref u64 | min_t i64 | max_t i64 |
//! len u32 | crc32 u32 (over everything before it and the data) | data`,
//! after an 8-byte file header `AWHC` + version 1 + 3 zero bytes.
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
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

/// Where a spilled chunk lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskChunk {
    pub file: u32,
    pub offset: u64,
    pub len: u32,
    pub min_t: i64,
    pub max_t: i64,
}

struct Active {
    id: u32,
    file: File,
    size: u64,
}

#[derive(Default)]
struct Files {
    active: Option<Active>,
    readers: HashMap<u32, Arc<File>>,
    /// Newest sample time in each file, for deleting files once truncated.
    max_t: HashMap<u32, i64>,
    next_id: u32,
}

/// The `head_chunks/` directory.
pub(crate) struct ChunkFiles {
    dir: PathBuf,
    files: Mutex<Files>,
}

fn corrupt(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl ChunkFiles {
    /// Opens `dir`, deleting whatever an earlier run left there.
    pub fn open(dir: &Path) -> io::Result<ChunkFiles> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::create_dir_all(dir)?;
        Ok(ChunkFiles {
            dir: dir.to_path_buf(),
            files: Mutex::new(Files {
                next_id: 1,
                ..Files::default()
            }),
        })
    }

    fn path(&self, id: u32) -> PathBuf {
        self.dir.join(format!("{id:06}"))
    }

    /// Appends chunks `(series_ref, min_t, max_t, bytes)` with one write and
    /// returns their references, in order.
    pub fn write(&self, chunks: &[(u64, i64, i64, &[u8])]) -> io::Result<Vec<DiskChunk>> {
        let mut files = self.files.lock();
        let needs_new = files.active.as_ref().is_none_or(|a| a.size >= MAX_FILE_BYTES);
        if needs_new {
            let id = files.next_id;
            files.next_id += 1;
            let path = self.path(id);
            let mut file = File::options().create_new(true).read(true).append(true).open(&path)?;
            let mut header = MAGIC.to_vec();
            header.extend_from_slice(&[VERSION, 0, 0, 0]);
            file.write_all(&header)?;
            files.readers.insert(id, Arc::new(File::open(&path)?));
            files.active = Some(Active { id, file, size: HEADER });
        }
        let Some(active) = files.active.as_mut() else {
            return Err(io::Error::other("no active head chunk file"));
        };
        let mut buf = Vec::with_capacity(chunks.iter().map(|c| c.3.len() + RECORD_HEADER).sum());
        let mut refs = Vec::with_capacity(chunks.len());
        let mut max_t = i64::MIN;
        for &(series_ref, min_t, chunk_max_t, data) in chunks {
            let start = buf.len();
            buf.extend_from_slice(&series_ref.to_le_bytes());
            buf.extend_from_slice(&min_t.to_le_bytes());
            buf.extend_from_slice(&chunk_max_t.to_le_bytes());
            buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(&buf[start..]);
            crc.update(data);
            buf.extend_from_slice(&crc.finalize().to_le_bytes());
            buf.extend_from_slice(data);
            refs.push(DiskChunk {
                file: active.id,
                offset: active.size + start as u64,
                len: data.len() as u32,
                min_t,
                max_t: chunk_max_t,
            });
            max_t = max_t.max(chunk_max_t);
        }
        if let Err(e) = active.file.write_all(&buf) {
            // A partial write leaves a torn tail nobody references; start a
            // fresh file next time rather than appending after it.
            files.active = None;
            return Err(e);
        }
        active.size += buf.len() as u64;
        let id = active.id;
        let entry = files.max_t.entry(id).or_insert(i64::MIN);
        *entry = (*entry).max(max_t);
        Ok(refs)
    }

    /// Reads a spilled chunk's bytes back, checking its checksum.
    pub fn read(&self, c: &DiskChunk) -> io::Result<Vec<u8>> {
        let file = self.files.lock().readers.get(&c.file).cloned();
        let file = file.ok_or_else(|| corrupt(format!("head chunk file {:06} is gone", c.file)))?;
        let mut buf = vec![0u8; RECORD_HEADER + c.len as usize];
        file.read_exact_at(&mut buf, c.offset)?;
        let (head, data) = buf.split_at(RECORD_HEADER);
        let stored = u32::from_le_bytes([head[28], head[29], head[30], head[31]]);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head[..28]);
        crc.update(data);
        if crc.finalize() != stored {
            return Err(corrupt(format!(
                "{}: checksum mismatch for the chunk at offset {}",
                self.path(c.file).display(),
                c.offset
            )));
        }
        Ok(data.to_vec())
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

    /// Bytes on disk.
    pub fn disk_size(&self) -> u64 {
        let files = self.files.lock();
        files
            .readers
            .keys()
            .filter_map(|id| fs::metadata(self.path(*id)).ok())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_rotate_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::open(&dir.path().join("hc")).unwrap();
        let refs = files.write(&[(1, 0, 10, b"abc"), (2, 5, 20, b"defgh")]).unwrap();
        assert_eq!(files.read(&refs[0]).unwrap(), b"abc");
        assert_eq!(files.read(&refs[1]).unwrap(), b"defgh");
        let more = files.write(&[(3, 30, 40, b"xyz")]).unwrap();
        assert_eq!(files.read(&more[0]).unwrap(), b"xyz");
        // Corruption is detected, not returned as data.
        let f = File::options()
            .write(true)
            .open(dir.path().join("hc").join("000001"))
            .unwrap();
        f.write_all_at(b"Z", refs[1].offset + RECORD_HEADER as u64).unwrap();
        assert!(files.read(&refs[1]).is_err());
        files.drop_before(100);
        assert!(files.read(&more[0]).is_err(), "file deleted");
        let again = files.write(&[(4, 200, 300, b"new")]).unwrap();
        assert_eq!(files.read(&again[0]).unwrap(), b"new");
        assert!(files.disk_size() > 0);
        // Reopening wipes the directory: the WAL rebuilds the head.
        let files = ChunkFiles::open(&dir.path().join("hc")).unwrap();
        assert_eq!(files.disk_size(), 0);
    }
}
