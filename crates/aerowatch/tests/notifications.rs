//! From a sample crossing a threshold to a delivered notification: the
//! rule engine, Alertmanager routing and the receivers, end to end through
//! the real binary, with a local server standing in for Slack, PagerDuty
//! and a webhook (those services cannot be reached from here).
mod common;

use std::time::{Duration, Instant};

use common::capture::Capture;
use common::{client, Server};

fn config(cap: &Capture, repeat: &str) -> String {
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
alert_rules:
  - id: queue-backlog
    name: 队列积压
    description: 队列超过100
    condition: {{ metric: queue_depth, operator: gt, threshold: 100, duration: 0 }}
    severity: critical
    enabled: true
    notificationChannels: [ pagerduty, slack ]
    cooldownPeriod: 3600
alertmanager:
  route:
    receiver: hook
    group_by: [ alertname ]
    group_wait: 1s
    group_interval: 2s
    repeat_interval: {repeat}
  receivers:
    - name: hook
      webhook_configs: [ {{ url: \"{hook}\" }} ]
    - name: slack
      slack_configs: [ {{ api_url: \"{slack}\", channel: \"#alerts\", send_resolved: true }} ]
    - name: pagerduty
      pagerduty_configs: [ {{ routing_key: \"R0UT1NGKEY\", url: \"{pd}\", send_resolved: true }} ]
",
        hook = cap.url("/hook"),
        slack = cap.url("/slack"),
        pd = cap.url("/pd"),
    )
}

fn push_depth(s: &Server, v: f64) {
    let body = format!("# TYPE queue_depth gauge\nqueue_depth {v}\n");
    let r = client().put(s.url("/metrics/job/worker")).body(body).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_threshold_crossing_pages_and_resolves_through_slack_and_pagerduty() {
    let cap = Capture::start();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(Some(&config(&cap, "1h")), &dir.path().join("data"));
    push_depth(&s, 5.0);
    std::thread::sleep(Duration::from_millis(1500));
    let crossed = Instant::now();
    push_depth(&s, 500.0);

    // Evaluation interval (1 s) + group_wait (1 s) + 1 s.
    let pd = cap.wait("/pd", 1, Duration::from_secs(3));
    let slack = cap.wait("/slack", 1, Duration::from_secs(3));
    let latency = pd[0].at.duration_since(crossed);
    assert!(latency <= Duration::from_secs(3), "PagerDuty paged after {latency:?}");

    // PagerDuty Events API v2.
    let trigger = pd[0].json();
    assert_eq!(pd[0].method, "POST");
    assert_eq!(trigger["routing_key"], "R0UT1NGKEY");
    assert_eq!(trigger["event_action"], "trigger");
    let dedup = trigger["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup.len(), 64, "SHA-256 of the group key: {dedup}");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert!(trigger["payload"]["summary"].as_str().unwrap().len() <= 1024);
    assert!(trigger["payload"]["source"].as_str().is_some());

    // Slack incoming webhook.
    let msg = slack[0].json();
    assert_eq!(msg["channel"], "#alerts");
    let text = serde_json::to_string(&msg).unwrap();
    assert!(text.contains("队列积压"), "the seed's name is in the message: {text}");
    assert!(text.contains("QueueBacklog"), "{text}");
    // Routed by the seed rule's channels: not to the default receiver.
    assert!(cap.received("/hook").is_empty());

    // No repeat within the cooldown, also not across kill -9 once the
    // notification log holds the deliveries (it is written right after a
    // flush delivers; a crash inside that window re-sends, at least once).
    let nflog = dir.path().join("data/alertmanager/nflog.json");
    common::wait_for("the notification log", Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&nflog).ok()?;
        (text.contains("pagerduty") && text.contains("slack")).then_some(())
    });
    s.kill9();
    s.spawn();
    push_depth(&s, 500.0);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(cap.received("/pd").len(), 1, "paged again after a restart");
    assert_eq!(cap.received("/slack").len(), 1, "notified again after a restart");

    // Resolution: same dedup key, event_action resolve.
    push_depth(&s, 1.0);
    let pd = cap.wait("/pd", 2, Duration::from_secs(10));
    let resolve = pd[1].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], dedup.as_str());
    let slack = cap.wait("/slack", 2, Duration::from_secs(5));
    assert!(serde_json::to_string(&slack[1].json())
        .unwrap()
        .to_lowercase()
        .contains("resolved"));

    // Every delivery is in the history and counted.
    let history = s.get_json("/api/v1/notifications");
    let entries = history["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["receiver"] == "pagerduty" && e["outcome"] == "ok"),
        "{history}"
    );
    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("alertmanager_notifications_total{integration=\"pagerduty\"}"),
        "{metrics}"
    );
}

#[test]
fn a_failing_receiver_is_retried_and_recorded_without_blocking_others() {
    let cap = Capture::start();
    cap.answer(
        "/pd",
        &[(503, "busy"), (503, "busy"), (202, "{\"status\":\"success\"}")],
    );
    cap.answer("/slack", &[(0, "")]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(Some(&config(&cap, "1h")), &dir.path().join("data"));
    push_depth(&s, 500.0);
    // Slack hangs; PagerDuty fails twice then takes it.
    let pd = cap.wait("/pd", 3, Duration::from_secs(15));
    assert_eq!(pd[0].json()["dedup_key"], pd[2].json()["dedup_key"]);
    let history = s.get_json("/api/v1/notifications");
    let pd_entry = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["receiver"] == "pagerduty")
        .cloned()
        .unwrap_or_default();
    assert!(pd_entry["attempts"].as_u64().unwrap_or(0) >= 3, "{history}");
    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("alertmanager_notifications_failed_total{integration=\"pagerduty\"}"),
        "{metrics}"
    );
}
