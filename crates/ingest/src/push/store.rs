//! The pushed groups: validation, replace/merge, persistence, and writing
//! their samples through the [`SampleSink`].
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use model::{Labels, LabelsBuilder, METRIC_NAME};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::exposition::{self, Format};
use crate::sink::{CommitError, SampleSink};

/// `PUT` or `POST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// `PUT`: the group becomes exactly what was pushed.
    Replace,
    /// `POST`: only the metric families in the push are replaced.
    Merge,
}

/// A refused push (HTTP 400) or a storage failure (500).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The body does not parse.
    #[error("pushed metrics are invalid: {0}")]
    Parse(#[from] exposition::ParseError),
    /// The metrics contradict the grouping key or carry timestamps.
    #[error("pushed metrics are invalid or inconsistent with the grouping key: {0}")]
    Invalid(String),
    /// The push could not be persisted or stored.
    #[error("storing pushed metrics failed: {0}")]
    Storage(String),
}

impl PushError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            PushError::Storage(_) => 500,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoredSample {
    labels: BTreeMap<String, String>,
    value_bits: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Group {
    grouping: BTreeMap<String, String>,
    families: BTreeMap<String, Vec<StoredSample>>,
    push_time_ms: i64,
    failure_time_ms: i64,
}

fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

fn to_labels(m: &BTreeMap<String, String>) -> Labels {
    Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The family a sample belongs to: the metadata family it extends with a
/// known suffix, or its own name.
fn family_of(name: &str, families: &[String]) -> String {
    const SUFFIXES: [&str; 6] = ["_bucket", "_sum", "_count", "_total", "_created", "_info"];
    for f in families {
        if name == f || SUFFIXES.iter().any(|s| name.strip_prefix(f.as_str()) == Some(s)) {
            return f.clone();
        }
    }
    name.to_string()
}

/// Every pushed group, persisted to a JSON file on each change.
pub struct PushStore {
    groups: Mutex<BTreeMap<Labels, Group>>,
    path: Option<PathBuf>,
    sink: Arc<dyn SampleSink>,
}

impl PushStore {
    /// Loads groups persisted at `path` (if any) and appends through `sink`.
    pub fn open(path: Option<PathBuf>, sink: Arc<dyn SampleSink>) -> Result<PushStore, String> {
        let mut groups = BTreeMap::new();
        if let Some(p) = &path {
            match std::fs::read(p) {
                Ok(bytes) => {
                    let list: Vec<Group> = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{}: not a push store: {e}", p.display()))?;
                    for g in list {
                        groups.insert(to_labels(&g.grouping), g);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", p.display())),
            }
        }
        Ok(PushStore {
            groups: Mutex::new(groups),
            path,
            sink,
        })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.lock().len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn persist(&self, groups: &BTreeMap<Labels, Group>) -> Result<(), PushError> {
        let Some(p) = &self.path else { return Ok(()) };
        let list: Vec<&Group> = groups.values().collect();
        let bytes = serde_json::to_vec(&list).map_err(|e| PushError::Storage(e.to_string()))?;
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, p))
            .map_err(|e| PushError::Storage(format!("{}: {e}", p.display())))
    }

    /// Applies a push (blocking: parses, persists, stores the samples at `now`).
    pub fn push(
        &self,
        grouping: Labels,
        body: &[u8],
        content_type: &str,
        mode: PushMode,
        now_ms: i64,
    ) -> Result<(), PushError> {
        let parsed = match exposition::parse(body, Format::from_content_type(content_type)) {
            Ok(p) => p,
            Err(e) => {
                self.mark_failure(&grouping, now_ms);
                return Err(e.into());
            }
        };
        let family_names: Vec<String> = parsed.metadata.iter().map(|m| m.metric_family.clone()).collect();
        let mut pushed: BTreeMap<String, Vec<StoredSample>> = BTreeMap::new();
        for s in &parsed.samples {
            let name = s.labels.metric_name().unwrap_or_default().to_string();
            if s.timestamp_ms.is_some() {
                self.mark_failure(&grouping, now_ms);
                return Err(PushError::Invalid(format!(
                    "sample of {name} has a timestamp; pushed metrics must not carry timestamps"
                )));
            }
            let mut b: LabelsBuilder = s.labels.to_builder();
            for g in &grouping {
                match s.labels.get(&g.name) {
                    Some(v) if v != g.value => {
                        self.mark_failure(&grouping, now_ms);
                        return Err(PushError::Invalid(format!(
                            "sample of {name} has label {}={v:?}, but the grouping key says {:?}",
                            g.name, g.value
                        )));
                    }
                    _ => {
                        b.set(g.name.clone(), g.value.clone());
                    }
                }
            }
            pushed
                .entry(family_of(&name, &family_names))
                .or_default()
                .push(StoredSample {
                    labels: to_map(&b.build()),
                    value_bits: s.value.to_bits(),
                });
        }
        let mut groups = self.groups.lock();
        let group = groups.entry(grouping.clone()).or_insert_with(|| Group {
            grouping: to_map(&grouping),
            ..Group::default()
        });
        match mode {
            PushMode::Replace => group.families = pushed,
            PushMode::Merge => group.families.extend(pushed),
        }
        group.push_time_ms = now_ms;
        let snapshot = group.clone();
        self.persist(&groups)?;
        drop(groups);
        self.append_groups(std::slice::from_ref(&snapshot), now_ms)
            .map_err(|e| PushError::Storage(e.to_string()))
    }

    fn mark_failure(&self, grouping: &Labels, now_ms: i64) {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get_mut(grouping) {
            g.failure_time_ms = now_ms;
            let _ = self.persist(&groups);
        }
    }

    /// Deletes a group; true when it existed.
    pub fn delete(&self, grouping: &Labels) -> Result<bool, PushError> {
        let mut groups = self.groups.lock();
        let existed = groups.remove(grouping).is_some();
        if existed {
            self.persist(&groups)?;
        }
        Ok(existed)
    }

    /// Writes every group's samples at `now` (the periodic "scrape").
    pub fn append_all(&self, now_ms: i64) -> Result<(), CommitError> {
        let groups: Vec<Group> = self.groups.lock().values().cloned().collect();
        self.append_groups(&groups, now_ms)
    }

    fn append_groups(&self, groups: &[Group], t: i64) -> Result<(), CommitError> {
        if groups.is_empty() {
            return Ok(());
        }
        let mut app = self.sink.appender();
        for g in groups {
            for samples in g.families.values() {
                for s in samples {
                    // Refusals (a duplicate timestamp from a push in the same
                    // millisecond) leave the newer value out, nothing else.
                    let _ = app.append(&to_labels(&s.labels), t, f64::from_bits(s.value_bits));
                }
            }
            for (name, ms) in [
                ("push_time_seconds", g.push_time_ms),
                ("push_failure_time_seconds", g.failure_time_ms),
            ] {
                let mut b = to_labels(&g.grouping).to_builder();
                b.set(METRIC_NAME, name);
                let _ = app.append(&b.build(), t, ms as f64 / 1000.0);
            }
        }
        app.commit().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{BatchAppender, SampleRefusal};

    #[derive(Default)]
    struct Mem(Arc<Mutex<Vec<(Labels, i64, f64)>>>);
    struct MemApp(Vec<(Labels, i64, f64)>, Arc<Mutex<Vec<(Labels, i64, f64)>>>);
    impl BatchAppender for MemApp {
        fn append(&mut self, l: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
            self.0.push((l.clone(), t, v));
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<u64, CommitError> {
            self.1.lock().extend(self.0);
            Ok(0)
        }
    }
    impl SampleSink for Mem {
        fn appender(&self) -> Box<dyn BatchAppender> {
            Box::new(MemApp(Vec::new(), self.0.clone()))
        }
    }

    fn group() -> Labels {
        Labels::from_pairs([("job", "backup"), ("instance", "db1")])
    }

    const BODY: &[u8] = b"# TYPE backup_duration_seconds gauge\nbackup_duration_seconds 12.5\n# TYPE backup_bytes_total counter\nbackup_bytes_total{disk=\"a\"} 100\n";

    #[test]
    fn put_post_delete_and_periodic_append() {
        let sink = Arc::new(Mem::default());
        let store = PushStore::open(None, sink.clone()).unwrap();
        store
            .push(group(), BODY, "text/plain", PushMode::Replace, 1000)
            .unwrap();
        {
            let got = sink.0.lock();
            let names: Vec<&str> = got.iter().filter_map(|(l, _, _)| l.metric_name()).collect();
            assert!(
                names.contains(&"backup_duration_seconds") && names.contains(&"push_time_seconds"),
                "{names:?}"
            );
            let d = got
                .iter()
                .find(|(l, _, _)| l.metric_name() == Some("backup_duration_seconds"))
                .unwrap();
            assert_eq!(d.0.get("job"), Some("backup"));
            assert_eq!(d.0.get("instance"), Some("db1"));
            assert_eq!((d.1, d.2), (1000, 12.5));
        }
        // POST replaces only the families it sends.
        store
            .push(group(), b"backup_duration_seconds 3\n", "", PushMode::Merge, 2000)
            .unwrap();
        sink.0.lock().clear();
        store.append_all(3000).unwrap();
        let got = sink.0.lock().clone();
        let value = |n: &str| got.iter().find(|(l, _, _)| l.metric_name() == Some(n)).map(|x| x.2);
        assert_eq!(value("backup_duration_seconds"), Some(3.0));
        assert_eq!(value("backup_bytes_total"), Some(100.0));
        assert_eq!(value("push_time_seconds"), Some(2.0));
        // PUT replaces the whole group.
        store.push(group(), b"other 1\n", "", PushMode::Replace, 4000).unwrap();
        sink.0.lock().clear();
        store.append_all(5000).unwrap();
        assert!(sink
            .0
            .lock()
            .iter()
            .all(|(l, _, _)| l.metric_name() != Some("backup_bytes_total")));
        assert!(store.delete(&group()).unwrap());
        assert!(!store.delete(&group()).unwrap());
        assert!(store.is_empty());
    }

    #[test]
    fn invalid_pushes_are_refused_and_recorded() {
        let sink = Arc::new(Mem::default());
        let store = PushStore::open(None, sink.clone()).unwrap();
        store.push(group(), BODY, "", PushMode::Replace, 1000).unwrap();
        let e = store
            .push(group(), b"x{job=\"other\"} 1\n", "", PushMode::Replace, 2000)
            .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("grouping key"), "{e}");
        let e = store
            .push(group(), b"x 1 123\n", "", PushMode::Replace, 2000)
            .unwrap_err();
        assert!(e.to_string().contains("timestamp"), "{e}");
        let e = store.push(group(), b"x{ 1\n", "", PushMode::Replace, 2500).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        sink.0.lock().clear();
        store.append_all(3000).unwrap();
        let got = sink.0.lock().clone();
        let fail = got
            .iter()
            .find(|(l, _, _)| l.metric_name() == Some("push_failure_time_seconds"))
            .unwrap();
        assert_eq!(fail.2, 2.5);
        // The good metrics are untouched by the failed pushes.
        assert!(got
            .iter()
            .any(|(l, _, _)| l.metric_name() == Some("backup_duration_seconds")));
    }

    #[test]
    fn groups_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("aerowatch-push-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("push.json");
        let sink = Arc::new(Mem::default());
        {
            let store = PushStore::open(Some(path.clone()), sink.clone()).unwrap();
            store.push(group(), BODY, "", PushMode::Replace, 1000).unwrap();
        }
        let store = PushStore::open(Some(path.clone()), sink.clone()).unwrap();
        assert_eq!(store.len(), 1);
        sink.0.lock().clear();
        store.append_all(2000).unwrap();
        assert!(sink
            .0
            .lock()
            .iter()
            .any(|(l, _, v)| l.metric_name() == Some("backup_duration_seconds") && *v == 12.5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
