//! PromQL latency, Aerowatch vs Prometheus 2.42, on the same data in one run.
//!
//! Loads a node_exporter-like fleet (from `support::dataset`) plus a
//! prom-client-like web application (request counters by method, route and
//! status code; request-duration histograms) into both servers through
//! remote write, then runs a fixed set of dashboard and alerting queries as
//! instant queries and as 1 h range queries at 15 s and 60 s steps, each
//! `BENCH_REPEAT` times, and prints the median latency per query and server
//! and the ratio. `BENCH_ONLY` (a substring of the query) and `BENCH_MODE`
//! (`instant`, `1h @15s`, `1h @60s`) pick cells, for profiling one of them.
//! Sizes: `BENCH_SERIES` (default 10000 node series),
//! `BENCH_ROUNDS` (default 260 = 65 min at 15 s), `BENCH_REPEAT` (15).
//!
//! `cargo bench -p aerowatch --bench query`
mod support;

use std::time::{Duration, Instant};

use support::dataset::{self, Spec};
use support::env_num;
use support::http::Conn;
use support::proc::{Flavor, Server};
use support::webapp::{load, web_app_requests};

const QUERIES: &[&str] = &[
    "up",
    "rate(node_cpu_seconds_total{mode=\"idle\"}[5m])",
    "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
    "1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
    "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100",
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (le, route) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum(rate(http_requests_total{status_code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) * 100",
    "topk(5, sum by (route) (rate(http_requests_total[5m])))",
    "sum by (instance) (rate(node_network_receive_bytes_total{device=~\"eth.*\"}[5m]))",
    "max_over_time(node_load1[10m])",
    "avg_over_time(node_memory_MemAvailable_bytes[10m])",
    "rate(http_requests_total[5m] offset 10m)",
    "max_over_time(sum(rate(http_requests_total[1m]))[10m:1m])",
    "count by (instance) (node_filesystem_avail_bytes)",
    "node_filesystem_avail_bytes{mountpoint=\"/\"} / node_filesystem_size_bytes{mountpoint=\"/\"} < 0.9",
    "increase(node_network_transmit_bytes_total[1h])",
    "quantile(0.9, rate(node_disk_read_bytes_total[5m]))",
    "sum without (cpu) (rate(node_cpu_seconds_total[5m]))",
    "delta(node_memory_MemAvailable_bytes[15m])",
];

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Runs one query `repeat` times; returns the median latency and the size
/// of the answer (to check both servers return the same amount).
/// Median latency, answer size and status of `path` on one server: one
/// untimed request first (whatever the server caches is then warm), then
/// `repeat` timed ones back to back. One server at a time on purpose: when
/// requests alternate, each server's background work after a query (Go's
/// concurrent GC above all) lands on the other's next request on 2 cores.
fn time_query(conn: &mut Conn, path: &str, repeat: usize) -> (Duration, usize, String) {
    let mut times = Vec::with_capacity(repeat);
    let mut size = 0;
    let mut status = String::new();
    for round in 0..=repeat {
        let start = Instant::now();
        let resp = conn.request("GET", path, &[], &[]).expect("query");
        if round > 0 {
            times.push(start.elapsed());
        }
        size = resp.body.len();
        status = if resp.status == 200 {
            "ok".into()
        } else {
            format!("HTTP {}: {}", resp.status, String::from_utf8_lossy(&resp.body))
        };
    }
    times.sort();
    (times[times.len() / 2], size, status)
}

fn main() {
    let series = env_num("BENCH_SERIES", 10_000usize);
    let rounds = env_num("BENCH_ROUNDS", 260usize);
    let repeat = env_num("BENCH_REPEAT", 15usize).max(1);
    let prometheus = std::env::var("BENCH_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    let spec = Spec {
        targets: (series / 500).max(1),
        per_target: 500.min(series),
        rounds,
        batch: 1000,
        shards: 1,
        seed: 7,
    };
    println!("# PromQL latency: aerowatch vs prometheus 2.42");
    println!("parameters: BENCH_SERIES={series} BENCH_ROUNDS={rounds} BENCH_REPEAT={repeat}");
    let node = dataset::generate(&spec);
    let app = web_app_requests(node.first_ts, rounds);
    let end_ts = node.last_ts;
    println!(
        "data: {} node series + 1,000 web-app series, {} rounds at 15 s, ending at {end_ts}",
        node.series, rounds
    );

    let dir = std::env::temp_dir().join(format!("aerowatch-query-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut servers = vec![Server::new(
        Flavor::Aerowatch,
        std::path::Path::new(env!("CARGO_BIN_EXE_aerowatch")),
        &dir,
    )];
    if std::path::Path::new(&prometheus).exists() {
        servers.push(Server::new(Flavor::Prometheus, std::path::Path::new(&prometheus), &dir));
    } else {
        println!("(Prometheus not found at {prometheus}: only Aerowatch runs)");
    }
    for s in &mut servers {
        s.start();
        let t = Instant::now();
        load(s, &node, &app);
        println!("[{}] loaded in {:.1} s", s.flavor.name(), t.elapsed().as_secs_f64());
    }
    let end_s = end_ts as f64 / 1000.0;
    let modes: Vec<(String, String)> = vec![
        ("instant".into(), format!("time={end_s:.3}")),
        (
            "1h @15s".into(),
            format!("start={:.3}&end={end_s:.3}&step=15", end_s - 3600.0),
        ),
        (
            "1h @60s".into(),
            format!("start={:.3}&end={end_s:.3}&step=60", end_s - 3600.0),
        ),
    ];
    println!("\n| query | mode | aerowatch ms | prometheus ms | ratio | answer bytes aw/prom |");
    println!("|---|---|--:|--:|--:|--:|");
    let mut ratios = Vec::new();
    let mut conns: Vec<Conn> = servers.iter().map(|s| Conn::new(s.port)).collect();
    let only = std::env::var("BENCH_ONLY").ok();
    let only_mode = std::env::var("BENCH_MODE").ok();
    for q in QUERIES.iter().filter(|q| only.as_deref().is_none_or(|o| q.contains(o))) {
        for (mode, params) in modes
            .iter()
            .filter(|(m, _)| only_mode.as_deref().is_none_or(|o| m == o))
        {
            let endpoint = if mode == "instant" { "query" } else { "query_range" };
            let path = format!("/api/v1/{endpoint}?query={}&{params}", urlencode(q));
            let results: Vec<(Duration, usize, String)> =
                conns.iter_mut().map(|c| time_query(c, &path, repeat)).collect();
            let aw = &results[0];
            let prom = results.get(1);
            let ratio = prom.map(|p| aw.0.as_secs_f64() / p.0.as_secs_f64().max(1e-9));
            if let (Some(r), true) = (ratio, aw.2 == "ok") {
                ratios.push(r);
            }
            println!(
                "| `{q}` | {mode} | {:.2}{} | {} | {} | {} / {} |",
                aw.0.as_secs_f64() * 1000.0,
                if aw.2 == "ok" {
                    String::new()
                } else {
                    format!(" ({})", aw.2.chars().take(60).collect::<String>())
                },
                prom.map(|p| format!("{:.2}", p.0.as_secs_f64() * 1000.0))
                    .unwrap_or_else(|| "-".into()),
                ratio.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "-".into()),
                aw.1,
                prom.map(|p| p.1.to_string()).unwrap_or_else(|| "-".into()),
            );
        }
    }
    if !ratios.is_empty() {
        ratios.sort_by(|a, b| a.total_cmp(b));
        println!(
            "\nmedian ratio aerowatch/prometheus over {} query×mode cells: {:.2}× (target ≤ 0.5×); best {:.2}×, worst {:.2}×",
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
    for s in &servers {
        println!(
            "[{}] RSS after queries: {} MiB",
            s.flavor.name(),
            s.memory().rss / (1 << 20)
        );
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
}
