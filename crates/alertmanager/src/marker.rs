//! Per-alert suppression status shown by the API (`types.Marker`).
//!
//! The mute stages of a flush and the API's alert listing record here which
//! silences and which inhibiting alerts currently suppress an alert. An alert
//! never evaluated is `unprocessed`.

use std::collections::HashMap;

use parking_lot::RwLock;
use serde::Serialize;

use crate::alert::Fingerprint;

/// Alertmanager's alert states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Not yet evaluated against silences and inhibitions.
    Unprocessed,
    /// Not suppressed.
    Active,
    /// Silenced and/or inhibited.
    Suppressed,
}

impl AlertState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unprocessed => "unprocessed",
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

/// What suppresses an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerStatus {
    /// The state derived from the lists below.
    pub state: AlertState,
    /// IDs of active silences matching the alert (sorted).
    pub silenced_by: Vec<String>,
    /// Fingerprints of alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

impl Default for MarkerStatus {
    fn default() -> Self {
        MarkerStatus {
            state: AlertState::Unprocessed,
            silenced_by: Vec::new(),
            inhibited_by: Vec::new(),
        }
    }
}

impl MarkerStatus {
    fn recompute(&mut self) {
        self.state = if self.silenced_by.is_empty() && self.inhibited_by.is_empty() {
            AlertState::Active
        } else {
            AlertState::Suppressed
        };
    }
}

/// The status of every known alert, keyed by fingerprint.
#[derive(Debug, Default)]
pub struct Marker {
    m: RwLock<HashMap<Fingerprint, MarkerStatus>>,
}

impl Marker {
    /// An empty marker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the active silences matching `fp` (empty: none).
    pub fn set_silenced(&self, fp: Fingerprint, mut ids: Vec<String>) {
        ids.sort();
        let mut m = self.m.write();
        let s = m.entry(fp).or_default();
        s.silenced_by = ids;
        s.recompute();
    }

    /// Records the alerts inhibiting `fp` (empty: none).
    pub fn set_inhibited(&self, fp: Fingerprint, ids: Vec<String>) {
        let mut m = self.m.write();
        let s = m.entry(fp).or_default();
        s.inhibited_by = ids;
        s.recompute();
    }

    /// The status of `fp`; `unprocessed` when never evaluated.
    pub fn status(&self, fp: Fingerprint) -> MarkerStatus {
        self.m.read().get(&fp).cloned().unwrap_or_default()
    }

    /// Forgets `fp` (when the alert is garbage-collected).
    pub fn delete(&self, fp: Fingerprint) {
        self.m.write().remove(&fp);
    }

    /// How many known alerts are in `state`.
    pub fn count(&self, state: AlertState) -> usize {
        self.m.read().values().filter(|s| s.state == state).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_silences_and_inhibitions() {
        let m = Marker::new();
        let fp = Fingerprint(1);
        assert_eq!(m.status(fp).state, AlertState::Unprocessed);
        m.set_inhibited(fp, vec![]);
        assert_eq!(m.status(fp).state, AlertState::Active);
        m.set_silenced(fp, vec!["b".into(), "a".into()]);
        let s = m.status(fp);
        assert_eq!(s.state, AlertState::Suppressed);
        assert_eq!(s.silenced_by, ["a", "b"]);
        m.set_silenced(fp, vec![]);
        m.set_inhibited(fp, vec!["00000000000000ff".into()]);
        assert_eq!(m.status(fp).state, AlertState::Suppressed);
        assert_eq!(m.count(AlertState::Suppressed), 1);
        m.set_inhibited(fp, vec![]);
        assert_eq!(m.status(fp).state, AlertState::Active);
        m.delete(fp);
        assert_eq!(m.status(fp).state, AlertState::Unprocessed);
    }
}
