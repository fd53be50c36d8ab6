//! Aerowatch's own metrics, served on `/metrics` in the Prometheus text
//! format: HTTP request metrics named as in the seed's prom-client section,
//! ingest counters, and storage figures read from the engine at scrape time.
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

use crate::AppState;

/// Metrics owned by the HTTP layer.
pub struct SelfMetrics {
    registry: Registry,
    request_duration: HistogramVec,
    requests: IntCounterVec,
    remote_write_samples: IntCounterVec,
    remote_write_rejected: IntCounterVec,
    started_at_secs: f64,
}

impl SelfMetrics {
    /// Registers every metric.
    pub fn new() -> Result<SelfMetrics, prometheus::Error> {
        let registry = Registry::new();
        let labels = &["method", "route", "status_code"];
        let request_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Duration of HTTP requests in seconds").buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 1.0, 3.0, 5.0, 7.0, 10.0,
            ]),
            labels,
        )?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "Total number of HTTP requests"),
            labels,
        )?;
        let remote_write_samples = IntCounterVec::new(
            Opts::new(
                "aerowatch_remote_write_samples_total",
                "Samples stored from remote write requests",
            ),
            &[],
        )?;
        let remote_write_rejected = IntCounterVec::new(
            Opts::new(
                "aerowatch_remote_write_requests_rejected_total",
                "Remote write requests answered with an error, by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(remote_write_samples.clone()))?;
        registry.register(Box::new(remote_write_rejected.clone()))?;
        let started_at_secs = model::now_millis() as f64 / 1000.0;
        Ok(SelfMetrics {
            registry,
            request_duration,
            requests,
            remote_write_samples,
            remote_write_rejected,
            started_at_secs,
        })
    }

    /// Counts samples stored by remote write.
    pub fn remote_write_accepted(&self, samples: u64) {
        self.remote_write_samples
            .with_label_values(&[] as &[&str])
            .inc_by(samples);
    }

    /// Counts a refused remote write request.
    pub fn remote_write_rejected(&self, reason: &str) {
        self.remote_write_rejected.with_label_values(&[reason]).inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let status = status.to_string();
        let values = [method, route, status.as_str()];
        self.request_duration.with_label_values(&values).observe(secs);
        self.requests.with_label_values(&values).inc();
    }
}

/// Middleware recording `http_request_duration_seconds` and `http_requests_total`
/// by method, matched route template and status code, and logging each
/// request (debug level; server errors at warn).
pub async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    st.metrics.observe(&method, &route, status, secs);
    if status >= 500 {
        tracing::warn!(
            method,
            path,
            route,
            status,
            duration_ms = secs * 1000.0,
            "request failed"
        );
    } else {
        tracing::debug!(method, path, route, status, duration_ms = secs * 1000.0, "request");
    }
    resp
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

fn storage_metrics(st: &AppState, out: &mut String) {
    let head = st.db.head();
    let c = &head.counters;
    family(
        out,
        "aerowatch_tsdb_head_series",
        "gauge",
        "Series held in the head.",
        head.num_series(),
    );
    family(
        out,
        "aerowatch_tsdb_head_series_created_total",
        "counter",
        "Series created in the head.",
        c.series_created.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_head_samples_appended_total",
        "counter",
        "Samples committed to the head.",
        c.samples_appended.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_head_chunks_created_total",
        "counter",
        "Chunks cut in the head.",
        c.chunks_created.load(Ordering::Relaxed),
    );
    let _ = writeln!(out, "# HELP aerowatch_tsdb_samples_refused_total Samples refused by the head, by reason.\n# TYPE aerowatch_tsdb_samples_refused_total counter");
    for (reason, v) in [
        ("out_of_order", &c.out_of_order),
        ("duplicate_timestamp", &c.duplicate_timestamp),
        ("out_of_bounds", &c.out_of_bounds),
    ] {
        let _ = writeln!(
            out,
            "aerowatch_tsdb_samples_refused_total{{reason=\"{reason}\"}} {}",
            v.load(Ordering::Relaxed)
        );
    }
    family(
        out,
        "aerowatch_tsdb_head_min_time_seconds",
        "gauge",
        "Oldest sample in the head.",
        head.min_time().map(|t| t as f64 / 1000.0).unwrap_or(f64::NAN),
    );
    family(
        out,
        "aerowatch_tsdb_head_max_time_seconds",
        "gauge",
        "Newest sample in the head.",
        head.max_time().map(|t| t as f64 / 1000.0).unwrap_or(f64::NAN),
    );
    if let Some(wal) = head.wal() {
        let w = wal.stats();
        family(
            out,
            "aerowatch_tsdb_wal_records_written_total",
            "counter",
            "Records written to the WAL.",
            w.records_written,
        );
        family(
            out,
            "aerowatch_tsdb_wal_bytes_written_total",
            "counter",
            "Bytes written to the WAL.",
            w.bytes_written,
        );
        family(
            out,
            "aerowatch_tsdb_wal_fsyncs_total",
            "counter",
            "WAL fsync calls.",
            w.fsyncs,
        );
        family(
            out,
            "aerowatch_tsdb_wal_write_failures_total",
            "counter",
            "Commits that failed to write the WAL.",
            c.wal_failures.load(Ordering::Relaxed),
        );
        family(
            out,
            "aerowatch_tsdb_wal_storage_size_bytes",
            "gauge",
            "Bytes of WAL on disk.",
            wal.disk_size(),
        );
    }
    family(
        out,
        "aerowatch_tsdb_head_chunks_spilled_bytes",
        "gauge",
        "Bytes of closed head chunks moved from memory to head_chunks/.",
        head.spilled_bytes(),
    );
    family(
        out,
        "aerowatch_tsdb_head_chunk_spill_failures_total",
        "counter",
        "Closed head chunks that could not be written to head_chunks/ when they closed (kept in memory and retried).",
        head.counters.chunk_spill_failures.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_head_chunks_loaded",
        "gauge",
        "Head chunks loaded from head_chunks/ at start-up instead of being replayed from the WAL.",
        head.counters.chunks_loaded.load(Ordering::Relaxed),
    );
    let d = st.db.counters();
    family(
        out,
        "aerowatch_tsdb_blocks_loaded",
        "gauge",
        "Persisted blocks in service.",
        st.db.blocks().len(),
    );
    family(
        out,
        "aerowatch_tsdb_storage_blocks_bytes",
        "gauge",
        "Bytes of persisted blocks.",
        st.db.blocks_size(),
    );
    family(
        out,
        "aerowatch_tsdb_head_compactions_total",
        "counter",
        "Blocks cut from the head.",
        d.head_compactions.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_compactions_total",
        "counter",
        "Block merges.",
        d.compactions.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_maintenance_failures_total",
        "counter",
        "Storage maintenance runs that failed.",
        d.maintenance_failures.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_checkpoints_total",
        "counter",
        "WAL checkpoints written.",
        d.checkpoints.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_retention_deletions_total",
        "counter",
        "Blocks deleted by retention.",
        d.retention_deletions.load(Ordering::Relaxed),
    );
    family(
        out,
        "aerowatch_tsdb_last_maintenance_duration_seconds",
        "gauge",
        "Duration of the last storage maintenance run.",
        d.last_maintenance_ms.load(Ordering::Relaxed) as f64 / 1000.0,
    );
    let r = &st.open_report;
    family(
        out,
        "aerowatch_tsdb_wal_replay_duration_seconds",
        "gauge",
        "Time the last start-up spent replaying the WAL.",
        r.duration.as_secs_f64(),
    );
    family(
        out,
        "aerowatch_tsdb_wal_corruptions_total",
        "counter",
        "Torn or corrupt WAL tails truncated at start-up.",
        r.wal.corrupt_tails_truncated,
    );
}

fn process_metrics(st: &AppState, out: &mut String) {
    family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        st.metrics.started_at_secs,
    );
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        let page = 4096u64;
        let mut it = statm.split_whitespace();
        if let (Some(vsz), Some(rss)) = (
            it.next().and_then(|v| v.parse::<u64>().ok()),
            it.next().and_then(|v| v.parse::<u64>().ok()),
        ) {
            family(
                out,
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                vsz * page,
            );
            family(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                rss * page,
            );
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command name: utime is 14th, stime 15th overall.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if let (Some(u), Some(s)) = (
                f.get(11).and_then(|v| v.parse::<f64>().ok()),
                f.get(12).and_then(|v| v.parse::<f64>().ok()),
            ) {
                family(
                    out,
                    "process_cpu_seconds_total",
                    "counter",
                    "Total user and system CPU time spent in seconds.",
                    (u + s) / 100.0,
                );
            }
        }
    }
}

/// `GET /metrics`.
pub async fn handler(State(st): State<Arc<AppState>>) -> Response {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&st.metrics.registry.gather(), &mut buf) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    let mut out = String::from_utf8_lossy(&buf).into_owned();
    storage_metrics(&st, &mut out);
    process_metrics(&st, &mut out);
    if let Some(rules) = &st.rules {
        rules.write_metrics(&mut out);
    }
    if let Some(d) = &st.deliverer {
        d.write_metrics(&mut out);
    }
    if let Some(r) = st.recovery.read().as_ref() {
        r.write_metrics(&mut out);
    }
    if let Some(c) = &st.checks {
        c.write_metrics(&mut out);
    }
    let _ = writeln!(
        out,
        "# HELP aerowatch_build_info Build information.\n# TYPE aerowatch_build_info gauge\naerowatch_build_info{{version=\"{}\",revision=\"{}\"}} 1",
        st.build.version, st.build.revision
    );
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response()
}
