//! `node_filesystem_{size_bytes,free_bytes,avail_bytes,files,files_free,readonly,device_error}`
//! `{device,mountpoint,fstype}`: the mounts of `/proc/1/mounts` (PID 1's view,
//! as node_exporter reads it) minus excluded mount points and pseudo
//! filesystems, each measured with `statfs(2)`.
//!
//! A hung network mount blocks `statfs` for as long as it stays hung, so each
//! call runs on its own thread with a deadline. A mount whose call is still
//! running at the next collection is not asked again: it reports
//! `device_error 1` until the call returns, so threads never pile up.
use std::collections::HashSet;
use std::io::ErrorKind;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// node_exporter's default `--collector.filesystem.mount-timeout`.
pub(super) const MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// One line of a mounts file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// Space and inode counts of one filesystem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Usage {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// `device mountpoint fstype options dump pass` lines; short lines are skipped.
pub(super) fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            Some(Mount {
                device: unescape(f.next()?),
                mountpoint: unescape(f.next()?),
                fstype: f.next()?.to_string(),
                options: f.next()?.to_string(),
            })
        })
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space, `\011` for a tab, ...).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(v) = s
                .get(i + 1..i + 4)
                .filter(|d| d.bytes().all(|c| (b'0'..=b'7').contains(&c)))
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `statfs(2)` with a deadline, remembering calls that have not returned yet.
#[derive(Debug)]
pub(super) struct Statfs {
    timeout: Duration,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Statfs {
    pub fn new(timeout: Duration) -> Self {
        Statfs {
            timeout,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding this lock cannot leave the set inconsistent.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn usage(&self, mountpoint: &str) -> Result<Usage, String> {
        if !self.in_flight().insert(mountpoint.to_string()) {
            return Err("statfs of an earlier collection has not returned yet".to_string());
        }
        let (tx, rx) = mpsc::channel();
        let path = mountpoint.to_string();
        let in_flight = self.in_flight.clone();
        let spawned = std::thread::Builder::new().name("statfs".to_string()).spawn(move || {
            let result = rustix::fs::statfs(path.as_str());
            in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&path);
            // The collection may have given up waiting; nobody to tell then.
            let _ = tx.send(result);
        });
        if let Err(e) = spawned {
            self.in_flight().remove(mountpoint);
            return Err(format!("starting a statfs thread: {e}"));
        }
        match rx.recv_timeout(self.timeout) {
            Ok(Ok(s)) => {
                let bsize = s.f_bsize as f64;
                Ok(Usage {
                    size: s.f_blocks as f64 * bsize,
                    free: s.f_bfree as f64 * bsize,
                    avail: s.f_bavail as f64 * bsize,
                    files: s.f_files as f64,
                    files_free: s.f_ffree as f64,
                })
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(RecvTimeoutError::Timeout) => Err("mountpoint timeout".to_string()),
            Err(RecvTimeoutError::Disconnected) => Err("statfs thread ended without an answer".to_string()),
        }
    }
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    // PID 1's mounts are the host's even when this process lives in another mount
    // namespace; hidepid=2 hides them, then our own view has to do.
    let text = match std::fs::read_to_string(c.procfs("1/mounts")) {
        Ok(t) => t,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => read(&c.procfs("mounts"))?,
        Err(source) => {
            return Err(HostError::Read {
                path: c.procfs("1/mounts"),
                source,
            })
        }
    };
    let mut seen = HashSet::new();
    for m in parse_mounts(&text) {
        if c.settings.mount_points_exclude.is_match(&m.mountpoint) || c.settings.fs_types_exclude.is_match(&m.fstype) {
            continue;
        }
        if !seen.insert((m.device.clone(), m.mountpoint.clone(), m.fstype.clone())) {
            continue;
        }
        let labels = [
            ("device", m.device.as_str()),
            ("mountpoint", m.mountpoint.as_str()),
            ("fstype", m.fstype.as_str()),
        ];
        match c.statfs.usage(&m.mountpoint) {
            Ok(u) => {
                out.push("node_filesystem_device_error", &labels, 0.0);
                out.push("node_filesystem_size_bytes", &labels, u.size);
                out.push("node_filesystem_free_bytes", &labels, u.free);
                out.push("node_filesystem_avail_bytes", &labels, u.avail);
                out.push("node_filesystem_files", &labels, u.files);
                out.push("node_filesystem_files_free", &labels, u.files_free);
                let ro = m.options.split(',').any(|o| o == "ro");
                out.push("node_filesystem_readonly", &labels, if ro { 1.0 } else { 0.0 });
            }
            Err(e) => {
                tracing::debug!(mountpoint = %m.mountpoint, error = %e, "statfs failed");
                out.push("node_filesystem_device_error", &labels, 1.0);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn mounts_lines_and_escapes() {
        let m = parse_mounts("/dev/sda1 /mnt/with\\040space ext4 rw,relatime 0 0\nshort line\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mountpoint, "/mnt/with space");
        assert_eq!(unescape("a\\011b\\\\c\\09"), "a\tb\\\\c\\09");
        assert_eq!(unescape("tail\\04"), "tail\\04");
    }

    #[test]
    fn fixture_mounts_are_filtered_deduplicated_and_measured() {
        let s = run(collect);
        let root = "{device=\"/dev/vda\", fstype=\"ext4\", mountpoint=\"/\"}";
        assert_eq!(value(&s, &format!("node_filesystem_device_error{root}")), Some(0.0));
        assert!(value(&s, &format!("node_filesystem_size_bytes{root}")).is_some_and(|v| v > 0.0));
        assert_eq!(value(&s, &format!("node_filesystem_readonly{root}")), Some(0.0));
        let ro = "{device=\"/dev/vdb\", fstype=\"ext4\", mountpoint=\"/\"}";
        assert_eq!(value(&s, &format!("node_filesystem_readonly{ro}")), Some(1.0));
        let gone = "{device=\"/dev/sdz\", fstype=\"xfs\", mountpoint=\"/mnt/gone away\"}";
        assert_eq!(value(&s, &format!("node_filesystem_device_error{gone}")), Some(1.0));
        assert_eq!(value(&s, &format!("node_filesystem_size_bytes{gone}")), None);
        for excluded in [
            "/proc",
            "/sys",
            "/dev/shm",
            "/sys/fs/cgroup/unified",
            "/var/lib/docker/overlay2/x",
        ] {
            assert!(
                !s.iter().any(|(n, _)| n.contains(&format!("mountpoint=\"{excluded}\""))),
                "{excluded} should be excluded: {s:?}"
            );
        }
        let roots = s
            .iter()
            .filter(|(n, _)| n.starts_with("node_filesystem_device_error"))
            .count();
        assert_eq!(roots, 3, "duplicates are reported once: {s:?}");
    }

    #[test]
    fn a_call_still_running_is_not_repeated() {
        let statfs = Statfs::new(Duration::from_secs(1));
        statfs.in_flight().insert("/".to_string());
        assert!(statfs.usage("/").unwrap_err().contains("not returned"));
        statfs.in_flight().clear();
        assert!(statfs.usage("/").is_ok());
        assert!(statfs.in_flight().is_empty());
    }
}
