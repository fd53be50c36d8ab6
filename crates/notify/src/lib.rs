//! Delivery of Alertmanager notifications: the [`alertmanager::Notifier`]
//! the dispatcher hands its batches to, plus a delivery history for the API
//! and `/metrics`.
//!
//! # Wiring
//!
//! ```no_run
//! # async fn wire(am: std::sync::Arc<alertmanager::Alertmanager>) {
//! use std::sync::Arc;
//! use notify::{Deliverer, DelivererOptions};
//!
//! let deliverer = Deliverer::new(DelivererOptions {
//!     external_url: "https://aerowatch.example.com".into(),
//!     ..DelivererOptions::default()
//! });
//! // Keep a clone for `/metrics` (`write_metrics`) and the history endpoint.
//! let notifier: Arc<dyn alertmanager::Notifier> = Arc::new(deliverer.clone());
//! am.run(notifier, std::future::pending::<()>()).await;
//! # }
//! ```
//!
//! The dispatcher decides *what* to send and retries: it calls
//! [`Deliverer::notify`](alertmanager::Notifier::notify) once per attempt,
//! retries errors marked `retryable` with backoff and gives up at the
//! notification's timeout. This crate decides *how* to send one attempt and
//! classifies failures the way Alertmanager's `notify.Retrier` does, widened
//! as Aerowatch documents: connection errors, timeouts, HTTP 5xx and 429 are
//! retryable; other HTTP 4xx, template errors and bad configuration are not.
//!
//! # Integrations
//!
//! | config | module | what is sent |
//! | --- | --- | --- |
//! | `slack_configs` | [`slack`] | incoming-webhook JSON as Alertmanager 0.25 (attachment) plus Block Kit `blocks`; with `token` a `chat.postMessage` call |
//! | `pagerduty_configs` | [`pagerduty`] | Events API v2 `trigger`/`resolve` with `dedup_key` = SHA-256 of the group key; v1 for `service_key` |
//! | `email_configs` | [`email`] | SMTP (lettre), text and/or HTML body, STARTTLS as `require_tls` says |
//! | `webhook_configs` | [`webhook`] | Alertmanager's webhook payload version 4 |
//!
//! Every text field of an integration config is a Go template executed over
//! Alertmanager's template data ([`render`]), with Alertmanager's
//! `default.tmpl` plus Aerowatch's `email.default.html`.
//!
//! # Secrets and I/O
//!
//! `*_file` settings are read with `tokio::fs` on every delivery, so a
//! rotated secret is used by the next notification. Relative paths resolve
//! against [`DelivererOptions::config_dir`]. Every HTTP request carries
//! `User-Agent: Aerowatch/<version>` and the notification's timeout;
//! redirects are followed only to http(s) URLs (and not at all with
//! `follow_redirects: false`). Error messages never contain the target URL
//! (Slack webhook URLs are credentials) and quote at most 512 characters of
//! a response body.
//!
//! # History
//!
//! [`history::History`] keeps the last [`DEFAULT_HISTORY_CAPACITY`]
//! deliveries (one record per notification, updated per attempt) and the
//! counters behind [`Deliverer::write_metrics`].
#![warn(missing_docs)]

pub mod email;
pub mod history;
mod http;
pub mod pagerduty;
pub mod render;
pub mod slack;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alertmanager::config::IntegrationConfig;
use alertmanager::dispatch::{Notification, NotificationAlert, NotifyFuture};
use alertmanager::{AlertStatus, Notifier, NotifyError};
use gotemplate::TemplateSet;
use parking_lot::RwLock;

pub use history::{DeliveryRecord, History, Outcome};
pub use render::{default_templates, load_templates, TemplateLoadError};

/// How many deliveries the history keeps by default.
pub const DEFAULT_HISTORY_CAPACITY: usize = 1000;

/// Slack's Web API method used when a bot token is configured.
pub const SLACK_POST_MESSAGE_URL: &str = "https://slack.com/api/chat.postMessage";

/// PagerDuty's Events API v1 endpoint, used for `service_key` integrations.
pub const PAGERDUTY_V1_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("Aerowatch/", env!("CARGO_PKG_VERSION"));

/// How a [`Deliverer`] is set up.
#[derive(Clone)]
pub struct DelivererOptions {
    /// Aerowatch's external URL (`.ExternalURL` in templates; links back to
    /// the alert list). No trailing slash, as Alertmanager's `--web.external-url`.
    pub external_url: String,
    /// The notification templates: [`default_templates`] (the default), or
    /// [`load_templates`] with alertmanager.yml's `templates:` globs.
    pub templates: TemplateSet,
    /// Deliveries kept in the history.
    pub history_capacity: usize,
    /// Directory that relative `*_file` paths are relative to (the config
    /// file's directory, as Alertmanager resolves them).
    pub config_dir: Option<PathBuf>,
    /// Endpoint for Slack integrations with a bot `token` and no `api_url`.
    pub slack_post_message_url: String,
    /// Endpoint for PagerDuty `service_key` (Events API v1) integrations
    /// whose `url` is the default v2 endpoint.
    pub pagerduty_v1_url: String,
}

impl Default for DelivererOptions {
    fn default() -> Self {
        DelivererOptions {
            external_url: String::new(),
            templates: default_templates(),
            history_capacity: DEFAULT_HISTORY_CAPACITY,
            config_dir: None,
            slack_post_message_url: SLACK_POST_MESSAGE_URL.into(),
            pagerduty_v1_url: PAGERDUTY_V1_URL.into(),
        }
    }
}

impl std::fmt::Debug for DelivererOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelivererOptions")
            .field("external_url", &self.external_url)
            .field("history_capacity", &self.history_capacity)
            .field("config_dir", &self.config_dir)
            .finish_non_exhaustive()
    }
}

/// Delivers notifications through their integrations and records them.
/// Cheap to clone; clones share templates, HTTP clients and history.
#[derive(Clone)]
pub struct Deliverer {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) external_url: RwLock<String>,
    pub(crate) templates: RwLock<Arc<TemplateSet>>,
    pub(crate) config_dir: Option<PathBuf>,
    pub(crate) slack_post_message_url: String,
    pub(crate) pagerduty_v1_url: String,
    pub(crate) http: http::Http,
    pub(crate) history: History,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("external_url", &*self.inner.external_url.read())
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer with `opts`.
    pub fn new(opts: DelivererOptions) -> Deliverer {
        Deliverer {
            inner: Arc::new(Inner {
                external_url: RwLock::new(opts.external_url),
                templates: RwLock::new(Arc::new(opts.templates)),
                config_dir: opts.config_dir,
                slack_post_message_url: opts.slack_post_message_url,
                pagerduty_v1_url: opts.pagerduty_v1_url,
                http: http::Http::new(),
                history: History::new(opts.history_capacity),
            }),
        }
    }

    /// Replaces the templates (on config reload); deliveries already under
    /// way finish with the old ones.
    pub fn set_templates(&self, templates: TemplateSet) {
        *self.inner.templates.write() = Arc::new(templates);
    }

    /// Replaces the external URL.
    pub fn set_external_url(&self, url: impl Into<String>) {
        *self.inner.external_url.write() = url.into();
    }

    /// Creates zero-valued per-receiver counters for every integration of
    /// `config` (call at startup and reload), so dashboards see the series
    /// before the first notification.
    pub fn init_metrics(&self, config: &alertmanager::Config) {
        let integrations = alertmanager::dispatch::build_integrations(config);
        let pairs: Vec<(&str, &str)> = integrations
            .iter()
            .flat_map(|(receiver, list)| list.iter().map(move |i| (receiver.as_str(), i.config.name())))
            .collect();
        self.inner.history.init_receivers(pairs);
    }

    /// The delivery history, newest first.
    pub fn history(&self) -> Vec<DeliveryRecord> {
        self.inner.history.records()
    }

    /// The history itself (counters, records).
    pub fn history_handle(&self) -> &History {
        &self.inner.history
    }

    /// Appends the notification metric families in the Prometheus text
    /// format: Alertmanager's `alertmanager_notifications_total`,
    /// `alertmanager_notifications_failed_total`,
    /// `alertmanager_notification_requests_total`,
    /// `alertmanager_notification_requests_failed_total` and
    /// `alertmanager_notification_latency_seconds` (by `integration`), and
    /// Aerowatch's `aerowatch_notifications_total` /
    /// `aerowatch_notifications_failed_total` (by `receiver`, `integration`).
    pub fn write_metrics(&self, out: &mut String) {
        self.inner.history.write_metrics(out);
    }

    /// One delivery attempt without touching the history (what
    /// [`Notifier::notify`] does, minus the bookkeeping).
    pub async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        let work = self.inner.deliver(n);
        match tokio::time::timeout(n.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(retryable(format!("delivery timed out after {}", humantime(n.timeout)))),
        }
    }
}

impl Notifier for Deliverer {
    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            // The guard records a timeout if the dispatcher drops this
            // attempt at its deadline.
            let attempt = self.inner.history.begin(n);
            let result = self.deliver(n).await;
            attempt.finish(&result);
            result
        })
    }
}

impl Inner {
    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        let Some(ctx) = Ctx::new(self, n) else {
            return Ok(());
        };
        match &n.integration.config {
            IntegrationConfig::Slack(c) => slack::send(&ctx, c).await,
            IntegrationConfig::Pagerduty(c) => pagerduty::send(&ctx, c).await,
            IntegrationConfig::Email(c) => email::send(&ctx, c).await,
            IntegrationConfig::Webhook(c) => webhook::send(&ctx, c).await,
        }
    }

    pub(crate) fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        match &self.config_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// What one delivery attempt works with.
pub(crate) struct Ctx<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) n: &'a Notification,
    /// The alerts to send: without resolved ones when the integration does
    /// not want them. The dispatcher already filters those; doing it again
    /// is idempotent and keeps direct callers honest.
    pub(crate) alerts: Vec<NotificationAlert>,
    pub(crate) templates: Arc<TemplateSet>,
    pub(crate) external_url: String,
}

impl<'a> Ctx<'a> {
    /// `None` when there is nothing to send (only resolved alerts for an
    /// integration without `send_resolved`), as Alertmanager's RetryStage.
    fn new(inner: &'a Inner, n: &'a Notification) -> Option<Ctx<'a>> {
        let alerts: Vec<NotificationAlert> = if n.integration.send_resolved() {
            n.alerts.clone()
        } else {
            n.alerts
                .iter()
                .filter(|a| a.status == AlertStatus::Firing)
                .cloned()
                .collect()
        };
        if alerts.is_empty() {
            return None;
        }
        Some(Ctx {
            inner,
            n,
            alerts,
            templates: inner.templates.read().clone(),
            external_url: inner.external_url.read().clone(),
        })
    }

    /// Template data over `alerts` (a subset for webhook `max_alerts`).
    pub(crate) fn data(&self, alerts: &[NotificationAlert]) -> gotemplate::AlertmanagerData {
        render::template_data(self.n, alerts, &self.external_url)
    }

    pub(crate) fn renderer(&self, data: &gotemplate::AlertmanagerData) -> render::Renderer {
        render::Renderer::new(self.templates.clone(), data)
    }

    /// Reads a `*_file` secret (trimmed, as Alertmanager does).
    pub(crate) async fn read_secret_file(&self, what: &str, path: &str) -> Result<String, NotifyError> {
        let full = self.inner.resolve_path(path);
        match tokio::fs::read_to_string(&full).await {
            Ok(s) => Ok(s.trim().to_string()),
            Err(e) => Err(permanent(format!("reading {what} file {}: {e}", full.display()))),
        }
    }
}

pub(crate) fn retryable(message: impl Into<String>) -> NotifyError {
    NotifyError {
        message: message.into(),
        retryable: true,
    }
}

pub(crate) fn permanent(message: impl Into<String>) -> NotifyError {
    NotifyError {
        message: message.into(),
        retryable: false,
    }
}

/// `10s`, `1m30s`, `250ms`: how Go prints durations in errors.
pub(crate) fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    let frac = d.subsec_millis();
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac > 0 {
        let f = format!("{:03}", frac);
        out.push_str(&format!("{sec}.{}s", f.trim_end_matches('0')));
    } else {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(humantime(Duration::from_millis(250)), "250ms");
        assert_eq!(humantime(Duration::from_secs(10)), "10s");
        assert_eq!(humantime(Duration::from_secs(90)), "1m30s");
        assert_eq!(humantime(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humantime(Duration::from_secs(3600)), "1h0m0s");
    }
}
