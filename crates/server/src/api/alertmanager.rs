//! Alertmanager's API v2 (`/api/v2/...`), so a Prometheus can use Aerowatch
//! as its Alertmanager and `amtool` can manage silences. Shapes and codes
//! are those of Alertmanager 0.25's OpenAPI spec; the logic is in the
//! `alertmanager` crate.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Params;
use crate::AppState;
use alertmanager::api::{self, ApiError};

fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(ApiError::Internal(e.to_string())),
    }
}

fn error(e: ApiError) -> Response {
    let code = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, [(header::CONTENT_TYPE, "application/json")], e.body_json()).into_response()
}

fn not_enabled() -> Response {
    error(ApiError::NotFound("the Alertmanager API is not enabled".into()))
}

fn persist_silences(am: &alertmanager::Alertmanager) -> Result<(), ApiError> {
    am.silences()
        .snapshot()
        .map(|_| ())
        .map_err(|e| ApiError::Internal(format!("saving silences: {e}")))
}

/// `POST /api/v2/alerts`.
pub async fn post_alerts(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    match api::post_alerts(am, &body) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error(e),
    }
}

/// `GET /api/v2/alerts`.
pub async fn get_alerts(State(st): State<Arc<AppState>>, params: Params) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    match api::AlertQuery::from_pairs(params.pairs()).and_then(|q| api::get_alerts(am, &q)) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(e),
    }
}

/// `GET /api/v2/alerts/groups`.
pub async fn get_alert_groups(State(st): State<Arc<AppState>>, params: Params) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    match api::AlertQuery::from_pairs(params.pairs()).and_then(|q| api::get_alert_groups(am, &q)) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(e),
    }
}

/// `GET /api/v2/silences`.
pub async fn get_silences(State(st): State<Arc<AppState>>, params: Params) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    let filter: Vec<String> = params.all("filter").into_iter().map(str::to_string).collect();
    match api::get_silences(am, &filter) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(e),
    }
}

/// `POST /api/v2/silences`: create, or update when the body has an `id`.
pub async fn post_silence(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(am) = st.alertmanager.clone() else {
        return not_enabled();
    };
    // A created silence is on disk before it is acknowledged (it must
    // survive kill -9); the snapshot is file I/O, off the async threads.
    match tokio::task::spawn_blocking(move || {
        let r = api::post_silence_json(&am, &body)?;
        persist_silences(&am)?;
        Ok(r)
    })
    .await
    {
        Ok(Ok(v)) => json(StatusCode::OK, &v),
        Ok(Err(e)) => error(e),
        Err(e) => error(ApiError::Internal(e.to_string())),
    }
}

/// `GET /api/v2/silence/{id}`.
pub async fn get_silence(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    match api::get_silence(am, &id) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(e),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires it.
pub async fn delete_silence(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(am) = st.alertmanager.clone() else {
        return not_enabled();
    };
    match tokio::task::spawn_blocking(move || {
        api::delete_silence(&am, &id)?;
        persist_silences(&am)
    })
    .await
    {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => error(e),
        Err(e) => error(ApiError::Internal(e.to_string())),
    }
}

/// `GET /api/v2/status`.
pub async fn status(State(st): State<Arc<AppState>>) -> Response {
    let Some(am) = st.alertmanager.as_ref() else {
        return not_enabled();
    };
    let version = api::VersionInfo {
        version: st.build.version.clone(),
        revision: st.build.revision.clone(),
        branch: String::new(),
        build_user: String::new(),
        build_date: String::new(),
        go_version: st.build.rust_version.clone(),
    };
    json(StatusCode::OK, &api::get_status(am, version))
}

/// `GET /api/v2/receivers`.
pub async fn receivers(State(st): State<Arc<AppState>>) -> Response {
    match st.alertmanager.as_ref() {
        Some(am) => json(StatusCode::OK, &api::get_receivers(am)),
        None => not_enabled(),
    }
}

/// `GET /api/v1/notifications`: recent deliveries, newest first (receiver,
/// integration, alerts, outcome, attempts, last error), in Prometheus' envelope.
pub async fn notifications(State(st): State<Arc<AppState>>, params: Params) -> Response {
    let mut history = st.deliverer.as_ref().map(|d| d.history()).unwrap_or_default();
    if let Some(receiver) = params.get("receiver") {
        history.retain(|r| r.receiver == receiver);
    }
    if let Some(limit) = params.get("limit").and_then(|l| l.parse::<usize>().ok()) {
        history.truncate(limit);
    }
    super::success(history)
}
