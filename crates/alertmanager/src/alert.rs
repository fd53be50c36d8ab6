//! The alert model and Alertmanager's rules for identity (fingerprint),
//! resolution, merging repeated posts and ordering.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use model::{hash_label_pairs, is_valid_label_name, Labels};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// An alert's identity: Prometheus' `model.LabelSet.Fingerprint()`, i.e.
/// FNV-1a 64 over the sorted label names and values, each followed by 0xff.
/// Printed as 16 lowercase hex digits like Alertmanager's API does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of a label set.
    pub fn of(labels: &Labels) -> Fingerprint {
        Fingerprint(hash_label_pairs(
            labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        ))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Fingerprint)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether an alert is firing or resolved at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Still firing.
    Firing,
    /// Its end time has passed.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`, as templates and webhooks spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// A posted alert that breaks Alertmanager's validation rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertValidationError {
    /// `endsAt` is before `startsAt`.
    #[error("start time must be before end time")]
    EndBeforeStart,
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label set: invalid name {0:?}")]
    InvalidLabelName(String),
    /// No labels at all.
    #[error("at least one label pair required")]
    NoLabels,
    /// An annotation name is not a valid label name.
    #[error("invalid annotations: invalid name {0:?}")]
    InvalidAnnotationName(String),
}

/// An alert as the store, the dispatcher and the API see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Identifying labels (sorted; empty values are never stored).
    pub labels: Labels,
    /// Informational key/value pairs.
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: Timestamp,
    /// When the alert stops (or stopped) firing; `None` means "open-ended",
    /// which only happens for copies handed to receivers while firing.
    pub ends_at: Option<Timestamp>,
    /// When Alertmanager last received the alert.
    pub updated_at: Timestamp,
    /// Link back to the alert's source (e.g. a Prometheus graph).
    pub generator_url: String,
    /// True when `ends_at` was not given by the sender but derived from
    /// `resolve_timeout`; such an end time loses against an explicit one.
    pub timeout: bool,
}

impl Alert {
    /// A firing alert starting at `starts_at` with no end, no annotations.
    pub fn new(labels: Labels, starts_at: Timestamp) -> Alert {
        Alert {
            labels,
            annotations: BTreeMap::new(),
            starts_at,
            ends_at: None,
            updated_at: starts_at,
            generator_url: String::new(),
            timeout: false,
        }
    }

    /// The label set's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// Alertmanager's `ResolvedAt`: resolved once `ends_at` is not after `ts`.
    pub fn resolved_at(&self, ts: Timestamp) -> bool {
        match self.ends_at {
            None => false,
            Some(end) => end <= ts,
        }
    }

    /// Firing or resolved at `ts`.
    pub fn status_at(&self, ts: Timestamp) -> AlertStatus {
        if self.resolved_at(ts) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// Alertmanager's `types.Alert.Merge`: combines a stored alert with a
    /// newly received one for the same label set. The one updated later is
    /// authoritative for annotations and flags; the earliest start wins; an
    /// end time from the older one wins only when it is later and not a mere
    /// resolve_timeout guess (or, when both are resolved, when it is later).
    /// `now` decides which of them count as resolved.
    pub fn merge(&self, other: &Alert, now: Timestamp) -> Alert {
        // Let `newer` always be the younger alert.
        let (older, newer) = if other.updated_at < self.updated_at {
            (other, self)
        } else {
            (self, other)
        };
        let mut res = newer.clone();
        if older.starts_at < newer.starts_at {
            res.starts_at = older.starts_at;
        }
        let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        if newer.resolved_at(now) {
            if older.resolved_at(now) && later(older.ends_at, newer.ends_at) {
                res.ends_at = older.ends_at;
            }
        } else if later(older.ends_at, newer.ends_at) && !older.timeout {
            res.ends_at = older.ends_at;
        }
        res
    }

    /// Alertmanager's validation of a received alert (`model.Alert.Validate`).
    pub fn validate(&self) -> Result<(), AlertValidationError> {
        if let Some(end) = self.ends_at {
            if end < self.starts_at {
                return Err(AlertValidationError::EndBeforeStart);
            }
        }
        if let Some(l) = self.labels.iter().find(|l| !is_valid_label_name(&l.name)) {
            return Err(AlertValidationError::InvalidLabelName(l.name.to_string()));
        }
        if self.labels.is_empty() {
            return Err(AlertValidationError::NoLabels);
        }
        if let Some(name) = self.annotations.keys().find(|n| !is_valid_label_name(n)) {
            return Err(AlertValidationError::InvalidAnnotationName(name.clone()));
        }
        Ok(())
    }
}

/// Prometheus' `LabelSet.Before`: shorter sets first, then the first
/// differing label in the merged sorted name list decides.
pub fn labels_before(a: &Labels, b: &Labels) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    for n in names {
        let Some(av) = a.get(n) else { return true };
        let Some(bv) = b.get(n) else { return false };
        match av.cmp(bv) {
            Ordering::Less => return true,
            Ordering::Greater => return false,
            Ordering::Equal => {}
        }
    }
    false
}

/// Alertmanager's `types.AlertSlice` order, used for the alerts inside a
/// notification: by `job`, then `instance` (alerts lacking them go last),
/// then by label set.
pub fn alert_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if labels_before(&a.labels, &b.labels) {
        Ordering::Less
    } else if labels_before(&b.labels, &a.labels) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn t(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s)
    }

    #[test]
    fn fingerprint_matches_prometheus() {
        // Values computed with prometheus/common model.LabelSet.Fingerprint.
        assert_eq!(Fingerprint::of(&Labels::empty()).to_string(), "cbf29ce484222325");
        let l = Labels::from_pairs([("alertname", "Test"), ("job", "x")]);
        let fp = Fingerprint::of(&l);
        assert_eq!(fp.to_string().len(), 16);
        assert_eq!(fp.to_string().parse::<Fingerprint>().unwrap(), fp);
        // Order of insertion does not matter.
        assert_eq!(
            fp,
            Fingerprint::of(&Labels::from_pairs([("job", "x"), ("alertname", "Test")]))
        );
    }

    #[test]
    fn fingerprint_known_value() {
        // FNV-1a 64 of "a\xffb\xff" computed independently.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in b"a\xffb\xff" {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        assert_eq!(Fingerprint::of(&Labels::from_pairs([("a", "b")])).0, h);
    }

    #[test]
    fn resolution_is_end_not_after_now() {
        let mut a = Alert::new(Labels::from_pairs([("a", "b")]), t(0));
        assert!(!a.resolved_at(t(100)));
        a.ends_at = Some(t(10));
        assert!(!a.resolved_at(t(9)));
        assert!(a.resolved_at(t(10)));
        assert_eq!(a.status_at(t(11)), AlertStatus::Resolved);
    }

    #[test]
    fn merge_keeps_earliest_start_and_authoritative_end() {
        let labels = Labels::from_pairs([("a", "b")]);
        let now = t(30);
        let far = now + Duration::hours(1);
        let older = Alert {
            starts_at: t(0),
            ends_at: Some(far + Duration::hours(1)),
            updated_at: t(5),
            timeout: true,
            ..Alert::new(labels.clone(), t(0))
        };
        let newer = Alert {
            starts_at: t(10),
            ends_at: Some(far),
            updated_at: t(20),
            ..Alert::new(labels.clone(), t(10))
        };
        let m = older.merge(&newer, now);
        assert_eq!(m.starts_at, t(0));
        // The older end is later but was only a resolve_timeout guess.
        assert_eq!(m.ends_at, Some(far));
        // Argument order does not matter.
        assert_eq!(newer.merge(&older, now), m);

        let older_explicit = Alert {
            timeout: false,
            ..older.clone()
        };
        assert_eq!(
            older_explicit.merge(&newer, now).ends_at,
            Some(far + Duration::hours(1))
        );

        // Both resolved: the later explicit resolution wins.
        let r1 = Alert {
            ends_at: Some(t(50)),
            updated_at: t(60),
            ..Alert::new(labels.clone(), t(0))
        };
        let r2 = Alert {
            ends_at: Some(t(40)),
            updated_at: t(70),
            ..Alert::new(labels, t(0))
        };
        assert_eq!(r1.merge(&r2, t(100)).ends_at, Some(t(50)));
    }

    #[test]
    fn validation_errors() {
        let mut a = Alert::new(Labels::empty(), t(0));
        assert_eq!(a.validate(), Err(AlertValidationError::NoLabels));
        a.labels = Labels::from_pairs([("bad-name", "x")]);
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "invalid label set: invalid name \"bad-name\""
        );
        a.labels = Labels::from_pairs([("ok", "x")]);
        a.ends_at = Some(t(-1));
        assert_eq!(a.validate(), Err(AlertValidationError::EndBeforeStart));
        a.ends_at = None;
        a.annotations.insert("1x".into(), "y".into());
        assert!(matches!(
            a.validate(),
            Err(AlertValidationError::InvalidAnnotationName(_))
        ));
        a.annotations.clear();
        assert!(a.validate().is_ok());
    }

    #[test]
    fn ordering_prefers_job_then_instance() {
        let mk = |pairs: &[(&str, &str)]| Alert::new(Labels::from_pairs(pairs.iter().copied()), t(0));
        let mut v = [
            mk(&[("alertname", "x")]),
            mk(&[("job", "b")]),
            mk(&[("job", "a"), ("instance", "2")]),
            mk(&[("job", "a"), ("instance", "1")]),
        ];
        v.sort_by(alert_order);
        let jobs: Vec<_> = v
            .iter()
            .map(|a| {
                format!(
                    "{}{}",
                    a.labels.get("job").unwrap_or("-"),
                    a.labels.get("instance").unwrap_or("")
                )
            })
            .collect();
        assert_eq!(jobs, ["a1", "a2", "b", "-"]);
    }
}
