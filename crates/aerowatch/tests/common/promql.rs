//! A real Prometheus 2.42 next to Aerowatch for the PromQL tests: started
//! with the remote-write receiver, fed the same requests, queried through
//! the same HTTP API.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prost::Message;

use crate::common::{client, free_port, proto};

/// Debian's `prometheus` (or `$PROMETHEUS_BIN`); panics with how to get it.
pub fn prometheus_binary() -> String {
    let path = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
    let ok = Command::new(&path)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "Prometheus not found at {path:?}: install Debian's `prometheus` package (bash .ci/run does) or set PROMETHEUS_BIN"
    );
    path
}

/// `promtool` next to it (or `$PROMTOOL_BIN`).
pub fn promtool_binary() -> String {
    let path = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let ok = Command::new(&path)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "promtool not found at {path:?}: install Debian's `prometheus` package or set PROMTOOL_BIN"
    );
    path
}

/// A running Prometheus, killed on drop.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    log: std::path::PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with no scrape jobs, accepting remote write, with
    /// its data under `dir`.
    pub fn start(dir: &Path) -> Prometheus {
        // evaluation_interval is the default subquery step: the same 1m as Aerowatch's default.
        Self::start_with_config(dir, "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n", &[])
    }

    /// Starts Prometheus with this prometheus.yml (written into `dir`) and
    /// extra flags.
    pub fn start_with_config(dir: &Path, config: &str, flags: &[&str]) -> Prometheus {
        let bin = prometheus_binary();
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        let c = client();
        loop {
            if c.get(p.url("/-/ready"))
                .send()
                .map(|r| r.status() == 200)
                .unwrap_or(false)
            {
                break;
            }
            assert!(Instant::now() < deadline, "prometheus not ready: {}", p.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Remote-writes one request to `url` (`.../api/v1/write`); returns status and body.
pub fn remote_write_to(client: &reqwest::blocking::Client, url: &str, req: &proto::WriteRequest) -> (u16, String) {
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
    let r = client
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("remote write to {url}: {e}"));
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// POSTs a form to `base` + `path`; returns status and body, or the
/// transport error as a 0 status.
pub fn post_form(client: &reqwest::blocking::Client, base: &str, path: &str, form: &[(&str, String)]) -> (u16, String) {
    match client.post(format!("{base}{path}")).form(form).send() {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().unwrap_or_default())
        }
        Err(e) => (0, format!("transport error: {e}")),
    }
}

/// Seconds with milliseconds, as an API time parameter.
pub fn api_time(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}
