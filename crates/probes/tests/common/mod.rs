//! Test helpers: an in-memory sink and a local HTTP target.
#![allow(dead_code)]
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use ingest::sink::{BatchAppender, CommitError, SampleRefusal, SampleSink};
use model::Labels;
use parking_lot::Mutex;
use probes::{Check, ProbesConfig};

/// Stores committed samples in memory.
#[derive(Default, Clone)]
pub struct MemSink {
    pub samples: Arc<Mutex<Vec<(Labels, i64, f64)>>>,
}

struct MemAppender {
    pending: Vec<(Labels, i64, f64)>,
    out: Arc<Mutex<Vec<(Labels, i64, f64)>>>,
}

impl BatchAppender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        self.pending.push((labels.clone(), t, v));
        Ok(())
    }
    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        let n = self.pending.len() as u64;
        self.out.lock().extend(self.pending);
        Ok(n)
    }
}

impl SampleSink for MemSink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(MemAppender {
            pending: Vec::new(),
            out: self.samples.clone(),
        })
    }
}

impl MemSink {
    /// Values of `metric` for `check`, in append order.
    pub fn values(&self, metric: &str, check: &str) -> Vec<(Labels, i64, f64)> {
        self.samples
            .lock()
            .iter()
            .filter(|(l, _, _)| l.metric_name() == Some(metric) && l.get("check") == Some(check))
            .cloned()
            .collect()
    }
}

/// Behaviour of `/switch`.
pub const OK: u8 = 0;
pub const FAIL: u8 = 1;
pub const SLOW: u8 = 2;
pub const WRONG_BODY: u8 = 3;
pub const HANG: u8 = 4;

pub struct Target {
    pub addr: SocketAddr,
    pub mode: Arc<AtomicU8>,
    pub hits: Arc<AtomicUsize>,
}

impl Target {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

const HEALTHY: &str = r#"{"status":"healthy","detail":"ok"}"#;

async fn behave(mode: u8) -> Response {
    match mode {
        FAIL => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        SLOW => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HEALTHY.into_response()
        }
        WRONG_BODY => r#"{"status":"degraded"}"#.into_response(),
        HANG => std::future::pending().await,
        _ => HEALTHY.into_response(),
    }
}

/// Starts the target on a free local port.
pub async fn target() -> Target {
    let mode = Arc::new(AtomicU8::new(OK));
    let hits = Arc::new(AtomicUsize::new(0));
    let flaky = Arc::new(AtomicUsize::new(0));
    let (m, h) = (mode.clone(), hits.clone());
    let app = Router::new()
        .route(
            "/switch",
            get(move || {
                let (m, h) = (m.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    behave(m.load(Ordering::SeqCst)).await
                }
            }),
        )
        .route("/ok", get(|| behave(OK)))
        .route("/fail", get(|| behave(FAIL)))
        .route("/slow", get(|| behave(SLOW)))
        .route("/wrong", get(|| behave(WRONG_BODY)))
        .route("/hang", get(|| behave(HANG)))
        .route(
            "/delay",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                HEALTHY
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 10 * 1024 * 1024] }))
        .route("/redirect", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/flaky",
            get(move || {
                let f = flaky.clone();
                async move {
                    // Fails every other request, starting with the first.
                    if f.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                        behave(FAIL).await
                    } else {
                        behave(OK).await
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Target { addr, mode, hits }
}

/// Validated checks from YAML; panics with the problems otherwise.
pub fn checks(yaml: &str) -> Vec<Check> {
    let cfg = ProbesConfig::from_yaml(yaml).unwrap();
    match cfg.validate() {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

pub fn one(yaml: &str) -> Check {
    checks(yaml).remove(0)
}

/// A port nothing listens on (bound once, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
