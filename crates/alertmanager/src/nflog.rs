//! The notification log (`nflog/nflog.go`) and the deduplication decision
//! (`notify.DedupStage.needsUpdate`).
//!
//! For each aggregation group and integration the log remembers which alerts
//! were firing and which resolved at the last successful notification, and
//! when that was. It is what keeps a restarted server from re-sending
//! notifications: persisted by [`NotificationLog::snapshot`] (atomic, blocking;
//! run from `spawn_blocking`) and loaded by [`NotificationLog::new`]. Entries
//! expire after the retention (120h by default).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::clock::{add, sub, Clock, Timestamp};
use crate::persist;

/// Alertmanager's default `--data.retention`.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(120 * 3600);

/// Identifies one integration of one receiver (`nflogpb.Receiver`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverKey {
    /// Receiver name.
    pub group_name: String,
    /// Integration name (`slack`, `email`...).
    pub integration: String,
    /// Index of the integration among the receiver's integrations of that kind.
    pub idx: u32,
}

impl std::fmt::Display for ReceiverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.group_name, self.integration, self.idx)
    }
}

/// The last successful notification of a group to an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The aggregation group's key.
    pub group_key: String,
    /// The integration.
    pub receiver: ReceiverKey,
    /// When the notification was logged.
    pub timestamp: Timestamp,
    /// Fingerprints of the alerts that were firing.
    pub firing_alerts: Vec<u64>,
    /// Fingerprints of the alerts that were resolved.
    pub resolved_alerts: Vec<u64>,
    /// When the entry may be dropped.
    pub expires_at: Timestamp,
}

impl Entry {
    /// Whether every alert in `subset` was firing at the last notification.
    pub fn is_firing_subset(&self, subset: &HashSet<u64>) -> bool {
        let set: HashSet<u64> = self.firing_alerts.iter().copied().collect();
        subset.iter().all(|k| set.contains(k))
    }

    /// Whether every alert in `subset` was resolved at the last notification.
    pub fn is_resolved_subset(&self, subset: &HashSet<u64>) -> bool {
        let set: HashSet<u64> = self.resolved_alerts.iter().copied().collect();
        subset.iter().all(|k| set.contains(k))
    }
}

/// Alertmanager's `DedupStage.needsUpdate`: whether a flush must notify.
///
/// - Never notified: only if something fires.
/// - Something fires that was not firing at the last notification: yes.
/// - Nothing fires any more: yes if the last notification had firing alerts
///   (so the receiver learns they resolved; done regardless of
///   `send_resolved` so the log stops listing them as firing), else no.
/// - With `send_resolved`, newly resolved alerts: yes.
/// - Otherwise only once `repeat` has passed since the last notification
///   (strictly; with a flush every group_interval this rounds the repeat up
///   to the next flush, as in Alertmanager).
pub fn needs_update(
    entry: Option<&Entry>,
    firing: &HashSet<u64>,
    resolved: &HashSet<u64>,
    repeat: Duration,
    send_resolved: bool,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !entry.is_firing_subset(firing) {
        return true;
    }
    if firing.is_empty() {
        return !entry.firing_alerts.is_empty();
    }
    if send_resolved && !entry.is_resolved_subset(resolved) {
        return true;
    }
    entry.timestamp < sub(now, repeat)
}

/// Construction options.
#[derive(Debug, Clone)]
pub struct NflogOptions {
    /// How long entries are kept after their last update.
    pub retention: Duration,
    /// Snapshot file; `None` keeps the log in memory only.
    pub snapshot_path: Option<PathBuf>,
}

impl Default for NflogOptions {
    fn default() -> Self {
        NflogOptions {
            retention: DEFAULT_RETENTION,
            snapshot_path: None,
        }
    }
}

/// Reading or writing the snapshot failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification log snapshot {path}: {reason}")]
pub struct NflogError {
    /// The snapshot file.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// The notification log.
pub struct NotificationLog {
    entries: RwLock<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    path: Option<PathBuf>,
    /// Held from reading the entries to the rename, so concurrent snapshots
    /// (two flushes finishing together) land in order: the last one written
    /// holds everything either saw.
    snapshot_lock: parking_lot::Mutex<()>,
}

impl std::fmt::Debug for NotificationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationLog")
            .field("entries", &self.entries.read().len())
            .field("path", &self.path)
            .finish()
    }
}

fn state_key(group_key: &str, r: &ReceiverKey) -> String {
    format!("{group_key}:{r}")
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    entries: Vec<Entry>,
}

impl NotificationLog {
    /// Creates the log, loading the snapshot if configured and present
    /// (blocking I/O); expired entries are dropped on load.
    pub fn new(opts: NflogOptions, clock: Arc<dyn Clock>) -> Result<NotificationLog, NflogError> {
        let log = NotificationLog {
            entries: RwLock::new(HashMap::new()),
            clock,
            retention: opts.retention,
            path: opts.snapshot_path,
            snapshot_lock: parking_lot::Mutex::new(()),
        };
        log.load()?;
        Ok(log)
    }

    fn err(&self, reason: impl ToString) -> NflogError {
        NflogError {
            path: self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            reason: reason.to_string(),
        }
    }

    fn load(&self) -> Result<(), NflogError> {
        let Some(path) = &self.path else { return Ok(()) };
        let Some(bytes) = persist::read_if_exists(path).map_err(|e| self.err(e))? else {
            return Ok(());
        };
        let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| self.err(e))?;
        let now = self.clock.now();
        let mut m = self.entries.write();
        for e in snap.entries.into_iter().filter(|e| e.expires_at > now) {
            m.insert(state_key(&e.group_key, &e.receiver), e);
        }
        Ok(())
    }

    /// Records a successful notification now. An existing entry with a later
    /// timestamp is kept (Alertmanager guards against clock skew this way).
    pub fn log(&self, receiver: &ReceiverKey, group_key: &str, firing: Vec<u64>, resolved: Vec<u64>) {
        let now = self.clock.now();
        let key = state_key(group_key, receiver);
        let mut m = self.entries.write();
        if m.get(&key).is_some_and(|prev| prev.timestamp > now) {
            return;
        }
        m.insert(
            key,
            Entry {
                group_key: group_key.to_string(),
                receiver: receiver.clone(),
                timestamp: now,
                firing_alerts: firing,
                resolved_alerts: resolved,
                expires_at: add(now, self.retention),
            },
        );
    }

    /// The entry for a group and integration.
    pub fn query(&self, group_key: &str, receiver: &ReceiverKey) -> Option<Entry> {
        self.entries.read().get(&state_key(group_key, receiver)).cloned()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.read().is_empty()
    }

    /// Drops entries past their retention; returns how many.
    pub fn gc(&self) -> usize {
        let now = self.clock.now();
        let mut m = self.entries.write();
        let before = m.len();
        m.retain(|_, e| e.expires_at > now);
        before - m.len()
    }

    /// Writes the log atomically (blocking I/O); returns the entry count.
    pub fn snapshot(&self) -> Result<usize, NflogError> {
        let Some(path) = &self.path else { return Ok(0) };
        let _in_order = self.snapshot_lock.lock();
        let mut entries: Vec<Entry> = self.entries.read().values().cloned().collect();
        entries.sort_by(|a, b| (&a.group_key, a.receiver.to_string()).cmp(&(&b.group_key, b.receiver.to_string())));
        let n = entries.len();
        let bytes = serde_json::to_vec(&Snapshot { version: 1, entries }).map_err(|e| self.err(e))?;
        persist::write_atomic(path, &bytes).map_err(|e| self.err(e))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{TimeZone, Utc};

    fn set(xs: &[u64]) -> HashSet<u64> {
        xs.iter().copied().collect()
    }

    fn entry(firing: &[u64], resolved: &[u64], ts: Timestamp) -> Entry {
        Entry {
            group_key: "g".into(),
            receiver: ReceiverKey {
                group_name: "r".into(),
                integration: "webhook".into(),
                idx: 0,
            },
            timestamp: ts,
            firing_alerts: firing.to_vec(),
            resolved_alerts: resolved.to_vec(),
            expires_at: ts,
        }
    }

    // Ported from Alertmanager's notify/notify_test.go TestDedupStageNeedsUpdate.
    #[test]
    fn dedup_needs_update_table() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        let min = |m: i64| now - chrono::Duration::minutes(m);
        let zero = chrono::DateTime::<Utc>::MIN_UTC;
        let ten = Duration::from_secs(600);
        #[allow(clippy::type_complexity)]
        let cases: Vec<(Option<Entry>, Vec<u64>, Vec<u64>, Duration, bool, bool)> = vec![
            // No matching nflog entry should update.
            (None, vec![2, 3, 4], vec![], Duration::ZERO, false, true),
            // No matching nflog entry shouldn't update if no alert fires.
            (None, vec![], vec![2, 3, 4], Duration::ZERO, false, false),
            // Different sets of firing alerts should update.
            (
                Some(entry(&[1, 2, 3], &[], zero)),
                vec![2, 3, 4],
                vec![],
                Duration::ZERO,
                false,
                true,
            ),
            // Zero timestamp in the nflog entry should always update.
            (
                Some(entry(&[1, 2, 3], &[], zero)),
                vec![1, 2, 3],
                vec![],
                Duration::ZERO,
                false,
                true,
            ),
            // Identical sets of alerts shouldn't update before repeat_interval.
            (
                Some(entry(&[1, 2, 3], &[], min(9))),
                vec![1, 2, 3],
                vec![],
                ten,
                false,
                false,
            ),
            // Identical sets of alerts should update after repeat_interval.
            (
                Some(entry(&[1, 2, 3], &[], min(11))),
                vec![1, 2, 3],
                vec![],
                ten,
                false,
                true,
            ),
            // Different sets of resolved alerts without firing alerts shouldn't update after repeat_interval.
            (
                Some(entry(&[], &[1, 2, 3], min(11))),
                vec![],
                vec![3, 4, 5],
                ten,
                true,
                false,
            ),
            // Different sets of resolved alerts shouldn't update when resolve is false.
            (
                Some(entry(&[1, 2], &[3], min(9))),
                vec![1],
                vec![2, 3],
                ten,
                false,
                false,
            ),
            // Different sets of resolved alerts should update when resolve is true.
            (Some(entry(&[1, 2], &[3], min(9))), vec![1], vec![2, 3], ten, true, true),
            // Empty set of firing alerts should update when resolve is false.
            (
                Some(entry(&[1, 2], &[3], min(9))),
                vec![],
                vec![1, 2, 3],
                ten,
                false,
                true,
            ),
            // Empty set of firing alerts should update when resolve is true.
            (
                Some(entry(&[1, 2], &[3], min(9))),
                vec![],
                vec![1, 2, 3],
                ten,
                true,
                true,
            ),
        ];
        for (i, (e, firing, resolved, repeat, send_resolved, want)) in cases.into_iter().enumerate() {
            let got = needs_update(e.as_ref(), &set(&firing), &set(&resolved), repeat, send_resolved, now);
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn persistence_round_trip_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nflog.json");
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(t0);
        let opts = NflogOptions {
            retention: Duration::from_secs(3600),
            snapshot_path: Some(path),
        };
        let log = NotificationLog::new(opts.clone(), Arc::new(clock.clone())).unwrap();
        let rk = ReceiverKey {
            group_name: "team".into(),
            integration: "slack".into(),
            idx: 0,
        };
        log.log(&rk, "{}:{alertname=\"A\"}", vec![1, u64::MAX], vec![7]);
        clock.advance(Duration::from_secs(1800));
        log.log(&rk, "{}:{alertname=\"B\"}", vec![2], vec![]);
        assert_eq!(log.snapshot().unwrap(), 2);

        let reloaded = NotificationLog::new(opts.clone(), Arc::new(clock.clone())).unwrap();
        let e = reloaded.query("{}:{alertname=\"A\"}", &rk).unwrap();
        assert_eq!(e.firing_alerts, vec![1, u64::MAX]);
        assert_eq!(e.resolved_alerts, vec![7]);
        assert_eq!(e.timestamp, t0);
        assert!(reloaded
            .query("{}:{alertname=\"A\"}", &ReceiverKey { idx: 1, ..rk.clone() })
            .is_none());

        // The first entry expires an hour after it was written.
        clock.advance(Duration::from_secs(1800));
        assert_eq!(reloaded.gc(), 1);
        let again = NotificationLog::new(opts, Arc::new(clock)).unwrap();
        assert_eq!(again.len(), 1);
        assert!(again.query("{}:{alertname=\"B\"}", &rk).is_some());
    }

    #[test]
    fn newer_entries_are_not_overwritten_by_older_clocks() {
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(t0 + chrono::Duration::seconds(10));
        let log = NotificationLog::new(NflogOptions::default(), Arc::new(clock.clone())).unwrap();
        let rk = ReceiverKey {
            group_name: "r".into(),
            integration: "email".into(),
            idx: 0,
        };
        log.log(&rk, "g", vec![1], vec![]);
        clock.set(t0);
        log.log(&rk, "g", vec![2], vec![]);
        assert_eq!(log.query("g", &rk).unwrap().firing_alerts, vec![1]);
    }
}
