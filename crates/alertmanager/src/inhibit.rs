//! Inhibition (`inhibit/inhibit.go`).
//!
//! Each rule caches the alerts matching its source side as they arrive
//! (the inhibitor is an [`AlertListener`] on the store). An alert is inhibited
//! when it matches a rule's target side and some cached source alert that is
//! still firing has equal values for the rule's `equal` labels (a missing label
//! counts as empty). When the target alert also matches the source side,
//! source alerts that also match the target side are ignored, so an alert
//! never inhibits itself and two such alerts never inhibit each other.

use std::collections::HashMap;
use std::sync::Arc;

use model::Labels;
use parking_lot::RwLock;

use crate::alert::{Alert, Fingerprint};
use crate::clock::{Clock, Timestamp};
use crate::config::{combine_matchers, InhibitRuleConfig};
use crate::marker::Marker;
use crate::matchers::{matches_all, Matcher};
use crate::store::AlertListener;

/// A compiled inhibition rule with its source-alert cache.
#[derive(Debug)]
pub struct InhibitRule {
    /// Matchers of inhibiting alerts.
    pub source_matchers: Vec<Matcher>,
    /// Matchers of inhibited alerts.
    pub target_matchers: Vec<Matcher>,
    /// Labels that must be equal on both.
    pub equal: Vec<String>,
    sources: RwLock<HashMap<Fingerprint, Alert>>,
}

impl InhibitRule {
    /// Compiles a rule from config (legacy and new matchers combined).
    pub fn new(cfg: &InhibitRuleConfig) -> Result<InhibitRule, String> {
        Ok(InhibitRule {
            source_matchers: combine_matchers(&cfg.source_match, &cfg.source_match_re, &cfg.source_matchers)?,
            target_matchers: combine_matchers(&cfg.target_match, &cfg.target_match_re, &cfg.target_matchers)?,
            equal: cfg.equal.clone(),
            sources: RwLock::new(HashMap::new()),
        })
    }

    /// Alertmanager's `hasEqual`: a firing cached source alert with equal
    /// `equal` labels, skipping ones matching the target side when
    /// `exclude_two_sided` is set.
    fn has_equal(&self, labels: &Labels, exclude_two_sided: bool, now: Timestamp) -> Option<Fingerprint> {
        let sources = self.sources.read();
        let mut best: Option<Fingerprint> = None;
        for (fp, a) in sources.iter() {
            if a.resolved_at(now) {
                continue;
            }
            if !self
                .equal
                .iter()
                .all(|n| a.labels.get(n).unwrap_or("") == labels.get(n).unwrap_or(""))
            {
                continue;
            }
            if exclude_two_sided && matches_all(&self.target_matchers, &a.labels) {
                continue;
            }
            // Deterministic choice when several alerts inhibit.
            if best.is_none_or(|b| *fp < b) {
                best = Some(*fp);
            }
        }
        best
    }
}

/// Evaluates all inhibition rules.
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
    marker: Arc<Marker>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Inhibitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inhibitor").field("rules", &self.rules).finish()
    }
}

impl Inhibitor {
    /// Compiles the configured rules.
    pub fn new(rules: &[InhibitRuleConfig], marker: Arc<Marker>, clock: Arc<dyn Clock>) -> Result<Inhibitor, String> {
        Ok(Inhibitor {
            rules: rules.iter().map(InhibitRule::new).collect::<Result<_, _>>()?,
            marker,
            clock,
        })
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// Records an alert as a potential source for the rules it matches.
    pub fn observe(&self, alert: &Alert) {
        for r in &self.rules {
            if matches_all(&r.source_matchers, &alert.labels) {
                r.sources.write().insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// Whether `labels` are inhibited now; records the result in the marker.
    pub fn mutes(&self, labels: &Labels) -> bool {
        self.mutes_at(labels, self.clock.now())
    }

    /// Whether `labels` are inhibited at `now`; records the result in the
    /// marker (the inhibiting alert's fingerprint, or nothing).
    pub fn mutes_at(&self, labels: &Labels, now: Timestamp) -> bool {
        let fp = Fingerprint::of(labels);
        match self.inhibited_by(labels, now) {
            Some(src) => {
                self.marker.set_inhibited(fp, vec![src.to_string()]);
                true
            }
            None => {
                self.marker.set_inhibited(fp, Vec::new());
                false
            }
        }
    }

    /// The first rule's inhibiting alert, without touching the marker.
    pub fn inhibited_by(&self, labels: &Labels, now: Timestamp) -> Option<Fingerprint> {
        self.rules.iter().find_map(|r| {
            if !matches_all(&r.target_matchers, labels) {
                return None;
            }
            r.has_equal(labels, matches_all(&r.source_matchers, labels), now)
        })
    }

    /// Drops resolved alerts from the source caches.
    pub fn gc(&self, now: Timestamp) {
        for r in &self.rules {
            r.sources.write().retain(|_, a| !a.resolved_at(now));
        }
    }
}

impl AlertListener for Inhibitor {
    fn on_alert(&self, alert: &Alert) {
        self.observe(alert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::marker::AlertState;
    use chrono::{Duration, TimeZone, Utc};

    fn t(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn rules(y: &str) -> Vec<InhibitRuleConfig> {
        serde_yaml::from_str(y).unwrap()
    }

    fn alert(pairs: &[(&str, &str)], end: i64) -> Alert {
        Alert {
            ends_at: Some(t(end)),
            ..Alert::new(Labels::from_pairs(pairs.iter().copied()), t(0))
        }
    }

    fn inhibitor(y: &str) -> (Inhibitor, Arc<Marker>, ManualClock) {
        let marker = Arc::new(Marker::new());
        let clock = ManualClock::new(t(10));
        let ih = Inhibitor::new(&rules(y), marker.clone(), Arc::new(clock.clone())).unwrap();
        (ih, marker, clock)
    }

    const RULE: &str =
        "- source_matchers: [severity=\"critical\"]\n  target_matchers: [severity=\"warning\"]\n  equal: [cluster]\n";

    #[test]
    fn source_inhibits_target_with_equal_labels() {
        let (ih, marker, clock) = inhibitor(RULE);
        let src = alert(
            &[("alertname", "Down"), ("severity", "critical"), ("cluster", "a")],
            100,
        );
        ih.observe(&src);
        let target = Labels::from_pairs([("alertname", "Slow"), ("severity", "warning"), ("cluster", "a")]);
        let other = Labels::from_pairs([("alertname", "Slow"), ("severity", "warning"), ("cluster", "b")]);
        assert!(ih.mutes(&target));
        let st = marker.status(Fingerprint::of(&target));
        assert_eq!(st.state, AlertState::Suppressed);
        assert_eq!(st.inhibited_by, [src.fingerprint().to_string()]);
        assert!(!ih.mutes(&other));
        assert_eq!(marker.status(Fingerprint::of(&other)).state, AlertState::Active);
        // Once the source resolves the target is free again.
        clock.set(t(100));
        assert!(!ih.mutes(&target));
        assert_eq!(marker.status(Fingerprint::of(&target)).state, AlertState::Active);
    }

    #[test]
    fn missing_equal_label_counts_as_empty() {
        let (ih, _, _) = inhibitor(RULE);
        ih.observe(&alert(&[("severity", "critical")], 100));
        assert!(ih.mutes(&Labels::from_pairs([("severity", "warning")])));
        assert!(!ih.mutes(&Labels::from_pairs([("severity", "warning"), ("cluster", "x")])));
    }

    #[test]
    fn alert_matching_both_sides_does_not_inhibit_itself() {
        let (ih, _, _) =
            inhibitor("- source_matchers: [team=\"db\"]\n  target_matchers: [team=\"db\"]\n  equal: [cluster]\n");
        let a = alert(&[("team", "db"), ("cluster", "a"), ("alertname", "A")], 100);
        let b = alert(&[("team", "db"), ("cluster", "a"), ("alertname", "B")], 100);
        ih.observe(&a);
        ih.observe(&b);
        assert!(!ih.mutes(&a.labels));
        assert!(!ih.mutes(&b.labels));
    }

    #[test]
    fn legacy_matchers_and_gc() {
        let (ih, _, clock) = inhibitor(
            "- source_match: {alertname: NodeDown}\n  target_match_re: {alertname: 'Node.+'}\n  equal: [instance]\n",
        );
        ih.observe(&alert(&[("alertname", "NodeDown"), ("instance", "i1")], 50));
        let target = Labels::from_pairs([("alertname", "NodeDiskFull"), ("instance", "i1")]);
        assert!(ih.mutes(&target));
        // NodeDown also matches the target side but not its own source exclusion.
        assert!(!ih.mutes(&Labels::from_pairs([("alertname", "NodeDown"), ("instance", "i1")])));
        clock.set(t(60));
        ih.gc(t(60));
        assert!(ih.rules()[0].sources.read().is_empty());
        assert!(!ih.mutes(&target));
    }

    #[test]
    fn unrelated_alerts_are_not_sources() {
        let (ih, _, _) = inhibitor(RULE);
        ih.observe(&alert(&[("severity", "info")], 100));
        assert!(ih.rules()[0].sources.read().is_empty());
    }
}
