//! The storage seam of the block reader: every byte of a block is read
//! through [`BlockDir`], so another backend (an object store answering range
//! requests) can be added without touching the reader.
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// Read access to the files of one block, by file name (`meta.json`,
/// `index`, `chunks`).
pub trait BlockDir: Send + Sync + fmt::Debug {
    /// The whole file.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// `len` bytes from `offset`; fewer bytes than asked is an
    /// `UnexpectedEof` error.
    fn read_range(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// The file's size in bytes.
    fn size(&self, name: &str) -> io::Result<u64>;
    /// How to name the file in error messages (a path or a URL).
    fn describe(&self, name: &str) -> PathBuf;
}

/// A block directory on the local filesystem. Files are opened once and
/// then read with positioned reads, so concurrent queries share handles.
#[derive(Debug)]
pub struct LocalDir {
    path: PathBuf,
    files: Mutex<HashMap<String, Arc<File>>>,
}

impl LocalDir {
    /// The block directory at `path`.
    pub fn new(path: &Path) -> Self {
        LocalDir {
            path: path.to_path_buf(),
            files: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, name: &str) -> io::Result<Arc<File>> {
        let mut files = self.files.lock();
        if let Some(f) = files.get(name) {
            return Ok(f.clone());
        }
        let f = Arc::new(File::open(self.path.join(name))?);
        files.insert(name.to_string(), f.clone());
        Ok(f)
    }
}

impl BlockDir for LocalDir {
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path.join(name))
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let f = self.file(name)?;
        let mut buf = vec![0u8; len];
        read_exact_at(&f, &mut buf, offset)?;
        Ok(buf)
    }

    fn size(&self, name: &str) -> io::Result<u64> {
        Ok(self.file(name)?.metadata()?.len())
    }

    fn describe(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// fsyncs a directory so that entries created or renamed in it are durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
