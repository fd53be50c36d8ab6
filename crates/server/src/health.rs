//! Liveness and readiness of Aerowatch itself (`/-/healthy`, `/-/ready`), and
//! `/api/health` in the seed's §3.2.2 shape.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use tsdb::Querier;

use crate::AppState;

/// `GET /-/healthy`: the process serves HTTP.
pub async fn healthy() -> &'static str {
    "Aerowatch is Healthy.\n"
}

/// `GET /-/ready`: storage is open and start-up finished.
pub async fn ready(State(st): State<Arc<AppState>>) -> Response {
    if st.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Aerowatch is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response()
    }
}

fn check(result: Result<(), String>, started: Instant) -> Value {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => json!({ "status": "healthy", "responseTime": ms }),
        Err(e) => json!({ "status": "unhealthy", "responseTime": ms, "error": e }),
    }
}

/// `GET /api/health`: 200 when every component is healthy, 503 otherwise.
pub async fn api_health(State(st): State<Arc<AppState>>) -> Response {
    let db = st.db.clone();
    let state = st.clone();
    let checks = tokio::task::spawn_blocking(move || {
        let mut checks = Map::new();
        let t = Instant::now();
        let storage = db
            .querier(i64::MIN, i64::MAX)
            .label_names(&[])
            .map(|_| ())
            .map_err(|e| e.to_string());
        checks.insert("storage".into(), check(storage, t));
        let t = Instant::now();
        let failures = db.head().counters.wal_failures.load(Ordering::Relaxed);
        let before = state.wal_failures_seen.swap(failures, Ordering::Relaxed);
        let wal = if !db.dir().join("wal").is_dir() {
            Err("WAL directory is missing".to_string())
        } else if failures > before {
            Err(format!(
                "{} WAL write(s) failed since the last check",
                failures - before
            ))
        } else {
            Ok(())
        };
        checks.insert("wal".into(), check(wal, t));
        checks
    })
    .await
    .unwrap_or_default();
    let mut checks = checks;
    // The monitored system's checks, as configured under `checks:`.
    if let Some(sched) = &st.checks {
        let (_, entries) = sched.health();
        for (name, entry) in entries {
            checks.insert(name, serde_json::to_value(entry).unwrap_or(Value::Null));
        }
    }
    let healthy = checks.values().all(|c| c["status"] == "healthy");
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "version": st.build.version,
        "environment": st.environment,
        "checks": checks,
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /api/v1/checks`: every configured check with its state, last
/// result, uptime over 24 h / 7 d / 30 d, and the recent state changes.
pub async fn checks(State(st): State<Arc<AppState>>) -> Response {
    let (checks, events) = match &st.checks {
        Some(s) => (s.checks(), s.events()),
        None => (Vec::new(), Vec::new()),
    };
    Json(json!({ "status": "success", "data": { "checks": checks, "events": events } })).into_response()
}

/// `GET /api/v1/recovery/attempts`: the recovery audit history, newest first.
pub async fn recovery_attempts(State(st): State<Arc<AppState>>) -> Response {
    let history = st.recovery.read().as_ref().map(|e| e.history()).unwrap_or_default();
    Json(json!({ "status": "success", "data": history })).into_response()
}
