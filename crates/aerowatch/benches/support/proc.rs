//! Starting the servers under test, and reading their CPU and memory from /proc.
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Aerowatch,
    Prometheus,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Aerowatch => "aerowatch",
            Flavor::Prometheus => "prometheus",
        }
    }

    /// The self-metric with the number of series in the head.
    pub fn head_series_metric(self) -> &'static str {
        match self {
            Flavor::Aerowatch => "aerowatch_tsdb_head_series",
            Flavor::Prometheus => "prometheus_tsdb_head_series",
        }
    }

    pub fn samples_appended_metric(self) -> &'static str {
        match self {
            Flavor::Aerowatch => "aerowatch_tsdb_head_samples_appended_total",
            Flavor::Prometheus => "prometheus_tsdb_head_samples_appended_total",
        }
    }
}

/// A server process; killed (SIGKILL) when dropped, so a panicking bench
/// leaves nothing running.
pub struct Server {
    pub flavor: Flavor,
    pub binary: PathBuf,
    pub port: u16,
    pub data: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Server {
    /// Prepares (does not start) a server with an empty configuration in `dir`.
    pub fn new(flavor: Flavor, binary: &Path, dir: &Path) -> Server {
        let config = dir.join(format!("{}.yml", flavor.name()));
        let text = match flavor {
            // An empty file: the defaults, no scrape jobs.
            Flavor::Aerowatch => "",
            Flavor::Prometheus => "global: {}\n",
        };
        fs::write(&config, text).expect("write config");
        let data = dir.join(format!("{}-data", flavor.name()));
        fs::create_dir_all(&data).expect("create data dir");
        Server {
            flavor,
            binary: binary.to_path_buf(),
            port: free_port(),
            data,
            config,
            log: dir.join(format!("{}.log", flavor.name())),
            child: None,
            starts: 0,
        }
    }

    pub fn args(&self) -> Vec<String> {
        let port = self.port;
        let data = self.data.display();
        let config = self.config.display();
        match self.flavor {
            Flavor::Aerowatch => vec![
                "--web.listen-address".into(),
                format!("127.0.0.1:{port}"),
                "--storage.path".into(),
                data.to_string(),
                "--config.file".into(),
                config.to_string(),
            ],
            Flavor::Prometheus => vec![
                format!("--config.file={config}"),
                format!("--storage.tsdb.path={data}"),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-remote-write-receiver".into(),
            ],
        }
    }

    pub fn command_line(&self) -> String {
        let mut s = self.binary.display().to_string();
        for a in self.args() {
            s.push(' ');
            s.push_str(&a);
        }
        s
    }

    /// Starts the process and returns how long it took until `/-/ready`
    /// answered 200 (polled every 5 ms).
    pub fn start(&mut self) -> Duration {
        assert!(self.child.is_none(), "already running");
        if self.flavor == Flavor::Aerowatch {
            // Prometheus runs no host collector: neither does Aerowatch here,
            // and its live samples would also make the benches' back-dated
            // data out of bounds.
            let text = fs::read_to_string(&self.config).unwrap_or_default();
            if !text.contains("collectors:") {
                fs::write(
                    &self.config,
                    format!("{text}\ncollectors:\n  host: {{ enabled: false }}\n"),
                )
                .expect("write config");
            }
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        self.starts += 1;
        let started = Instant::now();
        let child = Command::new(&self.binary)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = started + Duration::from_secs(300);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "{} exited early with {status}; log:\n{}",
                    self.flavor.name(),
                    self.log_tail()
                );
            }
            if let Some(r) = http::get(self.port, "/-/ready") {
                if r.status == 200 {
                    return started.elapsed();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not ready within 300 s; log:\n{}",
                    self.flavor.name(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A gauge or counter from the server's own `/metrics`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let r = http::get(self.port, "/metrics")?;
        http::metric_value(&String::from_utf8_lossy(&r.body), name)
    }

    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.pid()))
    }

    pub fn memory(&self) -> Memory {
        memory(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (all its threads), in seconds.
pub fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// VmRSS, bytes.
    pub rss: u64,
    /// VmHWM (peak RSS), bytes.
    pub hwm: u64,
}

pub fn memory(pid: u32) -> Memory {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Memory {
        rss: kb("VmRSS:"),
        hwm: kb("VmHWM:"),
    }
}

/// Total size of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
