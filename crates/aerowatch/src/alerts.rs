//! Where the rule engine's alerts go (Aerowatch's own Alertmanager, and
//! recovery strategies triggered by an alert), and how recovery verifies
//! and escalates.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rules::{AlertSink, OutgoingAlert};

/// The recovery engine in force (swapped on reload).
pub type RecoveryHandle = Arc<RwLock<Option<recovery::Engine>>>;

/// Hands alerts from the rule engine to the Alertmanager engine, as
/// Prometheus' notifier posts them to an Alertmanager, and firing alerts to
/// the recovery strategies they trigger.
pub struct ToAlertmanager(pub Arc<alertmanager::Alertmanager>, pub RecoveryHandle);

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl AlertSink for ToAlertmanager {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        let now = Utc::now();
        if let Some(engine) = self.1.read().as_ref() {
            // Re-sent every minute while firing; cooldown and "already
            // running" keep a strategy from starting again.
            for a in alerts.iter().filter(|a| a.ends_at_ms > now.timestamp_millis()) {
                if let Some(name) = a.labels.get("alertname") {
                    engine.trigger_alert(name);
                }
            }
        }
        let alerts = alerts
            .into_iter()
            .map(|a| alertmanager::Alert {
                labels: a.labels,
                annotations: a.annotations,
                starts_at: time(a.starts_at_ms),
                ends_at: Some(time(a.ends_at_ms)),
                updated_at: now,
                generator_url: a.generator_url,
                timeout: false,
            })
            .collect();
        self.0.put_alerts(alerts);
    }
}

/// Verifies a recovery by running the check again: up to three probes a
/// second apart, since a restarted service takes a moment to answer.
pub struct CheckVerifier {
    pub checks: Arc<RwLock<Vec<probes::Check>>>,
    pub prober: probes::Prober,
}

impl recovery::Verifier for CheckVerifier {
    fn verify<'a>(&'a self, check: &'a str) -> recovery::BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let Some(c) = self.checks.read().iter().find(|c| c.name == check).cloned() else {
                return Err(format!("check {check:?} is not configured"));
            };
            let mut last = None;
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let r = self.prober.probe(&c).await;
                if r.success {
                    return Ok(true);
                }
                last = r.error;
            }
            tracing::info!(check, error = ?last, "recovery not verified");
            Ok(false)
        })
    }
}

/// Turns recovery outcomes into alerts, routed like any other: a finished
/// recovery as `RecoveryOutcome` (info when recovered, warning when not; it
/// resolves by itself after [`OUTCOME_ALERT_TTL`]) and an open circuit breaker
/// as the critical `RecoveryFailed`.
pub struct AlertEscalator(pub Arc<alertmanager::Alertmanager>);

/// How long a `RecoveryOutcome` alert stays firing: long enough for any
/// group_wait, short enough not to linger on the alerts page.
const OUTCOME_ALERT_TTL: chrono::Duration = chrono::Duration::minutes(5);

impl AlertEscalator {
    fn put(&self, labels: &[(&str, &str)], summary: String, description: &str, ttl: chrono::Duration) {
        let now = Utc::now();
        self.0.put_alerts(vec![alertmanager::Alert {
            labels: model::Labels::from_pairs(labels.iter().copied()),
            annotations: BTreeMap::from([
                ("summary".to_string(), summary),
                ("description".to_string(), description.to_string()),
            ]),
            starts_at: now,
            ends_at: Some(now + ttl),
            updated_at: now,
            generator_url: String::new(),
            timeout: false,
        }]);
    }
}

impl recovery::Escalator for AlertEscalator {
    fn escalate(&self, strategy: &str, message: &str) {
        self.put(
            &[
                ("alertname", "RecoveryFailed"),
                ("strategy", strategy),
                ("severity", "critical"),
            ],
            format!("Automatic recovery {strategy} keeps failing"),
            message,
            chrono::Duration::hours(1),
        );
    }

    fn recovery_finished(&self, strategy: &str, trigger: &str, recovered: bool, message: &str) {
        let (outcome, severity, summary) = if recovered {
            ("recovered", "info", format!("Automatic recovery {strategy} succeeded"))
        } else {
            (
                "failed",
                "warning",
                format!("Automatic recovery {strategy} did not recover {trigger}"),
            )
        };
        self.put(
            &[
                ("alertname", "RecoveryOutcome"),
                ("outcome", outcome),
                ("severity", severity),
                ("strategy", strategy),
                ("trigger", trigger),
            ],
            summary,
            message,
            OUTCOME_ALERT_TTL,
        );
    }
}
