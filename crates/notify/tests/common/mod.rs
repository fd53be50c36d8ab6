//! Test fixtures: a capture HTTP server standing in for Slack, PagerDuty and
//! webhook endpoints, and notifications built from real alertmanager.yml
//! text through the alertmanager crate.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alertmanager::dispatch::{build_integrations, Integration, Notification, NotificationAlert};
use alertmanager::{Alert, AlertStatus, Config, Fingerprint};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use model::Labels;
use parking_lot::Mutex;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Captured {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What the server answers on a path.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Sleep this long before answering (a hanging receiver).
    pub delay: Duration,
    /// A `Location` header.
    pub location: Option<String>,
}

impl Reply {
    pub fn ok_text(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain",
            body: body.to_string(),
            delay: Duration::ZERO,
            location: None,
        }
    }
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
            delay: Duration::ZERO,
            location: None,
        }
    }
    pub fn redirect(to: &str) -> Reply {
        Reply {
            status: 302,
            location: Some(to.to_string()),
            ..Reply::ok_text("")
        }
    }
    pub fn hang() -> Reply {
        Reply {
            delay: Duration::from_secs(120),
            ..Reply::ok_text("ok")
        }
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Captured>>,
    replies: Mutex<HashMap<String, Vec<Reply>>>,
}

/// A capture server on 127.0.0.1; stopped when dropped.
pub struct CaptureServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl CaptureServer {
    pub async fn start() -> CaptureServer {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CaptureServer { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answers `path` with `replies` in turn; the last one repeats. Paths
    /// without replies get `200 ok`.
    pub fn reply(&self, path: &str, replies: Vec<Reply>) {
        self.shared.replies.lock().insert(path.to_string(), replies);
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.shared.requests.lock().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Captured> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `n` requests reached `path`.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Captured> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.requests_to(path);
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    shared.requests.lock().push(Captured {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = {
        let mut replies = shared.replies.lock();
        match replies.get_mut(&path) {
            Some(list) if list.len() > 1 => Some(list.remove(0)),
            Some(list) => list.first().cloned(),
            None => None,
        }
    };
    let reply = reply.unwrap_or_else(|| Reply::ok_text("ok"));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, [("content-type", reply.content_type)], reply.body).into_response();
    if let Some(loc) = reply
        .location
        .as_deref()
        .and_then(|l| axum::http::HeaderValue::from_str(l).ok())
    {
        resp.headers_mut().insert("location", loc);
    }
    resp
}

/// The integrations of `receiver` in `yaml` (an alertmanager.yml).
pub fn integrations(yaml: &str, receiver: &str) -> Vec<Arc<Integration>> {
    let cfg = Config::parse(yaml, "alertmanager.yml").unwrap_or_else(|e| panic!("config: {e}"));
    build_integrations(&cfg).remove(receiver).unwrap_or_default()
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).single().unwrap_or_default()
}

/// An alert as the dispatcher hands it over.
pub fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)], status: AlertStatus) -> NotificationAlert {
    let labels = Labels::from_pairs(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut a = Alert::new(labels.clone(), t0());
    a.generator_url = "http://aerowatch:9090/graph?g0.expr=up".to_string();
    for (k, v) in annotations {
        a.annotations.insert(k.to_string(), v.to_string());
    }
    if status == AlertStatus::Resolved {
        a.ends_at = Some(t0() + chrono::Duration::minutes(10));
    }
    NotificationAlert {
        fingerprint: Fingerprint::of(&labels),
        alert: a,
        status,
    }
}

/// The seed rule "error-rate-high" as Aerowatch's rule engine fires it.
pub fn error_rate_alert(status: AlertStatus) -> NotificationAlert {
    alert(
        &[
            ("alertname", "ErrorRateHigh"),
            ("rule_id", "error-rate-high"),
            ("severity", "high"),
            ("instance", "api-1"),
        ],
        &[
            ("summary", "错误率过高"),
            ("description", "API错误率超过5%"),
            ("threshold", "5"),
            ("value", "7.25"),
        ],
        status,
    )
}

pub fn notification(integration: Arc<Integration>, group_key: &str, alerts: Vec<NotificationAlert>) -> Notification {
    let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    Notification {
        receiver: integration.key.group_name.clone(),
        integration,
        group_key: group_key.to_string(),
        group_labels: Labels::from_pairs([("alertname", "ErrorRateHigh")]),
        status,
        alerts,
        common_labels: Labels::empty(),
        common_annotations: Default::default(),
        timestamp: t0() + chrono::Duration::seconds(30),
        timeout: Duration::from_secs(10),
    }
}
