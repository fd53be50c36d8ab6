//! The Prometheus-compatible HTTP API: one envelope, one error type that
//! sorts every failure into Prometheus's closed set of error types, and the
//! parameter parsing every endpoint shares.
pub mod alertmanager;
pub mod push;
pub mod query;
pub mod read;
pub mod remote;
pub mod rules;
pub mod status;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::{MatchType, Matcher};
use serde::Serialize;

/// An API failure, rendered as Prometheus renders it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong (400 `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The request was fine but could not be executed (422 `execution`).
    #[error("{0}")]
    Execution(String),
    /// The server failed (500 `internal`).
    #[error("{0}")]
    Internal(String),
    /// Not available right now (503 `unavailable`).
    #[error("{0}")]
    Unavailable(String),
    /// No such thing (404 `not_found`).
    #[error("{0}")]
    NotFound(String),
    /// The request body is over a limit (413 `bad_data`).
    #[error("{0}")]
    TooLarge(String),
    /// A query ran out of time (503 `timeout`).
    #[error("{0}")]
    Timeout(String),
    /// A query was canceled (503 `canceled`).
    #[error("{0}")]
    Canceled(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadData(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            ApiError::Execution(_) => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "bad_data"),
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Canceled(_) => (StatusCode::SERVICE_UNAVAILABLE, "canceled"),
        }
    }
}

impl From<tsdb::QueryError> for ApiError {
    fn from(e: tsdb::QueryError) -> Self {
        match e {
            tsdb::QueryError::TooManySamples => ApiError::Execution(e.to_string()),
            tsdb::QueryError::Storage(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Query failures as Prometheus's API reports them. Parse errors (and
/// type errors, which Prometheus finds while parsing) name the `query`
/// parameter, as Prometheus's `invalidParamError` does.
impl From<promql::QueryError> for ApiError {
    fn from(e: promql::QueryError) -> Self {
        use promql::QueryError as Q;
        let msg = e.to_string();
        match e {
            Q::Parse(_) => ApiError::BadData(format!("invalid parameter \"query\": {msg}")),
            Q::BadData(m) if m.contains(": parse error: ") => {
                ApiError::BadData(format!("invalid parameter \"query\": {m}"))
            }
            Q::BadData(_) => ApiError::BadData(msg),
            Q::Execution(_) | Q::TooManySamples => ApiError::Execution(msg),
            Q::Timeout(_) => ApiError::Timeout(msg),
            Q::Canceled(_) => ApiError::Canceled(msg),
            Q::Storage(_) => ApiError::Internal(msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.parts();
        let body = serde_json::json!({ "status": "error", "errorType": kind, "error": self.to_string() });
        (status, Json(body)).into_response()
    }
}

/// `{"status":"success","data":...}`.
pub fn success<T: Serialize>(data: T) -> Response {
    Json(serde_json::json!({ "status": "success", "data": data })).into_response()
}

/// Request parameters from the query string and, for form POSTs, the body —
/// repeated keys kept (`match[]`), as Prometheus's `r.Form` does.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Collects parameters from a request's parts.
    pub fn from_request(method: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        let is_form = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if *method == Method::POST && is_form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(pairs)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every `(key, value)` pair, in request order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Prometheus's lowest and highest API timestamps (ms), used as defaults.
pub const MIN_TIME_MS: i64 = -9_223_372_036_854_775_808 / 1_000_000;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_372_036_854_775_807 / 1_000_000;

/// Parses an API time: Unix seconds (float) or RFC 3339, as Prometheus does.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        let ms = (f * 1000.0).round();
        if ms < MIN_TIME_MS as f64 || ms > MAX_TIME_MS as f64 {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        return Ok(ms as i64);
    }
    // Prometheus's own formatted min/max times, which clients echo back.
    match s {
        "-292273086-05-16T16:47:06Z" => return Ok(MIN_TIME_MS),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_TIME_MS),
        _ => {}
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
}

/// Parses the optional `start`/`end` parameters with Prometheus's defaults.
pub fn time_range(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = match p.get("start") {
        Some(s) => parse_time(s).map_err(|e| ApiError::BadData(format!("invalid parameter \"start\": {e}")))?,
        None => MIN_TIME_MS,
    };
    let end = match p.get("end") {
        Some(s) => parse_time(s).map_err(|e| ApiError::BadData(format!("invalid parameter \"end\": {e}")))?,
        None => MAX_TIME_MS,
    };
    if end < start {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    Ok((start, end))
}

/// Parses a series selector such as `up{job="node"}` into matchers.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    let expr = parser::parse(s).map_err(|e| format!("1:1: parse error: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "invalid series selector {s:?}: expected a vector selector such as up{{job=\"x\"}}"
        ));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err("\"or\" in series selectors is not supported".into());
    }
    let mut out = Vec::new();
    if let Some(name) = &vs.name {
        if !vs.matchers.matchers.iter().any(|m| m.name == model::METRIC_NAME) {
            out.push(Matcher::equal(model::METRIC_NAME, name.clone()));
        }
    }
    for m in &vs.matchers.matchers {
        let kind = match m.op {
            MatchOp::Equal => MatchType::Equal,
            MatchOp::NotEqual => MatchType::NotEqual,
            MatchOp::Re(_) => MatchType::Regex,
            MatchOp::NotRe(_) => MatchType::NotRegex,
        };
        out.push(Matcher::new(kind, m.name.clone(), m.value.clone()).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Parses every `match[]` parameter; each is a separate selector whose
/// results are unioned.
pub fn match_params(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|s| parse_selector(s).map_err(ApiError::BadData))
        .collect()
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_string);
        let headers = req.headers().clone();
        let body = if method == Method::POST {
            axum::body::Bytes::from_request(req, state).await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge("request body exceeds limits.max_request_body_bytes".into())
                } else {
                    ApiError::BadData(format!("reading request body: {e}"))
                }
            })?
        } else {
            axum::body::Bytes::new()
        };
        Ok(Params::from_request(&method, query.as_deref(), &headers, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1.5").unwrap(), 1500);
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z").unwrap(), 1435781451781);
        assert_eq!(parse_time("2015-07-01T22:10:51+02:00").unwrap(), 1435781451000);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
        assert_eq!(parse_time("-292273086-05-16T16:47:06Z").unwrap(), MIN_TIME_MS);
    }

    #[test]
    fn selectors_become_matchers() {
        let m = parse_selector("up{job=~\"a|b\", instance!=\"x\"}").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].name, "__name__");
        assert!(m[1].matches("a") && !m[1].matches("c"));
        assert!(parse_selector("rate(up[5m])").is_err());
        assert!(parse_selector("{").is_err());
    }
}
