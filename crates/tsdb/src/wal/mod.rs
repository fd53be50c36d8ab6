//! Write-ahead log.
//!
//! Like Prometheus's `tsdb/wlog`, this layer stores opaque records: the head
//! encodes series and sample records into bytes (see [`crate::record`]) and
//! hands them to [`Wal::log`]; at start-up [`Wal::open`] feeds them back.
//!
//! On disk (`crates/tsdb/docs/format/wal.md` has the details):
//!
//! ```text
//! <dir>/00000001 00000002 …      segment files, ≤ segment_size bytes each
//! <dir>/checkpoint.00000005/     records still needed from segments ..=5
//!
//! segment = "AWAL" | version u8 (=1) | 3 zero bytes | record*
//! record  = len u32 LE | crc32 u32 LE (over len bytes ++ payload) | payload
//! ```
//!
//! Damage is never fatal: a torn or corrupt tail is cut off, and corruption
//! in an earlier segment ends replay there (later segments are removed), so
//! a server never crash-loops on its own WAL.

mod checkpoint;
mod segment;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use segment::{
    checkpoint_name, checkpoint_tmp_name, create_segment, dir_file_bytes, encode_record, io_err, list_dir,
    scan_segment, segment_name, sync_dir, sync_file, Corruption, OnRecord, SegmentScan, FORMAT_VERSION,
    RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};

/// Default maximum size of a segment file.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Rely on the page cache: survives the process being killed, not a
    /// power loss. The head calls [`Wal::sync`] periodically.
    Never,
    /// [`Wal::log`] returns only once the records are fsynced. Concurrent
    /// callers share one fsync (group commit).
    Always,
}

/// WAL configuration.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Maximum segment file size in bytes (a single larger batch still goes
    /// whole into a fresh segment).
    pub segment_size: u64,
    /// Durability of [`Wal::log`].
    pub fsync: FsyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            fsync: FsyncPolicy::Never,
        }
    }
}

/// WAL failures. Messages name the file (and offset, for damage).
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O operation failed.
    #[error("wal {path}: {op}: {source}")]
    Io {
        /// File or directory operated on.
        path: PathBuf,
        /// What was being done ("write", "fsync", …).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A segment holds bytes that are not a valid record. [`Wal::open`]
    /// repairs this instead of returning it; [`Wal::read_range`] returns it.
    #[error("wal segment {path}: corrupt record at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Offset of the damaged record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A segment was written by a newer (or unknown) format version.
    #[error("wal segment {path}: unsupported format version {version} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// The version byte found.
        version: u8,
    },
    /// A segment needed by [`Wal::read_range`] is not on disk.
    #[error("wal segment {path}: missing (reading segments {from}..={to})")]
    MissingSegment {
        /// The expected file.
        path: PathBuf,
        /// Requested range start.
        from: u64,
        /// Requested range end.
        to: u64,
    },
    /// A record does not fit the 32-bit length field.
    #[error("wal record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Payload size.
        len: usize,
        /// Largest allowed payload.
        max: usize,
    },
    /// A request names segments that cannot be used that way.
    #[error("wal {dir}: invalid request for segments {from}..={to}: {reason}")]
    InvalidRange {
        /// The WAL directory.
        dir: PathBuf,
        /// First segment of the request.
        from: u64,
        /// Last segment of the request.
        to: u64,
        /// Why it was refused.
        reason: String,
    },
    /// An `on_record` callback failed; replay or reading was aborted.
    #[error("wal record handler: {0}")]
    Handler(Box<dyn std::error::Error + Send + Sync>),
}

impl WalError {
    /// Wraps an error raised by an `on_record` callback.
    pub fn handler(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WalError {
        WalError::Handler(e.into())
    }

    fn corrupt(path: &Path, c: &Corruption) -> WalError {
        WalError::Corrupt {
            path: path.to_path_buf(),
            offset: c.offset,
            reason: c.reason.clone(),
        }
    }
}

/// What [`Wal::open`] found.
#[derive(Debug, Default, Clone)]
pub struct ReplayStats {
    /// Records delivered to `on_record` (checkpoint + segments).
    pub records: u64,
    /// WAL segment files replayed (checkpoint files not included).
    pub segments: u64,
    /// Bytes of valid data read (headers and framing included), checkpoint
    /// included.
    pub bytes: u64,
    /// Damage repairs: a segment cut at its last good record (torn or
    /// corrupt tail, or corruption in an earlier segment, or a gap in the
    /// segment sequence).
    pub corrupt_tails_truncated: u64,
    /// Bytes discarded by those repairs, including removed later segments.
    pub truncated_bytes: u64,
    /// Index of the checkpoint replayed, if any.
    pub checkpoint: Option<u64>,
    /// Segments deleted because they came after damage in an earlier one.
    pub segments_removed: u64,
}

/// Write-side counters, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalWriteStats {
    /// Successful [`Wal::log`] calls.
    pub log_calls: u64,
    /// Records appended.
    pub records_written: u64,
    /// Bytes appended to segments (framing included).
    pub bytes_written: u64,
    /// fsync/fdatasync calls on WAL files and directories.
    pub fsyncs: u64,
    /// Total time spent in those calls, nanoseconds.
    pub fsync_duration_ns: u64,
    /// Segment files created.
    pub segments_created: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    log_calls: AtomicU64,
    records_written: AtomicU64,
    bytes_written: AtomicU64,
    fsyncs: AtomicU64,
    fsync_ns: AtomicU64,
    segments_created: AtomicU64,
}

impl Counters {
    fn note_fsync(&self, start: Instant) {
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The segment being appended to.
struct Active {
    file: Arc<File>,
    path: PathBuf,
    index: u64,
    /// Bytes in the file.
    size: u64,
    /// Number of the last successful append (global, never reset).
    seq: u64,
    /// A failed append could not be undone; roll before the next one.
    broken: bool,
}

/// Group-commit state.
#[derive(Default)]
struct SyncState {
    /// Appends up to this sequence number are durable.
    synced: u64,
    /// A leader is fsyncing right now.
    syncing: bool,
    /// The last failed fsync: appends in `(from, upto]` were not made durable.
    failed: Option<FailedSync>,
}

struct FailedSync {
    from: u64,
    upto: u64,
    path: PathBuf,
    kind: io::ErrorKind,
    msg: String,
}

impl FailedSync {
    fn new(from: u64, upto: u64, path: PathBuf, e: &WalError) -> FailedSync {
        let (kind, msg) = match e {
            WalError::Io { source, .. } => (source.kind(), source.to_string()),
            other => (io::ErrorKind::Other, other.to_string()),
        };
        FailedSync {
            from,
            upto,
            path,
            kind,
            msg,
        }
    }
}

/// A write-ahead log. `Send + Sync`; share it by reference or `Arc`.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    active: Mutex<Active>,
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    /// Serialises checkpoint writing.
    maint: Mutex<()>,
    counters: Counters,
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Replays the newest complete checkpoint (if any) and then every segment
    /// after it, in order, calling `on_record` for each payload; then opens
    /// the WAL for appending in a new segment after the last one.
    ///
    /// Damage is repaired, logged with `tracing::warn!` and counted in the
    /// stats, never returned: a torn or corrupt tail of the last segment is
    /// cut off at the last good record; damage in an earlier segment (or a
    /// gap in the numbering) ends replay there, that segment is cut and the
    /// later ones are deleted. Leftover `checkpoint.N.tmp` directories,
    /// checkpoints older than the newest, and segments the newest checkpoint
    /// covers are deleted. An `on_record` error aborts and is returned.
    pub fn open(
        dir: &Path,
        opts: WalOptions,
        mut on_record: impl FnMut(&[u8]) -> Result<(), WalError>,
    ) -> Result<(Wal, ReplayStats), WalError> {
        let counters = Counters::default();
        fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
        let listing = list_dir(dir)?;
        let mut dir_changed = false;

        for tmp in &listing.tmp_checkpoints {
            tracing::info!(path = %tmp.display(), "wal: removing unfinished checkpoint");
            if let Err(e) = fs::remove_dir_all(tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "wal: cannot remove unfinished checkpoint");
            }
            dir_changed = true;
        }

        let cp = listing.checkpoints.last().copied();
        if let Some(cp) = cp {
            // Leftovers of a checkpoint whose clean-up was interrupted.
            dir_changed |= remove_obsolete(dir, cp, &listing.segments, &listing.checkpoints);
        }
        let segments: Vec<u64> = listing
            .segments
            .iter()
            .copied()
            .filter(|&s| cp.is_none_or(|c| s > c))
            .collect();

        let mut stats = ReplayStats {
            checkpoint: cp,
            ..ReplayStats::default()
        };
        let mut buf = Vec::new();
        let on_record: &mut OnRecord<'_> = &mut on_record;

        if let Some(cp) = cp {
            let cp_dir = dir.join(checkpoint_name(cp));
            let damaged = checkpoint::read_dir(&cp_dir, &mut buf, on_record, |s| {
                stats.records += s.records;
                stats.bytes += s.good_end;
            })?;
            if let Some((path, scan)) = damaged {
                if let Some(c) = &scan.corruption {
                    tracing::warn!(
                        error = %WalError::corrupt(&path, c),
                        "wal: checkpoint is damaged; the rest of it is skipped"
                    );
                }
            }
            if let Some(&first) = segments.first() {
                if first != cp + 1 {
                    tracing::warn!(
                        checkpoint = cp,
                        first_segment = first,
                        "wal: segments between the checkpoint and the first segment are missing"
                    );
                }
            }
        }

        let mut last: Option<u64> = None;
        for (pos, &index) in segments.iter().enumerate() {
            if let Some(prev) = last {
                if index != prev + 1 {
                    let later = &segments[pos..];
                    tracing::warn!(
                        dir = %dir.display(),
                        missing = prev + 1,
                        removed = later.len(),
                        "wal: gap in the segment sequence; removing the segments after it"
                    );
                    let (n, bytes) = remove_segments(dir, later)?;
                    stats.corrupt_tails_truncated += 1;
                    stats.segments_removed += n;
                    stats.truncated_bytes += bytes;
                    dir_changed = true;
                    break;
                }
            }
            let path = dir.join(segment_name(index));
            let scan = scan_segment(&path, &mut buf, on_record)?;
            stats.records += scan.records;
            stats.segments += 1;
            stats.bytes += scan.good_end;
            last = Some(index);
            if let Some(c) = &scan.corruption {
                let later = &segments[pos + 1..];
                let err = WalError::corrupt(&path, c);
                if later.is_empty() {
                    tracing::warn!(error = %err, cut_bytes = scan.file_len - scan.good_end,
                        "wal: truncating damaged tail of the last segment");
                } else {
                    tracing::warn!(error = %err, removed_segments = later.len(),
                        "wal: damage before the last segment; replay stops here and later segments are removed");
                }
                // Remove newest first so that a crash part-way leaves a
                // contiguous sequence.
                let (n, bytes) = remove_segments(dir, later)?;
                stats.segments_removed += n;
                stats.truncated_bytes += bytes;
                truncate_segment(&path, &scan, &counters)?;
                stats.truncated_bytes += scan.file_len - scan.good_end;
                stats.corrupt_tails_truncated += 1;
                dir_changed |= n > 0;
                break;
            }
        }
        if dir_changed {
            sync_dir(dir, &counters)?;
        }

        let next = match (last, cp) {
            (Some(l), _) => l + 1,
            (None, Some(c)) => c + 1,
            (None, None) => 1,
        };
        let (file, path) = create_segment(dir, next, &counters)?;
        tracing::info!(
            dir = %dir.display(),
            records = stats.records,
            segments = stats.segments,
            bytes = stats.bytes,
            checkpoint = ?stats.checkpoint,
            repairs = stats.corrupt_tails_truncated,
            "wal: replayed"
        );
        let wal = Wal {
            dir: dir.to_path_buf(),
            opts,
            active: Mutex::new(Active {
                file: Arc::new(file),
                path,
                index: next,
                size: SEGMENT_HEADER_LEN,
                seq: 0,
                broken: false,
            }),
            sync: Mutex::new(SyncState::default()),
            sync_cv: Condvar::new(),
            maint: Mutex::new(()),
            counters,
        };
        Ok((wal, stats))
    }

    /// Appends `records` with one write of one buffer, first rolling to a new
    /// segment if they would push the current one past `segment_size`.
    /// Returns once the bytes are in the kernel, and fsynced under
    /// [`FsyncPolicy::Always`] (concurrent callers share fsyncs).
    ///
    /// On a write error nothing of the batch remains in the log.
    pub fn log(&self, records: &[&[u8]]) -> Result<(), WalError> {
        if records.is_empty() {
            return Ok(());
        }
        let total: usize = records.iter().map(|r| RECORD_HEADER_LEN + r.len()).sum();
        let mut buf = Vec::with_capacity(total);
        for r in records {
            encode_record(&mut buf, r)?;
        }
        let seq = {
            let mut a = self.active.lock();
            if a.broken || (a.size > SEGMENT_HEADER_LEN && a.size + buf.len() as u64 > self.opts.segment_size) {
                self.roll(&mut a)?;
            }
            if let Err(e) = (&*a.file).write_all(&buf) {
                // Undo a partial write so that later appends stay readable.
                if let Err(te) = a.file.set_len(a.size) {
                    tracing::warn!(path = %a.path.display(), error = %te,
                        "wal: cannot undo failed write; starting a new segment on the next append");
                    a.broken = true;
                }
                return Err(WalError::Io {
                    path: a.path.clone(),
                    op: "write",
                    source: e,
                });
            }
            a.size += buf.len() as u64;
            a.seq += 1;
            a.seq
        };
        let c = &self.counters;
        c.log_calls.fetch_add(1, Ordering::Relaxed);
        c.records_written.fetch_add(records.len() as u64, Ordering::Relaxed);
        c.bytes_written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if self.opts.fsync == FsyncPolicy::Always {
            self.wait_durable(seq)?;
        }
        Ok(())
    }

    /// Makes everything appended so far durable (no-op if it already is).
    pub fn sync(&self) -> Result<(), WalError> {
        let seq = self.active.lock().seq;
        self.wait_durable(seq)
    }

    /// Closes the current segment (fsync) and starts a new one; returns the
    /// index of the segment just closed.
    pub fn cut_segment(&self) -> Result<u64, WalError> {
        let mut a = self.active.lock();
        self.roll(&mut a)
    }

    /// `(first, last)` segment indices currently on disk.
    pub fn segment_range(&self) -> Result<(u64, u64), WalError> {
        let listing = list_dir(&self.dir)?;
        match (listing.segments.first(), listing.segments.last()) {
            (Some(&f), Some(&l)) => Ok((f, l)),
            _ => {
                let i = self.active.lock().index;
                Ok((i, i))
            }
        }
    }

    /// Reads segments `from..=to` and, first, the newest checkpoint older
    /// than `from` (the one they build on), calling `on_record` for each
    /// record. Used to build a checkpoint. Never modifies anything: damage is
    /// returned as [`WalError::Corrupt`], except that a partial record at the
    /// end of the segment currently being appended to is treated as its end.
    pub fn read_range(
        &self,
        from: u64,
        to: u64,
        mut on_record: impl FnMut(&[u8]) -> Result<(), WalError>,
    ) -> Result<(), WalError> {
        if from > to {
            return Err(self.invalid(from, to, "empty range"));
        }
        let on_record: &mut OnRecord<'_> = &mut on_record;
        let active = self.active.lock().index;
        let listing = list_dir(&self.dir)?;
        let mut buf = Vec::new();
        if let Some(&cp) = listing.checkpoints.iter().rev().find(|&&c| c < from) {
            let cp_dir = self.dir.join(checkpoint_name(cp));
            if let Some((path, scan)) = checkpoint::read_dir(&cp_dir, &mut buf, on_record, |_| {})? {
                if let Some(c) = &scan.corruption {
                    return Err(WalError::corrupt(&path, c));
                }
            }
        }
        for index in from..=to {
            let path = self.dir.join(segment_name(index));
            if listing.segments.binary_search(&index).is_err() {
                return Err(WalError::MissingSegment { path, from, to });
            }
            let scan = scan_segment(&path, &mut buf, on_record)?;
            if let Some(c) = &scan.corruption {
                if !(index == active && c.torn) {
                    return Err(WalError::corrupt(&path, c));
                }
            }
        }
        Ok(())
    }

    /// Writes `records` as `checkpoint.<upto>` atomically (temporary
    /// directory, fsync, rename, fsync of the WAL directory), then deletes
    /// segments `..=upto` and older checkpoints. `upto` must be below the
    /// segment being appended to (call [`cut_segment`](Self::cut_segment)
    /// first if needed) and above any existing checkpoint.
    pub fn write_checkpoint(&self, upto: u64, records: &mut dyn Iterator<Item = Vec<u8>>) -> Result<(), WalError> {
        let _maint = self.maint.lock();
        let active = self.active.lock().index;
        if upto >= active {
            return Err(self.invalid(
                upto,
                upto,
                &format!("segment {upto} is not closed (active segment is {active})"),
            ));
        }
        let listing = list_dir(&self.dir)?;
        if let Some(&newest) = listing.checkpoints.last() {
            if newest >= upto {
                return Err(self.invalid(upto, upto, &format!("checkpoint {newest} already covers it")));
            }
        }

        let tmp = self.dir.join(checkpoint_tmp_name(upto));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp, "remove stale checkpoint directory"))?;
        }
        let n = match checkpoint::write_dir(&tmp, self.opts.segment_size, records, &self.counters) {
            Ok(n) => n,
            Err(e) => {
                if let Err(re) = fs::remove_dir_all(&tmp) {
                    tracing::warn!(path = %tmp.display(), error = %re, "wal: cannot remove failed checkpoint");
                }
                return Err(e);
            }
        };
        let dst = self.dir.join(checkpoint_name(upto));
        fs::rename(&tmp, &dst).map_err(io_err(&dst, "rename checkpoint into place"))?;
        sync_dir(&self.dir, &self.counters)?;

        // The checkpoint is durable; what it replaces can go. Failures here
        // are harmless (the next open or checkpoint retries).
        remove_obsolete(&self.dir, upto, &listing.segments, &listing.checkpoints);
        if let Err(e) = sync_dir(&self.dir, &self.counters) {
            tracing::warn!(error = %e, "wal: cannot fsync directory after checkpoint clean-up");
        }
        tracing::info!(dir = %self.dir.display(), upto, records = n, "wal: checkpoint written");
        Ok(())
    }

    /// Bytes on disk (segments and checkpoints), for metrics.
    pub fn disk_size(&self) -> u64 {
        let Ok(listing) = list_dir(&self.dir) else {
            return 0;
        };
        let segs: u64 = listing
            .segments
            .iter()
            .filter_map(|&i| fs::metadata(self.dir.join(segment_name(i))).ok())
            .map(|m| m.len())
            .sum();
        let cps: u64 = listing
            .checkpoints
            .iter()
            .map(|&c| dir_file_bytes(&self.dir.join(checkpoint_name(c))))
            .sum();
        segs + cps
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write-side counters.
    pub fn stats(&self) -> WalWriteStats {
        let c = &self.counters;
        WalWriteStats {
            log_calls: c.log_calls.load(Ordering::Relaxed),
            records_written: c.records_written.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            fsync_duration_ns: c.fsync_ns.load(Ordering::Relaxed),
            segments_created: c.segments_created.load(Ordering::Relaxed),
        }
    }

    /// Index of the segment being appended to.
    pub fn active_segment(&self) -> u64 {
        self.active.lock().index
    }

    fn invalid(&self, from: u64, to: u64, reason: &str) -> WalError {
        WalError::InvalidRange {
            dir: self.dir.clone(),
            from,
            to,
            reason: reason.to_owned(),
        }
    }

    /// fsyncs the active segment and starts the next one. Called with the
    /// `active` lock held.
    fn roll(&self, a: &mut Active) -> Result<u64, WalError> {
        let synced = match sync_file(&a.file, &a.path, &self.counters) {
            Ok(()) => Ok(()),
            Err(e) if a.broken => {
                tracing::warn!(error = %e, "wal: fsync of a broken segment failed; moving on");
                Err(e)
            }
            Err(e) => return Err(e),
        };
        let (file, path) = create_segment(&self.dir, a.index + 1, &self.counters)?;
        let closed = a.index;
        let old_path = std::mem::replace(&mut a.path, path);
        a.file = Arc::new(file);
        a.index += 1;
        a.size = SEGMENT_HEADER_LEN;
        a.broken = false;
        // Everything appended so far is in the old segment: durable now, or
        // (broken segment) never.
        let mut st = self.sync.lock();
        match synced {
            Ok(()) => st.synced = st.synced.max(a.seq),
            Err(e) if a.seq > st.synced => st.failed = Some(FailedSync::new(st.synced, a.seq, old_path, &e)),
            Err(_) => {}
        }
        drop(st);
        self.sync_cv.notify_all();
        Ok(closed)
    }

    /// Group commit: returns once append `seq` is durable. One caller (the
    /// leader) fsyncs the active segment, covering every append made before
    /// it started; callers arriving meanwhile wait and are usually covered
    /// by the next leader's single fsync.
    fn wait_durable(&self, seq: u64) -> Result<(), WalError> {
        let mut st = self.sync.lock();
        loop {
            if let Some(f) = &st.failed {
                if f.from < seq && seq <= f.upto {
                    return Err(WalError::Io {
                        path: f.path.clone(),
                        op: "fsync",
                        source: io::Error::new(f.kind, f.msg.clone()),
                    });
                }
            }
            if st.synced >= seq {
                return Ok(());
            }
            if st.syncing {
                self.sync_cv.wait(&mut st);
                continue;
            }
            st.syncing = true;
            let from = st.synced;
            drop(st);

            let (file, path, target) = {
                let a = self.active.lock();
                (Arc::clone(&a.file), a.path.clone(), a.seq)
            };
            let res = sync_file(&file, &path, &self.counters);

            st = self.sync.lock();
            st.syncing = false;
            match &res {
                Ok(()) => st.synced = st.synced.max(target),
                Err(e) => st.failed = Some(FailedSync::new(from, target, path, e)),
            }
            self.sync_cv.notify_all();
            res?;
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let a = self.active.get_mut();
        if let Err(e) = sync_file(&a.file, &a.path, &self.counters) {
            tracing::warn!(error = %e, "wal: fsync on close failed");
        }
    }
}

/// Deletes segments `<= upto` and checkpoints `< upto`, logging failures.
/// Returns whether anything was removed.
fn remove_obsolete(dir: &Path, upto: u64, segments: &[u64], checkpoints: &[u64]) -> bool {
    let mut removed = false;
    // Oldest first: the remaining segments stay contiguous.
    for &s in segments.iter().filter(|&&s| s <= upto) {
        let path = dir.join(segment_name(s));
        match fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "wal: cannot remove checkpointed segment")
            }
        }
    }
    for &c in checkpoints.iter().filter(|&&c| c < upto) {
        let path = dir.join(checkpoint_name(c));
        match fs::remove_dir_all(&path) {
            Ok(()) => removed = true,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "wal: cannot remove old checkpoint")
            }
        }
    }
    removed
}

/// Deletes `segments` newest first; returns how many went and their bytes.
/// A failure is an error: a segment left behind would collide with the new
/// segment `open` creates.
fn remove_segments(dir: &Path, segments: &[u64]) -> Result<(u64, u64), WalError> {
    let (mut n, mut bytes) = (0, 0);
    for &s in segments.iter().rev() {
        let path = dir.join(segment_name(s));
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&path).map_err(io_err(&path, "remove segment after damage"))?;
        n += 1;
        bytes += len;
    }
    Ok((n, bytes))
}

/// Cuts a damaged segment at its last good record and fsyncs it.
fn truncate_segment(path: &Path, scan: &SegmentScan, counters: &Counters) -> Result<(), WalError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path, "open segment for repair"))?;
    f.set_len(scan.good_end)
        .map_err(io_err(path, "truncate damaged segment"))?;
    sync_file(&f, path, counters)
}
