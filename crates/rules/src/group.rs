//! A rule group: its rules evaluated in order at one timestamp, their output
//! written to the store (with staleness markers for series that went away)
//! and their alerts handed to the notifier.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ingest::sink::{SampleRefusal, SampleSink};
use model::{Labels, MatchType, Matcher};
use promql::{Engine, Prepared, QueryOptions, Queryable, ResultValue};

use crate::alerting::{Alert, AlertingRule, ALERTS_FOR_STATE};
use crate::recording::RecordingRule;
use crate::template::Templater;

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `record:`.
    Recording(RecordingRule),
    /// `alert:`.
    Alerting(AlertingRule),
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(r) => &r.name,
        }
    }

    /// The rule's expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.expr,
            Rule::Alerting(r) => &r.expr,
        }
    }
}

/// How the last evaluation of a rule went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// Evaluated without error.
    Ok,
    /// The last evaluation failed.
    Err,
}

impl Health {
    /// Prometheus' API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule in a group, with what its evaluations left behind.
#[derive(Debug, Clone)]
pub struct RuleEntry {
    /// The rule.
    pub rule: Rule,
    pub(crate) prepared: Prepared,
    /// Health of the last evaluation.
    pub health: Health,
    /// Error of the last evaluation.
    pub last_error: Option<String>,
    /// Time of the last evaluation (ms).
    pub last_eval_ms: Option<i64>,
    /// Seconds the last evaluation took.
    pub eval_seconds: f64,
    /// Series written by the last evaluation, to mark stale when they vanish.
    previous: HashMap<u64, Labels>,
}

impl RuleEntry {
    /// A rule ready for evaluation (its expression was validated on load).
    pub fn new(rule: Rule) -> Result<RuleEntry, String> {
        let prepared = promql::prepare(rule.expr()).map_err(|e| e.to_string())?;
        Ok(RuleEntry {
            rule,
            prepared,
            health: Health::Unknown,
            last_error: None,
            last_eval_ms: None,
            eval_seconds: 0.0,
            previous: HashMap::new(),
        })
    }
}

/// A group of rules.
#[derive(Debug, Clone)]
pub struct Group {
    /// `name:`.
    pub name: String,
    /// The file it came from (or `preset:openaero`, `alert_rules`).
    pub file: String,
    /// Evaluation interval (ms).
    pub interval_ms: i64,
    /// `limit:`.
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<RuleEntry>,
    /// Time of the last evaluation (ms).
    pub last_eval_ms: Option<i64>,
    /// Seconds the last evaluation took.
    pub eval_seconds: f64,
    /// Whether alert state still has to be restored from the store.
    pub should_restore: bool,
}

/// What evaluating rules needs from the rest of the server.
pub struct EvalContext {
    /// The PromQL engine.
    pub engine: Arc<Engine>,
    /// What it reads.
    pub queryable: Arc<dyn Queryable>,
    /// Where recorded series and `ALERTS` go.
    pub sink: Arc<dyn SampleSink>,
    /// Where alerts go.
    pub notifier: Arc<dyn AlertSink>,
    /// Template expansion.
    pub templater: Arc<dyn Templater>,
    /// `global.external_labels`, added to alerts sent.
    pub external_labels: BTreeMap<String, String>,
    /// The URL Aerowatch is reached at, for generator URLs and templates.
    pub external_url: String,
    /// Firing alerts are re-sent this often (Prometheus' `--rules.alert.resend-delay`, 1m).
    pub resend_delay_ms: i64,
    /// How far back alert state is looked for at start-up (`--rules.alert.for-outage-tolerance`, 1h).
    pub outage_tolerance_ms: i64,
    /// Least time an alert restored as pending waits before firing (`--rules.alert.for-grace-period`, 10m).
    pub for_grace_period_ms: i64,
    /// Counters for `/metrics`.
    pub metrics: Arc<RuleMetrics>,
}

/// Rule-engine counters, exported under Prometheus' names.
#[derive(Debug, Default)]
pub struct RuleMetrics {
    /// `prometheus_rule_evaluations_total`.
    pub evaluations: AtomicU64,
    /// `prometheus_rule_evaluation_failures_total`.
    pub failures: AtomicU64,
    /// Rule output samples the store refused (out of order, duplicates).
    pub samples_refused: AtomicU64,
    /// `prometheus_rule_group_iterations_missed_total`.
    pub iterations_missed: AtomicU64,
    /// `prometheus_rule_group_iterations_total`.
    pub iterations: AtomicU64,
}

/// An alert as it leaves the rule engine (Prometheus' `notifier.Alert`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    /// Labels, external labels included.
    pub labels: Labels,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (ms).
    pub starts_at_ms: i64,
    /// When it resolved, or until when it is valid if still firing (ms).
    pub ends_at_ms: i64,
    /// A link to the expression in the UI.
    pub generator_url: String,
}

/// Receives the alerts to send after each evaluation (the notifier).
pub trait AlertSink: Send + Sync {
    /// Takes a batch; must not block.
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

/// What one evaluation of one rule produced, before it is written.
struct Outcome {
    samples: Vec<(Labels, f64)>,
    alerts: Vec<Alert>,
    error: Option<String>,
}

/// Converts a query result into samples, as Prometheus' `EngineQueryFunc`.
fn as_vector(value: ResultValue) -> Result<Vec<(Labels, f64)>, String> {
    match value {
        ResultValue::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        ResultValue::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

impl Group {
    /// Evaluates every rule at `ts` (ms), writing and notifying as it goes,
    /// so later rules see earlier rules' output. The group's mutex is held
    /// only between queries, never across one.
    pub async fn eval(group: &parking_lot::Mutex<Group>, ts: i64, ctx: &EvalContext) {
        let started = Instant::now();
        let (count, interval_ms) = {
            let g = group.lock();
            (g.rules.len(), g.interval_ms)
        };
        for i in 0..count {
            let Some(prepared) = group.lock().rules.get(i).map(|r| r.prepared.clone()) else {
                break;
            };
            let rule_started = Instant::now();
            let result = ctx
                .engine
                .instant_prepared(ctx.queryable.clone(), &prepared, ts, QueryOptions::default())
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| as_vector(r.value));
            let (outcome, stale) = {
                let mut g = group.lock();
                let limit = g.limit;
                let Some(entry) = g.rules.get_mut(i) else { break };
                let outcome = match result {
                    Err(e) => Outcome {
                        samples: Vec::new(),
                        alerts: Vec::new(),
                        error: Some(e),
                    },
                    Ok(vector) => match &mut entry.rule {
                        Rule::Recording(r) => match r.eval(vector, limit) {
                            Ok(samples) => Outcome {
                                samples,
                                alerts: Vec::new(),
                                error: None,
                            },
                            Err(e) => Outcome {
                                samples: Vec::new(),
                                alerts: Vec::new(),
                                error: Some(e),
                            },
                        },
                        Rule::Alerting(r) => {
                            let res = r.eval(
                                ts,
                                vector,
                                limit,
                                ctx.templater.as_ref(),
                                &ctx.external_labels,
                                &ctx.external_url,
                            );
                            let alerts = r.alerts_to_send(ts, ctx.resend_delay_ms, interval_ms);
                            match res {
                                Ok(samples) => Outcome {
                                    samples,
                                    alerts,
                                    error: None,
                                },
                                Err(e) => Outcome {
                                    samples: Vec::new(),
                                    alerts,
                                    error: Some(e),
                                },
                            }
                        }
                    },
                };
                // Series written last time and not now get a staleness marker,
                // unless the evaluation failed (Prometheus keeps them then).
                let mut stale = Vec::new();
                if outcome.error.is_none() {
                    let current: HashMap<u64, Labels> = outcome
                        .samples
                        .iter()
                        .map(|(l, _)| (l.stable_hash(), l.clone()))
                        .collect();
                    for (h, l) in entry.previous.drain() {
                        if !current.contains_key(&h) {
                            stale.push(l);
                        }
                    }
                    entry.previous = current;
                }
                entry.health = if outcome.error.is_some() {
                    Health::Err
                } else {
                    Health::Ok
                };
                entry.last_error = outcome.error.clone();
                entry.last_eval_ms = Some(ts);
                entry.eval_seconds = rule_started.elapsed().as_secs_f64();
                (outcome, stale)
            };
            if let Some(e) = &outcome.error {
                tracing::warn!(group = %group.lock().name, rule = i, error = %e, "rule evaluation failed");
                ctx.metrics.failures.fetch_add(1, Ordering::Relaxed);
            }
            ctx.metrics.evaluations.fetch_add(1, Ordering::Relaxed);
            write(ctx, ts, &outcome.samples, &stale);
            if !outcome.alerts.is_empty() {
                let expr = group
                    .lock()
                    .rules
                    .get(i)
                    .map(|r| r.rule.expr().to_string())
                    .unwrap_or_default();
                ctx.notifier.send(outgoing(outcome.alerts, &expr, ctx));
            }
        }
        let mut g = group.lock();
        g.last_eval_ms = Some(ts);
        g.eval_seconds = started.elapsed().as_secs_f64();
    }

    /// Restores when pending and firing alerts became active from the
    /// `ALERTS_FOR_STATE` series written before a restart (Prometheus'
    /// `RestoreForState`), so `for` keeps counting across restarts.
    ///
    /// Unlike Prometheus, an alert with a `for` shorter than the grace period
    /// that was firing before the restart is restored too (Prometheus makes
    /// it pending again for its whole `for`, long enough for a receiver to
    /// time the alert out and page again when it returns).
    pub fn restore_for_state(&mut self, ts: i64, ctx: &EvalContext) {
        let querier = ctx.queryable.querier(ts - ctx.outage_tolerance_ms, ts);
        for entry in &mut self.rules {
            let Rule::Alerting(rule) = &mut entry.rule else {
                continue;
            };
            let hold = rule.hold_ms;
            if hold > 0 {
                for a in rule.alerts_mut() {
                    let mut matchers = vec![Matcher::new(MatchType::Equal, model::METRIC_NAME, ALERTS_FOR_STATE)];
                    matchers.extend(
                        a.labels
                            .iter()
                            .map(|l| Matcher::new(MatchType::Equal, l.name.as_str(), l.value.as_str())),
                    );
                    let Ok(matchers) = matchers.into_iter().collect::<Result<Vec<_>, _>>() else {
                        continue;
                    };
                    let found = match querier.select(&matchers) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(alert = %a.labels, error = %e, "cannot read alert state to restore");
                            continue;
                        }
                    };
                    // The series has exactly the alert's labels plus __name__.
                    let Some(last) = found
                        .iter()
                        .filter(|s| s.labels.len() == a.labels.len() + 1)
                        .filter_map(|s| s.samples.iter().rev().find(|x| !model::is_stale_nan(x.v)))
                        .max_by_key(|x| x.t)
                    else {
                        continue;
                    };
                    let down_at = last.t;
                    let restored_active_at = (last.v * 1000.0) as i64;
                    let spent_pending = down_at - restored_active_at;
                    let remaining = hold - spent_pending;
                    let active_at = if remaining <= 0 {
                        // It was firing before the restart: keep when it started.
                        restored_active_at
                    } else if hold < ctx.for_grace_period_ms {
                        // Short `for` and not firing yet: start over, as Prometheus does.
                        continue;
                    } else if remaining < ctx.for_grace_period_ms {
                        ts + ctx.for_grace_period_ms - hold
                    } else {
                        restored_active_at + (ts - down_at)
                    };
                    // The next evaluation moves it to firing once `for` has passed.
                    a.active_at = active_at;
                    tracing::info!(alert = %a.labels, active_at, "restored alert state");
                }
            }
            rule.restored = true;
        }
        self.should_restore = false;
    }
}

/// Appends the rule's output and staleness markers; refusals of single
/// samples (out of order after a clock change, say) are counted, not fatal.
fn write(ctx: &EvalContext, ts: i64, samples: &[(Labels, f64)], stale: &[Labels]) {
    if samples.is_empty() && stale.is_empty() {
        return;
    }
    let mut app = ctx.sink.appender();
    let mut refused = 0u64;
    for (l, v) in samples {
        if let Err(e) = app.append(l, ts, *v) {
            refused += 1;
            if !matches!(e, SampleRefusal::OutOfOrder | SampleRefusal::DuplicateTimestamp) {
                tracing::debug!(series = %l, error = %e, "rule output refused");
            }
        }
    }
    for l in stale {
        let _ = app.append(l, ts, f64::from_bits(model::STALE_NAN_BITS));
    }
    if let Err(e) = app.commit() {
        tracing::warn!(error = %e, "writing rule output failed");
        ctx.metrics.failures.fetch_add(1, Ordering::Relaxed);
    }
    if refused > 0 {
        ctx.metrics.samples_refused.fetch_add(refused, Ordering::Relaxed);
    }
}

/// Alerts as the notifier gets them.
fn outgoing(alerts: Vec<Alert>, expr: &str, ctx: &EvalContext) -> Vec<OutgoingAlert> {
    let generator_url = format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        ctx.external_url.trim_end_matches('/'),
        query_escape(expr)
    );
    alerts
        .into_iter()
        .map(|a| {
            let mut b = a.labels.to_builder();
            for (n, v) in &ctx.external_labels {
                if a.labels.get(n).is_none() {
                    b.set(n.clone(), v.clone());
                }
            }
            OutgoingAlert {
                labels: b.build(),
                annotations: a.annotations,
                starts_at_ms: a.fired_at.unwrap_or(a.active_at),
                ends_at_ms: a.resolved_at.unwrap_or(a.valid_until),
                generator_url: generator_url.clone(),
            }
        })
        .collect()
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("rate(x[5m]) > 0.5"), "rate%28x%5B5m%5D%29+%3E+0.5");
        assert_eq!(query_escape("a{b=\"c\"}"), "a%7Bb%3D%22c%22%7D");
    }
}
