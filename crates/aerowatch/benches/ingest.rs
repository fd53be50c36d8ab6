//! Aerowatch next to a real Prometheus (2.42, `/usr/bin/prometheus`) on the
//! same remote-write workload, in one run, one server at a time:
//!
//! 1. ingest throughput: pre-encoded snappy requests of a node_exporter-like
//!    fleet (default 200 targets × 500 series, 60 scrape rounds at 15 s),
//!    sent by `BENCH_CLIENTS` keep-alive connections sharded by series as
//!    Prometheus's queue manager does; samples acknowledged (2xx) per second
//!    of wall time and per CPU-second of the server process;
//! 2. resident memory per active series after the ingest (VmRSS, VmHWM);
//! 3. restart time with that head: SIGKILL, start on the same directory,
//!    time until `/-/ready` answers 200; the head series count is checked.
//!
//! `cargo bench -p aerowatch --bench ingest`; sizes through the environment:
//! BENCH_SERIES (100000), BENCH_TARGETS (200), BENCH_ROUNDS (60),
//! BENCH_BATCH (1000 samples per request), BENCH_CLIENTS (4),
//! BENCH_MAX_SECS (60, per ingest; a slower server is stopped there and its
//! rate is what it acknowledged until then), BENCH_SETTLE_SECS (2),
//! BENCH_RUNS (3; the medians are printed after the runs), BENCH_SERVERS
//! (aerowatch,prometheus), BENCH_PROMETHEUS (/usr/bin/prometheus),
//! BENCH_KEEP=1 keeps the data directories.
mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use support::dataset::{self, Workload};
use support::env_num;
use support::http::Conn;
use support::proc::{self, Flavor, Memory, Server};

/// A sender may not run more than this many scrape rounds ahead of the
/// slowest one: Prometheus refuses samples older than its newest minus 1 h.
const MAX_LAG_ROUNDS: usize = 60;

struct Params {
    series: usize,
    targets: usize,
    rounds: usize,
    batch: usize,
    clients: usize,
    max_secs: u64,
    settle_secs: u64,
    runs: usize,
    servers: Vec<Flavor>,
    prometheus: PathBuf,
    keep: bool,
}

impl Params {
    fn from_env() -> Params {
        let servers = std::env::var("BENCH_SERVERS").unwrap_or_else(|_| "aerowatch,prometheus".into());
        let servers = servers
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| match s.trim() {
                "aerowatch" => Flavor::Aerowatch,
                "prometheus" => Flavor::Prometheus,
                other => panic!("BENCH_SERVERS: unknown server {other:?} (aerowatch, prometheus)"),
            })
            .collect();
        Params {
            series: env_num("BENCH_SERIES", 100_000usize).max(1),
            targets: env_num("BENCH_TARGETS", 200usize).max(1),
            rounds: env_num("BENCH_ROUNDS", 60usize).max(1),
            batch: env_num("BENCH_BATCH", 1000usize).max(1),
            clients: env_num("BENCH_CLIENTS", 4usize).max(1),
            max_secs: env_num("BENCH_MAX_SECS", 60u64),
            settle_secs: env_num("BENCH_SETTLE_SECS", 2u64),
            runs: env_num("BENCH_RUNS", 3usize).max(1),
            servers,
            prometheus: std::env::var("BENCH_PROMETHEUS")
                .unwrap_or_else(|_| "/usr/bin/prometheus".into())
                .into(),
            keep: std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1"),
        }
    }

    fn describe(&self) -> String {
        format!(
            "BENCH_SERIES={} BENCH_TARGETS={} BENCH_ROUNDS={} BENCH_BATCH={} BENCH_CLIENTS={} BENCH_MAX_SECS={} \
             BENCH_SETTLE_SECS={} BENCH_RUNS={}",
            self.series,
            self.targets,
            self.rounds,
            self.batch,
            self.clients,
            self.max_secs,
            self.settle_secs,
            self.runs
        )
    }
}

#[derive(Default, Clone)]
struct Ingest {
    wall: f64,
    samples_ok: u64,
    requests_ok: u64,
    requests_failed: u64,
    first_error: Option<String>,
    server_cpu: f64,
    client_cpu: f64,
    timed_out: bool,
}

#[derive(Default, Clone)]
struct RunResult {
    ingest: Ingest,
    mem: Memory,
    head_series: f64,
    samples_appended: f64,
    wal_bytes: u64,
    first_start: f64,
    rss_idle: u64,
    restart: f64,
    head_series_after_restart: f64,
    rss_after_restart: u64,
    command: String,
}

impl RunResult {
    fn samples_per_sec(&self) -> f64 {
        self.ingest.samples_ok as f64 / self.ingest.wall.max(1e-9)
    }
    fn samples_per_cpu_sec(&self) -> f64 {
        self.ingest.samples_ok as f64 / self.ingest.server_cpu.max(1e-9)
    }
    fn rss_per_series(&self, series: usize) -> f64 {
        self.mem.rss as f64 / series as f64
    }
    fn growth_per_series(&self, series: usize) -> f64 {
        (self.mem.rss as f64 - self.rss_idle as f64) / series as f64
    }
    fn hwm_per_series(&self, series: usize) -> f64 {
        self.mem.hwm as f64 / series as f64
    }
    fn wal_per_sample(&self) -> f64 {
        self.wal_bytes as f64 / self.ingest.samples_ok.max(1) as f64
    }
}

fn ingest(server: &Server, w: &Workload, p: &Params) -> Ingest {
    let shards = w.shards.len();
    let progress: Vec<AtomicUsize> = (0..shards).map(|_| AtomicUsize::new(0)).collect();
    let samples_ok = AtomicU64::new(0);
    let requests_ok = AtomicU64::new(0);
    let requests_failed = AtomicU64::new(0);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let timed_out = AtomicU64::new(0);
    let barrier = Barrier::new(shards + 1);
    let port = server.port;
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ("User-Agent", "aerowatch-ingest-bench"),
    ];

    let client_cpu0 = proc::cpu_seconds("/proc/self/stat");
    let server_cpu0 = server.cpu_seconds();
    let mut started = Instant::now();
    std::thread::scope(|scope| {
        for (i, reqs) in w.shards.iter().enumerate() {
            let (progress, samples_ok, requests_ok, requests_failed, first_error, timed_out, barrier) = (
                &progress,
                &samples_ok,
                &requests_ok,
                &requests_failed,
                &first_error,
                &timed_out,
                &barrier,
            );
            let headers = &headers;
            scope.spawn(move || {
                let mut conn = Conn::new(port);
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs(p.max_secs);
                for req in reqs {
                    progress[i].store(req.round, Ordering::Relaxed);
                    while req.round > MAX_LAG_ROUNDS
                        && progress.iter().map(|a| a.load(Ordering::Relaxed)).min().unwrap_or(0) + MAX_LAG_ROUNDS
                            < req.round
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if Instant::now() > deadline {
                        timed_out.store(1, Ordering::Relaxed);
                        break;
                    }
                    match conn.request("POST", "/api/v1/write", headers, &req.body) {
                        Ok(r) if (200..300).contains(&r.status) => {
                            samples_ok.fetch_add(req.samples as u64, Ordering::Relaxed);
                            requests_ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            requests_failed.fetch_add(1, Ordering::Relaxed);
                            let mut e = first_error.lock().unwrap();
                            if e.is_none() {
                                *e = Some(format!(
                                    "HTTP {}: {}",
                                    r.status,
                                    String::from_utf8_lossy(&r.body).trim()
                                ));
                            }
                        }
                        Err(err) => {
                            requests_failed.fetch_add(1, Ordering::Relaxed);
                            let mut e = first_error.lock().unwrap();
                            if e.is_none() {
                                *e = Some(format!("I/O error: {err}"));
                            }
                        }
                    }
                }
                progress[i].store(usize::MAX, Ordering::Relaxed);
            });
        }
        barrier.wait();
        started = Instant::now();
    });
    let wall = started.elapsed().as_secs_f64();
    Ingest {
        wall,
        samples_ok: samples_ok.into_inner(),
        requests_ok: requests_ok.into_inner(),
        requests_failed: requests_failed.into_inner(),
        first_error: first_error.into_inner().unwrap(),
        server_cpu: server.cpu_seconds() - server_cpu0,
        client_cpu: proc::cpu_seconds("/proc/self/stat") - client_cpu0,
        timed_out: timed_out.into_inner() != 0,
    }
}

fn run_one(flavor: Flavor, binary: &std::path::Path, w: &Workload, p: &Params) -> RunResult {
    let dir = tempfile::Builder::new()
        .prefix("aerowatch-ingest-bench-")
        .tempdir()
        .expect("tempdir");
    let mut server = Server::new(flavor, binary, dir.path());
    let mut r = RunResult {
        command: server.command_line(),
        ..Default::default()
    };
    eprintln!("[{}] starting: {}", flavor.name(), r.command);
    r.first_start = server.start().as_secs_f64();
    r.rss_idle = server.memory().rss;
    r.ingest = ingest(&server, w, p);
    eprintln!(
        "[{}] ingested {} samples in {:.2} s ({} requests ok, {} failed{})",
        flavor.name(),
        r.ingest.samples_ok,
        r.ingest.wall,
        r.ingest.requests_ok,
        r.ingest.requests_failed,
        if r.ingest.timed_out {
            ", stopped at BENCH_MAX_SECS"
        } else {
            ""
        }
    );
    if let Some(e) = &r.ingest.first_error {
        eprintln!("[{}] first refusal: {e}", flavor.name());
    }
    std::thread::sleep(Duration::from_secs(p.settle_secs));
    r.mem = server.memory();
    r.head_series = server.metric(flavor.head_series_metric()).unwrap_or(f64::NAN);
    r.samples_appended = server.metric(flavor.samples_appended_metric()).unwrap_or(f64::NAN);
    r.wal_bytes = proc::dir_bytes(&server.data.join("wal"));

    server.kill9();
    r.restart = server.start().as_secs_f64();
    r.head_series_after_restart = server.metric(flavor.head_series_metric()).unwrap_or(f64::NAN);
    r.rss_after_restart = server.memory().rss;
    eprintln!(
        "[{}] restarted in {:.3} s with {} head series",
        flavor.name(),
        r.restart,
        r.head_series_after_restart
    );
    server.kill9();
    if p.keep {
        eprintln!("[{}] kept {}", flavor.name(), dir.keep().display());
    }
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// How a row's ratio (aerowatch / prometheus) is judged against the issue.
enum Target {
    None,
    /// aerowatch ≥ k × prometheus (and optionally ≥ an absolute floor).
    AtLeast(f64, Option<f64>),
    /// aerowatch ≤ k × prometheus (and optionally ≤ an absolute ceiling).
    AtMost(f64, Option<f64>),
}

struct Row {
    name: &'static str,
    aw: Option<f64>,
    prom: Option<f64>,
    fmt: fn(f64) -> String,
    target: Target,
}

fn f0(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        let s = format!("{:.0}", x);
        // Thousands separators for readability.
        let (sign, digits) = s.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", s.as_str()));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    }
}
fn f2(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{x:.2}")
    }
}
fn f3(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{x:.3}")
    }
}
fn mib(x: f64) -> String {
    f0(x / 1048576.0) + " MiB"
}

fn print_table(title: &str, aw: &[RunResult], prom: &[RunResult], w: &Workload) {
    let m = |v: &[RunResult], f: &dyn Fn(&RunResult) -> f64| -> Option<f64> {
        if v.is_empty() {
            None
        } else {
            Some(median(v.iter().map(f).collect()))
        }
    };
    let s = w.series;
    let rows = [
        Row {
            name: "ingest, samples/s (wall)",
            aw: m(aw, &|r| r.samples_per_sec()),
            prom: m(prom, &|r| r.samples_per_sec()),
            fmt: f0,
            target: Target::AtLeast(3.0, Some(1e6)),
        },
        Row {
            name: "ingest, samples per server CPU-second",
            aw: m(aw, &|r| r.samples_per_cpu_sec()),
            prom: m(prom, &|r| r.samples_per_cpu_sec()),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "ingest wall time, s",
            aw: m(aw, &|r| r.ingest.wall),
            prom: m(prom, &|r| r.ingest.wall),
            fmt: f2,
            target: Target::None,
        },
        Row {
            name: "server CPU during ingest, s",
            aw: m(aw, &|r| r.ingest.server_cpu),
            prom: m(prom, &|r| r.ingest.server_cpu),
            fmt: f2,
            target: Target::None,
        },
        Row {
            name: "client (bench) CPU during ingest, s",
            aw: m(aw, &|r| r.ingest.client_cpu),
            prom: m(prom, &|r| r.ingest.client_cpu),
            fmt: f2,
            target: Target::None,
        },
        Row {
            name: "samples acknowledged (2xx)",
            aw: m(aw, &|r| r.ingest.samples_ok as f64),
            prom: m(prom, &|r| r.ingest.samples_ok as f64),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "requests refused or failed",
            aw: m(aw, &|r| r.ingest.requests_failed as f64),
            prom: m(prom, &|r| r.ingest.requests_failed as f64),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "RSS idle, before ingest",
            aw: m(aw, &|r| r.rss_idle as f64),
            prom: m(prom, &|r| r.rss_idle as f64),
            fmt: mib,
            target: Target::None,
        },
        Row {
            name: "RSS after ingest (VmRSS)",
            aw: m(aw, &|r| r.mem.rss as f64),
            prom: m(prom, &|r| r.mem.rss as f64),
            fmt: mib,
            target: Target::None,
        },
        Row {
            name: "RSS bytes per active series",
            aw: m(aw, &|r| r.rss_per_series(s)),
            prom: m(prom, &|r| r.rss_per_series(s)),
            fmt: f0,
            target: Target::AtMost(0.33, Some(1024.0)),
        },
        Row {
            name: "RSS growth per series (minus idle RSS)",
            aw: m(aw, &|r| r.growth_per_series(s)),
            prom: m(prom, &|r| r.growth_per_series(s)),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "peak RSS (VmHWM) bytes per series",
            aw: m(aw, &|r| r.hwm_per_series(s)),
            prom: m(prom, &|r| r.hwm_per_series(s)),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "head series after ingest",
            aw: m(aw, &|r| r.head_series),
            prom: m(prom, &|r| r.head_series),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "WAL bytes per sample",
            aw: m(aw, &|r| r.wal_per_sample()),
            prom: m(prom, &|r| r.wal_per_sample()),
            fmt: f2,
            target: Target::None,
        },
        Row {
            name: "restart to ready (WAL replay), s",
            aw: m(aw, &|r| r.restart),
            prom: m(prom, &|r| r.restart),
            fmt: f3,
            target: Target::AtMost(0.5, None),
        },
        Row {
            name: "head series after restart",
            aw: m(aw, &|r| r.head_series_after_restart),
            prom: m(prom, &|r| r.head_series_after_restart),
            fmt: f0,
            target: Target::None,
        },
        Row {
            name: "RSS after restart",
            aw: m(aw, &|r| r.rss_after_restart as f64),
            prom: m(prom, &|r| r.rss_after_restart as f64),
            fmt: mib,
            target: Target::None,
        },
        Row {
            name: "cold start to ready (empty dir), s",
            aw: m(aw, &|r| r.first_start),
            prom: m(prom, &|r| r.first_start),
            fmt: f3,
            target: Target::None,
        },
    ];
    println!();
    println!("{title}");
    println!();
    println!("| metric | aerowatch | prometheus 2.42 | ratio aw/prom | target | met |");
    println!("|---|--:|--:|--:|---|---|");
    for r in rows {
        let show = |x: Option<f64>| x.map(r.fmt).unwrap_or_else(|| "not run".into());
        let ratio = match (r.aw, r.prom) {
            (Some(a), Some(b)) if b != 0.0 && !a.is_nan() && !b.is_nan() => Some(a / b),
            _ => None,
        };
        let (target, met) = match r.target {
            Target::None => (String::new(), String::new()),
            Target::AtLeast(k, floor) => {
                let t = match floor {
                    Some(f) => format!("≥ {k}× and ≥ {}", f0(f)),
                    None => format!("≥ {k}×"),
                };
                let ok = ratio.is_some_and(|x| x >= k) && floor.is_none_or(|f| r.aw.is_some_and(|a| a >= f));
                (t, verdict(ratio.is_some(), ok))
            }
            Target::AtMost(k, ceil) => {
                let t = match ceil {
                    Some(c) => format!("≤ {k}× and ≤ {}", f0(c)),
                    None => format!("≤ {k}×"),
                };
                let ok = ratio.is_some_and(|x| x <= k) && ceil.is_none_or(|c| r.aw.is_some_and(|a| a <= c));
                (t, verdict(ratio.is_some(), ok))
            }
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.name,
            show(r.aw),
            show(r.prom),
            ratio.map(|x| format!("{x:.2}×")).unwrap_or_default(),
            target,
            met
        );
    }
    println!("| bytes per sample in blocks | see `cargo bench -p tsdb --bench block` | | | ≤ 0.5× | |");
}

/// One line per run, to show the spread behind the medians.
fn print_runs(aw: &[RunResult], prom: &[RunResult], w: &Workload) {
    println!();
    println!("## each run");
    println!();
    println!(
        "| run | samples/s aw | samples/s prom | samples/CPU-s aw | samples/CPU-s prom | RSS B/series aw \
         | RSS B/series prom | restart s aw | restart s prom |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let cell = |r: Option<&RunResult>, f: &dyn Fn(&RunResult) -> String| r.map(f).unwrap_or_else(|| "-".into());
    for i in 0..aw.len().max(prom.len()) {
        let (a, b) = (aw.get(i), prom.get(i));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            cell(a, &|r| f0(r.samples_per_sec())),
            cell(b, &|r| f0(r.samples_per_sec())),
            cell(a, &|r| f0(r.samples_per_cpu_sec())),
            cell(b, &|r| f0(r.samples_per_cpu_sec())),
            cell(a, &|r| f0(r.rss_per_series(w.series))),
            cell(b, &|r| f0(r.rss_per_series(w.series))),
            cell(a, &|r| f3(r.restart)),
            cell(b, &|r| f3(r.restart)),
        );
    }
}

fn verdict(known: bool, ok: bool) -> String {
    match (known, ok) {
        (false, _) => "?".into(),
        (true, true) => "yes".into(),
        (true, false) => "NO".into(),
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), MemTotal {mem}")
}

fn version(binary: &std::path::Path, arg: &str) -> String {
    std::process::Command::new(binary)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "not found".into())
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let p = Params::from_env();
    let aerowatch = PathBuf::from(env!("CARGO_BIN_EXE_aerowatch"));
    let mut servers = p.servers.clone();
    if servers.contains(&Flavor::Prometheus) && !p.prometheus.exists() {
        eprintln!("{} not found: running aerowatch only", p.prometheus.display());
        servers.retain(|&f| f != Flavor::Prometheus);
    }
    let per_target = (p.series / p.targets).max(1);
    let spec = dataset::Spec {
        targets: p.targets,
        per_target,
        rounds: p.rounds,
        batch: p.batch,
        shards: p.clients,
        seed: 0x5EED_A3E0,
    };
    let t = Instant::now();
    let w = dataset::generate(&spec);
    let gen_secs = t.elapsed().as_secs_f64();

    // The encoder must produce what a protobuf decoder reads back.
    let first = dataset::decode(&w.shards[0][0]);
    assert_eq!(first.timeseries.len(), w.shards[0][0].samples);
    for ts in &first.timeseries {
        assert_eq!(ts.samples.len(), 1);
        assert!(ts.labels.windows(2).all(|l| l[0].name < l[1].name), "labels sorted");
        assert!(ts.labels.iter().any(|l| l.name == "__name__"));
    }
    assert_eq!(w.samples, w.series * p.rounds);

    println!("# aerowatch vs prometheus: remote_write ingest, memory per series, restart");
    println!();
    println!("command: cargo bench -p aerowatch --bench ingest");
    println!("params:  {}", p.describe());
    println!("machine: {}", machine());
    println!(
        "aerowatch:  {} ({})",
        aerowatch.display(),
        version(&aerowatch, "version")
    );
    println!(
        "prometheus: {} ({})",
        p.prometheus.display(),
        version(&p.prometheus, "--version")
    );
    println!(
        "workload: {} series ({} targets × {} series; node_exporter template of {} series), {} rounds at 15 s \
         = {} samples, {} requests of ≤ {} samples over {} connections; {:.1} MB protobuf, {:.1} MB snappy \
         ({:.1} bytes/sample on the wire); timestamps {} .. {} ms; generated in {:.1} s",
        w.series,
        p.targets,
        per_target,
        w.template_len,
        p.rounds,
        w.samples,
        w.shards.iter().map(Vec::len).sum::<usize>(),
        p.batch,
        w.shards.len(),
        w.raw_bytes as f64 / 1e6,
        w.body_bytes as f64 / 1e6,
        w.body_bytes as f64 / w.samples as f64,
        w.first_ts,
        w.last_ts,
        gen_secs
    );

    let mut aw: Vec<RunResult> = Vec::new();
    let mut prom: Vec<RunResult> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for run in 0..p.runs {
        // Alternate the order so neither server always runs on a warmer machine.
        let mut order = servers.clone();
        if run % 2 == 1 {
            order.reverse();
        }
        for &f in &order {
            let binary = match f {
                Flavor::Aerowatch => aerowatch.clone(),
                Flavor::Prometheus => p.prometheus.clone(),
            };
            let r = run_one(f, &binary, &w, &p);
            if r.ingest.requests_failed > 0 {
                problems.push(format!(
                    "run {}: {} refused or failed {} requests, first: {}",
                    run + 1,
                    f.name(),
                    r.ingest.requests_failed,
                    r.ingest.first_error.as_deref().unwrap_or("?")
                ));
            }
            if r.ingest.timed_out {
                println!(
                    "note: run {}: {} stopped at BENCH_MAX_SECS={} after {} of {} samples",
                    run + 1,
                    f.name(),
                    p.max_secs,
                    r.ingest.samples_ok,
                    w.samples
                );
            } else if f == Flavor::Aerowatch && r.head_series_after_restart != w.series as f64 {
                problems.push(format!(
                    "run {}: aerowatch has {} head series after restart, {} were written",
                    run + 1,
                    r.head_series_after_restart,
                    w.series
                ));
            }
            if f == Flavor::Aerowatch {
                aw.push(r);
            } else {
                prom.push(r);
            }
        }
    }
    println!();
    for (name, v) in [("aerowatch", &aw), ("prometheus", &prom)] {
        if let Some(r) = v.last() {
            println!("{name}: {}", r.command);
        }
    }
    print_runs(&aw, &prom, &w);
    let title = if p.runs > 1 {
        format!("## median of {} runs", p.runs)
    } else {
        "## 1 run".to_string()
    };
    print_table(&title, &aw, &prom, &w);
    println!();
    println!(
        "ratios are aerowatch / prometheus; memory per series = VmRSS / {} series; restart = SIGKILL, \
         then spawn until GET /-/ready answers 200",
        w.series
    );
    if !problems.is_empty() {
        println!();
        for pr in &problems {
            println!("PROBLEM: {pr}");
        }
        panic!("{} problem(s), see above", problems.len());
    }
}
