//! The web UI's first load in headless Chromium with 10k+ series stored:
//! bytes transferred (shell, scripts, styles and API answers, as the
//! browser's resource timing reports them) and the time from navigation
//! until every overview panel has drawn (`body[data-ready="1"]` and every
//! panel settled). Issue #6's target: well under 500 KB and within 1 s.
//! There is no peer to run beside it (Grafana is not in Debian), so the
//! figures are absolute. Median of `BENCH_RUNS` (5) loads, each in a fresh
//! browser session (cold cache).
//!
//! `cargo bench -p aerowatch --bench ui` (needs Debian's `chromium` and
//! `chromium-driver`).
mod support;

use std::time::Instant;

use support::browser::Browser;
use support::dataset::{self, Spec};
use support::env_num;
use support::proc::{Flavor, Server};
use support::webapp::{load, web_app_requests};

fn main() {
    let series = env_num("BENCH_SERIES", 10_000usize);
    let rounds = env_num("BENCH_ROUNDS", 260usize);
    let runs = env_num("BENCH_RUNS", 5usize).max(1);
    println!("# Web UI first load: overview page in headless Chromium");
    println!("parameters: BENCH_SERIES={series} BENCH_ROUNDS={rounds} BENCH_RUNS={runs}");
    let spec = Spec {
        targets: (series / 500).max(1),
        per_target: 500.min(series),
        rounds,
        batch: 1000,
        shards: 1,
        seed: 7,
    };
    let node = dataset::generate(&spec);
    let app = web_app_requests(node.first_ts, rounds);
    let dir = std::env::temp_dir().join(format!("aerowatch-ui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut server = Server::new(
        Flavor::Aerowatch,
        std::path::Path::new(env!("CARGO_BIN_EXE_aerowatch")),
        &dir,
    );
    std::fs::write(&server.config, "presets: [ openaero ]\n").expect("config");
    server.start();
    let t = Instant::now();
    load(&server, &node, &app);
    let stored = server.metric("aerowatch_tsdb_head_series").unwrap_or(f64::NAN);
    println!(
        "data: {stored} series stored ({} node + web-app series, {rounds} rounds at 15 s), loaded in {:.1} s",
        node.series,
        t.elapsed().as_secs_f64()
    );

    let mut loads = Vec::new();
    for run in 0..runs {
        let Some(browser) = Browser::start() else {
            println!("(chromium or chromedriver missing: nothing measured)");
            return;
        };
        browser.goto(&format!("http://127.0.0.1:{}/", server.port));
        browser.wait_ready();
        // Ready means every panel has answered; the numbers come from the
        // browser's own clocks and byte counts.
        let m = browser.eval(
            "const nav = performance.getEntriesByType('navigation')[0];
             const res = performance.getEntriesByType('resource');
             const bytes = (nav ? nav.transferSize : 0) + res.reduce((a, r) => a + r.transferSize, 0);
             const api = res.filter(r => r.name.includes('/api/')).length;
             return { ready_ms: window.__awReadyAt ?? performance.now(), bytes, requests: res.length + 1, api };",
            serde_json::json!([]),
        );
        let panels = browser.eval(
            "return document.querySelectorAll('.aw-panel').length;",
            serde_json::json!([]),
        );
        eprintln!("[run {run}] {m} panels={panels}");
        loads.push((
            m["ready_ms"].as_f64().unwrap_or(f64::NAN),
            m["bytes"].as_f64().unwrap_or(f64::NAN),
            m["requests"].as_u64().unwrap_or(0),
        ));
    }
    loads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ready, bytes, requests) = loads[loads.len() / 2];
    println!("\n| figure | median of {runs} cold loads | target |");
    println!("|---|--:|---|");
    println!("| overview drawn after, ms (navigation start → every panel ready) | {ready:.0} | ≤ 1000 |");
    println!(
        "| bytes transferred on first load | {:.0} KB | well under 500 KB |",
        bytes / 1024.0
    );
    println!("| requests | {requests} | |");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
