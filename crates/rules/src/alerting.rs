//! Alerting rules: Prometheus 2.42's `rules/alerting.go`, state by state.
use std::collections::{BTreeMap, HashMap};

use model::Labels;

use crate::template::{AlertTemplateData, Templater};

/// Name of the series holding every pending and firing alert.
pub const ALERTS: &str = "ALERTS";
/// Name of the series holding when each alert became active (seconds).
pub const ALERTS_FOR_STATE: &str = "ALERTS_FOR_STATE";
/// How long a resolved alert is kept and re-sent (Prometheus' `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved (kept for a while so the resolution is sent).
    Inactive,
    /// Its condition holds, for less than `for`.
    Pending,
    /// Its condition has held for `for`.
    Firing,
}

impl AlertState {
    /// The name Prometheus uses (`alertstate` label, API `state`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: one result series of its expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels: the series' labels without `__name__`, plus the rule's labels
    /// and `alertname`.
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// State.
    pub state: AlertState,
    /// Latest value of the expression for this series.
    pub value: f64,
    /// When it became pending (ms).
    pub active_at: i64,
    /// When it started firing (ms).
    pub fired_at: Option<i64>,
    /// When it resolved (ms).
    pub resolved_at: Option<i64>,
    /// When it was last sent (ms).
    pub last_sent_at: Option<i64>,
    /// Until when the last sending is valid (ms).
    pub valid_until: i64,
    /// Since when it has been kept firing by `keep_firing_for` (ms).
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Prometheus' `needsSending`: pending alerts are never sent; a
    /// resolution is sent at once; otherwise every `resend_delay`.
    pub fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at {
            if self.last_sent_at.is_none_or(|s| r > s) {
                return true;
            }
        }
        self.last_sent_at.is_none_or(|s| s + resend_delay_ms <= ts)
    }
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// `alert:`.
    pub name: String,
    /// `expr:`.
    pub expr: String,
    /// `for:`, ms.
    pub hold_ms: i64,
    /// `keep_firing_for:`, ms.
    pub keep_firing_ms: i64,
    /// `labels:` (templates).
    pub labels: BTreeMap<String, String>,
    /// `annotations:` (templates).
    pub annotations: BTreeMap<String, String>,
    /// Active (pending, firing, recently resolved) alerts by label hash.
    active: HashMap<u64, Alert>,
    /// Whether `ALERTS`/`ALERTS_FOR_STATE` may be written: false until the
    /// state was restored from the store after a start.
    pub restored: bool,
}

/// A sample the rule wants written to the store.
pub type OutputSample = (Labels, f64);

impl AlertingRule {
    /// A rule with no alerts yet.
    pub fn new(
        name: String,
        expr: String,
        hold_ms: i64,
        keep_firing_ms: i64,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        restored: bool,
    ) -> Self {
        AlertingRule {
            name,
            expr,
            hold_ms,
            keep_firing_ms,
            labels,
            annotations,
            active: HashMap::new(),
            restored,
        }
    }

    /// Whether two rules have the same definition (state is carried over a
    /// reload only between equal rules).
    pub fn same_definition(&self, other: &AlertingRule) -> bool {
        self.name == other.name
            && self.expr == other.expr
            && self.hold_ms == other.hold_ms
            && self.keep_firing_ms == other.keep_firing_ms
            && self.labels == other.labels
            && self.annotations == other.annotations
    }

    /// Takes over the alerts of an equal rule from before a reload.
    pub fn copy_state(&mut self, from: &AlertingRule) {
        self.active = from.active.clone();
        self.restored = from.restored;
    }

    /// The active alerts, sorted by labels.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.active.values().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The rule's overall state: its most severe alert's.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Mutable access to the alerts, for restoring state after a start.
    pub fn alerts_mut(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.active.values_mut()
    }

    /// One evaluation at `ts` given the expression's result (`(labels, value)`
    /// per series). Returns the `ALERTS`/`ALERTS_FOR_STATE` samples to write.
    /// Errors leave the rule as Prometheus leaves it (a duplicate label set
    /// changes nothing; exceeding `limit` drops every alert).
    #[allow(clippy::too_many_arguments)]
    pub fn eval(
        &mut self,
        ts: i64,
        result: Vec<(Labels, f64)>,
        limit: usize,
        templater: &dyn Templater,
        external_labels: &BTreeMap<String, String>,
        external_url: &str,
    ) -> Result<Vec<OutputSample>, String> {
        let template_name = format!("__alert_{}", self.name);
        let mut fresh: HashMap<u64, Alert> = HashMap::with_capacity(result.len());
        for (series, value) in result {
            let label_map: BTreeMap<String, String> = series
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            let data = AlertTemplateData {
                labels: &label_map,
                external_labels,
                external_url,
                value,
                eval_ms: ts,
            };
            let expand = |text: &str| match templater.expand(&template_name, text, &data) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(alert = %self.name, error = %e, "expanding alert template failed");
                    format!("<error expanding template: {e}>")
                }
            };
            let mut b = series.to_builder();
            b.del(model::METRIC_NAME);
            for (name, text) in &self.labels {
                b.set(name.clone(), expand(text));
            }
            b.set("alertname", self.name.clone());
            let labels = b.build();
            let annotations: BTreeMap<String, String> =
                self.annotations.iter().map(|(k, v)| (k.clone(), expand(v))).collect();
            let h = labels.stable_hash();
            if fresh.contains_key(&h) {
                return Err("vector contains metrics with the same labelset after applying alert labels".into());
            }
            fresh.insert(
                h,
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        let seen: std::collections::HashSet<u64> = fresh.keys().copied().collect();
        for (h, a) in fresh {
            match self.active.get_mut(&h) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = a.value;
                    existing.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(h, a);
                }
            }
        }
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut doomed = Vec::new();
        let mut hashes: Vec<u64> = self.active.keys().copied().collect();
        hashes.sort_unstable();
        for h in hashes {
            let Some(a) = self.active.get_mut(&h) else { continue };
            if !seen.contains(&h) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_ms;
                }
                let expired = a.resolved_at.is_some_and(|r| ts - r > RESOLVED_RETENTION_MS);
                if a.state == AlertState::Pending || expired {
                    doomed.push(h);
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if self.restored {
                out.push((series_labels(ALERTS, &a.labels, Some(a.state)), 1.0));
                out.push((
                    series_labels(ALERTS_FOR_STATE, &a.labels, None),
                    (a.active_at / 1000) as f64,
                ));
            }
        }
        for h in doomed {
            self.active.remove(&h);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {active_pending} alerts"));
        }
        Ok(out)
    }

    /// The alerts to send now (Prometheus' `sendAlerts`), marking them sent.
    /// `EndsAt` is the resolution time, or `ts + 4 × max(resend delay,
    /// interval)` for a firing alert, so a receiver resolves it by itself if
    /// Aerowatch stops sending.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if !a.needs_sending(ts, resend_delay_ms) {
                continue;
            }
            a.last_sent_at = Some(ts);
            a.valid_until = ts + 4 * resend_delay_ms.max(interval_ms);
            out.push(a.clone());
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

/// `name{labels…}` (plus `alertstate` for `ALERTS`).
fn series_labels(name: &str, labels: &Labels, state: Option<AlertState>) -> Labels {
    let mut b = labels.to_builder();
    b.set(model::METRIC_NAME, name);
    if let Some(s) = state {
        b.set("alertstate", s.as_str());
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Literal;
    impl Templater for Literal {
        fn check(&self, _: &str, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn expand(&self, _: &str, text: &str, data: &AlertTemplateData<'_>) -> Result<String, String> {
            Ok(text.replace("VALUE", &data.value.to_string()))
        }
    }

    fn rule(hold_ms: i64, keep_ms: i64) -> AlertingRule {
        AlertingRule::new(
            "HighLatency".into(),
            "latency > 1".into(),
            hold_ms,
            keep_ms,
            BTreeMap::from([("severity".to_string(), "page".to_string())]),
            BTreeMap::from([("summary".to_string(), "at VALUE".to_string())]),
            true,
        )
    }

    fn series(instance: &str) -> Labels {
        Labels::from_pairs([("__name__", "latency"), ("instance", instance)])
    }

    fn eval(r: &mut AlertingRule, ts: i64, result: Vec<(Labels, f64)>) -> Vec<OutputSample> {
        r.eval(ts, result, 0, &Literal, &BTreeMap::new(), "").unwrap()
    }

    #[test]
    fn pending_then_firing_then_resolved_then_forgotten() {
        let mut r = rule(60_000, 0);
        let out = eval(&mut r, 0, vec![(series("a"), 2.0)]);
        assert_eq!(r.state(), AlertState::Pending);
        let alerts_series = &out[0].0;
        assert_eq!(alerts_series.get("__name__"), Some("ALERTS"));
        assert_eq!(alerts_series.get("alertstate"), Some("pending"));
        assert_eq!(alerts_series.get("alertname"), Some("HighLatency"));
        assert_eq!(alerts_series.get("severity"), Some("page"));
        assert_eq!(
            out[1],
            (
                Labels::from_pairs([
                    ("__name__", "ALERTS_FOR_STATE"),
                    ("alertname", "HighLatency"),
                    ("instance", "a"),
                    ("severity", "page")
                ]),
                0.0
            )
        );
        assert!(
            r.alerts_to_send(0, 60_000, 15_000).is_empty(),
            "pending alerts are not sent"
        );
        eval(&mut r, 30_000, vec![(series("a"), 3.0)]);
        assert_eq!(r.state(), AlertState::Pending);
        assert_eq!(r.alerts()[0].annotations["summary"], "at 3");
        let out = eval(&mut r, 60_000, vec![(series("a"), 4.0)]);
        assert_eq!(r.state(), AlertState::Firing);
        assert_eq!(out[0].0.get("alertstate"), Some("firing"));
        let sent = r.alerts_to_send(60_000, 60_000, 15_000);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].valid_until, 60_000 + 240_000);
        assert!(
            r.alerts_to_send(75_000, 60_000, 15_000).is_empty(),
            "resent only after the delay"
        );
        assert_eq!(r.alerts_to_send(120_000, 60_000, 15_000).len(), 1);
        // Condition gone: resolved, sent at once, kept for 15 minutes, no series written.
        let out = eval(&mut r, 135_000, vec![]);
        assert!(out.is_empty());
        assert_eq!(r.state(), AlertState::Inactive);
        let sent = r.alerts_to_send(135_000, 60_000, 15_000);
        assert_eq!(sent[0].resolved_at, Some(135_000));
        eval(&mut r, 135_000 + RESOLVED_RETENTION_MS, vec![]);
        assert_eq!(r.alerts().len(), 1);
        eval(&mut r, 136_000 + RESOLVED_RETENTION_MS, vec![]);
        assert!(r.alerts().is_empty());
    }

    #[test]
    fn a_pending_alert_that_clears_is_dropped_and_a_return_starts_over() {
        let mut r = rule(60_000, 0);
        eval(&mut r, 0, vec![(series("a"), 2.0)]);
        eval(&mut r, 15_000, vec![]);
        assert!(r.alerts().is_empty());
        eval(&mut r, 30_000, vec![(series("a"), 2.0)]);
        assert_eq!(r.alerts()[0].active_at, 30_000);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert() {
        let mut r = rule(0, 30_000);
        eval(&mut r, 0, vec![(series("a"), 2.0)]);
        assert_eq!(r.state(), AlertState::Firing);
        let out = eval(&mut r, 15_000, vec![]);
        assert_eq!(r.state(), AlertState::Firing, "kept firing");
        assert_eq!(out.len(), 2);
        assert_eq!(r.alerts()[0].keep_firing_since, Some(15_000));
        eval(&mut r, 30_000, vec![]);
        assert_eq!(r.state(), AlertState::Firing);
        eval(&mut r, 45_000, vec![]);
        assert_eq!(r.state(), AlertState::Inactive, "30 s after the condition went away");
    }

    #[test]
    fn duplicate_label_sets_and_limits_are_errors() {
        let mut r = rule(0, 0);
        let two = vec![
            (Labels::from_pairs([("__name__", "a"), ("instance", "x")]), 1.0),
            (Labels::from_pairs([("__name__", "b"), ("instance", "x")]), 1.0),
        ];
        let e = r.eval(0, two, 0, &Literal, &BTreeMap::new(), "").unwrap_err();
        assert!(e.contains("same labelset"), "{e}");
        let e = r
            .eval(
                0,
                vec![(series("a"), 1.0), (series("b"), 1.0)],
                1,
                &Literal,
                &BTreeMap::new(),
                "",
            )
            .unwrap_err();
        assert_eq!(e, "exceeded limit of 1 with 2 alerts");
        assert!(r.alerts().is_empty());
    }

    #[test]
    fn nothing_is_written_before_state_is_restored() {
        let mut r = rule(0, 0);
        r.restored = false;
        assert!(eval(&mut r, 0, vec![(series("a"), 1.0)]).is_empty());
        assert_eq!(r.state(), AlertState::Firing);
    }
}
