//! The audit history and the per-strategy state that must survive a restart
//! (cooldown and circuit breaker), with their JSON snapshot.
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How one history entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action ran and the check verified as up; the recovery is over.
    Recovered,
    /// An attempt that did not recover, with attempts left.
    AttemptFailed,
    /// The last attempt did not recover; the recovery failed.
    Failed,
    /// Triggered during the cooldown after the previous recovery.
    SkippedCooldown,
    /// Triggered while the circuit breaker was open.
    SkippedBreakerOpen,
    /// Dry run: what would have run was logged, nothing ran.
    DryRun,
}

impl Outcome {
    /// The snake_case name used in JSON and the `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Recovered => "recovered",
            Outcome::AttemptFailed => "attempt_failed",
            Outcome::Failed => "failed",
            Outcome::SkippedCooldown => "skipped_cooldown",
            Outcome::SkippedBreakerOpen => "skipped_breaker_open",
            Outcome::DryRun => "dry_run",
        }
    }
}

/// One audit entry: an attempt, or a trigger that was skipped (attempt 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Increasing across restarts.
    pub id: u64,
    /// Strategy name.
    pub strategy: String,
    /// `check:<name>` or `alert:<name>`.
    pub trigger: String,
    /// ms since the epoch.
    pub started_at: i64,
    /// ms since the epoch.
    pub finished_at: i64,
    /// 1-based attempt number within the recovery; 0 for skipped triggers.
    pub attempt: u32,
    /// What ran (or would have).
    pub action: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why the action or verification failed.
    pub error: Option<String>,
    /// The end of the action's stdout (or HTTP response body), at most [`STDOUT_TAIL_BYTES`].
    pub stdout_tail: String,
}

/// stdout kept per history entry: the action captures 64 KiB, but a history of
/// a thousand entries at 64 KiB each would be a 64 MiB snapshot.
pub const STDOUT_TAIL_BYTES: usize = 4096;

/// Per-strategy state that gates new recoveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyState {
    /// When the last recovery ended (ms); the cooldown runs from here.
    pub last_end: Option<i64>,
    /// End times (ms) of failed recoveries still inside the breaker window.
    pub failures: Vec<i64>,
    /// While set and in the future, the breaker is open.
    pub breaker_open_until: Option<i64>,
}

/// What is written to disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub version: u32,
    pub next_id: u64,
    /// Oldest first.
    pub records: Vec<AttemptRecord>,
    pub strategies: BTreeMap<String, StrategyState>,
}

const SNAPSHOT_VERSION: u32 = 1;
const FILE_NAME: &str = "recovery.json";

/// The in-memory history: bounded, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    pub cap: usize,
    pub next_id: u64,
    pub records: VecDeque<AttemptRecord>,
    pub strategies: BTreeMap<String, StrategyState>,
}

impl History {
    pub fn new(cap: usize) -> Self {
        History {
            cap: cap.max(1),
            next_id: 1,
            records: VecDeque::new(),
            strategies: BTreeMap::new(),
        }
    }

    pub fn from_snapshot(cap: usize, s: Snapshot) -> Self {
        let mut h = History::new(cap);
        h.next_id = s.next_id.max(1);
        h.strategies = s.strategies;
        for r in s.records {
            h.next_id = h.next_id.max(r.id.saturating_add(1));
            h.push_record(r);
        }
        h
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            next_id: self.next_id,
            records: self.records.iter().cloned().collect(),
            strategies: self.strategies.clone(),
        }
    }

    /// Assigns the id and appends, dropping the oldest beyond the cap.
    pub fn push(&mut self, mut r: AttemptRecord) -> u64 {
        r.id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let id = r.id;
        self.push_record(r);
        id
    }

    fn push_record(&mut self, mut r: AttemptRecord) {
        r.stdout_tail = tail(&r.stdout_tail, STDOUT_TAIL_BYTES);
        self.records.push_back(r);
        while self.records.len() > self.cap {
            self.records.pop_front();
        }
    }

    pub fn state(&mut self, strategy: &str) -> &mut StrategyState {
        self.strategies.entry(strategy.to_string()).or_default()
    }
}

/// The last at most `max` bytes of `s`, cut on a char boundary.
fn tail(s: &str, max: usize) -> String {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// Where the snapshot lives inside the data dir.
pub(crate) fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Loads the snapshot; a missing file is an empty history. A corrupt file is
/// moved aside rather than failing startup: recovery is an add-on and must not
/// keep the monitoring server down.
pub(crate) async fn load(dir: &Path) -> io::Result<Option<Snapshot>> {
    let path = snapshot_path(dir);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            let aside = dir.join(format!("{FILE_NAME}.corrupt"));
            tracing::warn!(path = %path.display(), error = %e, aside = %aside.display(),
                "recovery history unreadable; starting empty");
            tokio::fs::rename(&path, &aside).await?;
            Ok(None)
        }
    }
}

/// Writes atomically (temp file, fsync, rename) so a crash mid-write never
/// leaves a truncated snapshot that would forget cooldowns.
pub(crate) async fn save(dir: &Path, snap: &Snapshot) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(snap).map_err(io::Error::other)?;
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(&bytes).await?;
        f.sync_all().await?;
    }
    tokio::fs::rename(&tmp, snapshot_path(dir)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u32) -> AttemptRecord {
        AttemptRecord {
            id: 0,
            strategy: "s".into(),
            trigger: "check:web".into(),
            started_at: 1,
            finished_at: 2,
            attempt: n,
            action: "command: x".into(),
            outcome: Outcome::Failed,
            error: None,
            stdout_tail: "é".repeat(STDOUT_TAIL_BYTES),
        }
    }

    #[test]
    fn bounded_and_ids_survive_snapshot() {
        let mut h = History::new(3);
        for i in 0..5 {
            h.push(rec(i));
        }
        assert_eq!(h.records.len(), 3);
        assert_eq!(h.records[0].id, 3);
        assert!(h.records[0].stdout_tail.len() <= STDOUT_TAIL_BYTES);
        let h2 = History::from_snapshot(3, h.snapshot());
        assert_eq!(h2.next_id, 6);
        assert_eq!(h2.records.len(), 3);
    }

    #[tokio::test]
    async fn save_load_roundtrip_and_corrupt_file_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).await.unwrap().is_none());
        let mut h = History::new(10);
        h.push(rec(1));
        h.state("s").last_end = Some(42);
        save(dir.path(), &h.snapshot()).await.unwrap();
        let s = load(dir.path()).await.unwrap().unwrap();
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.strategies["s"].last_end, Some(42));

        tokio::fs::write(snapshot_path(dir.path()), b"{not json").await.unwrap();
        assert!(load(dir.path()).await.unwrap().is_none());
        assert!(dir.path().join("recovery.json.corrupt").exists());
    }
}
