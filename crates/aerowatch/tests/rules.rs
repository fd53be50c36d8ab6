//! Rules end to end through the real binary: rule files load (or are
//! refused with file and line), alerts go pending → firing → resolved and
//! show in the Prometheus APIs, and firing state survives kill -9.
mod common;

use std::time::Duration;

use common::{client, wait_for, Server};
use serde_json::Value;

const CONFIG: &str = "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [ \"rules/*.yml\" ]
";

const RULES: &str = "groups:
  - name: queue
    rules:
      - record: queue:depth:max
        expr: max by (job) (queue_depth)
      - alert: QueueBacklog
        expr: queue:depth:max > 100
        for: 3s
        labels:
          severity: page
        annotations:
          summary: queue backlog
";

fn push_depth(s: &Server, v: f64) {
    let body = format!("# TYPE queue_depth gauge\nqueue_depth {v}\n");
    let r = client().put(s.url("/metrics/job/worker")).body(body).send().unwrap();
    assert_eq!(r.status(), 200);
}

fn alert_state(s: &Server) -> Option<(String, String)> {
    let v = s.get_json("/api/v1/alerts");
    let a = v["data"]["alerts"].as_array()?.first()?.clone();
    Some((a["state"].as_str()?.to_string(), a["activeAt"].as_str()?.to_string()))
}

#[test]
fn alerts_go_pending_firing_resolved_and_show_in_the_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/queue.yml"), RULES).unwrap();
    let s = Server::start(Some(CONFIG), &dir.path().join("data"));
    push_depth(&s, 500.0);
    let (state, _) = wait_for("pending", Duration::from_secs(10), || {
        alert_state(&s).filter(|(st, _)| st == "pending")
    });
    assert_eq!(state, "pending");
    wait_for("firing", Duration::from_secs(10), || {
        alert_state(&s).filter(|(st, _)| st == "firing")
    });

    let v = s.get_json("/api/v1/rules");
    assert_eq!(v["status"], "success");
    let g = &v["data"]["groups"][0];
    assert_eq!(g["name"], "queue");
    assert!(g["file"].as_str().unwrap().ends_with("rules/queue.yml"));
    assert_eq!(g["interval"], 1.0);
    let rec = &g["rules"][0];
    assert_eq!(rec["type"], "recording");
    assert_eq!(rec["health"], "ok");
    assert_eq!(rec["query"], "max by (job) (queue_depth)");
    let alert = &g["rules"][1];
    assert_eq!(alert["type"], "alerting");
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["duration"], 3.0);
    assert_eq!(alert["labels"]["severity"], "page");
    let a = &alert["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "QueueBacklog");
    assert_eq!(a["labels"]["job"], "worker");
    assert_eq!(a["value"], "5e+02");
    assert_eq!(a["annotations"]["summary"], "queue backlog");
    let only_recording = s.get_json("/api/v1/rules?type=record");
    assert_eq!(
        only_recording["data"]["groups"][0]["rules"].as_array().unwrap().len(),
        1
    );

    // The recorded series and ALERTS are queryable.
    let q = s.get_json("/api/v1/query?query=queue:depth:max");
    assert_eq!(q["data"]["result"][0]["value"][1], "500");
    let q = s.get_json("/api/v1/query?query=ALERTS");
    assert_eq!(q["data"]["result"][0]["metric"]["alertstate"], "firing");

    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("prometheus_rule_evaluations_total "), "{metrics}");
    assert!(metrics.contains("prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group="));

    push_depth(&s, 3.0);
    wait_for("resolution", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/alerts");
        v["data"]["alerts"].as_array().filter(|a| a.is_empty()).map(|_| ())
    });
}

#[test]
fn firing_state_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    // A `for` longer than the restart, so that without restoring the alert
    // would be pending again afterwards.
    std::fs::write(dir.path().join("rules/queue.yml"), RULES.replace("for: 3s", "for: 4s")).unwrap();
    let mut s = Server::start(Some(CONFIG), &dir.path().join("data"));
    push_depth(&s, 500.0);
    let (_, active_at) = wait_for("firing", Duration::from_secs(15), || {
        alert_state(&s).filter(|(st, _)| st == "firing")
    });
    s.kill9();
    s.spawn();
    push_depth(&s, 500.0);
    // Right after the restart the alert is rebuilt pending, then restored:
    // it must be firing again within two evaluations, with its old activeAt
    // (to the second, the resolution ALERTS_FOR_STATE keeps).
    let (_, restored_at) = wait_for("firing after restart", Duration::from_secs(6), || {
        alert_state(&s).filter(|(st, _)| st == "firing")
    });
    assert_eq!(restored_at[..19], active_at[..19], "activeAt kept across the restart");
}

#[test]
fn bad_rule_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let bad = dir.path().join("rules/bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n",
    )
    .unwrap();
    let cfg = dir.path().join("aerowatch.yml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(
        err.contains("rules/bad.yml:4: group \"g\", rule 1, \"A\": could not parse expression"),
        "{err}"
    );

    // A running server keeps its rules when a reload brings a bad file.
    std::fs::write(&bad, RULES).unwrap();
    let s = Server::start(Some(CONFIG), &dir.path().join("data"));
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - record: bad name\n        expr: up\n",
    )
    .unwrap();
    let r = client().post(s.url("/-/reload")).send().unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().unwrap();
    assert!(body.contains("invalid recording rule name: bad name"), "{body}");
    let v: Value = s.get_json("/api/v1/rules");
    assert_eq!(v["data"]["groups"][0]["name"], "queue", "old rules still loaded");
}

#[test]
fn the_openaero_preset_and_seed_rules_load() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "presets: [ openaero ]
alert_rules:
  - id: queue-backlog
    name: 队列积压
    description: 队列超过100
    condition: { metric: queue_depth, operator: gt, threshold: 100, duration: 0, aggregation: max }
    severity: low
    enabled: true
    notificationChannels: [ slack ]
    cooldownPeriod: 60
alertmanager:
  route: { receiver: slack }
  receivers: [ { name: slack } ]
";
    let s = Server::start(Some(cfg), &dir.path().join("data"));
    let v = s.get_json("/api/v1/rules?type=alert");
    let names: Vec<String> = v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| {
            g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        names,
        [
            "AvailabilityLow",
            "ResponseTimeHigh",
            "ErrorRateHigh",
            "DatabaseConnectionsHigh",
            "MemoryUsageHigh",
            "QueueBacklog"
        ]
    );
    let queue = &v["data"]["groups"][2]["rules"][0];
    assert_eq!(queue["query"], "max(queue_depth) > 100");
    assert_eq!(queue["labels"]["rule_id"], "queue-backlog");

    // A seed rule that names a bad metric is refused with its line.
    let cfg_path = dir.path().join("bad.yml");
    std::fs::write(&cfg_path, cfg.replace("metric: queue_depth", "metric: \"rate(\"")).unwrap();
    let (ok, err) = common::check_config(&cfg_path);
    assert!(!ok);
    assert!(
        err.contains("bad.yml:3: alert_rules: \"queue-backlog\": condition.metric"),
        "{err}"
    );
}
