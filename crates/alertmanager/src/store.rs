//! The in-memory alert store (Alertmanager's `provider/mem`).
//!
//! Alerts are keyed by fingerprint. A re-posted alert is merged with the
//! stored one when their activity ranges overlap. Every stored alert is then
//! handed to the subscribed [`AlertListener`]s (the dispatcher, the inhibitor)
//! synchronously and in order; listeners only update in-memory state, so no
//! channel (and no unbounded queue) sits between the API and the dispatcher.
//! [`AlertStore::gc`] drops resolved alerts; Alertmanager runs it every
//! `--alerts.gc-interval` (30m by default, [`DEFAULT_GC_INTERVAL`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::alert::{Alert, Fingerprint};
use crate::clock::{Clock, Timestamp};
use crate::marker::Marker;

/// Alertmanager's default `--alerts.gc-interval`.
pub const DEFAULT_GC_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// Receives every alert the store accepted (after merging).
pub trait AlertListener: Send + Sync {
    /// Called with the stored version of a new or updated alert. Must not
    /// block: it runs on the caller of [`AlertStore::put`].
    fn on_alert(&self, alert: &Alert);
}

/// A handle to remove a listener again (e.g. on config reload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionId(u64);

/// Alerts by fingerprint.
pub struct AlertStore {
    alerts: RwLock<HashMap<Fingerprint, Alert>>,
    listeners: RwLock<Vec<(SubscriptionId, Arc<dyn AlertListener>)>>,
    next_id: Mutex<u64>,
    // Serialises puts so listeners see updates in the order they were stored.
    put_lock: Mutex<()>,
    marker: Option<Arc<Marker>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AlertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertStore")
            .field("alerts", &self.alerts.read().len())
            .finish()
    }
}

impl AlertStore {
    /// An empty store; `marker` entries are dropped when alerts are collected.
    pub fn new(clock: Arc<dyn Clock>, marker: Option<Arc<Marker>>) -> Self {
        AlertStore {
            alerts: RwLock::new(HashMap::new()),
            listeners: RwLock::new(Vec::new()),
            next_id: Mutex::new(0),
            put_lock: Mutex::new(()),
            marker,
            clock,
        }
    }

    /// Adds a listener. It is not told about alerts already stored; pass
    /// [`AlertStore::list`] to it first if it needs them (the dispatcher does
    /// this on start and on config reload).
    pub fn subscribe(&self, listener: Arc<dyn AlertListener>) -> SubscriptionId {
        let mut n = self.next_id.lock();
        *n += 1;
        let id = SubscriptionId(*n);
        self.listeners.write().push((id, listener));
        id
    }

    /// Removes a listener.
    pub fn unsubscribe(&self, id: SubscriptionId) {
        self.listeners.write().retain(|(i, _)| *i != id);
    }

    /// Stores alerts, merging each with an existing one for the same label
    /// set when their activity overlaps (Alertmanager's `mem.Alerts.Put`),
    /// and notifies listeners. Returns the stored versions.
    pub fn put(&self, alerts: Vec<Alert>) -> Vec<Alert> {
        let _order = self.put_lock.lock();
        let now = self.clock.now();
        let mut stored = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let fp = alert.fingerprint();
            let merged = {
                let mut map = self.alerts.write();
                let merged = match map.get(&fp) {
                    Some(old) if overlaps(old, &alert) => old.merge(&alert, now),
                    _ => alert,
                };
                map.insert(fp, merged.clone());
                merged
            };
            let listeners: Vec<Arc<dyn AlertListener>> = self.listeners.read().iter().map(|(_, l)| l.clone()).collect();
            for l in listeners {
                l.on_alert(&merged);
            }
            stored.push(merged);
        }
        stored
    }

    /// The alert with fingerprint `fp`.
    pub fn get(&self, fp: Fingerprint) -> Option<Alert> {
        self.alerts.read().get(&fp).cloned()
    }

    /// All alerts, ordered by fingerprint.
    pub fn list(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.alerts.read().values().cloned().collect();
        v.sort_by_key(|a| a.fingerprint());
        v
    }

    /// Number of stored alerts.
    pub fn len(&self) -> usize {
        self.alerts.read().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.alerts.read().is_empty()
    }

    /// Deletes alerts resolved at `now` and their marker entries; returns
    /// their fingerprints.
    pub fn gc(&self, now: Timestamp) -> Vec<Fingerprint> {
        let mut removed = Vec::new();
        self.alerts.write().retain(|fp, a| {
            let keep = !a.resolved_at(now);
            if !keep {
                removed.push(*fp);
            }
            keep
        });
        if let Some(m) = &self.marker {
            for fp in &removed {
                m.delete(*fp);
            }
        }
        removed
    }
}

/// Alertmanager merges only when the new alert's activity range overlaps the
/// stored one's; otherwise the new alert replaces it (a new incident).
fn overlaps(old: &Alert, new: &Alert) -> bool {
    let (Some(old_end), new_end) = (old.ends_at, new.ends_at) else {
        // An open-ended stored alert overlaps everything after its start.
        return new.starts_at > old.starts_at || new.ends_at.is_some_and(|e| e > old.starts_at);
    };
    let end_inside = new_end.is_some_and(|e| e > old.starts_at && e < old_end);
    let start_inside = new.starts_at > old.starts_at && new.starts_at < old_end;
    end_inside || start_inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{Duration as CDuration, TimeZone, Utc};
    use model::Labels;

    fn t(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + CDuration::seconds(s)
    }

    struct Recorder(Mutex<Vec<Alert>>);
    impl AlertListener for Recorder {
        fn on_alert(&self, a: &Alert) {
            self.0.lock().push(a.clone());
        }
    }

    fn alert(start: i64, end: i64, updated: i64) -> Alert {
        Alert {
            ends_at: Some(t(end)),
            updated_at: t(updated),
            ..Alert::new(Labels::from_pairs([("alertname", "X")]), t(start))
        }
    }

    #[test]
    fn put_merges_overlapping_and_notifies() {
        let clock = Arc::new(ManualClock::new(t(0)));
        let store = AlertStore::new(clock.clone(), None);
        let rec = Arc::new(Recorder(Mutex::new(vec![])));
        let id = store.subscribe(rec.clone());
        store.put(vec![alert(0, 300, 0)]);
        // Re-posted with a later start inside the first range: keeps the start.
        let stored = store.put(vec![alert(60, 360, 60)]);
        assert_eq!(stored[0].starts_at, t(0));
        assert_eq!(stored[0].ends_at, Some(t(360)));
        assert_eq!(store.len(), 1);
        assert_eq!(rec.0.lock().len(), 2);
        // A new incident after the old one ended replaces it.
        let stored = store.put(vec![alert(1000, 1300, 1000)]);
        assert_eq!(stored[0].starts_at, t(1000));
        store.unsubscribe(id);
        store.put(vec![alert(1000, 1300, 1001)]);
        assert_eq!(rec.0.lock().len(), 3);
    }

    #[test]
    fn gc_removes_resolved_alerts_and_markers() {
        let clock = Arc::new(ManualClock::new(t(0)));
        let marker = Arc::new(Marker::new());
        let store = AlertStore::new(clock, Some(marker.clone()));
        let a = alert(0, 100, 0);
        let fp = a.fingerprint();
        store.put(vec![a]);
        marker.set_silenced(fp, vec![]);
        assert!(store.gc(t(50)).is_empty());
        assert_eq!(store.gc(t(100)), vec![fp]);
        assert!(store.is_empty());
        assert_eq!(marker.status(fp).state, crate::marker::AlertState::Unprocessed);
    }
}
