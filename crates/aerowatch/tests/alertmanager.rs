//! Aerowatch as an Alertmanager: the real `amtool` manages silences and
//! alerts through the API v2, a real Prometheus 2.42 sends it its alerts,
//! and the rule engine's own alerts land in the same place.
mod common;
#[path = "common/promql.rs"]
mod prom;

use std::process::Command;
use std::time::{Duration, Instant};

use common::capture::Capture;
use common::{client, wait_for, Server};
use prom::Prometheus;
use serde_json::Value;

fn amtool() -> Option<&'static str> {
    let bin = "/usr/bin/amtool";
    if std::path::Path::new(bin).exists() {
        Some(bin)
    } else {
        // .ci/run installs it (Debian's prometheus-alertmanager).
        assert!(std::env::var("AEROWATCH_CI").is_err(), "amtool missing in CI");
        eprintln!("skipping: amtool not installed (apt-get install prometheus-alertmanager)");
        None
    }
}

fn run_amtool(bin: &str, s: &Server, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin)
        .arg(format!("--alertmanager.url=http://127.0.0.1:{}", s.port))
        .args(args)
        .output()
        .expect("run amtool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn amtool_creates_lists_and_expires_silences() {
    let Some(bin) = amtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(None, &dir.path().join("data"));

    let (ok, id, err) = run_amtool(
        bin,
        &s,
        &[
            "silence",
            "add",
            "alertname=DiskFull",
            "instance=~db.*",
            "--comment=disk swap tonight",
            "--author=ops",
            "--duration=2h",
        ],
    );
    assert!(ok, "silence add failed: {err}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");

    let (ok, out, err) = run_amtool(bin, &s, &["silence", "query", "-o", "json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let sil = &list[0];
    assert_eq!(sil["id"], id.as_str());
    assert_eq!(sil["createdBy"], "ops");
    assert_eq!(sil["comment"], "disk swap tonight");
    assert_eq!(sil["status"]["state"], "active");
    let matchers = sil["matchers"].as_array().unwrap();
    assert!(matchers
        .iter()
        .any(|m| m["name"] == "instance" && m["isRegex"] == true && m["value"] == "db.*"));

    let (ok, out, _) = run_amtool(bin, &s, &["silence", "query", "alertname=DiskFull", "-q"]);
    assert!(ok);
    assert_eq!(out.trim(), id);

    // Alerts posted by amtool are silenced by it.
    let (ok, _, err) = run_amtool(
        bin,
        &s,
        &["alert", "add", "alertname=DiskFull", "instance=db1", "severity=page"],
    );
    assert!(ok, "{err}");
    let alerts = s.get_json("/api/v2/alerts");
    let a = &alerts[0];
    assert_eq!(a["labels"]["instance"], "db1");
    assert_eq!(a["status"]["state"], "suppressed");
    assert_eq!(a["status"]["silencedBy"][0], id.as_str());
    let (ok, out, _) = run_amtool(bin, &s, &["alert", "query", "--silenced", "-o", "json"]);
    assert!(ok);
    assert!(out.contains("DiskFull"), "{out}");

    // Silences survive a restart.
    s.kill9();
    s.spawn();
    let (ok, out, _) = run_amtool(bin, &s, &["silence", "query", "-q"]);
    assert!(ok);
    assert_eq!(out.trim(), id, "silence persisted");

    let (ok, _, err) = run_amtool(bin, &s, &["silence", "expire", &id]);
    assert!(ok, "{err}");
    let (_, out, _) = run_amtool(bin, &s, &["silence", "query", "-q"]);
    assert!(
        out.trim().is_empty(),
        "expired silences are not listed as active: {out}"
    );
    let (_, out, _) = run_amtool(bin, &s, &["silence", "query", "--expired", "-q"]);
    assert_eq!(out.trim(), id);

    // Bad silences get 400 with a message.
    let r = client()
        .post(s.url("/api/v2/silences"))
        .header("Content-Type", "application/json")
        .body(r#"{"matchers":[],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"a","comment":"b"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!r.text().unwrap().is_empty());
    let (ok, out, _) = run_amtool(bin, &s, &["config", "show"]);
    assert!(ok);
    assert!(out.contains("receiver: default"), "{out}");
}

#[test]
fn a_real_prometheus_sends_its_alerts_to_aerowatch() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Capture::start();
    let s = Server::start(
        Some(&format!(
            "alertmanager:
  route:
    receiver: team
    group_by: [alertname]
    group_wait: 1s
  receivers:
    - name: team
      webhook_configs: [ {{ url: \"{}\" }} ]
",
            hook.url("/hook")
        )),
        &dir.path().join("data"),
    );
    std::fs::write(
        dir.path().join("prom-rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1)\n        labels: { severity: page }\n        annotations: { summary: from prometheus }\n",
    )
    .unwrap();
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [ \"{}\" ]\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: [ \"127.0.0.1:{}\" ]\n",
        dir.path().join("prom-rules.yml").display(),
        s.port
    );
    // Prometheus learns its alertmanagers ~5 s after start (discovery is
    // throttled) and drops alerts sent before; a 1 s resend delay sends
    // them again soon after instead of a minute later.
    let prom = Prometheus::start_with_config(
        &dir.path().join("prometheus"),
        &config,
        &["--rules.alert.resend-delay=1s"],
    );
    let start = Instant::now();
    let alert = loop {
        let v = s.get_json("/api/v2/alerts");
        if let Some(a) = v
            .as_array()
            .and_then(|v| v.iter().find(|a| a["labels"]["alertname"] == "AlwaysFiring"))
        {
            break a.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Prometheus' alert never arrived; Prometheus log:\n{}\nAerowatch log:\n{}",
            prom.logs(),
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "from prometheus");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(alert["receivers"][0]["name"], "team");
    assert!(alert["generatorURL"].as_str().unwrap().contains("/graph?g0.expr="));
    let groups = s.get_json("/api/v2/alerts/groups");
    assert_eq!(groups[0]["labels"]["alertname"], "AlwaysFiring");
    assert_eq!(groups[0]["receiver"]["name"], "team");
    // Prometheus reports the alertmanager as discovered and its sends as ok.
    let am = client()
        .get(prom.url("/api/v1/alertmanagers"))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert!(am["data"]["activeAlertmanagers"][0]["url"]
        .as_str()
        .unwrap()
        .contains(&format!("127.0.0.1:{}/api/v2/alerts", s.port)));
    let metrics = client().get(prom.url("/metrics")).send().unwrap().text().unwrap();
    let errors: f64 = metrics
        .lines()
        .find(|l| l.starts_with("prometheus_notifications_errors_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert_eq!(errors, 0.0, "Prometheus had errors sending to Aerowatch");
    // And the group is notified: Alertmanager's webhook payload, version 4.
    let sent = hook.wait("/hook", 1, Duration::from_secs(10));
    let body = sent[0].json();
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "team");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["groupLabels"]["alertname"], "AlwaysFiring");
    assert_eq!(body["alerts"][0]["labels"]["severity"], "page");
    assert_eq!(body["groupKey"], "{}:{alertname=\"AlwaysFiring\"}");
}

#[test]
fn an_alertmanager_config_file_is_used_and_its_errors_carry_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(&am, "route:\n  receiver: ops\nreceivers:\n  - name: ops\n").unwrap();
    let s = Server::start(
        Some("alertmanager_config_file: alertmanager.yml\n"),
        &dir.path().join("data"),
    );
    assert_eq!(s.get_json("/api/v2/receivers")[0]["name"], "ops");
    // A bad file is refused on reload, naming the file and line; the old
    // config stays.
    std::fs::write(
        &am,
        "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    opsgenie_configs: [ {} ]\n",
    )
    .unwrap();
    let r = client().post(s.url("/-/reload")).send().unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().unwrap();
    assert!(body.contains("alertmanager.yml:"), "{body}");
    assert!(body.contains("not supported by Aerowatch"), "{body}");
    assert_eq!(s.get_json("/api/v2/receivers")[0]["name"], "ops");
}

#[test]
fn the_rule_engine_s_alerts_reach_the_alertmanager_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/r.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: Constant\n        expr: vector(42)\n        annotations: { summary: 'value {{ $value }}' }\n",
    )
    .unwrap();
    let s = Server::start(
        Some("global:\n  evaluation_interval: 1s\n  external_labels: { site: eu1 }\nrule_files: [ \"rules/*.yml\" ]\n"),
        &dir.path().join("data"),
    );
    let alert = wait_for("the rule's alert", Duration::from_secs(15), || {
        let v = s.get_json("/api/v2/alerts");
        v.as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "Constant")
            .cloned()
    });
    assert_eq!(alert["annotations"]["summary"], "value 42");
    assert_eq!(alert["labels"]["site"], "eu1", "external labels are added");
    assert_eq!(alert["receivers"][0]["name"], "default");
    let receivers = s.get_json("/api/v2/receivers");
    assert_eq!(receivers[0]["name"], "default");
    let status = s.get_json("/api/v2/status");
    assert_eq!(status["cluster"]["status"], "disabled");
    assert!(status["config"]["original"]
        .as_str()
        .unwrap()
        .contains("receiver: default"));
}

#[test]
fn seed_rule_channels_must_name_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("aerowatch.yml");
    std::fs::write(
        &cfg,
        "alert_rules:
  - id: error-rate-high
    name: 错误率过高
    condition: { metric: error_rate, operator: gt, threshold: 5, duration: 120 }
    severity: high
    notificationChannels: [ pagerduty ]
alertmanager:
  route: { receiver: slack }
  receivers:
    - name: slack
",
    )
    .unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(
        err.contains(
            "aerowatch.yml:2: alert_rules: \"error-rate-high\": notification channel \"pagerduty\" is not a receiver"
        ),
        "{err}"
    );
    // And an Alertmanager config error names its problem.
    std::fs::write(
        &cfg,
        "alertmanager:\n  route: { receiver: nobody }\n  receivers: [ { name: slack } ]\n",
    )
    .unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("\"nobody\""), "{err}");
}
