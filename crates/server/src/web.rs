//! The web UI over HTTP: the app's shell for every page route, its embedded
//! assets under `/ui/`, and the dashboards API the app reads and imports
//! Grafana dashboards through.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::{success, ApiError};
use crate::AppState;

fn serve(asset: &'static ui::Asset, req: &HeaderMap) -> Response {
    let etag = asset.etag.as_str();
    if req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let gzip_ok = req
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // Revalidated on every load: an upgraded binary's UI shows at once.
    let common = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache"),
        (header::VARY, "Accept-Encoding"),
    ];
    match (&asset.gzip, gzip_ok) {
        (Some(z), true) => (common, [(header::CONTENT_ENCODING, "gzip")], z.clone()).into_response(),
        _ => (common, asset.body).into_response(),
    }
}

/// `GET /`, `/explore`, … : the app's shell; the app routes on the path.
pub async fn page(headers: HeaderMap) -> Response {
    match ui::index_html() {
        Some(a) => serve(a, &headers),
        None => (StatusCode::NOT_FOUND, "this build has no web UI\n").into_response(),
    }
}

/// `GET /ui/{*path}`: an embedded asset.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ui::asset(&path) {
        Some(a) => serve(a, &headers),
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

fn dashboard_error(e: ui::DashboardError) -> ApiError {
    match e {
        ui::DashboardError::NotFound(_) => ApiError::NotFound(e.to_string()),
        ui::DashboardError::Invalid(_) | ui::DashboardError::ReadOnly(_) => ApiError::BadData(e.to_string()),
        ui::DashboardError::Io(_) => ApiError::Internal(e.to_string()),
    }
}

/// `GET /api/v1/dashboards`.
pub async fn list_dashboards(State(st): State<Arc<AppState>>) -> Response {
    success(st.dashboards.list())
}

/// `GET /api/v1/dashboards/{id}`: the Grafana JSON model.
pub async fn get_dashboard(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    st.dashboards.get(&id).map(success).map_err(dashboard_error)
}

/// `POST /api/v1/dashboards`: imports Grafana JSON (as exported, or bare).
pub async fn import_dashboard(State(st): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let store = st.dashboards.clone();
    let id = tokio::task::spawn_blocking(move || store.import(&body))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(dashboard_error)?;
    Ok(success(serde_json::json!({ "id": id })))
}

/// `DELETE /api/v1/dashboards/{id}` (imported dashboards only).
pub async fn delete_dashboard(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let store = st.dashboards.clone();
    tokio::task::spawn_blocking(move || store.delete(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(dashboard_error)?;
    Ok(success(serde_json::Value::Null))
}
