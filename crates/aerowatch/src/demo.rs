//! `aerowatch demo`: a small OpenAero-like shop served beside the server in
//! the same process, with traffic of its own, so that every page of the UI
//! has live data within a minute. It exposes what a prom-client app does
//! (`http_requests_total`, `http_request_duration_seconds` with prom-client's
//! default buckets, and the design's business counters) and a health check.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// prom-client's default histogram buckets.
const PROM_CLIENT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Requests the traffic generator sends per second.
const REQUESTS_PER_SECOND: u64 = 20;

struct Shop {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    registrations: IntCounter,
    orders: IntCounter,
    rng: AtomicU64,
}

impl Shop {
    fn new() -> anyhow::Result<Shop> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "Total number of HTTP requests"),
            &["method", "route", "status_code"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Duration of HTTP requests in seconds")
                .buckets(PROM_CLIENT_BUCKETS.to_vec()),
            &["method", "route", "status_code"],
        )?;
        let registrations = IntCounter::new("user_registrations_total", "Total number of user registrations")?;
        let orders = IntCounter::new("orders_created_total", "Total number of orders created")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(registrations.clone()))?;
        registry.register(Box::new(orders.clone()))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Ok(Shop {
            registry,
            requests,
            durations,
            registrations,
            orders,
            rng: AtomicU64::new(seed),
        })
    }

    /// A uniform number in [0, 1) (xorshift; a demo needs no better).
    fn random(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A web-like latency: mostly tens of milliseconds, a long tail.
    async fn work(&self, typical_ms: f64) {
        let u = self.random().max(1e-9);
        let ms = (typical_ms * (-u.ln()).powf(1.5)).min(2_000.0);
        tokio::time::sleep(Duration::from_micros((ms * 1000.0) as u64)).await;
    }
}

async fn track(State(shop): State<Arc<Shop>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(req).await;
    if route != "/metrics" {
        let code = response.status().as_u16().to_string();
        let labels = [method.as_str(), route.as_str(), code.as_str()];
        shop.requests.with_label_values(&labels).inc();
        shop.durations
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

async fn home(State(shop): State<Arc<Shop>>) -> &'static str {
    shop.work(15.0).await;
    "OpenAero shop"
}

async fn products(State(shop): State<Arc<Shop>>) -> Response {
    shop.work(40.0).await;
    axum::Json(serde_json::json!([{"id": 1, "name": "drone"}, {"id": 2, "name": "propeller"}])).into_response()
}

async fn create_order(State(shop): State<Arc<Shop>>) -> Response {
    shop.work(120.0).await;
    // A payment provider that fails now and then.
    if shop.random() < 0.04 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "payment provider unavailable").into_response();
    }
    shop.orders.inc();
    (StatusCode::CREATED, "order created").into_response()
}

async fn register(State(shop): State<Arc<Shop>>) -> Response {
    shop.work(60.0).await;
    shop.registrations.inc();
    (StatusCode::CREATED, "welcome").into_response()
}

async fn health() -> Response {
    axum::Json(serde_json::json!({ "status": "healthy" })).into_response()
}

async fn metrics(State(shop): State<Arc<Shop>>) -> Response {
    let mut out = Vec::new();
    match TextEncoder::new().encode(&shop.registry.gather(), &mut out) {
        Ok(()) => ([("content-type", "text/plain; version=0.0.4")], out).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Starts the shop on an ephemeral loopback port and its traffic; returns
/// the shop's address.
pub async fn start() -> anyhow::Result<SocketAddr> {
    let shop = Arc::new(Shop::new().context("demo shop metrics")?);
    let app = Router::new()
        .route("/", get(home))
        .route("/api/products", get(products))
        .route("/api/orders", post(create_order))
        .route("/api/users/register", post(register))
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(shop.clone(), track))
        .with_state(shop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo shop")?;
    let addr = listener.local_addr().context("demo shop address")?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the demo shop stopped");
        }
    });
    tokio::spawn(traffic(addr, shop));
    tracing::info!(%addr, "demo shop running");
    Ok(addr)
}

/// Customers: browsing mostly, some orders and sign-ups, at a steady rate.
async fn traffic(addr: SocketAddr, shop: Arc<Shop>) {
    let Ok(client) = reqwest::Client::builder().timeout(Duration::from_secs(5)).build() else {
        tracing::error!("the demo traffic has no HTTP client");
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / REQUESTS_PER_SECOND));
    loop {
        tick.tick().await;
        let pick = shop.random();
        let req = if pick < 0.45 {
            client.get(format!("http://{addr}/"))
        } else if pick < 0.80 {
            client.get(format!("http://{addr}/api/products"))
        } else if pick < 0.95 {
            client.post(format!("http://{addr}/api/orders"))
        } else {
            client.post(format!("http://{addr}/api/users/register"))
        };
        // Concurrent like real users; a slow answer does not hold the next.
        tokio::spawn(async move {
            let _ = req.send().await;
        });
    }
}

/// The server configuration of the demo: itself, the shop scraped every
/// 5 s, the `openaero` preset, a health check and an SLO on it.
pub fn config(self_target: &str, shop: SocketAddr) -> String {
    format!(
        "# Written by `aerowatch demo`.
global:
  scrape_interval: 5s
  scrape_timeout: 4s
  evaluation_interval: 5s
scrape_configs:
  - job_name: aerowatch
    static_configs: [ {{ targets: [ \"{self_target}\" ] }} ]
  - job_name: openaero-shop
    static_configs: [ {{ targets: [ \"{shop}\" ] }} ]
presets: [ openaero ]
checks:
  - name: shop
    http: {{ url: \"http://{shop}/api/health\", expect_status: [ 200 ], body_contains: healthy, max_latency: 2s }}
    interval: 10s
    timeout: 5s
slos:
  - name: shop-availability
    objective: 99.5
    window: 30d
    check: shop
"
    )
}
