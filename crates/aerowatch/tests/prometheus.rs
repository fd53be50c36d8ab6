//! Against a real Prometheus 2.42 (Debian's package): it scrapes Aerowatch
//! and remote-writes what it scraped into Aerowatch; both stores must then
//! hold exactly the same samples, compared through remote read.
mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, proto, remote_read_at, Server};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus_binary() -> String {
    let path = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
    let ok = Command::new(&path)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "Prometheus not found at {path:?}: install Debian's `prometheus` package (bash .ci/run does) or set PROMETHEUS_BIN");
    path
}

type SeriesMap = BTreeMap<Vec<(String, String)>, Vec<(i64, u64)>>;

fn as_map(resp: &proto::ReadResponse) -> SeriesMap {
    let mut out = BTreeMap::new();
    for ts in &resp.results[0].timeseries {
        let mut labels: Vec<(String, String)> = ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        labels.sort();
        out.insert(
            labels,
            ts.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect(),
        );
    }
    out
}

#[test]
fn prometheus_scrapes_and_remote_writes_into_aerowatch_identically() {
    let bin = prometheus_binary();
    let dir = tempfile::tempdir().unwrap();
    let aw = Server::start(Some(""), &dir.path().join("aerowatch"));
    let prom_port = common::free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: aerowatch\n    static_configs:\n      - targets: ['127.0.0.1:{aw}']\nremote_write:\n  - url: http://127.0.0.1:{aw}/api/v1/write\n    queue_config:\n      batch_send_deadline: 200ms\n      min_backoff: 50ms\n      max_backoff: 500ms\n",
            aw = aw.port
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let prom = Prometheus(
        Command::new(bin)
            .arg(format!("--config.file={}", prom_cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let prom_read = format!("http://127.0.0.1:{prom_port}/api/v1/read");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client()
        .get(format!("http://127.0.0.1:{prom_port}/-/ready"))
        .send()
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Prometheus applies new targets on a 5 s tick: wait for its first
    // scrapes, let a few more happen, then compare everything up to a
    // cut-off that remote write has had time to deliver.
    let deadline = Instant::now() + Duration::from_secs(30);
    while as_map(&remote_read_at(
        &prom_read,
        &common::read_query(&[(0, "__name__", "up")], 0, i64::MAX / 2),
    ))
    .is_empty()
    {
        assert!(Instant::now() < deadline, "prometheus never scraped aerowatch");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    let cutoff = model::now_millis() - 2000;
    let query = common::read_query(&[(0, "job", "aerowatch")], 0, cutoff);
    let expected = as_map(&remote_read_at(&prom_read, &query));
    assert!(
        expected.len() > 20,
        "prometheus scraped too little: {} series",
        expected.len()
    );
    let samples: usize = expected.values().map(Vec::len).sum();
    assert!(samples > 100, "too few samples to compare: {samples}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = SeriesMap::new();
    while Instant::now() < deadline {
        got = as_map(&aw.remote_read(aw.port, &query));
        if got == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if got != expected {
        let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
        let differing: Vec<_> = expected
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .map(|(k, _)| k)
            .take(5)
            .collect();
        panic!(
            "Aerowatch holds different data than Prometheus: {} vs {} series; missing e.g. {missing:?}; differing e.g. {differing:?}",
            got.len(),
            expected.len()
        );
    }
    // The series API agrees with Prometheus's too.
    let ours = aw.get_json("/api/v1/series?match[]=up&start=0");
    let theirs: serde_json::Value = client()
        .get(format!("http://127.0.0.1:{prom_port}/api/v1/series?match[]=up&start=0"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ours["data"], theirs["data"]);
    drop(prom);
}
