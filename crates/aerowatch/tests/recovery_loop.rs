//! The whole loop against real servers (Debian's PostgreSQL and Redis, started
//! by the tests): check → series → alert → recovery → verified recovery, or
//! escalation when recovery keeps failing.
mod common;

use std::time::Duration;

use common::capture::Capture;
use common::{urlencode, wait_for, Server};

fn query(s: &Server, promql: &str) -> serde_json::Value {
    let url = format!("/api/v1/query?query={}", urlencode(promql));
    s.get_json(&url)
}

fn check_state(s: &Server, name: &str) -> Option<String> {
    let v = s.get_json("/api/v1/checks");
    let c = v["data"]["checks"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?
        .clone();
    c["state"].as_str().map(str::to_string)
}

fn yaml_list(argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("[ {} ]", quoted.join(", "))
}

#[test]
fn a_stopped_postgres_alerts_and_is_started_again_by_its_strategy() {
    let Some(pg) = testkit::Postgres::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/db.yml"),
        "groups:\n  - name: db\n    rules:\n      - alert: DatabaseDown\n        expr: probe_success{check=\"database\"} == 0\n        labels: { severity: critical }\n",
    )
    .unwrap();
    let config = format!(
        "global:
  evaluation_interval: 500ms
rule_files: [ \"rules/*.yml\" ]
checks:
  - name: database
    postgres: {{ dsn: \"{dsn}\", query: \"SELECT count(*) FROM pg_stat_activity\" }}
    interval: 500ms
    timeout: 400ms
    failure_threshold: 1
recovery:
  - name: start-postgres
    trigger: {{ alert: DatabaseDown }}
    action: {{ command: {start} }}
    timeout: 40s
    max_attempts: 2
    backoff: 200ms
    max_backoff: 1s
    cooldown: 1m
",
        dsn = pg.dsn(),
        start = yaml_list(&pg.start_command()),
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    wait_for("database check up", Duration::from_secs(10), || {
        (check_state(&s, "database").as_deref() == Some("up")).then_some(())
    });
    let up = query(&s, "probe_success{check=\"database\",kind=\"postgres\"}");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");

    pg.stop();
    let alert = wait_for("DatabaseDown firing", Duration::from_secs(15), || {
        let v = s.get_json("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "DatabaseDown")
            .cloned()
    });
    assert_eq!(alert["labels"]["check"], "database");
    let attempt = wait_for("a verified recovery", Duration::from_secs(60), || {
        let v = s.get_json("/api/v1/recovery/attempts");
        v["data"]
            .as_array()?
            .iter()
            .find(|a| a["outcome"] == "recovered")
            .cloned()
    });
    assert_eq!(attempt["strategy"], "start-postgres");
    assert_eq!(attempt["trigger"], "alert:DatabaseDown");
    assert_eq!(pg.psql("SELECT 41 + 1"), "42", "PostgreSQL really runs again");
    // The success is announced as an alert, routed like any other.
    let announced = s.get_json("/api/v2/alerts?filter=alertname%3D%22RecoveryOutcome%22");
    let announced = announced.as_array().unwrap();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0]["labels"]["outcome"], "recovered");
    assert_eq!(announced[0]["labels"]["severity"], "info");
    wait_for("the check back up", Duration::from_secs(10), || {
        (check_state(&s, "database").as_deref() == Some("up")).then_some(())
    });
    let events = s.get_json("/api/v1/checks");
    let events = events["data"]["events"].as_array().unwrap();
    let down = events
        .iter()
        .find(|e| e["check"] == "database" && e["to"] == "down")
        .expect("the down transition is kept as an event");
    assert!(
        down["error"].as_str().unwrap_or("").contains("connect"),
        "with its error: {down}"
    );
}

#[test]
fn a_redis_whose_recovery_keeps_failing_opens_the_breaker_and_escalates_once() {
    let Some(redis) = testkit::Redis::start(None) else {
        return;
    };
    let cap = Capture::start();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "checks:
  - name: cache
    redis: {{ url: \"{url}\" }}
    interval: 300ms
    timeout: 200ms
    failure_threshold: 2
recovery:
  - name: restart-cache
    trigger: {{ check: cache }}
    action: {{ command: [ \"/usr/bin/false\" ] }}
    max_attempts: 2
    backoff: 50ms
    max_backoff: 100ms
    cooldown: 0s
    circuit_breaker: {{ failures: 1, window: 1h }}
alertmanager:
  route:
    receiver: hook
    group_by: [ alertname ]
    group_wait: 500ms
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs: [ {{ url: \"{hook}\" }} ]
",
        url = redis.url(),
        hook = cap.url("/hook"),
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    wait_for("cache check up", Duration::from_secs(10), || {
        (check_state(&s, "cache").as_deref() == Some("up")).then_some(())
    });
    drop(redis);
    let failed = wait_for("a failed recovery", Duration::from_secs(20), || {
        let v = s.get_json("/api/v1/recovery/attempts");
        v["data"].as_array()?.iter().find(|a| a["outcome"] == "failed").cloned()
    });
    assert_eq!(failed["strategy"], "restart-cache");
    // Two notifications: the recovery's own outcome, and the escalation.
    let hooks = cap.wait("/hook", 2, Duration::from_secs(15));
    let by_name = |name: &str| {
        hooks
            .iter()
            .map(|h| h.json())
            .find(|b| b["alerts"][0]["labels"]["alertname"] == name)
            .unwrap_or_else(|| panic!("no {name} notification"))
    };
    let escalation = by_name("RecoveryFailed");
    assert_eq!(escalation["status"], "firing");
    assert_eq!(escalation["alerts"][0]["labels"]["strategy"], "restart-cache");
    assert_eq!(escalation["alerts"][0]["labels"]["severity"], "critical");
    let outcome = by_name("RecoveryOutcome");
    assert_eq!(outcome["alerts"][0]["labels"]["outcome"], "failed");
    assert_eq!(outcome["alerts"][0]["labels"]["trigger"], "check:cache");
    assert!(
        outcome["alerts"][0]["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("not recovered after 2 attempt(s)"),
        "{outcome}"
    );
    // The check stays down and keeps failing, but the breaker holds: no more
    // attempts and no second escalation.
    std::thread::sleep(Duration::from_secs(3));
    let attempts = s.get_json("/api/v1/recovery/attempts");
    let attempts = attempts["data"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a["outcome"] == "attempt_failed" || a["outcome"] == "failed")
            .count(),
        2,
        "{attempts:?}"
    );
    assert_eq!(cap.received("/hook").len(), 2, "escalated once, no further outcomes");
}
