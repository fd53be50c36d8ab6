//! `/api/v1/status/*` and `/api/v1/targets`.
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::{success, ApiError, Params};
use crate::AppState;

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo(State(st): State<Arc<AppState>>) -> Response {
    let b = &st.build;
    success(json!({
        "version": b.version,
        "revision": b.revision,
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": b.rust_version,
        "application": "aerowatch",
    }))
}

/// `GET /api/v1/status/tsdb`.
pub async fn tsdb(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let limit = match params.get("limit") {
        None => 10,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::BadData("limit must be a positive number".into()))?,
    };
    let db = st.db.clone();
    let stats = tokio::task::spawn_blocking(move || db.cardinality(limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(success(stats))
}

/// `GET /api/v1/targets?state=active|dropped|any`.
pub async fn targets(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let state = params.get("state").unwrap_or("any").to_ascii_lowercase();
    let (active, dropped) = match state.as_str() {
        "active" => (st.targets.active_targets(), Vec::new()),
        "dropped" => (Vec::new(), st.targets.dropped_targets()),
        "any" | "" => (st.targets.active_targets(), st.targets.dropped_targets()),
        other => {
            return Err(ApiError::BadData(format!(
                "invalid state {other:?}: use active, dropped or any"
            )))
        }
    };
    Ok(success(json!({ "activeTargets": active, "droppedTargets": dropped })))
}
