use super::*;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::engine::EngineOptions;
use chrono::{TimeZone, Utc};
use std::sync::Arc;

const CONFIG: &str = r#"
global:
  resolve_timeout: 5m
  slack_api_url: 'https://hooks.slack.com/services/SECRET'
route:
  receiver: default
  group_by: [alertname]
  routes:
  - matchers: [team="db"]
    receiver: db
    continue: true
  - matchers: [severity="critical"]
    receiver: pager
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
receivers:
- name: default
  webhook_configs: [{url: 'http://127.0.0.1:9/'}]
- name: db
  slack_configs: [{channel: '#db'}]
- name: pager
  webhook_configs: [{url: 'http://127.0.0.1:9/p'}]
"#;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

fn engine() -> (Alertmanager, ManualClock) {
    let clock = ManualClock::new(t0());
    let am = Alertmanager::new(
        Config::parse(CONFIG, "am.yml").unwrap(),
        EngineOptions {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    (am, clock)
}

#[test]
fn post_alerts_applies_defaults_and_resolve_timeout() {
    let (am, _clock) = engine();
    let body = br#"[
      {"labels": {"alertname": "A", "job": "api", "empty": ""}, "annotations": {"summary": "s"},
       "generatorURL": "http://prom/graph"},
      {"labels": {"alertname": "B"}, "startsAt": "2024-03-01T11:00:00.123456Z",
       "endsAt": "2024-03-01T13:00:00+01:00"},
      {"labels": {"alertname": "C"}, "startsAt": "0001-01-01T00:00:00Z", "endsAt": "2024-03-01T12:10:00Z"}
    ]"#;
    post_alerts(&am, body).unwrap();
    let alerts = am.store().list();
    assert_eq!(alerts.len(), 3);
    let a = alerts.iter().find(|a| a.labels.get("alertname") == Some("A")).unwrap();
    assert_eq!(a.labels.get("empty"), None, "empty labels are dropped");
    assert_eq!(a.starts_at, t0());
    assert_eq!(a.ends_at, Some(t0() + chrono::Duration::minutes(5)));
    assert!(a.timeout);
    assert_eq!(a.updated_at, t0());
    assert_eq!(a.generator_url, "http://prom/graph");
    let b = alerts.iter().find(|a| a.labels.get("alertname") == Some("B")).unwrap();
    assert!(!b.timeout);
    assert_eq!(b.ends_at, Some(t0()), "13:00+01:00 is 12:00Z");
    assert_eq!(
        b.starts_at,
        t0() - chrono::Duration::hours(1) + chrono::Duration::microseconds(123456)
    );
    let c = alerts.iter().find(|a| a.labels.get("alertname") == Some("C")).unwrap();
    assert_eq!(
        c.starts_at,
        t0() + chrono::Duration::minutes(10),
        "zero start defaults to endsAt"
    );
}

#[test]
fn post_alerts_reports_invalid_ones_but_stores_valid() {
    let (am, _) = engine();
    let body = br#"[
      {"labels": {"alertname": "ok"}},
      {"labels": {}},
      {"labels": {"bad-name": "x"}},
      {"labels": {"a": "b"}, "startsAt": "2024-03-01T12:00:00Z", "endsAt": "2024-03-01T11:00:00Z"}
    ]"#;
    let err = post_alerts(&am, body).unwrap_err();
    assert_eq!(err.status_code(), 400);
    assert_eq!(
        err.to_string(),
        "at least one label pair required;invalid label set: invalid name \"bad-name\";start time must be before end time"
    );
    assert_eq!(am.store().len(), 1);
    assert_eq!(err.body_json().chars().next(), Some('"'));

    let err = post_alerts(&am, br#"[{"annotations": {}}]"#).unwrap_err();
    assert_eq!(err.to_string(), "0.labels in body is required");
    assert_eq!(post_alerts(&am, b"{").unwrap_err().status_code(), 400);
}

#[test]
fn gettable_alert_json_shape() {
    let (am, _) = engine();
    post_alerts(
        &am,
        br#"[{"labels": {"alertname": "A", "team": "db"}, "annotations": {"x": "y"}}]"#,
    )
    .unwrap();
    let got = get_alerts(&am, &AlertQuery::default()).unwrap();
    assert_eq!(got.len(), 1);
    let v = serde_json::to_value(&got[0]).unwrap();
    let fp = Fingerprint::of(&Labels::from_pairs([("alertname", "A"), ("team", "db")])).to_string();
    assert_eq!(
        v,
        serde_json::json!({
            "annotations": {"x": "y"},
            "endsAt": "2024-03-01T12:05:00.000Z",
            "fingerprint": fp,
            "receivers": [{"name": "db"}],
            "startsAt": "2024-03-01T12:00:00.000Z",
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
            "updatedAt": "2024-03-01T12:00:00.000Z",
            "labels": {"alertname": "A", "team": "db"}
        })
    );
    // It round-trips, as a Go client would read it.
    let back: GettableAlert = serde_json::from_value(v).unwrap();
    assert_eq!(back, got[0]);
}

#[test]
fn alert_filters() {
    let (am, clock) = engine();
    post_alerts(
        &am,
        br#"[
      {"labels": {"alertname": "Crit", "severity": "critical", "cluster": "eu"}},
      {"labels": {"alertname": "Warn", "severity": "warning", "cluster": "eu"}},
      {"labels": {"alertname": "Db", "team": "db"}},
      {"labels": {"alertname": "Old"}, "startsAt": "2024-03-01T10:00:00Z", "endsAt": "2024-03-01T11:00:00Z"}
    ]"#,
    )
    .unwrap();
    am.silences()
        .set(Silence {
            id: String::new(),
            matchers: parse_matchers(r#"team="db""#).unwrap(),
            starts_at: t0(),
            ends_at: t0() + chrono::Duration::hours(1),
            updated_at: t0(),
            created_by: "me".into(),
            comment: "c".into(),
        })
        .unwrap();
    clock.advance(std::time::Duration::from_secs(1));
    let names = |q: AlertQuery| -> Vec<String> {
        let mut v: Vec<String> = get_alerts(&am, &q)
            .unwrap()
            .into_iter()
            .map(|a| a.labels["alertname"].clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(AlertQuery::default()),
        ["Crit", "Db", "Warn"],
        "resolved alerts are not listed"
    );
    let q = |pairs: &[(&str, &str)]| AlertQuery::from_pairs(pairs.iter().copied()).unwrap();
    assert_eq!(names(q(&[("silenced", "false")])), ["Crit", "Warn"]);
    assert_eq!(names(q(&[("inhibited", "false")])), ["Crit", "Db"]);
    assert_eq!(names(q(&[("active", "false")])), ["Db", "Warn"]);
    assert_eq!(
        names(q(&[
            ("filter", "severity=~\"crit.*|warning\""),
            ("filter", "cluster=eu")
        ])),
        ["Crit", "Warn"]
    );
    assert_eq!(names(q(&[("filter", "{severity=\"\"}")])), ["Db"]);
    assert_eq!(names(q(&[("receiver", "pag.*")])), ["Crit"]);
    assert_eq!(names(q(&[("receiver", "db")])), ["Db"]);
    let err = get_alerts(&am, &q(&[("filter", "bad matcher")])).unwrap_err();
    assert!(err.to_string().starts_with("bad matcher format"), "{err}");
    assert!(AlertQuery::from_pairs([("active", "maybe")]).is_err());

    let warn = get_alerts(&am, &q(&[("filter", "alertname=Warn")])).unwrap();
    assert_eq!(warn[0].status.state, "suppressed");
    let crit_fp = Fingerprint::of(&Labels::from_pairs([
        ("alertname", "Crit"),
        ("severity", "critical"),
        ("cluster", "eu"),
    ]));
    assert_eq!(warn[0].status.inhibited_by, [crit_fp.to_string()]);
}

#[test]
fn alert_groups() {
    let (am, _) = engine();
    post_alerts(
        &am,
        br#"[
      {"labels": {"alertname": "Db", "team": "db", "instance": "2"}},
      {"labels": {"alertname": "Db", "team": "db", "instance": "1"}},
      {"labels": {"alertname": "Crit", "severity": "critical"}}
    ]"#,
    )
    .unwrap();
    let groups = get_alert_groups(&am, &AlertQuery::default()).unwrap();
    let v = serde_json::to_value(&groups).unwrap();
    assert_eq!(v[0]["labels"], serde_json::json!({"alertname": "Crit"}));
    assert_eq!(v[0]["receiver"], serde_json::json!({"name": "pager"}));
    assert_eq!(v[1]["labels"], serde_json::json!({"alertname": "Db"}));
    assert_eq!(v[1]["receiver"]["name"], "db");
    assert_eq!(v[1]["alerts"][0]["labels"]["instance"], "1");
    assert_eq!(v[1]["alerts"][0]["receivers"], serde_json::json!([{"name": "db"}]));
    let only_db = get_alert_groups(&am, &AlertQuery::from_pairs([("receiver", "db")]).unwrap()).unwrap();
    assert_eq!(only_db.len(), 1);
}

#[test]
fn silences_crud_through_the_api() {
    let (am, clock) = engine();
    let body = br#"{"matchers": [{"name": "alertname", "value": "A", "isRegex": false},
                                 {"name": "env", "value": "prod|stage", "isRegex": true, "isEqual": true}],
                    "startsAt": "2024-03-01T11:00:00Z", "endsAt": "2024-03-01T14:00:00.000Z",
                    "createdBy": "alice", "comment": "deploy"}"#;
    let id = post_silence_json(&am, body).unwrap().silence_id;
    assert_eq!(
        serde_json::to_value(PostSilenceResponse { silence_id: id.clone() }).unwrap(),
        serde_json::json!({"silenceID": id})
    );
    let s = get_silence(&am, &id).unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["status"], serde_json::json!({"state": "active"}));
    assert_eq!(
        v["startsAt"], "2024-03-01T12:00:00.000Z",
        "start in the past moves to now"
    );
    assert_eq!(v["endsAt"], "2024-03-01T14:00:00.000Z");
    assert_eq!(
        v["matchers"],
        serde_json::json!([
            {"name": "alertname", "value": "A", "isRegex": false, "isEqual": true},
            {"name": "env", "value": "prod|stage", "isRegex": true, "isEqual": true}
        ])
    );
    assert_eq!(v["createdBy"], "alice");

    // Update in place (extend), then filter and delete.
    let mut upd: PostableSilence = serde_json::from_slice(body).unwrap();
    upd.id = Some(id.clone());
    upd.starts_at = Some(s.starts_at);
    upd.ends_at = Some(t0() + chrono::Duration::hours(5));
    assert_eq!(post_silence(&am, upd).unwrap().silence_id, id);
    assert_eq!(get_silences(&am, &["alertname=A".into()]).unwrap().len(), 1);
    assert_eq!(get_silences(&am, &["alertname=B".into()]).unwrap().len(), 0);
    delete_silence(&am, &id).unwrap();
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(get_silence(&am, &id).unwrap().status.state, SilenceState::Expired);
    assert_eq!(delete_silence(&am, &id).unwrap_err().status_code(), 500);
    assert_eq!(delete_silence(&am, "nope").unwrap_err().status_code(), 404);
    assert_eq!(get_silence(&am, "nope").unwrap_err().status_code(), 404);
}

#[test]
fn silence_post_validation() {
    let (am, _) = engine();
    let base = PostableSilence {
        id: None,
        matchers: vec![ApiMatcher {
            name: "a".into(),
            value: "b".into(),
            is_regex: false,
            is_equal: true,
        }],
        starts_at: Some(t0()),
        ends_at: Some(t0() + chrono::Duration::hours(1)),
        created_by: "me".into(),
        comment: "why".into(),
    };
    let check = |p: PostableSilence, code: u16, msg: &str| {
        let e = post_silence(&am, p).unwrap_err();
        assert_eq!((e.status_code(), e.to_string().as_str()), (code, msg));
    };
    check(
        PostableSilence {
            ends_at: Some(t0()),
            ..base.clone()
        },
        400,
        "Failed to create silence: start time must be before end time",
    );
    check(
        PostableSilence {
            starts_at: Some(t0() - chrono::Duration::hours(2)),
            ends_at: Some(t0() - chrono::Duration::hours(1)),
            ..base.clone()
        },
        400,
        "Failed to create silence: end time can't be in the past",
    );
    check(
        PostableSilence {
            created_by: String::new(),
            ..base.clone()
        },
        400,
        "createdBy in body is required",
    );
    check(
        PostableSilence {
            comment: String::new(),
            ..base.clone()
        },
        400,
        "comment in body is required",
    );
    check(
        PostableSilence {
            matchers: vec![],
            ..base.clone()
        },
        400,
        "silence invalid: at least one matcher required",
    );
    check(
        PostableSilence {
            id: Some("missing".into()),
            ..base.clone()
        },
        404,
        "silence not found",
    );
    let mut bad_re = base.clone();
    bad_re.matchers[0].is_regex = true;
    bad_re.matchers[0].value = "(".into();
    let e = post_silence(&am, bad_re).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("failed to convert API silence to internal silence"),
        "{e}"
    );
}

#[test]
fn silences_are_sorted_like_alertmanager() {
    let (am, clock) = engine();
    let mk = |start: i64, end: i64| PostableSilence {
        id: None,
        matchers: vec![ApiMatcher {
            name: "a".into(),
            value: "b".into(),
            is_regex: false,
            is_equal: true,
        }],
        starts_at: Some(t0() + chrono::Duration::minutes(start)),
        ends_at: Some(t0() + chrono::Duration::minutes(end)),
        created_by: "me".into(),
        comment: "c".into(),
    };
    let a_late = post_silence(&am, mk(0, 50)).unwrap().silence_id;
    let a_soon = post_silence(&am, mk(0, 20)).unwrap().silence_id;
    let p_late = post_silence(&am, mk(40, 90)).unwrap().silence_id;
    let p_soon = post_silence(&am, mk(30, 90)).unwrap().silence_id;
    let e_first = post_silence(&am, mk(0, 5)).unwrap().silence_id;
    let e_second = post_silence(&am, mk(0, 8)).unwrap().silence_id;
    clock.advance(std::time::Duration::from_secs(10 * 60));
    let ids: Vec<String> = get_silences(&am, &[]).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, [a_soon, a_late, p_soon, p_late, e_second, e_first]);
}

#[test]
fn status_and_receivers() {
    let (am, _) = engine();
    let st = get_status(
        &am,
        VersionInfo {
            version: "0.1.0".into(),
            ..Default::default()
        },
    );
    let v = serde_json::to_value(&st).unwrap();
    assert_eq!(v["cluster"], serde_json::json!({"status": "disabled"}));
    assert_eq!(v["uptime"], "2024-03-01T12:00:00.000Z");
    assert_eq!(v["versionInfo"]["version"], "0.1.0");
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(v["versionInfo"][k].is_string(), "{k}");
    }
    let original = v["config"]["original"].as_str().unwrap();
    assert!(original.contains("receiver: default"));
    assert!(!original.contains("SECRET"));
    assert!(original.contains("<secret>"));
    let rs: Vec<String> = get_receivers(&am).into_iter().map(|r| r.name).collect();
    assert_eq!(rs, ["default", "db", "pager"]);
}

#[test]
fn datetime_parsing_accepts_go_formats() {
    use datetime::parse;
    assert_eq!(parse("2024-03-01T12:00:00Z").unwrap(), Some(t0()));
    assert_eq!(parse("2024-03-01T12:00:00.000000000Z").unwrap(), Some(t0()));
    assert_eq!(parse("2024-03-01T14:00:00+02:00").unwrap(), Some(t0()));
    assert_eq!(parse("2024-03-01T14:00:00+0200").unwrap(), Some(t0()));
    assert_eq!(parse("0001-01-01T00:00:00Z").unwrap(), None);
    assert!(parse("yesterday").is_err());
}
