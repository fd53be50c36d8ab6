//! Health checks ("probes") for Aerowatch: HTTP, TCP and command checks run on
//! their own intervals, with results written as blackbox_exporter-style samples
//! and a thresholded up/down state per check.
//!
//! How the server uses it:
//!
//! 1. Parse and validate the `checks:` section: [`ProbesConfig::from_yaml`] (or
//!    deserialize [`ProbesConfig`] as part of a larger file), then
//!    [`ProbesConfig::validate`] → `Vec<`[`Check`]`>` or every problem at once.
//! 2. [`Scheduler::start`] with the checks and an `Arc<dyn SampleSink>`; it spawns one
//!    task per check on the current tokio runtime.
//! 3. Query [`Scheduler::checks`] (API listing), [`Scheduler::health`] (`/api/health`),
//!    [`Scheduler::events`] / [`Scheduler::subscribe`] (state changes).
//! 4. On config reload, [`Scheduler::reload`]; unchanged checks keep their state.
//!
//! Samples per probe, stamped with the probe's end time and labelled
//! `check="<name>"`, `kind="http|tcp|command"`: `probe_success`,
//! `probe_duration_seconds`, `probe_http_status_code` (http only, 0 without a
//! response), `probe_ssl_earliest_cert_expiry` (https, unix seconds) and
//! `aerowatch_check_up` (thresholded state; absent while unknown).
#![warn(missing_docs)]

mod command;
pub mod config;
mod dns;
mod http;
mod metrics;
mod postgres;
mod redis;
mod scheduler;
mod state;
mod tcp;
mod tls;

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

pub use command::MAX_OUTPUT_BYTES;
pub use config::{Check, CheckConfig, ConfigError, DnsCheck, DnsConfig, Kind, ProbesConfig, RedisCheck, RedisConfig};
pub use http::MAX_BODY_BYTES;
pub use scheduler::{jitter_offset, CheckStatus, HealthEntry, Scheduler, SchedulerOptions, UptimeRatios};
pub use state::{State, StateEvent};
pub use tls::TlsTrust;

/// Errors setting probing up.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("building HTTP client: {0}")]
    HttpClient(String),
}

/// The outcome of one probe (all its attempts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// Whether the last attempt passed every assertion.
    pub success: bool,
    /// Wall time of the whole probe, retries included.
    #[serde(rename = "duration_seconds", serialize_with = "as_secs_f64")]
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<String>,
    /// End time, ms since the epoch; the samples' timestamp.
    pub at: i64,
    /// Response status of the last attempt (http checks that got a response).
    pub http_status: Option<u16>,
    /// Earliest `notAfter` (unix seconds) of the certificate chain last seen
    /// for an https check's host; set even when verification failed.
    pub tls_cert_expiry: Option<i64>,
}

fn as_secs_f64<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

const KILL_GRACE: Duration = Duration::from_secs(1);

/// One attempt inside a probe; success is the absence of an error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attempt {
    pub error: Option<String>,
    pub http_status: Option<u16>,
    pub tls_cert_expiry: Option<i64>,
}

impl Attempt {
    pub(crate) fn ok() -> Self {
        Attempt::default()
    }
    pub(crate) fn failed(error: String) -> Self {
        Attempt {
            error: Some(error),
            ..Attempt::default()
        }
    }
}

/// Runs single probes. Cheap to share: the HTTP clients pool connections.
#[derive(Debug, Clone)]
pub struct Prober {
    clients: http::HttpClients,
}

impl Prober {
    /// Builds the HTTP clients.
    pub fn new() -> Result<Self, ProbeError> {
        let clients = http::HttpClients::new().map_err(ProbeError::HttpClient)?;
        Ok(Prober { clients })
    }

    /// Probes `check` once: up to `1 + retries` attempts, all inside `check.timeout`.
    /// Retries share the timeout rather than each getting one, so a probe never
    /// outlives its interval.
    pub async fn probe(&self, check: &Check) -> ProbeResult {
        let start = Instant::now();
        let deadline = start + check.timeout;
        // Commands enforce the deadline themselves so they can kill and reap the
        // child; the outer bound only catches a misbehaving kill.
        let bound = match check.kind {
            Kind::Command(_) => deadline + KILL_GRACE,
            _ => deadline,
        };
        let mut attempt = Attempt::failed("not attempted".to_string());
        for _ in 0..=check.retries {
            attempt = match tokio::time::timeout_at(bound, self.probe_once(&check.kind, deadline)).await {
                Ok(a) => a,
                Err(_) => Attempt::failed(format!("timed out after {}ms", check.timeout.as_millis())),
            };
            if attempt.error.is_none() || Instant::now() >= deadline {
                break;
            }
        }
        ProbeResult {
            success: attempt.error.is_none(),
            duration: start.elapsed(),
            error: attempt.error,
            at: model::now_millis(),
            http_status: attempt.http_status,
            tls_cert_expiry: attempt.tls_cert_expiry,
        }
    }

    async fn probe_once(&self, kind: &Kind, deadline: Instant) -> Attempt {
        match kind {
            Kind::Http(h) => http::probe(&self.clients, h).await,
            Kind::Tcp(t) => tcp::probe(t).await,
            Kind::Command(c) => command::probe(c, deadline).await,
            Kind::Redis(r) => redis::probe(r).await,
            Kind::Dns(d) => dns::probe(d).await,
            Kind::Postgres(c) => postgres::probe(c).await,
        }
    }
}
