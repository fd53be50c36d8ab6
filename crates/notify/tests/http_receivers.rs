//! Slack, PagerDuty and webhook deliveries against a local capture server:
//! the bodies are checked field by field against the services' documented
//! formats (and Alertmanager 0.25's), and failures against the retry rules.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertmanager::{AlertStatus, Notifier};
use common::*;
use notify::{Deliverer, DelivererOptions, Outcome};
use serde_json::json;

const EXTERNAL: &str = "http://aerowatch.test";
const SUBJECT: &str = "[FIRING:1] ErrorRateHigh (api-1 error-rate-high high)";
const GROUP_KEY: &str = "{}/{rule_id=\"error-rate-high\"}:{alertname=\"ErrorRateHigh\"}";

fn deliverer() -> Deliverer {
    Deliverer::new(DelivererOptions {
        external_url: EXTERNAL.into(),
        ..DelivererOptions::default()
    })
}

fn route(receiver: &str) -> String {
    format!("route:\n  receiver: {receiver}\n")
}

#[tokio::test]
async fn slack_webhook_body_is_alertmanagers_plus_blocks() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        r##"{}receivers:
- name: slack
  slack_configs:
  - api_url: '{}'
    channel: '#alerts'
    send_resolved: true
    fields:
    - title: Severity
      value: '{{{{ .CommonLabels.severity }}}}'
    actions:
    - type: button
      text: 'Runbook {{{{ .GroupLabels.alertname }}}}'
      url: 'https://runbooks.test/{{{{ .GroupLabels.alertname }}}}'
"##,
        route("slack"),
        srv.url("/services/T000/B000/XXXX")
    );
    let integ = integrations(&yaml, "slack").remove(0);
    let d = deliverer();
    let n = notification(integ.clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    d.notify(&n).await.expect("delivered");

    let reqs = srv.requests_to("/services/T000/B000/XXXX");
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("Aerowatch/", env!("CARGO_PKG_VERSION")))
    );
    let body = r.json();
    let top: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(top, ["channel", "username", "text", "blocks", "attachments"]);
    assert_eq!(body["channel"], "#alerts");
    assert_eq!(body["username"], "AlertManager");
    let title_link = format!("{EXTERNAL}/#/alerts?receiver=slack");
    let fallback = format!("{SUBJECT} | {title_link}");
    assert_eq!(body["text"], fallback.as_str());
    assert_eq!(
        body["attachments"],
        json!([{
            "title": SUBJECT,
            "title_link": title_link,
            "text": "",
            "fallback": fallback,
            "callback_id": "",
            "fields": [{"title": "Severity", "value": "high", "short": false}],
            "actions": [{"type": "button", "text": "Runbook ErrorRateHigh", "url": "https://runbooks.test/ErrorRateHigh"}],
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }])
    );
    assert_eq!(
        body["blocks"],
        json!([
            {"type": "header", "text": {"type": "plain_text", "text": SUBJECT, "emoji": true}},
            {"type": "section",
             "text": {"type": "mrkdwn", "text": ":red_circle: *错误率过高*\nAPI错误率超过5%"},
             "fields": [
                {"type": "mrkdwn", "text": "*Current value:*\n7.25"},
                {"type": "mrkdwn", "text": "*Threshold:*\n5"},
                {"type": "mrkdwn", "text": "*Severity:*\nhigh"},
                {"type": "mrkdwn", "text": "*Time:*\n2024-05-01T08:00:00Z"},
             ]},
        ])
    );

    // Resolved: Alertmanager's default colour turns "good".
    let n = notification(integ, GROUP_KEY, vec![error_rate_alert(AlertStatus::Resolved)]);
    d.notify(&n).await.expect("delivered");
    let body = srv.requests_to("/services/T000/B000/XXXX")[1].json();
    assert_eq!(body["attachments"][0]["color"], "good");
    assert!(body["attachments"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[RESOLVED] ErrorRateHigh"));
    assert_eq!(
        body["blocks"][1]["fields"][3]["text"],
        "*Resolved:*\n2024-05-01T08:10:00Z"
    );
}

#[tokio::test]
async fn slack_titles_are_truncated_to_1024_runes() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: slack\n  slack_configs:\n  - api_url: '{}'\n    title: '{{{{ range .Alerts }}}}{{{{ .Annotations.long }}}}{{{{ end }}}}'\n",
        route("slack"),
        srv.url("/hook")
    );
    let integ = integrations(&yaml, "slack").remove(0);
    let long = "é".repeat(3000);
    let a = alert(&[("alertname", "Long")], &[("long", &long)], AlertStatus::Firing);
    deliverer()
        .notify(&notification(integ, GROUP_KEY, vec![a]))
        .await
        .expect("delivered");
    let body = srv.requests_to("/hook")[0].json();
    let title = body["attachments"][0]["title"].as_str().unwrap_or_default();
    assert_eq!(title.chars().count(), 1024);
    assert!(title.ends_with("é…"));
    let header = body["blocks"][0]["text"]["text"].as_str().unwrap_or_default();
    assert_eq!(header.chars().count(), 150);
}

#[tokio::test]
async fn slack_webhook_errors_are_classified() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: slack\n  slack_configs:\n  - api_url: '{}'\n    channel: '#ops'\n",
        route("slack"),
        srv.url("/hook")
    );
    let integ = integrations(&yaml, "slack").remove(0);
    let n = notification(integ, GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let d = deliverer();
    let cases = [
        (
            Reply {
                status: 404,
                ..Reply::ok_text("no_service")
            },
            Some(false),
            "unexpected status code 404: no_service",
        ),
        (
            Reply {
                status: 500,
                ..Reply::ok_text("oops")
            },
            Some(true),
            "unexpected status code 500",
        ),
        (
            Reply {
                status: 429,
                ..Reply::ok_text("rate limited")
            },
            Some(true),
            "unexpected status code 429",
        ),
        (
            Reply::ok_text("invalid_payload"),
            Some(false),
            "error response from Slack: invalid_payload",
        ),
        (
            Reply::json(200, r#"{"ok":false,"error":"channel_not_found"}"#),
            Some(false),
            "channel_not_found",
        ),
        (Reply::ok_text("ok"), None, ""),
    ];
    for (reply, retryable, text) in cases {
        srv.reply("/hook", vec![reply]);
        let res = d.notify(&n).await;
        match retryable {
            None => assert!(res.is_ok(), "{res:?}"),
            Some(retry) => {
                let e = res.expect_err("must fail");
                assert_eq!(e.retryable, retry, "{e:?}");
                assert!(e.message.contains(text), "{e:?}");
                assert!(e.message.starts_with("channel \"#ops\": "), "{e:?}");
                assert!(!e.message.contains("127.0.0.1"), "URL leaked: {e:?}");
            }
        }
    }
}

#[tokio::test]
async fn slack_bot_token_calls_chat_post_message_and_reads_ok_false() {
    let srv = CaptureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("slack-token");
    std::fs::write(&token_file, "xoxb-first\n").expect("write token");
    let yaml = format!(
        "{}receivers:\n- name: slack\n  slack_configs:\n  - token_file: slack-token\n    channel: '#alerts'\n",
        route("slack"),
    );
    let integ = integrations(&yaml, "slack").remove(0);
    let d = Deliverer::new(DelivererOptions {
        external_url: EXTERNAL.into(),
        config_dir: Some(dir.path().to_path_buf()),
        slack_post_message_url: srv.url("/api/chat.postMessage"),
        ..DelivererOptions::default()
    });
    let n = notification(integ, GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    srv.reply(
        "/api/chat.postMessage",
        vec![
            Reply::json(200, r#"{"ok":true,"channel":"C123","ts":"1714550400.000100"}"#),
            Reply::json(200, r#"{"ok":true,"channel":"C123","ts":"1714550400.000200"}"#),
            Reply::json(200, r#"{"ok":false,"error":"invalid_auth"}"#),
            Reply::json(200, r#"{"ok":false,"error":"ratelimited"}"#),
            Reply::json(200, r#"{"ok":false,"error":"channel_not_found"}"#),
        ],
    );
    d.notify(&n).await.expect("first delivery");
    // A rotated token file is read on the next delivery.
    std::fs::write(&token_file, "xoxb-second").expect("rotate token");
    d.notify(&n).await.expect("second delivery");
    let reqs = srv.requests_to("/api/chat.postMessage");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer xoxb-first"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer xoxb-second"));
    let body = reqs[0].json();
    assert_eq!(body["channel"], "#alerts");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["attachments"][0]["title"], SUBJECT);

    let e = d.notify(&n).await.expect_err("invalid_auth");
    assert!(!e.retryable);
    assert_eq!(
        e.message,
        "channel \"#alerts\": error response from Slack: invalid_auth"
    );
    let e = d.notify(&n).await.expect_err("ratelimited");
    assert!(e.retryable, "{e:?}");
    let e = d.notify(&n).await.expect_err("channel_not_found");
    assert!(!e.retryable, "{e:?}");
}

fn pagerduty_yaml(srv: &CaptureServer, extra: &str) -> String {
    format!(
        "{}receivers:\n- name: pd\n  pagerduty_configs:\n  - routing_key: 'R0UT1NGKEY0000000000000000000000'\n    url: '{}'\n{extra}",
        route("pd"),
        srv.url("/v2/enqueue")
    )
}

#[tokio::test]
async fn pagerduty_trigger_and_resolve_share_the_dedup_key() {
    let srv = CaptureServer::start().await;
    srv.reply(
        "/v2/enqueue",
        vec![Reply::json(
            202,
            r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#,
        )],
    );
    let integ = integrations(&pagerduty_yaml(&srv, ""), "pd").remove(0);
    let d = deliverer();
    d.notify(&notification(
        integ.clone(),
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Firing)],
    ))
    .await
    .expect("trigger");
    // Another process (a restart) resolves the same group.
    let d2 = deliverer();
    d2.notify(&notification(
        integ,
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Resolved)],
    ))
    .await
    .expect("resolve");

    let reqs = srv.requests_to("/v2/enqueue");
    assert_eq!(reqs.len(), 2);
    let trigger = reqs[0].json();
    let resolve = reqs[1].json();
    let dedup = notify::pagerduty::dedup_key(GROUP_KEY);
    assert_eq!(dedup.len(), 64);
    let firing_list = "Labels:\n - alertname = ErrorRateHigh\n - instance = api-1\n - rule_id = error-rate-high\n - severity = high\nAnnotations:\n - description = API错误率超过5%\n - summary = 错误率过高\n - threshold = 5\n - value = 7.25\nSource: http://aerowatch:9090/graph?g0.expr=up\n";
    assert_eq!(
        trigger,
        json!({
            "routing_key": "R0UT1NGKEY0000000000000000000000",
            "dedup_key": dedup,
            "event_action": "trigger",
            "payload": {
                "summary": SUBJECT,
                "source": "AlertManager",
                "severity": "error",
                "timestamp": "2024-05-01T08:00:00Z",
                "custom_details": {
                    "firing": firing_list,
                    "num_firing": "1",
                    "num_resolved": "0",
                    "resolved": "",
                },
            },
            "client": "AlertManager",
            "client_url": format!("{EXTERNAL}/#/alerts?receiver=pd"),
        })
    );
    let keys: Vec<&str> = trigger
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "routing_key",
            "dedup_key",
            "event_action",
            "payload",
            "client",
            "client_url"
        ]
    );
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(resolve["payload"]["timestamp"], "2024-05-01T08:10:00Z");
    assert_eq!(resolve["payload"]["custom_details"]["num_resolved"], "1");
    assert!(resolve["payload"]["summary"]
        .as_str()
        .unwrap_or_default()
        .starts_with("[RESOLVED] "));
}

#[tokio::test]
async fn pagerduty_severity_and_templated_fields() {
    let srv = CaptureServer::start().await;
    let d = deliverer();
    // Default severity follows the alerts' severity label (the most severe firing one).
    let integ = integrations(&pagerduty_yaml(&srv, ""), "pd").remove(0);
    let crit = alert(
        &[("alertname", "Down"), ("severity", "critical")],
        &[],
        AlertStatus::Firing,
    );
    let low = alert(
        &[("alertname", "Down"), ("severity", "low"), ("x", "1")],
        &[],
        AlertStatus::Firing,
    );
    d.notify(&notification(integ.clone(), GROUP_KEY, vec![crit, low.clone()]))
        .await
        .expect("sent");
    d.notify(&notification(integ, GROUP_KEY, vec![low]))
        .await
        .expect("sent");
    let reqs = srv.requests_to("/v2/enqueue");
    assert_eq!(reqs[0].json()["payload"]["severity"], "critical");
    assert_eq!(reqs[1].json()["payload"]["severity"], "info");

    // A configured severity, source, class, component, group, links, images
    // and extra details are templates.
    let extra = r#"    severity: '{{ if eq .CommonLabels.severity "high" }}warning{{ else }}info{{ end }}'
    source: 'aerowatch-{{ .CommonLabels.instance }}'
    class: '{{ .CommonLabels.rule_id }}'
    component: api
    group: '{{ .GroupLabels.alertname }}'
    details:
      runbook: 'https://runbooks.test/{{ .GroupLabels.alertname }}'
    links:
    - href: '{{ (index .Alerts 0).GeneratorURL }}'
      text: Source
    - href: ''
      text: dropped because empty
    images:
    - src: 'https://img.test/{{ .GroupLabels.alertname }}.png'
      alt: graph
"#;
    let integ = integrations(&pagerduty_yaml(&srv, extra), "pd").remove(0);
    d.notify(&notification(
        integ,
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Firing)],
    ))
    .await
    .expect("sent");
    let ev = srv.requests_to("/v2/enqueue")[2].json();
    assert_eq!(ev["payload"]["severity"], "warning");
    assert_eq!(ev["payload"]["source"], "aerowatch-api-1");
    assert_eq!(ev["payload"]["class"], "error-rate-high");
    assert_eq!(ev["payload"]["component"], "api");
    assert_eq!(ev["payload"]["group"], "ErrorRateHigh");
    assert_eq!(
        ev["payload"]["custom_details"]["runbook"],
        "https://runbooks.test/ErrorRateHigh"
    );
    assert_eq!(ev["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(
        ev["links"],
        json!([{"href": "http://aerowatch:9090/graph?g0.expr=up", "text": "Source"}])
    );
    assert_eq!(
        ev["images"],
        json!([{"src": "https://img.test/ErrorRateHigh.png", "alt": "graph", "href": ""}])
    );
}

#[tokio::test]
async fn pagerduty_statuses_map_to_retry_decisions() {
    let srv = CaptureServer::start().await;
    let integ = integrations(&pagerduty_yaml(&srv, ""), "pd").remove(0);
    let n = notification(integ, GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let d = deliverer();
    let bad = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
    srv.reply("/v2/enqueue", vec![Reply::json(400, bad)]);
    let e = d.notify(&n).await.expect_err("400");
    assert!(!e.retryable);
    assert_eq!(
        e.message,
        "unexpected status code 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
    );
    srv.reply("/v2/enqueue", vec![Reply::json(429, "{}")]);
    assert!(d.notify(&n).await.expect_err("429").retryable);
    srv.reply("/v2/enqueue", vec![Reply::json(503, "unavailable")]);
    assert!(d.notify(&n).await.expect_err("503").retryable);
    srv.reply("/v2/enqueue", vec![Reply::json(403, "forbidden")]);
    assert!(!d.notify(&n).await.expect_err("403").retryable);
    srv.reply("/v2/enqueue", vec![Reply::json(202, "{}")]);
    d.notify(&n).await.expect("202");
}

#[tokio::test]
async fn pagerduty_v1_service_key() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: pd\n  pagerduty_configs:\n  - service_key: 'svc-key'\n    url: '{}'\n",
        route("pd"),
        srv.url("/generic/2010-04-15/create_event.json")
    );
    let integ = integrations(&yaml, "pd").remove(0);
    let d = deliverer();
    d.notify(&notification(
        integ.clone(),
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Firing)],
    ))
    .await
    .expect("trigger");
    d.notify(&notification(
        integ,
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Resolved)],
    ))
    .await
    .expect("resolve");
    let reqs = srv.requests_to("/generic/2010-04-15/create_event.json");
    let trigger = reqs[0].json();
    assert_eq!(trigger["service_key"], "svc-key");
    assert_eq!(trigger["event_type"], "trigger");
    assert_eq!(
        trigger["incident_key"],
        notify::pagerduty::dedup_key(GROUP_KEY).as_str()
    );
    assert_eq!(trigger["description"], SUBJECT);
    assert_eq!(trigger["client"], "AlertManager");
    assert_eq!(trigger["details"]["num_firing"], "1");
    let resolve = reqs[1].json();
    assert_eq!(resolve["event_type"], "resolve");
    assert_eq!(resolve["incident_key"], trigger["incident_key"]);
    assert!(resolve.get("client").is_none(), "{resolve}");
}

#[tokio::test]
async fn webhook_payload_v4_is_exact_and_truncates() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: team.db\n  webhook_configs:\n  - url: '{}'\n    max_alerts: 2\n",
        route("team.db"),
        srv.url("/hook")
    );
    let integ = integrations(&yaml, "team.db").remove(0);
    let mut resolved = alert(
        &[("alertname", "ErrorRateHigh"), ("instance", "api-3")],
        &[("summary", "s")],
        AlertStatus::Resolved,
    );
    resolved.alert.ends_at = resolved.alert.ends_at.map(|t| t + chrono::Duration::milliseconds(250));
    let alerts = vec![
        alert(
            &[("alertname", "ErrorRateHigh"), ("instance", "api-1")],
            &[("summary", "s"), ("value", "7")],
            AlertStatus::Firing,
        ),
        resolved,
        alert(
            &[("alertname", "ErrorRateHigh"), ("instance", "api-9")],
            &[],
            AlertStatus::Firing,
        ),
    ];
    let fp: Vec<String> = alerts.iter().map(|a| a.fingerprint.to_string()).collect();
    let n = notification(integ, GROUP_KEY, alerts);
    deliverer().notify(&n).await.expect("delivered");
    let body = &srv.requests_to("/hook")[0].body;
    let expected = format!(
        concat!(
            r#"{{"receiver":"team\\.db","status":"firing","alerts":["#,
            r#"{{"status":"firing","labels":{{"alertname":"ErrorRateHigh","instance":"api-1"}},"annotations":{{"summary":"s","value":"7"}},"startsAt":"2024-05-01T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://aerowatch:9090/graph?g0.expr=up","fingerprint":"{fp0}"}},"#,
            r#"{{"status":"resolved","labels":{{"alertname":"ErrorRateHigh","instance":"api-3"}},"annotations":{{"summary":"s"}},"startsAt":"2024-05-01T08:00:00Z","endsAt":"2024-05-01T08:10:00.25Z","generatorURL":"http://aerowatch:9090/graph?g0.expr=up","fingerprint":"{fp1}"}}],"#,
            r#""groupLabels":{{"alertname":"ErrorRateHigh"}},"commonLabels":{{"alertname":"ErrorRateHigh"}},"commonAnnotations":{{"summary":"s"}},"#,
            r#""externalURL":"http://aerowatch.test","version":"4","groupKey":"{{}}/{{rule_id=\"error-rate-high\"}}:{{alertname=\"ErrorRateHigh\"}}","truncatedAlerts":1}}"#
        ),
        fp0 = fp[0],
        fp1 = fp[1],
    );
    assert_eq!(body, &expected);
    assert_eq!(fp[0].len(), 16);
}

#[tokio::test]
async fn webhook_auth_headers_secret_files_and_redirects() {
    let srv = CaptureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url_file = dir.path().join("url");
    std::fs::write(&url_file, srv.url("/first")).expect("write");
    std::fs::write(dir.path().join("pw"), "s3cret\n").expect("write");
    let yaml = format!(
        r#"{}receivers:
- name: hook
  webhook_configs:
  - url_file: '{}'
    http_config:
      basic_auth:
        username: aero
        password_file: pw
      http_headers:
        X-Scope:
          values: [team-db]
  - url: '{}'
  - url: '{}'
    http_config:
      follow_redirects: false
  - url: '{}'
"#,
        route("hook"),
        url_file.display(),
        srv.url("/redirect-out"),
        srv.url("/redirect-in"),
        srv.url("/redirect-in")
    );
    let list = integrations(&yaml, "hook");
    let d = Deliverer::new(DelivererOptions {
        config_dir: Some(dir.path().to_path_buf()),
        ..DelivererOptions::default()
    });
    let n = notification(list[0].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    d.notify(&n).await.expect("first");
    std::fs::write(&url_file, srv.url("/second")).expect("rotate");
    d.notify(&n).await.expect("second");
    let first = &srv.requests_to("/first")[0];
    assert_eq!(first.header("authorization"), Some("Basic YWVybzpzM2NyZXQ="));
    assert_eq!(first.header("x-scope"), Some("team-db"));
    assert_eq!(srv.requests_to("/second").len(), 1);

    // Redirects: never to a non-HTTP(S) URL, not at all when disabled,
    // otherwise followed.
    srv.reply("/redirect-out", vec![Reply::redirect("file:///etc/passwd")]);
    srv.reply("/redirect-in", vec![Reply::redirect(&srv.url("/landing"))]);
    let n = notification(list[1].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let e = d.notify(&n).await.expect_err("redirect to file: not followed");
    assert_eq!(e.message, "unexpected status code 302");
    assert!(!e.retryable);
    let n = notification(list[2].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let e = d.notify(&n).await.expect_err("follow_redirects: false");
    assert_eq!(e.message, "unexpected status code 302");
    assert!(srv.requests_to("/landing").is_empty());
    let n = notification(list[3].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    d.notify(&n).await.expect("redirect followed");
    assert_eq!(srv.requests_to("/landing").len(), 1);

    std::fs::remove_file(&url_file).expect("rm");
    let n = notification(list[0].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let e = d.notify(&n).await.expect_err("missing url file");
    assert!(e.message.contains("reading webhook url file"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_times_out_without_blocking_another() {
    let srv = CaptureServer::start().await;
    srv.reply("/hang", vec![Reply::hang()]);
    let yaml = format!(
        "{}receivers:\n- name: hook\n  webhook_configs:\n  - url: '{}'\n  - url: '{}'\n",
        route("hook"),
        srv.url("/hang"),
        srv.url("/fast")
    );
    let list = integrations(&yaml, "hook");
    let d = deliverer();
    let mut slow = notification(list[0].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    slow.timeout = Duration::from_secs(2);
    let fast = notification(list[1].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    let start = Instant::now();
    let (d1, d2) = (d.clone(), d.clone());
    let slow_task = tokio::spawn(async move {
        let r = d1.notify(&slow).await;
        (r, start.elapsed())
    });
    let fast_task = tokio::spawn(async move {
        let r = d2.notify(&fast).await;
        (r, start.elapsed())
    });
    let (fast_res, fast_took) = fast_task.await.expect("join");
    fast_res.expect("fast receiver delivered");
    assert!(fast_took < Duration::from_millis(1500), "fast took {fast_took:?}");
    let (slow_res, slow_took) = slow_task.await.expect("join");
    let e = slow_res.expect_err("hanging receiver must time out");
    assert!(e.retryable, "{e:?}");
    assert!(e.message.contains("timed out"), "{e:?}");
    assert!(slow_took >= Duration::from_millis(1900), "{slow_took:?}");
    assert!(slow_took < Duration::from_secs(5), "{slow_took:?}");

    let history = d.history();
    let by_index = |i: u32| history.iter().find(|r| r.index == i).cloned().expect("record");
    assert_eq!(by_index(0).outcome, Outcome::Retrying);
    assert_eq!(by_index(1).outcome, Outcome::Ok);
}

#[tokio::test]
async fn history_tracks_attempts_and_metrics_count_them() {
    let srv = CaptureServer::start().await;
    srv.reply(
        "/flaky",
        vec![
            Reply {
                status: 502,
                ..Reply::ok_text("bad gateway")
            },
            Reply::ok_text("ok"),
        ],
    );
    srv.reply(
        "/broken",
        vec![Reply {
            status: 400,
            ..Reply::ok_text("no")
        }],
    );
    let yaml = format!(
        "{}receivers:\n- name: ops\n  webhook_configs:\n  - url: '{}'\n  - url: '{}'\n",
        route("ops"),
        srv.url("/flaky"),
        srv.url("/broken")
    );
    let list = integrations(&yaml, "ops");
    let d = deliverer();
    d.init_metrics(&alertmanager::Config::parse(&yaml, "am.yml").expect("config"));
    let flaky = notification(list[0].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    // Two attempts of the same notification, as the dispatcher retries.
    assert!(d.notify(&flaky).await.expect_err("502").retryable);
    d.notify(&flaky).await.expect("retry succeeds");
    let broken = notification(list[1].clone(), GROUP_KEY, vec![error_rate_alert(AlertStatus::Firing)]);
    assert!(!d.notify(&broken).await.expect_err("400").retryable);
    // The dispatcher dropping an attempt at its deadline.
    let mut hung = notification(
        list[0].clone(),
        "{}:{other=\"1\"}",
        vec![error_rate_alert(AlertStatus::Firing)],
    );
    hung.timeout = Duration::from_secs(30);
    srv.reply("/flaky", vec![Reply::hang()]);
    assert!(tokio::time::timeout(Duration::from_millis(200), d.notify(&hung))
        .await
        .is_err());

    let h = d.history();
    assert_eq!(h.len(), 3);
    assert_eq!(h[2].outcome, Outcome::Ok);
    assert_eq!(h[2].attempts, 2);
    assert_eq!(h[2].last_error, None);
    assert_eq!(h[2].receiver, "ops");
    assert_eq!(h[2].integration, "webhook");
    assert_eq!(h[2].index, 0);
    assert_eq!(h[2].group_key, GROUP_KEY);
    assert_eq!(h[2].alerts[0].alertname, "ErrorRateHigh");
    assert_eq!(h[1].outcome, Outcome::Failed);
    assert_eq!(h[1].attempts, 1);
    assert_eq!(h[1].last_error.as_deref(), Some("unexpected status code 400: no"));
    assert_eq!(h[0].outcome, Outcome::Failed);
    assert!(h[0].last_error.as_deref().unwrap_or_default().contains("abandoned"));
    let json = serde_json::to_value(&h[2]).expect("serialize");
    assert_eq!(json["outcome"], "ok");
    assert_eq!(json["alerts"][0]["fingerprint"].as_str().map(str::len), Some(16));

    let mut m = String::new();
    d.write_metrics(&mut m);
    for line in [
        "# TYPE alertmanager_notifications_total counter",
        "alertmanager_notifications_total{integration=\"webhook\"} 3",
        "alertmanager_notifications_total{integration=\"slack\"} 0",
        "alertmanager_notifications_failed_total{integration=\"webhook\"} 2",
        "alertmanager_notification_requests_total{integration=\"webhook\"} 4",
        "alertmanager_notification_requests_failed_total{integration=\"webhook\"} 3",
        "alertmanager_notification_latency_seconds_count{integration=\"webhook\"} 4",
        "aerowatch_notifications_total{receiver=\"ops\",integration=\"webhook\"} 3",
        "aerowatch_notifications_failed_total{receiver=\"ops\",integration=\"webhook\"} 2",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
}

#[tokio::test]
async fn history_is_bounded() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: hook\n  webhook_configs:\n  - url: '{}'\n",
        route("hook"),
        srv.url("/h")
    );
    let integ = integrations(&yaml, "hook").remove(0);
    let d = Deliverer::new(DelivererOptions {
        history_capacity: 5,
        ..DelivererOptions::default()
    });
    for i in 0..12 {
        let n = notification(
            integ.clone(),
            &format!("{{}}:{{i=\"{i}\"}}"),
            vec![error_rate_alert(AlertStatus::Firing)],
        );
        d.notify(&n).await.expect("sent");
    }
    let h = d.history();
    assert_eq!(h.len(), 5);
    assert_eq!(h[0].group_key, "{}:{i=\"11\"}");
    assert_eq!(h[4].group_key, "{}:{i=\"7\"}");
}

#[tokio::test]
async fn resolved_only_batches_respect_send_resolved() {
    let srv = CaptureServer::start().await;
    let yaml = format!(
        "{}receivers:\n- name: hook\n  webhook_configs:\n  - url: '{}'\n    send_resolved: false\n",
        route("hook"),
        srv.url("/h")
    );
    let integ = integrations(&yaml, "hook").remove(0);
    let d = deliverer();
    d.notify(&notification(
        integ.clone(),
        GROUP_KEY,
        vec![error_rate_alert(AlertStatus::Resolved)],
    ))
    .await
    .expect("nothing to send is success");
    assert!(srv.requests_to("/h").is_empty());
    let mixed = vec![
        error_rate_alert(AlertStatus::Resolved),
        alert(
            &[("alertname", "ErrorRateHigh"), ("instance", "api-2")],
            &[],
            AlertStatus::Firing,
        ),
    ];
    d.notify(&notification(integ, GROUP_KEY, mixed)).await.expect("sent");
    let body = srv.requests_to("/h")[0].json();
    assert_eq!(body["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["alerts"][0]["labels"]["instance"], "api-2");
}

/// The whole path: alerts posted to the alertmanager engine, grouped and
/// flushed by its dispatcher, delivered by the Deliverer, retried on 5xx,
/// and resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_delivers_through_the_deliverer() {
    let srv = CaptureServer::start().await;
    srv.reply("/pd", vec![Reply::json(500, "{}"), Reply::json(202, "{}")]);
    let yaml = format!(
        r#"route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 200ms
receivers:
- name: oncall
  pagerduty_configs:
  - routing_key: 'R0UT1NGKEY0000000000000000000000'
    url: '{}'
  webhook_configs:
  - url: '{}'
"#,
        srv.url("/pd"),
        srv.url("/hook")
    );
    let cfg = alertmanager::Config::parse(&yaml, "am.yml").expect("config");
    let am = Arc::new(alertmanager::Alertmanager::new(cfg, alertmanager::EngineOptions::default()).expect("engine"));
    let d = deliverer();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(am.clone().run(Arc::new(d.clone()), async move {
        let _ = stop_rx.await;
    }));
    let now = chrono::Utc::now();
    let labels = model::Labels::from_pairs([("alertname", "E2E"), ("severity", "critical")]);
    am.put_alerts(vec![alertmanager::Alert {
        ends_at: Some(now + chrono::Duration::hours(1)),
        ..alertmanager::Alert::new(labels.clone(), now)
    }]);
    let hooks = srv.wait_for("/hook", 1, Duration::from_secs(5)).await;
    let pds = srv.wait_for("/pd", 2, Duration::from_secs(5)).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].json()["groupKey"], "{}:{alertname=\"E2E\"}");
    assert_eq!(pds.len(), 2, "500 then retried");
    let trigger = pds[1].json();
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["payload"]["severity"], "critical");

    // Resolve: both integrations send resolved alerts by default.
    am.put_alerts(vec![alertmanager::Alert {
        ends_at: Some(chrono::Utc::now()),
        ..alertmanager::Alert::new(labels, now)
    }]);
    let pds = srv.wait_for("/pd", 3, Duration::from_secs(5)).await;
    let hooks = srv.wait_for("/hook", 2, Duration::from_secs(5)).await;
    let resolve = pds[2].json();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(hooks[1].json()["status"], "resolved");

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("engine stops")
        .expect("join");
    let pd_record = d
        .history()
        .into_iter()
        .find(|r| r.integration == "pagerduty" && r.status == "firing")
        .expect("record");
    assert_eq!(pd_record.outcome, Outcome::Ok);
    assert_eq!(pd_record.attempts, 2);
}
