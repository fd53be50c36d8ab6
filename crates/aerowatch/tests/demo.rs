//! `aerowatch demo`: the shop beside the server is scraped, checked and
//! recorded by the openaero preset, so the UI has live data within a minute.
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{client, free_port, wait_for};
use serde_json::Value;

#[test]
fn the_demo_shop_feeds_the_openaero_series_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .args([
            "demo",
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--storage.path",
        ])
        .arg(dir.path().join("demo-data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aerowatch demo");
    let query = |q: &str| -> Option<Value> {
        let v: Value = client()
            .get(format!("http://127.0.0.1:{port}/api/v1/query"))
            .query(&[("query", q)])
            .send()
            .ok()?
            .json()
            .ok()?;
        let result = v["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(Value::Array(result))
    };
    let shop_latency = wait_for("the shop's recorded response time", Duration::from_secs(60), || {
        query("response_time{job=\"openaero-shop\"} > 0")
    });
    let ms: f64 = shop_latency[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(ms > 1.0 && ms < 2_000.0, "a web-like mean latency in ms: {ms}");
    wait_for(
        "availability from the shop's health check",
        Duration::from_secs(30),
        || query("availability{check=\"shop\"} == 100"),
    );
    wait_for("business counters growing", Duration::from_secs(30), || {
        query("sum(orders_created_total) > 0 and sum(user_registrations_total) > 0")
    });
    let p95 = query("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))")
        .expect("a p95 from the prom-client buckets");
    assert!(p95[0]["value"][1].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
    let dashboards: Value = client()
        .get(format!("http://127.0.0.1:{port}/api/v1/dashboards/overview"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(dashboards["data"]["title"], "Overview");
    let _ = child.kill();
    let _ = child.wait();
    // Its own configuration: a user's file is refused with a reason.
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .args(["demo", "--config.file", "x.yml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo runs its own configuration"));
}
