//! Where the rule engine's alerts go: into Aerowatch's own Alertmanager.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rules::{AlertSink, OutgoingAlert};

/// Hands alerts from the rule engine to the Alertmanager engine, as
/// Prometheus' notifier posts them to an Alertmanager.
pub struct ToAlertmanager(pub Arc<alertmanager::Alertmanager>);

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl AlertSink for ToAlertmanager {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        let now = Utc::now();
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
