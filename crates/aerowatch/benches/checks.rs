//! HTTP health checks at scale, Aerowatch vs Prometheus 2.42 scraping
//! blackbox_exporter (the usual way to run thousands of HTTP checks), same
//! targets in one run.
//!
//! A local HTTP server in this process answers every probe (`200 healthy`)
//! and counts them. Each side gets `BENCH_CHECKS` (5,000) checks of distinct
//! URLs on that server at a `BENCH_INTERVAL_SECS` (5 s) interval, timeout half of it up to 2 s:
//! Aerowatch as `checks:` entries, Prometheus as one scrape job of as many
//! targets through blackbox_exporter's `http_2xx` module. After
//! `BENCH_WARMUP_SECS` (12) it measures for `BENCH_SECS` (60): probes per
//! second as the target server counted them, p99 scheduling lag (Aerowatch:
//! `aerowatch_probe_scheduling_lag_seconds`; Prometheus: p99 of
//! `prometheus_target_interval_length_seconds` minus the interval), failed
//! probes, CPU of the server processes (Prometheus + blackbox_exporter
//! together) and their resident memory.
//!
//! `cargo bench -p aerowatch --bench checks` (blackbox_exporter from
//! Debian's `prometheus-blackbox-exporter`, at `BENCH_BLACKBOX`).
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::env_num;
use support::http;
use support::proc::{cpu_seconds, free_port, memory, Flavor, Server};

/// The probed service: answers everything with `200 healthy`, counting.
fn start_target(hits: Arc<AtomicU64>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind target");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("target runtime");
        rt.block_on(async move {
            let app = axum::Router::new().fallback(move || {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::Relaxed);
                    "healthy"
                }
            });
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    (port, thread)
}

struct Blackbox(Child);

impl Drop for Blackbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Row {
    name: &'static str,
    probes_per_sec: f64,
    lag_p99: Option<f64>,
    failed: String,
    cpu_cores: f64,
    rss_mib: u64,
}

/// The upper bound of the bucket holding the 99th percentile, from two
/// readings of a cumulative histogram (the increase between them).
fn histogram_p99(before: &str, after: &str, name: &str) -> Option<f64> {
    let buckets = |text: &str| -> Vec<(f64, f64)> {
        text.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(name)?.strip_prefix("_bucket{le=\"")?;
                let (le, v) = rest.split_once("\"} ")?;
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                Some((le, v.trim().parse().ok()?))
            })
            .collect()
    };
    let (b0, b1) = (buckets(before), buckets(after));
    let delta: Vec<(f64, f64)> = b1
        .iter()
        .map(|(le, v)| (*le, v - b0.iter().find(|(l, _)| l == le).map_or(0.0, |(_, v)| *v)))
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    delta.iter().find(|(_, v)| *v >= 0.99 * total).map(|(le, _)| *le)
}

fn metrics_text(port: u16) -> String {
    http::get(port, "/metrics")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default()
}

/// The value of an instant query's first sample, as text.
fn query_value(port: u16, promql: &str) -> String {
    let q: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    http::get(port, &format!("/api/v1/query?query={q}"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .and_then(|b| b.split("\"value\":[").nth(1)?.split('"').nth(1).map(str::to_string))
        .unwrap_or_else(|| "0".into())
}

fn main() {
    let checks = env_num("BENCH_CHECKS", 5_000usize);
    let interval = env_num("BENCH_INTERVAL_SECS", 5u64);
    let warmup = env_num("BENCH_WARMUP_SECS", 12u64);
    let measure = env_num("BENCH_SECS", 60u64);
    // Both sides need the timeout below the interval.
    let timeout_ms = (interval * 1000 / 2).min(2000);
    let prometheus = std::env::var("BENCH_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    let blackbox = std::env::var("BENCH_BLACKBOX").unwrap_or_else(|_| "/usr/bin/prometheus-blackbox-exporter".into());
    println!("# HTTP checks: aerowatch vs prometheus 2.42 + blackbox_exporter");
    println!(
        "parameters: BENCH_CHECKS={checks} BENCH_INTERVAL_SECS={interval} BENCH_WARMUP_SECS={warmup} BENCH_SECS={measure}"
    );
    let hits = Arc::new(AtomicU64::new(0));
    let (target, _target_thread) = start_target(hits.clone());
    let dir = std::env::temp_dir().join(format!("aerowatch-checks-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = |i: usize| format!("http://127.0.0.1:{target}/svc/{i}/health");
    let expected = checks as f64 / interval as f64;

    let mut rows = Vec::new();
    // Aerowatch.
    {
        let mut s = Server::new(
            Flavor::Aerowatch,
            std::path::Path::new(env!("CARGO_BIN_EXE_aerowatch")),
            &dir,
        );
        let mut config = String::from("checks:\n");
        for i in 0..checks {
            config.push_str(&format!(
                "  - name: svc-{i}\n    http: {{ url: \"{}\", body_contains: healthy }}\n    interval: {interval}s\n    timeout: {timeout_ms}ms\n",
                url(i)
            ));
        }
        std::fs::write(&s.config, config).expect("config");
        s.start();
        rows.push(run(
            "aerowatch",
            warmup,
            measure,
            &hits,
            || s.cpu_seconds(),
            || s.memory().rss,
            || metrics_text(s.port),
            |before, after| histogram_p99(before, after, "aerowatch_probe_scheduling_lag_seconds"),
            || query_value(s.port, "count(probe_success == 0) or vector(0)"),
        ));
    }
    // Prometheus + blackbox_exporter.
    if std::path::Path::new(&prometheus).exists() && std::path::Path::new(&blackbox).exists() {
        let bb_port = free_port();
        let bb_config = dir.join("blackbox.yml");
        std::fs::write(
            &bb_config,
            format!("modules:\n  http_2xx:\n    prober: http\n    timeout: {timeout_ms}ms\n    http:\n      preferred_ip_protocol: ip4\n      fail_if_body_not_matches_regexp: [ healthy ]\n"),
        )
        .expect("blackbox config");
        let bb = Blackbox(
            Command::new(&blackbox)
                .arg(format!("--config.file={}", bb_config.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{bb_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start blackbox_exporter"),
        );
        let mut s = Server::new(Flavor::Prometheus, std::path::Path::new(&prometheus), &dir);
        let mut config = format!(
            "global:\n  scrape_interval: {interval}s\n  scrape_timeout: {timeout_ms}ms\nscrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n    params: {{ module: [ http_2xx ] }}\n    relabel_configs:\n      - {{ source_labels: [ __address__ ], target_label: __param_target }}\n      - {{ source_labels: [ __param_target ], target_label: instance }}\n      - {{ target_label: __address__, replacement: \"127.0.0.1:{bb_port}\" }}\n    static_configs:\n      - targets:\n"
        );
        for i in 0..checks {
            config.push_str(&format!("        - \"{}\"\n", url(i)));
        }
        std::fs::write(&s.config, config).expect("config");
        s.start();
        let bb_pid = bb.0.id();
        let interval_metric =
            format!("prometheus_target_interval_length_seconds{{interval=\"{interval}s\",quantile=\"0.99\"}}");
        rows.push(run(
            "prometheus + blackbox_exporter",
            warmup,
            measure,
            &hits,
            || s.cpu_seconds() + cpu_seconds(&format!("/proc/{bb_pid}/stat")),
            || s.memory().rss + memory(bb_pid).rss,
            || metrics_text(s.port),
            |_, after| http::metric_value(after, &interval_metric).map(|v| (v - interval as f64).max(0.0)),
            || query_value(s.port, "count(probe_success == 0) or vector(0)"),
        ));
        drop(bb);
    } else {
        println!("(Prometheus or blackbox_exporter not found: only Aerowatch runs)");
    }

    println!("\n| server | probes/s (expected {expected:.0}) | p99 scheduling lag, ms | failed probes now | CPU, cores | CPU per 1k probes, s | RSS MiB |");
    println!("|---|--:|--:|--:|--:|--:|--:|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {} | {} | {:.3} | {:.3} | {} |",
            r.name,
            r.probes_per_sec,
            r.lag_p99.map_or("n/a".into(), |l| format!("≤ {:.0}", l * 1000.0)),
            r.failed,
            r.cpu_cores,
            r.cpu_cores / r.probes_per_sec * 1000.0,
            r.rss_mib
        );
    }
    if rows.len() == 2 && rows[1].probes_per_sec < 0.5 * expected {
        println!(
            "\nthe peer ran {:.0} of {expected:.0} probes/s: no ratio",
            rows[1].probes_per_sec
        );
    } else if rows.len() == 2 {
        let per_probe = |r: &Row| r.cpu_cores / r.probes_per_sec;
        println!(
            "\nratio aerowatch/peer: CPU per probe {:.2}×, RSS {:.2}×",
            per_probe(&rows[0]) / per_probe(&rows[1]),
            rows[0].rss_mib as f64 / rows[1].rss_mib.max(1) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[allow(clippy::too_many_arguments)]
fn run(
    name: &'static str,
    warmup: u64,
    measure: u64,
    hits: &AtomicU64,
    cpu: impl Fn() -> f64,
    rss: impl Fn() -> u64,
    metrics: impl Fn() -> String,
    lag: impl Fn(&str, &str) -> Option<f64>,
    failed: impl Fn() -> String,
) -> Row {
    std::thread::sleep(Duration::from_secs(warmup));
    let (h0, c0, m0, t0) = (hits.load(Ordering::Relaxed), cpu(), metrics(), Instant::now());
    std::thread::sleep(Duration::from_secs(measure));
    let (h1, c1, m1, secs) = (
        hits.load(Ordering::Relaxed),
        cpu(),
        metrics(),
        t0.elapsed().as_secs_f64(),
    );
    let row = Row {
        name,
        probes_per_sec: (h1 - h0) as f64 / secs,
        lag_p99: lag(&m0, &m1),
        failed: failed(),
        cpu_cores: (c1 - c0) / secs,
        rss_mib: rss() >> 20,
    };
    eprintln!("[{name}] {:.0} probes/s", row.probes_per_sec);
    row
}
