//! `server`: the HTTP surface of Aerowatch — the Prometheus-compatible APIs,
//! ingest endpoints, health, self-metrics and authentication.
//!
//! Handlers take read-only views through [`AppState`]; the binary owns the
//! engines and wires them in. Every response error goes through
//! [`api::ApiError`], which maps failures onto Prometheus's error types.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod health;
pub mod metrics;
mod sink;
pub mod web;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ingest::remote::WriteLimits;
use ingest::sink::SampleSink;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

pub use api::query::{MetadataSource, NoMetadata, RuntimeStatus};
/// The PromQL engine the query API runs, for the binary to configure.
pub use promql;
pub use sink::TsdbSink;

/// Version facts for `/api/v1/status/buildinfo` and `/api/health`.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Aerowatch's version.
    pub version: String,
    /// Source revision, if known.
    pub revision: String,
    /// The Rust compiler it was built with.
    pub rust_version: String,
}

/// What the targets API shows; implemented by the scrape manager's adapter.
pub trait TargetsSource: Send + Sync {
    /// Active targets as Prometheus renders them.
    fn active_targets(&self) -> Vec<serde_json::Value>;
    /// Targets dropped by relabelling.
    fn dropped_targets(&self) -> Vec<serde_json::Value>;
}

/// No scrape manager (tests).
pub struct NoTargets;
impl TargetsSource for NoTargets {
    fn active_targets(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
    fn dropped_targets(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
}

/// A reload request: the reply says whether the new config took effect.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Limits on request bodies, per kind of endpoint.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Remote write bodies (compressed).
    pub remote_write_bytes: usize,
    /// Every other endpoint.
    pub default_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            remote_write_bytes: 32 << 20,
            default_bytes: 4 << 20,
        }
    }
}

/// Everything handlers can see.
pub struct AppState {
    /// The series store.
    pub db: tsdb::Db,
    /// How the store was opened (replay figures for metrics).
    pub open_report: tsdb::OpenReport,
    /// Where ingest paths append.
    pub sink: Arc<dyn SampleSink>,
    /// Scrape targets for the targets API.
    pub targets: Arc<dyn TargetsSource>,
    /// Remote write limits.
    pub write_limits: WriteLimits,
    /// Most samples one remote read request may load.
    pub remote_read_sample_limit: usize,
    /// Request body limits.
    pub body_limits: BodyLimits,
    /// Self-metrics.
    pub metrics: metrics::SelfMetrics,
    /// Version facts.
    pub build: BuildInfo,
    /// The `environment` reported by `/api/health`.
    pub environment: String,
    /// Credentials, swapped on reload.
    pub auth: RwLock<Arc<auth::Authenticator>>,
    /// Set once start-up is complete.
    pub ready: AtomicBool,
    /// Pushed groups (None: the push endpoint answers 404).
    pub push: Option<Arc<ingest::push::PushStore>>,
    /// Where `POST /-/reload` sends its request (None: reload unsupported).
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// The PromQL engine, with its limits (timeout, samples, concurrency).
    pub engine: Arc<promql::Engine>,
    /// Scrape metadata for `/api/v1/metadata`.
    pub metadata: Arc<dyn MetadataSource>,
    /// Start time, flags and running config for `/api/v1/status/*`.
    pub runtime: RuntimeStatus,
    /// The rule engine (None: no rules API data).
    pub rules: Option<Arc<rules::Manager>>,
    /// Alertmanager (None: `/api/v2` answers 404).
    pub alertmanager: Option<Arc<alertmanager::Alertmanager>>,
    /// Notification delivery: history for `/api/v1/notifications`, counters for `/metrics`.
    pub deliverer: Option<notify::Deliverer>,
    /// Health checks of the monitored system (`/api/health`, `/api/v1/checks`).
    pub checks: Option<Arc<probes::Scheduler>>,
    /// The configured SLOs, for `/api/v1/slos` (swapped on reload).
    pub slos: RwLock<Vec<rules::slo::SloConfig>>,
    /// The recovery engine (swapped on reload), for `/api/v1/recovery/attempts` and `/metrics`.
    pub recovery: Arc<RwLock<Option<recovery::Engine>>>,
    /// Dashboards for the web UI: built-in, configured files, imported.
    pub dashboards: Arc<ui::DashboardStore>,
    pub(crate) wal_failures_seen: AtomicU64,
}

impl AppState {
    /// A state with defaults for the optional parts.
    pub fn new(db: tsdb::Db, open_report: tsdb::OpenReport, build: BuildInfo) -> Result<AppState, prometheus::Error> {
        let sink: Arc<dyn SampleSink> = Arc::new(TsdbSink::new(db.clone(), None));
        Ok(AppState {
            db,
            open_report,
            sink,
            targets: Arc::new(NoTargets),
            write_limits: WriteLimits::default(),
            remote_read_sample_limit: 50_000_000,
            body_limits: BodyLimits::default(),
            metrics: metrics::SelfMetrics::new()?,
            build,
            environment: "production".into(),
            auth: RwLock::new(Arc::new(auth::Authenticator::new(auth::AuthConfig::default()))),
            ready: AtomicBool::new(false),
            push: None,
            reload: None,
            engine: Arc::new(promql::Engine::new(promql::EngineOptions::default())),
            metadata: Arc::new(NoMetadata),
            runtime: RuntimeStatus::default(),
            rules: None,
            alertmanager: None,
            deliverer: None,
            checks: None,
            slos: RwLock::new(Vec::new()),
            recovery: Arc::new(RwLock::new(None)),
            dashboards: Arc::new(ui::DashboardStore::open(None).map_err(|e| prometheus::Error::Msg(e.to_string()))?),
            wal_failures_seen: AtomicU64::new(0),
        })
    }
}

async fn reload(State(st): State<Arc<AppState>>) -> Response {
    let Some(tx) = &st.reload else {
        return (StatusCode::NOT_FOUND, "reload is not enabled\n").into_response();
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx.send(reply_tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match reply_rx.await {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

/// The full router.
pub fn router(state: Arc<AppState>) -> Router {
    use api::{alertmanager as am, query, read, remote, rules, status};
    let remote_write = Router::new()
        .route("/api/v1/write", post(remote::write))
        .layer(DefaultBodyLimit::max(state.body_limits.remote_write_bytes));
    Router::new()
        .route("/-/healthy", get(health::healthy).head(health::healthy))
        .route("/-/ready", get(health::ready).head(health::ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/api/health", get(health::api_health))
        .route("/metrics", get(metrics::handler))
        .route("/api/v1/query", get(query::query).post(query::query))
        .route("/api/v1/query_range", get(query::query_range).post(query::query_range))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::query_exemplars).post(query::query_exemplars),
        )
        .route("/api/v1/metadata", get(query::metadata))
        .route("/api/v1/status/config", get(query::config))
        .route("/api/v1/status/flags", get(query::flags))
        .route("/api/v1/status/runtimeinfo", get(query::runtimeinfo))
        .route("/api/v1/series", get(read::series).post(read::series))
        .route("/api/v1/labels", get(read::label_names).post(read::label_names))
        .route("/api/v1/label/{name}/values", get(read::label_values))
        .route("/api/v1/targets", get(status::targets))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v2/alerts", get(am::get_alerts).post(am::post_alerts))
        .route("/api/v2/alerts/groups", get(am::get_alert_groups))
        .route("/api/v2/silences", get(am::get_silences).post(am::post_silence))
        .route("/api/v2/silence/{id}", get(am::get_silence).delete(am::delete_silence))
        .route("/api/v2/status", get(am::status))
        .route("/api/v2/receivers", get(am::receivers))
        .route("/api/v1/notifications", get(am::notifications))
        .route("/api/v1/checks", get(health::checks))
        .route("/api/v1/slos", get(rules::slos))
        .route("/api/v1/recovery/attempts", get(health::recovery_attempts))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .route("/api/v1/read", post(remote::read))
        .route(
            "/api/v1/dashboards",
            get(web::list_dashboards).post(web::import_dashboard),
        )
        .route(
            "/api/v1/dashboards/{id}",
            get(web::get_dashboard).delete(web::delete_dashboard),
        )
        .route("/ui/{*path}", get(web::asset))
        .route(
            "/metrics/job/{*grouping}",
            axum::routing::put(api::push::push)
                .post(api::push::push)
                .delete(api::push::push),
        )
        .layer(DefaultBodyLimit::max(state.body_limits.default_bytes))
        .merge(remote_write)
        .merge(
            ui::PAGE_ROUTES
                .iter()
                .fold(Router::new(), |r, path| r.route(path, get(web::page))),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::enforce))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        // Range query answers shrink ~10x; responses that carry their own
        // encoding (UI assets, snappy remote read) pass through untouched.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Marks the server ready for `/-/ready`.
pub fn set_ready(state: &AppState) {
    state.ready.store(true, Ordering::Release);
}
