//! The real binary on a loopback port: HTTP surface, self-scrape, config
//! handling, reload and shutdown.
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{client, series, Server};

fn self_scrape_config(port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: aerowatch\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn health_endpoints_follow_prometheus_and_seed_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(None, &dir.path().join("data"));
    let c = client();
    let r = c.get(s.url("/-/healthy")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(c.get(s.url("/-/ready")).send().unwrap().status(), 200);
    let h = s.get_json("/api/health");
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["checks"]["storage"]["status"], "healthy");
    assert_eq!(h["checks"]["wal"]["status"], "healthy");
    assert!(h["checks"]["storage"]["responseTime"].is_number());
    assert!(h["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["environment"], "production");
    let b = s.get_json("/api/v1/status/buildinfo");
    assert_eq!(b["status"], "success");
    assert_eq!(b["data"]["version"], env!("CARGO_PKG_VERSION"));
    let r = c.get(s.url("/nope")).send().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn embedded_defaults_scrape_self_and_expose_request_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let s = Server::start_on(Some(&self_scrape_config(port)), &dir.path().join("data"), port);
    // /metrics carries the seed's request metrics with method/route/status_code.
    let _ = s.get_json("/api/v1/status/buildinfo");
    let text = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/api/v1/status/buildinfo",status_code="200"}"#),
        "{text}"
    );
    assert!(text.contains("aerowatch_tsdb_head_series"));
    // The self-scrape stores `up` and the scrape's own series.
    wait_for("up{job=aerowatch}", Duration::from_secs(15), || {
        let v = s.get_json("/api/v1/series?match[]=up");
        v["data"].as_array().is_some_and(|a| !a.is_empty())
    });
    let v = s.get_json("/api/v1/series?match[]=up");
    assert_eq!(v["data"][0]["job"], "aerowatch");
    assert_eq!(v["data"][0]["instance"], format!("127.0.0.1:{port}"));
    let names = s.get_json("/api/v1/label/__name__/values");
    let names: Vec<&str> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for want in [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_series_added",
        "http_requests_total",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let t = s.get_json("/api/v1/targets");
    let active = t["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{t}");
    assert_eq!(active[0]["labels"]["job"], "aerowatch");
    wait_for("target health up", Duration::from_secs(10), || {
        s.get_json("/api/v1/targets")["data"]["activeTargets"][0]["health"] == "up"
    });
    let st = s.get_json("/api/v1/status/tsdb");
    assert!(st["data"]["headStats"]["numSeries"].as_u64().unwrap() > 10, "{st}");
    assert!(st["data"]["seriesCountByMetricName"].as_array().unwrap().len() <= 10);
}

#[test]
fn remote_write_then_read_apis_and_remote_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(Some(""), &dir.path().join("data"));
    let req = common::proto::WriteRequest {
        timeseries: vec![
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("method", "GET"),
                    ("status_code", "200"),
                ],
                &[(1000, 1.0), (2000, 2.0)],
            ),
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("method", "POST"),
                    ("status_code", "500"),
                ],
                &[(1000, 5.0)],
            ),
            series(&[("__name__", "node_load1"), ("instance", "a:9100")], &[(1500, 0.25)]),
        ],
    };
    let (code, body) = s.remote_write(&req);
    assert_eq!(code, 204, "{body}");
    let v = s.get_json("/api/v1/series?match[]=http_requests_total&start=0&end=10");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["data"][0]["method"], "GET");
    let v = s.get_json("/api/v1/series?match[]=http_requests_total{status_code=~\"5..\"}&match[]=node_load1");
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    // Outside the time range, nothing.
    let v = s.get_json("/api/v1/series?match[]=http_requests_total&start=100&end=200");
    assert_eq!(v["data"].as_array().unwrap().len(), 0, "{v}");
    let v = s.get_json("/api/v1/labels");
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "instance", "method", "status_code"])
    );
    let v = s.get_json("/api/v1/label/method/values?match[]=http_requests_total");
    assert_eq!(v["data"], serde_json::json!(["GET", "POST"]));
    // POST form works as in Prometheus.
    let r = client()
        .post(s.url("/api/v1/series"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("match%5B%5D=node_load1")
        .send()
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["data"][0]["instance"], "a:9100");
    // Errors have Prometheus's shape.
    let v = s.get_json("/api/v1/series");
    assert_eq!(v["errorType"], "bad_data");
    let v = s.get_json("/api/v1/series?match[]=up{");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    let v = s.get_json("/api/v1/series?match[]=up&start=yesterday");
    assert!(v["error"].as_str().unwrap().contains("start"), "{v}");
    // Remote read returns exactly what was written.
    let resp = s.remote_read(
        s.port,
        &common::read_query(&[(0, "__name__", "http_requests_total")], 0, 10_000),
    );
    let ts = &resp.results[0].timeseries;
    assert_eq!(ts.len(), 2);
    assert_eq!(
        ts[0].samples.iter().map(|x| (x.timestamp, x.value)).collect::<Vec<_>>(),
        vec![(1000, 1.0), (2000, 2.0)]
    );
}

#[test]
fn check_config_points_at_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    scrape_intervall: 5s\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:5:", bad.display())), "{err}");
    assert!(err.contains("scrape_intervall"), "{err}");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, self_scrape_config(9800)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .arg("version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn reload_applies_good_config_and_keeps_old_on_bad() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let s = Server::start_on(Some(""), &dir.path().join("data"), port);
    let cfg = s.config.clone().unwrap();
    let targets = |s: &Server| {
        s.get_json("/api/v1/targets")["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(targets(&s), 0);
    std::fs::write(&cfg, self_scrape_config(port)).unwrap();
    let r = client().post(s.url("/-/reload")).send().unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    assert_eq!(targets(&s), 1);
    std::fs::write(&cfg, "global:\n  bogus: true\n").unwrap();
    let r = client().post(s.url("/-/reload")).send().unwrap();
    assert_eq!(r.status(), 500);
    let msg = r.text().unwrap();
    assert!(msg.contains(":2:") && msg.contains("bogus"), "{msg}");
    assert_eq!(targets(&s), 1, "old config stays in force");
    // SIGHUP reloads too.
    std::fs::write(&cfg, "").unwrap();
    let pid = s.child.as_ref().unwrap().id();
    Command::new("kill").arg("-HUP").arg(pid.to_string()).status().unwrap();
    wait_for("SIGHUP reload", Duration::from_secs(10), || targets(&s) == 0);
}

#[test]
fn sigterm_shuts_down_cleanly_and_data_survives() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(Some(""), &dir.path().join("data"));
    let (code, _) = s.remote_write(&common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "kept")], &[(1000, 42.0)])],
    });
    assert_eq!(code, 204);
    let status = s.terminate();
    assert!(status.success(), "exit {status}: {}", s.logs());
    assert!(s.logs().contains("shutdown complete"), "{}", s.logs());
    s.spawn();
    let v = s.get_json("/api/v1/series?match[]=kept");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
}

#[test]
fn refuses_public_listen_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .args(["--web.listen-address", "0.0.0.0:0", "--storage.path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without authentication"));
}

#[test]
fn auth_tokens_enforce_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "auth:\n  bearer_tokens:\n    - token: reader-0123456789abcdef\n      scopes: [read]\n    - token: writer-0123456789abcdef\n      scopes: [write]\n";
    let s = Server::start(Some(cfg), &dir.path().join("data"));
    let c = client();
    assert_eq!(
        c.get(s.url("/-/healthy")).send().unwrap().status(),
        200,
        "probes stay open"
    );
    assert_eq!(c.get(s.url("/api/v1/labels")).send().unwrap().status(), 401);
    let ok = c
        .get(s.url("/api/v1/labels"))
        .bearer_auth("reader-0123456789abcdef")
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let denied = c
        .post(s.url("/api/v1/write"))
        .bearer_auth("reader-0123456789abcdef")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(denied.status(), 403);
    let denied = c
        .get(s.url("/api/v1/labels"))
        .bearer_auth("writer-0123456789abcdef")
        .send()
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(
        c.get(s.url("/status")).send().unwrap().status(),
        401,
        "the status page is private unless made public"
    );
}

#[test]
fn a_public_status_page_opens_only_the_page_and_what_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "auth:\n  public_status_page: true\n  bearer_tokens:\n    - token: reader-0123456789abcdef\n      scopes: [read]\n";
    let s = Server::start(Some(cfg), &dir.path().join("data"));
    let c = client();
    for open in [
        "/status",
        "/ui/app.js",
        "/ui/pages/status.js",
        "/api/health",
        "/api/v1/checks",
        "/api/v1/slos",
    ] {
        let status = c.get(s.url(open)).send().unwrap().status();
        assert!(status == 200 || status == 503, "{open}: {status}");
    }
    for closed in [
        "/",
        "/alerts",
        "/api/v1/query?query=up",
        "/api/v1/labels",
        "/api/v2/silences",
        "/api/v1/dashboards",
    ] {
        assert_eq!(c.get(s.url(closed)).send().unwrap().status(), 401, "{closed}");
    }
    let write = c.post(s.url("/api/v2/silences")).body("{}").send().unwrap();
    assert_eq!(write.status(), 401, "no writes through the open door");
}

#[test]
fn serves_https_with_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _key) = testkit::self_signed_cert(dir.path(), 2);
    // Relative paths are taken from the config file's directory.
    let cfg = "web:\n  tls_server_config:\n    cert_file: cert.pem\n    key_file: key.pem\n";
    let s = Server::start_tls(cfg, &dir.path().join("data"), std::fs::read(&cert).unwrap());
    let r = s.client().get(s.url("/-/healthy")).send().unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP to the HTTPS port does not get an answer.
    let plain = client().get(format!("http://127.0.0.1:{}/-/healthy", s.port)).send();
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    // A missing key file is a config error naming the line.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "web:\n  tls_server_config:\n    cert_file: cert.pem\n    key_file: nope.pem\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":4:") && err.contains("key_file"), "{err}");
}

#[test]
fn pushgateway_style_pushes_are_stored_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        Some("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"),
        &dir.path().join("data"),
    );
    let c = client();
    let body = "# TYPE backup_duration_seconds gauge\nbackup_duration_seconds 12.5\n";
    let r = c
        .put(s.url("/metrics/job/backup/instance/db1"))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let v = s.get_json("/api/v1/series?match[]=backup_duration_seconds");
    assert_eq!(v["data"][0]["job"], "backup");
    assert_eq!(v["data"][0]["instance"], "db1");
    let bad = c.post(s.url("/metrics/job/backup")).body("x{ 1\n").send().unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("line 1"));
    let bad = c.put(s.url("/metrics/job")).body(body).send().unwrap();
    assert_eq!(bad.status(), 404);
    // Re-written every scrape interval, and kept across a restart.
    wait_for("a second sample of the pushed gauge", Duration::from_secs(10), || {
        let resp = s.remote_read(
            s.port,
            &common::read_query(&[(0, "__name__", "backup_duration_seconds")], 0, i64::MAX / 2),
        );
        resp.results[0].timeseries.first().is_some_and(|t| t.samples.len() >= 2)
    });
    s.terminate();
    s.spawn();
    let r = c.delete(s.url("/metrics/job/backup/instance/db1")).send().unwrap();
    assert_eq!(r.status(), 202, "the group survived the restart and can be deleted");
}
