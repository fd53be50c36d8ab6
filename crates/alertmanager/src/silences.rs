//! Silences (`silence/silence.go`): validation, Alertmanager's update rules,
//! states, matching and persistence.
//!
//! State lives in memory behind a lock; [`Silences::snapshot`] writes it to a
//! JSON file atomically and [`Silences::new`] loads it back. Snapshot and GC
//! are blocking, synchronous calls: the server runs them periodically from
//! `spawn_blocking` (Alertmanager snapshots every 15 minutes and on shutdown).
//! Expired silences are kept for the retention period (120h by default,
//! `--data.retention`) so they can still be listed and re-created, then
//! dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use model::{is_valid_label_name, Labels, MatchType};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::clock::{add, Clock, Timestamp};
use crate::matchers::{matches_all, Matcher};
use crate::persist;

/// Alertmanager's default `--data.retention`.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(120 * 3600);

/// A silence's state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Ended.
    Expired,
    /// In effect.
    Active,
    /// Not started yet.
    Pending,
}

impl SilenceState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Expired => "expired",
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
        }
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// UUID; empty when creating.
    pub id: String,
    /// All must match for an alert to be silenced.
    pub matchers: Vec<Matcher>,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Last modification (set by [`Silences::set`]).
    pub updated_at: Timestamp,
    /// Author.
    pub created_by: String,
    /// Reason.
    pub comment: String,
}

impl Silence {
    /// Alertmanager's `getState`: pending before the start, expired strictly
    /// after the end, active otherwise (both ends inclusive).
    pub fn state_at(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether the silence's matchers accept `labels` (regardless of state).
    pub fn matches(&self, labels: &Labels) -> bool {
        matches_all(&self.matchers, labels)
    }
}

/// Why a silence operation failed; texts follow Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No silence with the given ID.
    #[error("silence not found")]
    NotFound,
    /// The silence breaks a validation rule.
    #[error("silence invalid: {0}")]
    Invalid(String),
    /// Expiring a silence that already ended.
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    /// Reading or writing the snapshot failed.
    #[error("silences snapshot {path}: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Construction options.
#[derive(Debug, Clone)]
pub struct SilencesOptions {
    /// How long expired silences are kept.
    pub retention: Duration,
    /// Snapshot file; `None` keeps silences in memory only.
    pub snapshot_path: Option<PathBuf>,
}

impl Default for SilencesOptions {
    fn default() -> Self {
        SilencesOptions {
            retention: DEFAULT_RETENTION,
            snapshot_path: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    sil: Silence,
    expires_at: Timestamp,
}

/// Silences that could match an alert, so `mutes` does not test every
/// silence against every alert: each silence is filed under one `name="value"`
/// equality matcher (an alert can only match if it has that exact label), or
/// in `scan` when it has none. Rebuilt on every change; changes are rare.
#[derive(Debug, Default)]
struct Index {
    by_label: HashMap<String, HashMap<String, Vec<Arc<Silence>>>>,
    scan: Vec<Arc<Silence>>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    version: u64,
    index: Index,
}

impl State {
    fn rebuild_index(&mut self) {
        let mut idx = Index::default();
        for e in self.entries.values() {
            let sil = Arc::new(e.sil.clone());
            let anchor = sil
                .matchers
                .iter()
                .find(|m| m.kind == MatchType::Equal && !m.value.is_empty())
                .map(|m| (m.name.clone(), m.value.clone()));
            match anchor {
                Some((name, value)) => idx
                    .by_label
                    .entry(name)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .push(sil),
                None => idx.scan.push(sil),
            }
        }
        self.index = idx;
        self.version += 1;
    }
}

/// The silence store.
pub struct Silences {
    state: RwLock<State>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    path: Option<PathBuf>,
    /// Orders concurrent snapshots (see the notification log's).
    snapshot_lock: parking_lot::Mutex<()>,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences")
            .field("count", &self.state.read().entries.len())
            .field("path", &self.path)
            .finish()
    }
}

impl Silences {
    /// Creates the store, loading the snapshot when a path is configured and
    /// the file exists (blocking I/O). Silences past their retention are
    /// dropped on load.
    pub fn new(opts: SilencesOptions, clock: Arc<dyn Clock>) -> Result<Silences, SilenceError> {
        let s = Silences {
            state: RwLock::new(State::default()),
            clock,
            retention: opts.retention,
            path: opts.snapshot_path,
            snapshot_lock: parking_lot::Mutex::new(()),
        };
        s.load()?;
        Ok(s)
    }

    fn snapshot_err(&self, reason: impl ToString) -> SilenceError {
        SilenceError::Snapshot {
            path: self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            reason: reason.to_string(),
        }
    }

    fn load(&self) -> Result<(), SilenceError> {
        let Some(path) = &self.path else { return Ok(()) };
        let Some(bytes) = persist::read_if_exists(path).map_err(|e| self.snapshot_err(e))? else {
            return Ok(());
        };
        let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| self.snapshot_err(e))?;
        let now = self.clock.now();
        let mut st = self.state.write();
        for ps in snap.silences {
            if ps.expires_at <= now {
                continue;
            }
            let expires_at = ps.expires_at;
            let sil = ps.into_silence().map_err(|e| self.snapshot_err(e))?;
            st.entries.insert(sil.id.clone(), Entry { sil, expires_at });
        }
        st.rebuild_index();
        Ok(())
    }

    /// Writes all silences to the snapshot file atomically (blocking I/O).
    /// Returns the number written; a no-op without a snapshot path.
    pub fn snapshot(&self) -> Result<usize, SilenceError> {
        let Some(path) = &self.path else { return Ok(0) };
        let _in_order = self.snapshot_lock.lock();
        let snap = {
            let st = self.state.read();
            let mut silences: Vec<PersistedSilence> = st.entries.values().map(PersistedSilence::from_entry).collect();
            silences.sort_by(|a, b| a.id.cmp(&b.id));
            Snapshot { version: 1, silences }
        };
        let n = snap.silences.len();
        let bytes = serde_json::to_vec(&snap).map_err(|e| self.snapshot_err(e))?;
        persist::write_atomic(path, &bytes).map_err(|e| self.snapshot_err(e))?;
        Ok(n)
    }

    /// Drops silences whose retention ended; returns how many.
    pub fn gc(&self) -> usize {
        let now = self.clock.now();
        let mut st = self.state.write();
        let before = st.entries.len();
        st.entries.retain(|_, e| e.expires_at > now);
        let n = before - st.entries.len();
        if n > 0 {
            st.rebuild_index();
        }
        n
    }

    /// Changes whenever silences are added, changed or removed.
    pub fn version(&self) -> u64 {
        self.state.read().version
    }

    /// Creates or updates a silence and returns its ID (Alertmanager's
    /// `Silences.Set`).
    ///
    /// - Empty `id`: a new silence with a fresh UUID; a start in the past is
    ///   moved to now.
    /// - Existing `id` whose change does not rewrite history (same matchers;
    ///   for an active silence the same start and an end not in the past; for
    ///   a pending one a start not in the past) is updated in place.
    /// - Otherwise the old silence is expired (unless it already is) and the
    ///   change is stored as a new silence with a new ID.
    /// - Unknown `id`: [`SilenceError::NotFound`].
    pub fn set(&self, mut sil: Silence) -> Result<String, SilenceError> {
        let now = self.clock.now();
        let mut st = self.state.write();
        if !sil.id.is_empty() {
            let prev = st
                .entries
                .get(&sil.id)
                .map(|e| e.sil.clone())
                .ok_or(SilenceError::NotFound)?;
            if can_update(&prev, &sil, now) {
                sil.updated_at = now;
                validate(&sil)?;
                let id = sil.id.clone();
                self.store(&mut st, sil);
                return Ok(id);
            }
            // Validate the replacement before touching the old silence, so a
            // rejected update never leaves the alert unsilenced.
            let mut probe = sil.clone();
            if probe.starts_at < now {
                probe.starts_at = now;
            }
            validate(&probe)?;
            if prev.state_at(now) != SilenceState::Expired {
                let expired = expire_in_place(prev, now);
                self.store(&mut st, expired);
            }
        }
        sil.id = crate::uuid::new_v4();
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        sil.updated_at = now;
        validate(&sil)?;
        let id = sil.id.clone();
        self.store(&mut st, sil);
        Ok(id)
    }

    fn store(&self, st: &mut State, sil: Silence) {
        let expires_at = add(sil.ends_at, self.retention);
        st.entries.insert(sil.id.clone(), Entry { sil, expires_at });
        st.rebuild_index();
    }

    /// Ends a silence now (a pending one becomes expired without ever being
    /// active).
    pub fn expire(&self, id: &str) -> Result<(), SilenceError> {
        let now = self.clock.now();
        let mut st = self.state.write();
        let prev = st
            .entries
            .get(id)
            .map(|e| e.sil.clone())
            .ok_or(SilenceError::NotFound)?;
        if prev.state_at(now) == SilenceState::Expired {
            return Err(SilenceError::AlreadyExpired(id.to_string()));
        }
        let sil = expire_in_place(prev, now);
        self.store(&mut st, sil);
        Ok(())
    }

    /// The silence with `id`.
    pub fn get(&self, id: &str) -> Result<Silence, SilenceError> {
        self.state
            .read()
            .entries
            .get(id)
            .map(|e| e.sil.clone())
            .ok_or(SilenceError::NotFound)
    }

    /// All silences, optionally restricted to some states (at the clock's now).
    pub fn list(&self, states: Option<&[SilenceState]>) -> Vec<Silence> {
        let now = self.clock.now();
        let st = self.state.read();
        let mut v: Vec<Silence> = st
            .entries
            .values()
            .filter(|e| states.is_none_or(|s| s.contains(&e.sil.state_at(now))))
            .map(|e| e.sil.clone())
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The state of a silence now.
    pub fn state_of(&self, sil: &Silence) -> SilenceState {
        sil.state_at(self.clock.now())
    }

    /// IDs (sorted) of the silences active now that match `labels`.
    pub fn mutes(&self, labels: &Labels) -> Vec<String> {
        self.mutes_at(labels, self.clock.now())
    }

    /// IDs (sorted) of the silences active at `now` that match `labels`.
    pub fn mutes_at(&self, labels: &Labels, now: Timestamp) -> Vec<String> {
        let st = self.state.read();
        let mut out = Vec::new();
        let mut consider = |sil: &Arc<Silence>| {
            if sil.state_at(now) == SilenceState::Active && sil.matches(labels) {
                out.push(sil.id.clone());
            }
        };
        for l in labels.iter() {
            if let Some(sils) = st
                .index
                .by_label
                .get(l.name.as_str())
                .and_then(|v| v.get(l.value.as_str()))
            {
                sils.iter().for_each(&mut consider);
            }
        }
        st.index.scan.iter().for_each(&mut consider);
        if out.len() > 1 {
            out.sort();
            out.dedup();
        }
        out
    }
}

fn expire_in_place(mut sil: Silence, now: Timestamp) -> Silence {
    match sil.state_at(now) {
        SilenceState::Pending => {
            sil.starts_at = now;
            sil.ends_at = now;
        }
        SilenceState::Active => sil.ends_at = now,
        SilenceState::Expired => {}
    }
    sil.updated_at = now;
    sil
}

fn same_matchers(a: &[Matcher], b: &[Matcher]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Alertmanager's `canUpdate`: whether `b` may replace `a` in place without
/// changing what was silenced in the past.
fn can_update(a: &Silence, b: &Silence, now: Timestamp) -> bool {
    if !same_matchers(&a.matchers, &b.matchers) {
        return false;
    }
    match a.state_at(now) {
        SilenceState::Active => b.starts_at == a.starts_at && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// Alertmanager's `matchesEmpty`: only `=` and `=~` count.
fn matches_empty(m: &Matcher) -> bool {
    match m.kind {
        MatchType::Equal => m.value.is_empty(),
        MatchType::Regex => m.matches(""),
        _ => false,
    }
}

/// Alertmanager's `validateSilence` (the ID and timestamps are always set here).
pub fn validate(s: &Silence) -> Result<(), SilenceError> {
    let invalid = |m: String| Err(SilenceError::Invalid(m));
    if s.matchers.is_empty() {
        return invalid("at least one matcher required".into());
    }
    for (i, m) in s.matchers.iter().enumerate() {
        if !is_valid_label_name(&m.name) {
            return invalid(format!("invalid label matcher {i}: invalid label name {:?}", m.name));
        }
    }
    if s.matchers.iter().all(matches_empty) {
        return invalid("at least one matcher must not match the empty string".into());
    }
    if s.ends_at < s.starts_at {
        return invalid("end time must not be before start time".into());
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    silences: Vec<PersistedSilence>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedMatcher {
    name: String,
    value: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedSilence {
    id: String,
    matchers: Vec<PersistedMatcher>,
    starts_at: Timestamp,
    ends_at: Timestamp,
    updated_at: Timestamp,
    created_by: String,
    comment: String,
    expires_at: Timestamp,
}

impl PersistedSilence {
    fn from_entry(e: &Entry) -> Self {
        PersistedSilence {
            id: e.sil.id.clone(),
            matchers: e
                .sil
                .matchers
                .iter()
                .map(|m| PersistedMatcher {
                    name: m.name.clone(),
                    value: m.value.clone(),
                    kind: m.kind.to_string(),
                })
                .collect(),
            starts_at: e.sil.starts_at,
            ends_at: e.sil.ends_at,
            updated_at: e.sil.updated_at,
            created_by: e.sil.created_by.clone(),
            comment: e.sil.comment.clone(),
            expires_at: e.expires_at,
        }
    }

    fn into_silence(self) -> Result<Silence, String> {
        let matchers = self
            .matchers
            .into_iter()
            .map(|m| {
                let kind = match m.kind.as_str() {
                    "=" => MatchType::Equal,
                    "!=" => MatchType::NotEqual,
                    "=~" => MatchType::Regex,
                    "!~" => MatchType::NotRegex,
                    other => return Err(format!("unknown matcher type {other:?}")),
                };
                Matcher::new(kind, m.name, m.value).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Silence {
            id: self.id,
            matchers,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
            comment: self.comment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::matchers::parse_matchers;
    use chrono::{Duration as CDuration, TimeZone, Utc};

    fn t(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + CDuration::seconds(s)
    }

    fn sil(m: &str, start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers: parse_matchers(m).unwrap(),
            starts_at: t(start),
            ends_at: t(end),
            updated_at: t(0),
            created_by: "me".into(),
            comment: "maintenance".into(),
        }
    }

    fn store(clock: &ManualClock) -> Silences {
        Silences::new(SilencesOptions::default(), Arc::new(clock.clone())).unwrap()
    }

    #[test]
    fn lifecycle_pending_active_expired() {
        let clock = ManualClock::new(t(0));
        let s = store(&clock);
        let id = s.set(sil(r#"job="api""#, 100, 200)).unwrap();
        assert!(crate::uuid::is_uuid(&id));
        let labels = Labels::from_pairs([("job", "api"), ("instance", "1")]);
        assert_eq!(s.state_of(&s.get(&id).unwrap()), SilenceState::Pending);
        assert!(s.mutes(&labels).is_empty());
        clock.set(t(100));
        assert_eq!(s.mutes(&labels), vec![id.clone()]);
        assert!(s.mutes(&Labels::from_pairs([("job", "web")])).is_empty());
        clock.set(t(201));
        assert!(s.mutes(&labels).is_empty());
        assert_eq!(s.list(Some(&[SilenceState::Expired])).len(), 1);
        assert_eq!(s.expire(&id), Err(SilenceError::AlreadyExpired(id.clone())));
    }

    #[test]
    fn start_in_the_past_moves_to_now() {
        let clock = ManualClock::new(t(1000));
        let s = store(&clock);
        let id = s.set(sil(r#"a="b""#, 0, 2000)).unwrap();
        let got = s.get(&id).unwrap();
        assert_eq!(got.starts_at, t(1000));
        assert_eq!(got.updated_at, t(1000));
    }

    #[test]
    fn validation_rules() {
        let clock = ManualClock::new(t(0));
        let s = store(&clock);
        let mut none = sil(r#"a="b""#, 10, 20);
        none.matchers.clear();
        assert_eq!(
            s.set(none).unwrap_err().to_string(),
            "silence invalid: at least one matcher required"
        );
        assert_eq!(
            s.set(sil(r#"a="", b=~".*""#, 10, 20)).unwrap_err().to_string(),
            "silence invalid: at least one matcher must not match the empty string"
        );
        // `!=` never counts as matching the empty string (Alertmanager quirk).
        assert!(s.set(sil(r#"a!="x""#, 10, 20)).is_ok());
        assert_eq!(
            s.set(sil(r#"a="b""#, 20, 10)).unwrap_err().to_string(),
            "silence invalid: end time must not be before start time"
        );
        let mut unknown = sil(r#"a="b""#, 10, 20);
        unknown.id = "nope".into();
        assert_eq!(s.set(unknown), Err(SilenceError::NotFound));
    }

    #[test]
    fn update_rules_follow_alertmanager() {
        let clock = ManualClock::new(t(0));
        let s = store(&clock);
        let id = s.set(sil(r#"a="b""#, 0, 100)).unwrap();
        clock.set(t(10));

        // Active: extending the end in place keeps the ID.
        let mut ext = s.get(&id).unwrap();
        ext.ends_at = t(500);
        ext.comment = "longer".into();
        assert_eq!(s.set(ext).unwrap(), id);
        assert_eq!(s.get(&id).unwrap().ends_at, t(500));

        // Active: changing matchers expires the old one and creates a new one.
        let mut changed = s.get(&id).unwrap();
        changed.matchers = parse_matchers(r#"a="c""#).unwrap();
        let new_id = s.set(changed).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(s.get(&id).unwrap().ends_at, t(10));
        clock.set(t(11));
        assert_eq!(s.state_of(&s.get(&id).unwrap()), SilenceState::Expired);
        assert_eq!(s.state_of(&s.get(&new_id).unwrap()), SilenceState::Active);

        // Active: moving the start is a history rewrite -> new silence.
        let mut moved = s.get(&new_id).unwrap();
        moved.starts_at = t(5);
        let moved_id = s.set(moved).unwrap();
        assert_ne!(moved_id, new_id);

        // Pending: may be changed in place while the start stays in the future.
        let pid = s.set(sil(r#"x="y""#, 1000, 2000)).unwrap();
        let mut p = s.get(&pid).unwrap();
        p.starts_at = t(900);
        assert_eq!(s.set(p).unwrap(), pid);
        assert_eq!(s.get(&pid).unwrap().starts_at, t(900));

        // Expired: any update creates a new silence.
        let mut e = s.get(&id).unwrap();
        e.ends_at = t(3000);
        let eid = s.set(e).unwrap();
        assert_ne!(eid, id);

        // An invalid replacement leaves the original untouched.
        let mut bad = s.get(&moved_id).unwrap();
        bad.matchers = parse_matchers(r#"q="""#).unwrap();
        assert!(s.set(bad).is_err());
        assert_eq!(s.state_of(&s.get(&moved_id).unwrap()), SilenceState::Active);
    }

    #[test]
    fn expiring_pending_and_active() {
        let clock = ManualClock::new(t(0));
        let s = store(&clock);
        let active = s.set(sil(r#"a="b""#, 0, 100)).unwrap();
        let pending = s.set(sil(r#"a="b""#, 50, 100)).unwrap();
        clock.set(t(10));
        s.expire(&active).unwrap();
        s.expire(&pending).unwrap();
        let p = s.get(&pending).unwrap();
        assert_eq!((p.starts_at, p.ends_at), (t(10), t(10)));
        clock.set(t(11));
        assert!(s.mutes(&Labels::from_pairs([("a", "b")])).is_empty());
        assert_eq!(s.expire("missing"), Err(SilenceError::NotFound));
    }

    #[test]
    fn index_and_scan_paths_agree() {
        let clock = ManualClock::new(t(0));
        let s = store(&clock);
        let a = s.set(sil(r#"job="api", env=~"prod|stage""#, 0, 100)).unwrap();
        let b = s.set(sil(r#"env=~"prod""#, 0, 100)).unwrap();
        let c = s.set(sil(r#"job="web""#, 0, 100)).unwrap();
        let l = Labels::from_pairs([("job", "api"), ("env", "prod")]);
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(s.mutes(&l), want);
        assert_eq!(s.mutes(&Labels::from_pairs([("job", "web")])), vec![c]);
    }

    #[test]
    fn persistence_round_trip_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences.json");
        let clock = ManualClock::new(t(0));
        let opts = SilencesOptions {
            retention: Duration::from_secs(3600),
            snapshot_path: Some(path.clone()),
        };
        let s = Silences::new(opts.clone(), Arc::new(clock.clone())).unwrap();
        let active = s.set(sil(r#"job="api", path=~"/v1/.*""#, 0, 1000)).unwrap();
        let pending = s.set(sil(r#"job!="x", team="a""#, 500, 1000)).unwrap();
        let short = s.set(sil(r#"a="b""#, 0, 10)).unwrap();
        assert_eq!(s.snapshot().unwrap(), 3);

        // Reload at a time where `short` is expired but retained.
        clock.set(t(100));
        let r = Silences::new(opts.clone(), Arc::new(clock.clone())).unwrap();
        assert_eq!(r.get(&active).unwrap(), s.get(&active).unwrap());
        assert_eq!(r.state_of(&r.get(&active).unwrap()), SilenceState::Active);
        assert_eq!(r.state_of(&r.get(&pending).unwrap()), SilenceState::Pending);
        assert_eq!(r.state_of(&r.get(&short).unwrap()), SilenceState::Expired);
        assert_eq!(
            r.mutes(&Labels::from_pairs([("job", "api"), ("path", "/v1/users")])),
            vec![active.clone()]
        );

        // Past the retention of `short`, GC and reload both drop it.
        clock.set(t(10 + 3600));
        assert_eq!(r.gc(), 1);
        assert_eq!(r.get(&short), Err(SilenceError::NotFound));
        let r2 = Silences::new(opts, Arc::new(clock)).unwrap();
        assert_eq!(r2.get(&short), Err(SilenceError::NotFound));
        assert_eq!(r2.list(None).len(), 2);
    }

    #[test]
    fn corrupt_snapshot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences.json");
        std::fs::write(&path, b"{not json").unwrap();
        let opts = SilencesOptions {
            snapshot_path: Some(path),
            ..Default::default()
        };
        let err = Silences::new(opts, Arc::new(ManualClock::new(t(0)))).unwrap_err();
        assert!(err.to_string().contains("silences snapshot"), "{err}");
    }
}
