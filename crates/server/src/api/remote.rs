//! Remote write (`POST /api/v1/write`) and remote read (`POST /api/v1/read`).
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ingest::remote::proto::{self, QueryResult, ReadRequest, ReadResponse, TimeSeries};
use ingest::remote::{ingest_write_body, WriteError};
use model::{MatchType, Matcher};
use prost::Message;
use tsdb::Querier;

use crate::AppState;

fn plain(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], m).into_response()
}

fn check_encoding(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with("application/x-protobuf") {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {ct:?}: remote write/read expects application/x-protobuf"),
            ));
        }
    }
    if let Some(ce) = headers.get(header::CONTENT_ENCODING) {
        let ce = ce.to_str().unwrap_or("");
        if !ce.eq_ignore_ascii_case("snappy") {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {ce:?}: remote write/read expects snappy"),
            ));
        }
    }
    Ok(())
}

/// `POST /api/v1/write`: 204 when everything was stored; 4xx with a message
/// that says what was wrong otherwise.
pub async fn write(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            st.metrics.remote_write_rejected("too_large");
            let status = rejection.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "request body exceeds the limit of {} bytes (limits.remote_write.max_body_bytes)",
                    st.body_limits.remote_write_bytes
                )
            } else {
                format!("reading request body: {rejection}")
            };
            return plain(status, msg);
        }
    };
    if let Err((status, msg)) = check_encoding(&headers) {
        st.metrics.remote_write_rejected("content_type");
        return plain(status, msg);
    }
    let state = st.clone();
    let result =
        tokio::task::spawn_blocking(move || ingest_write_body(&body, state.sink.as_ref(), &state.write_limits)).await;
    match result {
        Ok(Ok(outcome)) => {
            st.metrics.remote_write_accepted(outcome.samples);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            let reason = match &e {
                WriteError::Snappy(_) | WriteError::Protobuf(_) => "malformed",
                WriteError::TooLarge { .. } => "too_large",
                WriteError::InvalidSeries { .. } => "invalid_series",
                WriteError::Refused { .. } => "refused_samples",
                WriteError::Storage(_) => "storage",
            };
            st.metrics.remote_write_rejected(reason);
            tracing::warn!(error = %e, reason, "remote write request refused");
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            plain(status, e.to_string())
        }
        Err(join) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {join}")),
    }
}

fn to_matchers(ms: &[proto::LabelMatcher]) -> Result<Vec<Matcher>, String> {
    ms.iter()
        .map(|m| {
            let kind = match m.r#type {
                0 => MatchType::Equal,
                1 => MatchType::NotEqual,
                2 => MatchType::Regex,
                3 => MatchType::NotRegex,
                other => return Err(format!("unknown label matcher type {other}")),
            };
            Matcher::new(kind, m.name.clone(), m.value.clone()).map_err(|e| e.to_string())
        })
        .collect()
}

/// `POST /api/v1/read`: the samples response type, which is what Prometheus's
/// remote_read client asks for.
pub async fn read(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err((status, msg)) = check_encoding(&headers) {
        return plain(status, msg);
    }
    let db = st.db.clone();
    let max_samples = st.remote_read_sample_limit;
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .map_err(|e| bad(format!("snappy decode error: {e}")))?;
        let req = ReadRequest::decode(raw.as_slice()).map_err(|e| bad(format!("protobuf decode error: {e}")))?;
        let accepts_samples = req.accepted_response_types.is_empty()
            || req.accepted_response_types.contains(&proto::RESPONSE_TYPE_SAMPLES);
        if !accepts_samples {
            return Err(bad("only the SAMPLES remote read response type is supported".into()));
        }
        let mut resp = ReadResponse::default();
        let mut loaded = 0usize;
        for q in &req.queries {
            let matchers = to_matchers(&q.matchers).map_err(bad)?;
            let series = db
                .querier(q.start_timestamp_ms, q.end_timestamp_ms)
                .select(&matchers)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let mut result = QueryResult::default();
            for s in series {
                loaded += s.samples.len();
                if loaded > max_samples {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        format!("exceeded sample limit ({max_samples}, limits.remote_read.max_samples)"),
                    ));
                }
                result.timeseries.push(TimeSeries {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| proto::Label {
                            name: l.name.to_string(),
                            value: l.value.to_string(),
                        })
                        .collect(),
                    samples: s
                        .samples
                        .iter()
                        .map(|x| proto::Sample {
                            value: x.v,
                            timestamp: x.t,
                        })
                        .collect(),
                    exemplars: vec![],
                    histograms: vec![],
                });
            }
            resp.results.push(result);
        }
        snap::raw::Encoder::new()
            .compress_vec(&resp.encode_to_vec())
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await;
    match result {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/x-protobuf"),
                (header::CONTENT_ENCODING, "snappy"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err((status, msg))) => plain(status, msg),
        Err(join) => plain(StatusCode::INTERNAL_SERVER_ERROR, join.to_string()),
    }
}
