//! PagerDuty (`pagerduty_configs`), Events API v2 and, for `service_key`
//! integrations, v1 — as Alertmanager 0.25's `notify/pagerduty`.
//!
//! # Events API v2
//!
//! `POST url` (default `https://events.pagerduty.com/v2/enqueue`):
//!
//! ```json
//! {"routing_key": "...", "dedup_key": "<sha256 hex of the group key>",
//!  "event_action": "trigger",
//!  "payload": {"summary": "...", "source": "...", "severity": "critical",
//!              "timestamp": "2024-05-01T08:00:00Z", "class": "...",
//!              "component": "...", "group": "...",
//!              "custom_details": {"firing": "...", "num_firing": "1",
//!                                 "num_resolved": "0", "resolved": ""}},
//!  "client": "AlertManager", "client_url": "...", "images": [...], "links": [...]}
//! ```
//!
//! - `dedup_key` is the SHA-256 hex digest of the group key, as
//!   Alertmanager's `notify.Key.Hash()`: the same for every notification of
//!   a group, across restarts, so a `resolve` closes the incident the
//!   `trigger` opened.
//! - `event_action` is `resolve` when every alert of the batch is resolved
//!   (only sent with `send_resolved`, on by default for PagerDuty).
//! - `summary` is the rendered `description`, cut to 1024 characters with
//!   "…"; `source` is `source`, defaulting to `client`.
//! - `severity`: Alertmanager's default is `error`. When the config leaves
//!   it at that default, Aerowatch derives it from the alerts' `severity`
//!   label (common to the batch, else the most severe firing one):
//!   `critical`→`critical`, `high`→`error`, `medium`→`warning`,
//!   `low`→`info`; PagerDuty's own names pass through; anything else stays
//!   `error`. A configured severity template is used as written.
//! - `timestamp` (Aerowatch): the earliest start of the firing alerts, or
//!   for a resolve the latest end.
//! - `custom_details`: the rendered `details` (Alertmanager's defaults:
//!   `firing`, `resolved` — `__text_alert_list`-style instance lists —,
//!   `num_firing`, `num_resolved`). Over 512 KB the details are replaced by
//!   an error note, as Alertmanager does.
//!
//! PagerDuty answers 202 Accepted; 429 and 5xx are retryable, 400 (invalid
//! event) and other statuses permanent.
//!
//! # Events API v1
//!
//! With `service_key`, `{service_key, incident_key, event_type,
//! description, client, client_url, details}` goes to the v1 endpoint (or
//! `url` when it is not the default v2 one); 403 (rate limit) is retryable
//! there too.

use std::collections::BTreeMap;

use alertmanager::config::PagerdutyConfig;
use alertmanager::dispatch::NotificationAlert;
use alertmanager::{AlertStatus, NotifyError};
use serde::Serialize;

use crate::http::{check_status, Request};
use crate::render::{rfc3339_nano, truncate, RenderError, Renderer};
use crate::{permanent, Ctx};

/// PagerDuty's size limit for one event.
pub const MAX_EVENT_SIZE: usize = 512_000;
/// `summary` / `description` limit.
pub const MAX_SUMMARY_RUNES: usize = 1024;
/// Alertmanager's default v2 endpoint (`global.pagerduty_url`).
pub const DEFAULT_V2_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// An Events API v2 event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventV2 {
    /// Integration key.
    pub routing_key: String,
    /// Incident identity.
    pub dedup_key: String,
    /// `trigger` or `resolve`.
    pub event_action: String,
    /// What happened.
    pub payload: Payload,
    /// Sending tool.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    /// Link back to the sending tool.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_url: String,
    /// Images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Links.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The v2 `payload`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payload {
    /// Summary (≤ 1024 characters).
    pub summary: String,
    /// Affected system.
    pub source: String,
    /// `critical`, `error`, `warning` or `info`.
    pub severity: String,
    /// When the problem was detected.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timestamp: String,
    /// Event class.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub class: String,
    /// Component.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub component: String,
    /// Logical group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Free-form details.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_details: BTreeMap<String, String>,
}

/// An image.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Image {
    /// Image URL.
    pub src: String,
    /// Alt text.
    pub alt: String,
    /// Link target.
    pub href: String,
}

/// A link.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Link {
    /// Target.
    pub href: String,
    /// Text.
    pub text: String,
}

/// An Events API v1 event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventV1 {
    /// Service integration key.
    pub service_key: String,
    /// Incident identity.
    pub incident_key: String,
    /// `trigger` or `resolve`.
    pub event_type: String,
    /// Description (≤ 1024 characters).
    pub description: String,
    /// Sending tool (trigger only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    /// Link back (trigger only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_url: String,
    /// Details.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// Alertmanager's `notify.Key.Hash()`: SHA-256 hex of the group key.
pub fn dedup_key(group_key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, group_key.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Aerowatch's severity label → PagerDuty severity.
pub fn map_severity(label: &str) -> Option<&'static str> {
    match label.trim().to_ascii_lowercase().as_str() {
        "critical" => Some("critical"),
        "high" | "error" => Some("error"),
        "medium" | "warning" => Some("warning"),
        "low" | "info" => Some("info"),
        _ => None,
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 4,
        "error" => 3,
        "warning" => 2,
        _ => 1,
    }
}

/// The severity when the config keeps Alertmanager's default.
fn derived_severity(alerts: &[NotificationAlert]) -> Option<&'static str> {
    let firing: Vec<&NotificationAlert> = alerts.iter().filter(|a| a.status == AlertStatus::Firing).collect();
    let pool: Vec<&NotificationAlert> = if firing.is_empty() {
        alerts.iter().collect()
    } else {
        firing
    };
    pool.iter()
        .filter_map(|a| a.alert.labels.get("severity").and_then(map_severity))
        .max_by_key(|s| severity_rank(s))
}

fn event_action(alerts: &[NotificationAlert]) -> &'static str {
    if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        "trigger"
    } else {
        "resolve"
    }
}

fn render_details(cfg: &PagerdutyConfig, r: &Renderer) -> Result<BTreeMap<String, String>, RenderError> {
    cfg.details
        .iter()
        .map(|(k, v)| {
            r.text(v)
                .map(|s| (k.clone(), s))
                .map_err(|e| RenderError(format!("{k:?}: failed to template {v:?}: {e}")))
        })
        .collect()
}

/// Renders the v2 event. The routing key may itself be a template; the
/// resolved secret is passed in.
pub fn build_v2(
    cfg: &PagerdutyConfig,
    r: &Renderer,
    group_key: &str,
    routing_key: &str,
    alerts: &[NotificationAlert],
) -> Result<EventV2, RenderError> {
    let (summary, truncated) = truncate(&r.text(&cfg.description)?, MAX_SUMMARY_RUNES);
    if truncated {
        tracing::debug!(key = group_key, "truncated PagerDuty summary");
    }
    let severity = if cfg.severity.is_empty() || cfg.severity == "error" {
        derived_severity(alerts).unwrap_or("error").to_string()
    } else {
        r.text(&cfg.severity)?
    };
    let source = r.text(cfg.source.as_deref().filter(|s| !s.is_empty()).unwrap_or(&cfg.client))?;
    let action = event_action(alerts);
    let timestamp = if action == "trigger" {
        alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .map(|a| a.alert.starts_at)
            .min()
    } else {
        alerts.iter().filter_map(|a| a.alert.ends_at).max()
    };
    let mut images = Vec::new();
    for i in &cfg.images {
        let img = Image {
            src: r.text(&i.src)?,
            alt: r.text(&i.alt)?,
            href: r.text(&i.href)?,
        };
        if !img.src.is_empty() {
            images.push(img);
        }
    }
    let mut links = Vec::new();
    for l in &cfg.links {
        let link = Link {
            href: r.text(&l.href)?,
            text: r.text(&l.text)?,
        };
        if !link.href.is_empty() {
            links.push(link);
        }
    }
    Ok(EventV2 {
        routing_key: r.text(routing_key)?,
        dedup_key: dedup_key(group_key),
        event_action: action.to_string(),
        payload: Payload {
            summary,
            source,
            severity,
            timestamp: timestamp.map(|t| rfc3339_nano(Some(t))).unwrap_or_default(),
            class: r.text(cfg.class.as_deref().unwrap_or(""))?,
            component: r.text(cfg.component.as_deref().unwrap_or(""))?,
            group: r.text(cfg.group.as_deref().unwrap_or(""))?,
            custom_details: render_details(cfg, r)?,
        },
        client: r.text(&cfg.client)?,
        client_url: r.text(&cfg.client_url)?,
        images,
        links,
    })
}

/// Renders the v1 event.
pub fn build_v1(
    cfg: &PagerdutyConfig,
    r: &Renderer,
    group_key: &str,
    service_key: &str,
    alerts: &[NotificationAlert],
) -> Result<EventV1, RenderError> {
    let action = event_action(alerts);
    let trigger = action == "trigger";
    Ok(EventV1 {
        service_key: r.text(service_key)?,
        incident_key: dedup_key(group_key),
        event_type: action.to_string(),
        description: truncate(&r.text(&cfg.description)?, MAX_SUMMARY_RUNES).0,
        client: if trigger { r.text(&cfg.client)? } else { String::new() },
        client_url: if trigger {
            r.text(&cfg.client_url)?
        } else {
            String::new()
        },
        details: render_details(cfg, r)?,
    })
}

fn oversize_note() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "error".to_string(),
        "Custom details have been removed because the original event exceeds the maximum size of 512kB".to_string(),
    )])
}

/// The v2 body, with the details dropped when the event is too large.
pub fn encode_v2(event: &mut EventV2) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(&event)?;
    if body.len() <= MAX_EVENT_SIZE {
        return Ok(body);
    }
    tracing::warn!(size = body.len(), limit = MAX_EVENT_SIZE, "truncated PagerDuty details");
    event.payload.custom_details = oversize_note();
    serde_json::to_vec(&event)
}

/// The v1 body, with the details dropped when the event is too large.
pub fn encode_v1(event: &mut EventV1) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(&event)?;
    if body.len() <= MAX_EVENT_SIZE {
        return Ok(body);
    }
    tracing::warn!(size = body.len(), limit = MAX_EVENT_SIZE, "truncated PagerDuty details");
    event.details = oversize_note();
    serde_json::to_vec(&event)
}

pub(crate) async fn send(ctx: &Ctx<'_>, cfg: &PagerdutyConfig) -> Result<(), NotifyError> {
    let data = ctx.data(&ctx.alerts);
    let r = ctx.renderer(&data);
    let template_err = |e: RenderError| permanent(format!("failed to template PagerDuty message: {e}"));
    let v1_key = match (&cfg.service_key, &cfg.service_key_file) {
        (Some(k), _) => Some(k.expose().to_string()),
        (None, Some(f)) => Some(ctx.read_secret_file("PagerDuty service_key", f).await?),
        (None, None) => None,
    };
    let configured_url = cfg.url.as_deref().filter(|u| !u.is_empty()).unwrap_or(DEFAULT_V2_URL);
    // As Alertmanager: a service key selects v1 even if a routing key is set.
    let (url, body, retry_codes): (String, Vec<u8>, &[u16]) = if let Some(key) = &v1_key {
        let mut ev = build_v1(cfg, &r, &ctx.n.group_key, key, &ctx.alerts).map_err(template_err)?;
        if ev.service_key.is_empty() {
            return Err(permanent("service key cannot be empty"));
        }
        let url = if configured_url == DEFAULT_V2_URL {
            ctx.inner.pagerduty_v1_url.clone()
        } else {
            configured_url.to_string()
        };
        let body = encode_v1(&mut ev).map_err(|e| permanent(format!("encoding PagerDuty event: {e}")))?;
        // v1 signals rate limiting with 403.
        (url, body, &[403, 429])
    } else {
        let key = match (&cfg.routing_key, &cfg.routing_key_file) {
            (Some(k), _) => k.expose().to_string(),
            (None, Some(f)) => ctx.read_secret_file("PagerDuty routing_key", f).await?,
            (None, None) => String::new(),
        };
        let mut ev = build_v2(cfg, &r, &ctx.n.group_key, &key, &ctx.alerts).map_err(template_err)?;
        if ev.routing_key.is_empty() {
            return Err(permanent("routing key cannot be empty"));
        }
        let body = encode_v2(&mut ev).map_err(|e| permanent(format!("encoding PagerDuty event: {e}")))?;
        (configured_url.to_string(), body, &[429])
    };
    let reply = ctx
        .inner
        .http
        .post_json(
            ctx,
            Request {
                url: &url,
                body,
                http_config: cfg.http_config.as_ref(),
                timeout: ctx.n.timeout,
                bearer: None,
            },
        )
        .await?;
    check_status(&reply, retry_codes).map_err(|mut e| {
        if reply.status == 400 {
            if let Some(detail) = error_details(&reply.body) {
                e.message = format!("unexpected status code 400: {detail}");
            }
        }
        e
    })
}

/// PagerDuty's 400 body: `{"status":"invalid event","message":"Event object is invalid","errors":["..."]}`.
fn error_details(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    let b: Body = serde_json::from_str(body).ok()?;
    Some(crate::http::truncate_body(&format!(
        "{}: {}",
        b.message,
        b.errors.join(",")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_key_is_sha256_of_the_group_key() {
        assert_eq!(
            dedup_key(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            dedup_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn severities_map_to_pagerduty() {
        assert_eq!(map_severity("critical"), Some("critical"));
        assert_eq!(map_severity("high"), Some("error"));
        assert_eq!(map_severity("medium"), Some("warning"));
        assert_eq!(map_severity("Low"), Some("info"));
        assert_eq!(map_severity("warning"), Some("warning"));
        assert_eq!(map_severity("page"), None);
    }

    #[test]
    fn pagerduty_400_details_are_quoted() {
        let d = error_details(
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}"#,
        );
        assert_eq!(
            d.as_deref(),
            Some("Event object is invalid: Length of 'routing_key' is incorrect")
        );
        assert_eq!(error_details("nope"), None);
    }
}
