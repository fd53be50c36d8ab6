//! Notification fan-out, Aerowatch vs Alertmanager 0.25, same config and
//! alerts in one run.
//!
//! Each server gets the same alertmanager.yml (one webhook receiver, alerts
//! grouped by `alertname`, `group_wait: 1s`) and the same `BENCH_ALERTS`
//! (1,000) alerts over `BENCH_GROUPS` (50) alert names, posted to
//! `/api/v2/alerts` in batches of 64 as Prometheus posts them. A local
//! server stands in for the webhook and counts the alerts it receives. The
//! figures: time from the first post until every alert was delivered (group
//! wait included), notifications sent, and the server's CPU over it. Runs
//! `BENCH_RUNS` (3) times per server, alternating; medians are printed.
//!
//! `cargo bench -p aerowatch --bench alerts` (Alertmanager from Debian's
//! `prometheus-alertmanager`, at `BENCH_ALERTMANAGER`, default
//! /usr/bin/prometheus-alertmanager).
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::env_num;
use support::http::{self, Conn};
use support::proc::{cpu_seconds, free_port, memory};

/// Counts webhook notifications and the alerts in them.
struct Hook {
    port: u16,
    notifications: Arc<AtomicUsize>,
    alerts: Arc<AtomicUsize>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let notifications = Arc::new(AtomicUsize::new(0));
        let alerts = Arc::new(AtomicUsize::new(0));
        let (n, a) = (notifications.clone(), alerts.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (n, a) = (n.clone(), a.clone());
                std::thread::spawn(move || {
                    let mut w = match stream.try_clone() {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                    let mut r = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end().to_ascii_lowercase();
                            if h.is_empty() {
                                break;
                            }
                            if let Some(v) = h.strip_prefix("content-length:") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).is_err() {
                            return;
                        }
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                        let count = v["alerts"].as_array().map(|a| a.len()).unwrap_or(0);
                        n.fetch_add(1, Ordering::Relaxed);
                        a.fetch_add(count, Ordering::Relaxed);
                        if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Hook {
            port,
            notifications,
            alerts,
        }
    }
}

fn alertmanager_yml(hook: u16) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs: [ {{ url: \"http://127.0.0.1:{hook}/hook\" }} ]\n"
    )
}

struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(kind: &str, binary: &str, dir: &std::path::Path, hook: u16) -> Proc {
    let port = free_port();
    let data = dir.join(format!("{kind}-data-{port}"));
    std::fs::create_dir_all(&data).expect("data dir");
    let yml = alertmanager_yml(hook);
    let mut cmd = Command::new(binary);
    if kind == "aerowatch" {
        let indented: String = yml.lines().map(|l| format!("  {l}\n")).collect();
        let cfg = dir.join(format!("aerowatch-{port}.yml"));
        std::fs::write(&cfg, format!("alertmanager:\n{indented}")).expect("config");
        cmd.arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--storage.path")
            .arg(&data)
            .arg("--config.file")
            .arg(&cfg);
    } else {
        let cfg = dir.join(format!("alertmanager-{port}.yml"));
        std::fs::write(&cfg, yml).expect("config");
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let p = Proc { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http::get(port, "/-/ready").map(|r| r.status) != Some(200) {
        assert!(Instant::now() < deadline, "{kind} not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// The alerts, as Prometheus posts them, in batches of 64.
fn batches(n: usize, groups: usize, run: usize) -> Vec<Vec<u8>> {
    let now = chrono::Utc::now();
    let starts = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let ends = (now + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let alerts: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "labels": { "alertname": format!("Alert{}", i % groups), "instance": format!("host-{i}:9100"),
                            "severity": "page", "run": run.to_string() },
                "annotations": { "summary": format!("host-{i} is unhappy") },
                "startsAt": starts, "endsAt": ends,
                "generatorURL": "http://prometheus.test/graph?g0.expr=up"
            })
        })
        .collect();
    alerts
        .chunks(64)
        .map(|c| serde_json::to_vec(c).expect("json"))
        .collect()
}

struct Outcome {
    deliver: Duration,
    post: Duration,
    notifications: usize,
    cpu: f64,
    rss_mib: u64,
}

fn run_one(kind: &str, binary: &str, dir: &std::path::Path, n: usize, groups: usize, run: usize) -> Outcome {
    let hook = Hook::start();
    let p = start(kind, binary, dir, hook.port);
    let pid = p.child.id();
    let bodies = batches(n, groups, run);
    let mut conn = Conn::new(p.port);
    let cpu0 = cpu_seconds(&format!("/proc/{pid}/stat"));
    let t0 = Instant::now();
    for b in &bodies {
        let r = conn
            .request("POST", "/api/v2/alerts", &[("Content-Type", "application/json")], b)
            .expect("post");
        assert_eq!(r.status, 200, "{kind}: {}", String::from_utf8_lossy(&r.body));
    }
    let post = t0.elapsed();
    let deadline = t0 + Duration::from_secs(60);
    while hook.alerts.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "{kind}: only {} of {n} alerts delivered",
            hook.alerts.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let deliver = t0.elapsed();
    let cpu = cpu_seconds(&format!("/proc/{pid}/stat")) - cpu0;
    Outcome {
        deliver,
        post,
        notifications: hook.notifications.load(Ordering::Relaxed),
        cpu,
        rss_mib: memory(pid).rss / (1 << 20),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let n = env_num("BENCH_ALERTS", 1000usize);
    let groups = env_num("BENCH_GROUPS", 50usize).max(1);
    let runs = env_num("BENCH_RUNS", 3usize).max(1);
    let am = std::env::var("BENCH_ALERTMANAGER").unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into());
    let aw = env!("CARGO_BIN_EXE_aerowatch").to_string();
    println!("# Notification fan-out: aerowatch vs alertmanager");
    println!("parameters: BENCH_ALERTS={n} BENCH_GROUPS={groups} BENCH_RUNS={runs}; group_by [alertname], group_wait 1s, one webhook receiver");
    let dir = std::env::temp_dir().join(format!("aerowatch-alerts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut kinds = vec![("aerowatch", aw)];
    if std::path::Path::new(&am).exists() {
        kinds.push(("alertmanager", am));
    } else {
        println!("(Alertmanager not found at {am}: only Aerowatch runs)");
    }
    let mut results: Vec<Vec<Outcome>> = kinds.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        let order: Vec<usize> = if run % 2 == 0 {
            (0..kinds.len()).collect()
        } else {
            (0..kinds.len()).rev().collect()
        };
        for k in order {
            let (kind, bin) = &kinds[k];
            results[k].push(run_one(kind, bin, &dir, n, groups, run));
        }
    }
    println!("\n| server | all {n} alerts delivered after, ms (median) | of which posting, ms | notifications | server CPU, ms | RSS MiB |");
    println!("|---|--:|--:|--:|--:|--:|");
    let mut delivered = Vec::new();
    let mut cpus = Vec::new();
    for ((kind, _), rs) in kinds.iter().zip(&results) {
        let d = median(rs.iter().map(|r| r.deliver.as_secs_f64() * 1000.0).collect());
        let p = median(rs.iter().map(|r| r.post.as_secs_f64() * 1000.0).collect());
        let c = median(rs.iter().map(|r| r.cpu * 1000.0).collect());
        let notes = rs.last().map(|r| r.notifications).unwrap_or(0);
        let rss = rs.last().map(|r| r.rss_mib).unwrap_or(0);
        println!("| {kind} | {d:.0} | {p:.1} | {notes} | {c:.0} | {rss} |");
        delivered.push(d);
        cpus.push(c);
    }
    if delivered.len() == 2 {
        println!(
            "\nratios aerowatch/alertmanager: delivery time {:.2}×, CPU {:.2}× (delivery includes the 1 s group_wait both wait)",
            delivered[0] / delivered[1],
            cpus[0] / cpus[1].max(1e-9)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
