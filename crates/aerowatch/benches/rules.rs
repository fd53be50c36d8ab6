//! Rule evaluation, Aerowatch vs Prometheus 2.42, same data and same rule
//! file in one run.
//!
//! Loads a node_exporter-like fleet (`support::dataset`, `BENCH_SERIES`
//! series, `BENCH_ROUNDS` rounds at 15 s ending about now) through remote
//! write into each server, configured with one rule file of `BENCH_RULES`
//! per-instance alerting rules split over `BENCH_GROUPS` groups, evaluated
//! every 15 s. After the load it waits `BENCH_WAIT_SECS` (50 s: Prometheus writes `ALERTS` from its third evaluation on)
//! and reads each group's last evaluation time and the CPU the server
//! used meanwhile. The figure is the sum over groups of
//! `prometheus_rule_group_last_duration_seconds`: the time one round of
//! every rule takes, which must stay well inside the 15 s interval.
//!
//! `cargo bench -p aerowatch --bench rules`
mod support;

use std::time::{Duration, Instant};

use support::dataset::{self, Spec};
use support::env_num;
use support::http::{self, Conn};
use support::proc::{Flavor, Server};

/// The instance label of target `t`, as `support::dataset` names it.
fn instance(t: usize) -> String {
    format!("10.{}.{}.{}:9100", 16 + t / 65_536, (t / 256) % 256, t % 256)
}

/// `n` alerting rules of the kinds a fleet has per host, cycling over hosts.
fn rule_file(n: usize, groups: usize, targets: usize) -> String {
    let kinds: [(&str, &str, &str); 6] = [
        ("HostDown", "up{instance=\"I\"} == 0", "1m"),
        ("HostHighLoad", "node_load1{instance=\"I\"} > 4", "5m"),
        (
            "HostMemoryLow",
            "(1 - node_memory_MemAvailable_bytes{instance=\"I\"} / node_memory_MemTotal_bytes{instance=\"I\"}) * 100 > 50",
            "5m",
        ),
        (
            "HostCpuBusy",
            "avg by (instance) (rate(node_cpu_seconds_total{instance=\"I\",mode=\"idle\"}[5m])) < 0.9",
            "10m",
        ),
        (
            "HostNetworkBusy",
            "sum by (instance) (rate(node_network_receive_bytes_total{instance=\"I\"}[5m])) > 1000",
            "5m",
        ),
        (
            "HostDiskFilling",
            "node_filesystem_avail_bytes{instance=\"I\",mountpoint=\"/\"} / node_filesystem_size_bytes{instance=\"I\",mountpoint=\"/\"} < 0.5",
            "15m",
        ),
    ];
    let per_group = n.div_ceil(groups.max(1));
    let mut out = String::from("groups:\n");
    for i in 0..n {
        if i % per_group == 0 {
            out.push_str(&format!("  - name: fleet-{}\n    rules:\n", i / per_group));
        }
        let (name, expr, hold) = kinds[i % kinds.len()];
        let inst = instance((i / kinds.len()) % targets.max(1));
        out.push_str(&format!(
            "      - alert: {name}\n        expr: '{}'\n        for: {hold}\n        labels: {{ severity: warning }}\n        annotations: {{ summary: 'rule {i}' }}\n",
            expr.replace('I', &inst).replace('\'', "''")
        ));
    }
    out
}

fn load(server: &Server, node: &dataset::Workload) {
    let mut conn = Conn::new(server.port);
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
    ];
    let mut reqs: Vec<&dataset::Request> = node.shards.iter().flatten().collect();
    reqs.sort_by_key(|r| r.round);
    for r in reqs {
        let resp = conn.request("POST", "/api/v1/write", &headers, &r.body).expect("write");
        assert!(
            resp.status / 100 == 2,
            "{} refused data: {}",
            server.flavor.name(),
            String::from_utf8_lossy(&resp.body)
        );
    }
}

/// Sum over groups of a per-group gauge, and how many groups reported it.
fn sum_groups(exposition: &str, name: &str) -> (f64, usize) {
    let mut sum = 0.0;
    let mut n = 0;
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix(name) {
            if rest.starts_with('{') {
                if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                    sum += v;
                    n += 1;
                }
            }
        }
    }
    (sum, n)
}

fn main() {
    let series = env_num("BENCH_SERIES", 100_000usize);
    let rounds = env_num("BENCH_ROUNDS", 60usize);
    let rules = env_num("BENCH_RULES", 10_000usize);
    let groups = env_num("BENCH_GROUPS", 10usize);
    let wait = env_num("BENCH_WAIT_SECS", 50u64);
    let prometheus = std::env::var("BENCH_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    let spec = Spec {
        targets: (series / 500).max(1),
        per_target: 500.min(series),
        rounds,
        batch: 1000,
        shards: 1,
        seed: 7,
    };
    println!("# Rule evaluation: aerowatch vs prometheus 2.42");
    println!("parameters: BENCH_SERIES={series} BENCH_ROUNDS={rounds} BENCH_RULES={rules} BENCH_GROUPS={groups} BENCH_WAIT_SECS={wait}");
    let node = dataset::generate(&spec);
    let dir = std::env::temp_dir().join(format!("aerowatch-rules-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("rules.yml"), rule_file(rules, groups, spec.targets)).expect("rule file");

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
    println!("\n| server | rounds of all rules, s (sum of group durations) | groups reporting | missed iterations | server CPU per 15 s, s | firing+pending alerts | RSS MiB |");
    println!("|---|--:|--:|--:|--:|--:|--:|");
    let mut totals = Vec::new();
    for s in &mut servers {
        let config = format!(
            "global:\n  evaluation_interval: 15s\nrule_files: [ \"{}\" ]\n",
            dir.join("rules.yml").display()
        );
        std::fs::write(&s.config, config).expect("config");
        s.start();
        let t = Instant::now();
        load(s, &node);
        eprintln!("[{}] loaded in {:.1} s", s.flavor.name(), t.elapsed().as_secs_f64());
        let cpu0 = s.cpu_seconds();
        std::thread::sleep(Duration::from_secs(wait));
        let cpu = s.cpu_seconds() - cpu0;
        let metrics = http::get(s.port, "/metrics")
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .unwrap_or_default();
        let (duration, reporting) = sum_groups(&metrics, "prometheus_rule_group_last_duration_seconds");
        let missed = http::metric_value(&metrics, "prometheus_rule_group_iterations_missed_total")
            .unwrap_or_else(|| sum_groups(&metrics, "prometheus_rule_group_iterations_missed_total").0);
        let alerts = http::get(s.port, "/api/v1/query?query=count(ALERTS)")
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .and_then(|b| {
                b.split("\"value\":[")
                    .nth(1)
                    .and_then(|v| v.split('"').nth(1))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "0".into());
        println!(
            "| {} | {:.3} | {reporting} | {missed} | {:.2} | {alerts} | {} |",
            s.flavor.name(),
            duration,
            cpu * 15.0 / wait as f64,
            s.memory().rss / (1 << 20)
        );
        totals.push(duration);
        if std::env::var("BENCH_SHOW_ALERTS").is_ok() {
            let q = "/api/v1/query?query=count%20by%20(alertname%2Calertstate)%20(ALERTS)";
            if let Some(r) = http::get(s.port, q) {
                eprintln!("[{}] {}", s.flavor.name(), String::from_utf8_lossy(&r.body));
            }
            if let Some(r) = http::get(s.port, "/api/v1/rules?type=alert") {
                let body = String::from_utf8_lossy(&r.body);
                eprintln!("[{}] rules: {}", s.flavor.name(), &body[..body.len().min(1500)]);
            }
        }
    }
    if totals.len() == 2 && totals[1] > 0.0 {
        println!(
            "\nratio aerowatch/prometheus (rule round time): {:.2}×; aerowatch evaluates {rules} rules in {:.3} s of a 15 s interval",
            totals[0] / totals[1],
            totals[0]
        );
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
}
