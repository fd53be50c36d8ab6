//! Webhooks (`webhook_configs`): Alertmanager's webhook payload, version 4.
//!
//! ```json
//! {"receiver": "team-db", "status": "firing",
//!  "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
//!              "startsAt": "2024-05-01T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
//!              "generatorURL": "...", "fingerprint": "1a2b3c4d5e6f7081"}],
//!  "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
//!  "externalURL": "...", "version": "4",
//!  "groupKey": "{}/{team=\"db\"}:{alertname=\"Down\"}", "truncatedAlerts": 0}
//! ```
//!
//! Keys appear in Go's order (template data fields, then `version`,
//! `groupKey`, `truncatedAlerts`); maps are sorted by key as Go's encoder
//! sorts them; times are Go's RFC 3339 with nanoseconds, the zero time for a
//! firing alert's `endsAt`. `receiver` is regex-quoted (`regexp.QuoteMeta`)
//! exactly as Alertmanager's template data has it. With `max_alerts` > 0
//! only the first `max_alerts` alerts are sent and `truncatedAlerts` says
//! how many were left out; status and common labels are computed over the
//! alerts sent, as Alertmanager does.
//!
//! 2xx succeeds; 5xx and 429 are retryable; other statuses permanent. The
//! request timeout is the config's `timeout` when set and shorter than the
//! notification's.

use std::collections::BTreeMap;
use std::time::Duration;

use alertmanager::config::WebhookConfig;
use alertmanager::dispatch::NotificationAlert;
use alertmanager::NotifyError;
use gotemplate::AlertmanagerData;
use serde::Serialize;

use crate::http::{check_status, Request};
use crate::render::rfc3339_nano;
use crate::{permanent, Ctx};

/// The payload.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Receiver name (regex-quoted, as Alertmanager).
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alerts sent.
    pub alerts: Vec<WebhookAlert>,
    /// Group labels.
    pub group_labels: BTreeMap<String, String>,
    /// Labels common to the alerts sent.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to the alerts sent.
    pub common_annotations: BTreeMap<String, String>,
    /// Aerowatch's external URL.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// Always `"4"`.
    pub version: String,
    /// The group key.
    pub group_key: String,
    /// Alerts left out by `max_alerts`.
    pub truncated_alerts: u64,
}

/// One alert of the payload.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start.
    pub starts_at: String,
    /// End; `0001-01-01T00:00:00Z` while firing.
    pub ends_at: String,
    /// Source link.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Fingerprint (16 hex digits).
    pub fingerprint: String,
}

/// Alertmanager's `truncateAlerts`.
pub fn truncate_alerts(max_alerts: u64, alerts: &[NotificationAlert]) -> (&[NotificationAlert], u64) {
    let n = alerts.len() as u64;
    if max_alerts != 0 && n > max_alerts {
        let keep = usize::try_from(max_alerts).unwrap_or(alerts.len());
        (&alerts[..keep], n - max_alerts)
    } else {
        (alerts, 0)
    }
}

/// Builds the payload from template data over the alerts to send.
pub fn build_message(
    data: &AlertmanagerData,
    alerts: &[NotificationAlert],
    group_key: &str,
    truncated: u64,
) -> Message {
    Message {
        receiver: data.receiver.clone(),
        status: data.status.clone(),
        alerts: data
            .alerts
            .iter()
            .zip(alerts)
            .map(|(d, a)| WebhookAlert {
                status: d.status.clone(),
                labels: d.labels.clone(),
                annotations: d.annotations.clone(),
                starts_at: rfc3339_nano(Some(a.alert.starts_at)),
                ends_at: rfc3339_nano(a.alert.ends_at),
                generator_url: d.generator_url.clone(),
                fingerprint: d.fingerprint.clone(),
            })
            .collect(),
        group_labels: data.group_labels.clone(),
        common_labels: data.common_labels.clone(),
        common_annotations: data.common_annotations.clone(),
        external_url: data.external_url.clone(),
        version: "4".to_string(),
        group_key: group_key.to_string(),
        truncated_alerts: truncated,
    }
}

pub(crate) async fn send(ctx: &Ctx<'_>, cfg: &WebhookConfig) -> Result<(), NotifyError> {
    let (alerts, truncated) = truncate_alerts(cfg.max_alerts, &ctx.alerts);
    let data = ctx.data(alerts);
    let msg = build_message(&data, alerts, &ctx.n.group_key, truncated);
    let body = serde_json::to_vec(&msg).map_err(|e| permanent(format!("encoding webhook message: {e}")))?;
    let url = match (&cfg.url, &cfg.url_file) {
        (Some(u), _) => u.expose().trim().to_string(),
        (None, Some(f)) => ctx.read_secret_file("webhook url", f).await?,
        (None, None) => return Err(permanent("webhook has neither url nor url_file")),
    };
    let mut timeout = ctx.n.timeout;
    if let Some(t) = cfg.timeout.map(|t| t.get()).filter(|t| !t.is_zero()) {
        timeout = timeout.min(t);
    }
    let reply = ctx
        .inner
        .http
        .post_json(
            ctx,
            Request {
                url: &url,
                body,
                http_config: cfg.http_config.as_ref(),
                timeout: timeout.max(Duration::from_millis(1)),
                bearer: None,
            },
        )
        .await?;
    check_status(&reply, &[429])
}
