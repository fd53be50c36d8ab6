//! The Pushgateway-compatible endpoint: `PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}`.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ingest::push::{parse_grouping_path, PushMode};

use crate::AppState;

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg + "\n",
    )
        .into_response()
}

/// Handles pushes and deletes of one group.
pub async fn push(
    State(st): State<Arc<AppState>>,
    method: Method,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(store) = st.push.clone() else {
        return text(StatusCode::NOT_FOUND, "the push endpoint is not enabled".into());
    };
    let grouping = match parse_grouping_path(&format!("job/{rest}")) {
        Ok(g) => g,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("application/vnd.google.protobuf") {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the protobuf push format is not supported; push the text format (text/plain; version=0.0.4)".into(),
        );
    }
    let result = tokio::task::spawn_blocking(move || match method {
        Method::DELETE => store.delete(&grouping).map(|_| StatusCode::ACCEPTED),
        Method::PUT => store
            .push(grouping, &body, &content_type, PushMode::Replace, model::now_millis())
            .map(|_| StatusCode::OK),
        _ => store
            .push(grouping, &body, &content_type, PushMode::Merge, model::now_millis())
            .map(|_| StatusCode::OK),
    })
    .await;
    match result {
        Ok(Ok(code)) => code.into_response(),
        Ok(Err(e)) => text(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_string(),
        ),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
