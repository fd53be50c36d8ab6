use super::*;

/// A realistic alertmanager.yml in the style of Alertmanager's
/// doc/examples/simple.yml, with nested routes, `continue`, inhibit rules and
/// time intervals.
pub(crate) const EXAMPLE: &str = r#"
global:
  # The smarthost and SMTP sender used for mail notifications.
  smtp_smarthost: 'localhost:25'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'password'
  slack_api_url: 'https://hooks.slack.com/services/T000/B000/XXXX'
  resolve_timeout: 10m

templates:
- '/etc/alertmanager/template/*.tmpl'

route:
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  receiver: team-X-mails
  routes:
  - matchers:
    - service=~"foo1|foo2|baz"
    receiver: team-X-mails
    routes:
    - matchers:
      - severity="critical"
      receiver: team-X-pager
  - matchers:
    - service="files"
    receiver: team-Y-mails
    routes:
    - matchers:
      - severity="critical"
      receiver: team-Y-pager
  - matchers:
    - service="database"
    receiver: team-DB-pager
    group_by: [alertname, cluster, database]
    routes:
    - matchers:
      - owner="team-X"
      receiver: team-X-pager
      continue: true
    - matchers:
      - owner="team-Y"
      receiver: team-Y-pager
  - match:
      team: frontend
    match_re:
      env: prod|staging
    receiver: slack-frontend
    group_by: ['...']
    mute_time_intervals: [offhours]
    active_time_intervals:
    - business-days

inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [alertname, cluster, service]
- source_match:
    alertname: NodeDown
  target_match_re:
    alertname: 'Node.+'
  equal: ['instance']

receivers:
- name: 'team-X-mails'
  email_configs:
  - to: 'team-X+alerts@example.org'
- name: 'team-X-pager'
  email_configs:
  - to: 'team-X+alerts-critical@example.org'
    headers:
      subject: 'Critical: {{ .CommonLabels.alertname }}'
  pagerduty_configs:
  - routing_key: <team-X-key>
- name: 'team-Y-mails'
  email_configs:
  - to: 'team-Y+alerts@example.org'
- name: 'team-Y-pager'
  pagerduty_configs:
  - service_key: <team-Y-key>
    send_resolved: false
- name: 'team-DB-pager'
  pagerduty_configs:
  - routing_key: <team-DB-key>
    severity: critical
    details:
      runbook: 'https://runbooks.example.org/db'
  webhook_configs:
  - url: 'http://127.0.0.1:5001/hook'
    max_alerts: 10
- name: 'slack-frontend'
  slack_configs:
  - channel: '#frontend'
    send_resolved: true
    title: '{{ .CommonLabels.alertname }}'
    fields:
    - title: Severity
      value: '{{ .CommonLabels.severity }}'
      short: true
    actions:
    - type: button
      text: Runbook
      url: '{{ .CommonAnnotations.runbook_url }}'
  - channel: '#frontend-bot'
    token: xoxb-secret-token

time_intervals:
- name: offhours
  time_intervals:
  - times:
    - start_time: '00:00'
      end_time: '08:00'
    - start_time: '18:00'
      end_time: '24:00'
- name: business-days
  time_intervals:
  - weekdays: ['monday:friday']
    location: UTC
"#;

fn parse(src: &str) -> Result<Config, ConfigError> {
    Config::parse(src, "alertmanager.yml")
}

#[test]
fn parses_realistic_example() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.global.resolve_timeout, PromDuration::from_secs(600));
    assert!(c.global.smtp_require_tls);
    assert_eq!(c.global.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(c.templates, ["/etc/alertmanager/template/*.tmpl"]);
    assert_eq!(c.route.receiver.as_deref(), Some("team-X-mails"));
    assert_eq!(c.route.routes.len(), 4);
    let db = &c.route.routes[2];
    assert!(db.routes[0].continue_matching);
    assert_eq!(db.group_by.as_deref().unwrap(), ["alertname", "cluster", "database"]);
    let fe = &c.route.routes[3];
    assert_eq!(fe.mute_time_intervals, ["offhours"]);
    assert_eq!(fe.active_time_intervals, ["business-days"]);
    let ms: Vec<String> = fe.all_matchers().iter().map(format_matcher).collect();
    assert_eq!(ms, [r#"env=~"^(?:prod|staging)$""#, r#"team="frontend""#]);

    assert_eq!(c.inhibit_rules.len(), 2);
    assert_eq!(c.inhibit_rules[0].equal, ["alertname", "cluster", "service"]);
    assert_eq!(c.inhibit_rules[1].source_match["alertname"], "NodeDown");

    // Email settings come from global.
    let mails = c.receiver("team-X-mails").unwrap();
    let ec = &mails.email_configs[0];
    assert_eq!(ec.smarthost, "localhost:25");
    assert_eq!(ec.from, "alertmanager@example.org");
    assert_eq!(ec.hello, "localhost");
    assert_eq!(ec.auth_password.as_ref().unwrap().expose(), "password");
    assert_eq!(ec.require_tls, Some(true));
    assert!(!ec.send_resolved);
    let pager = c.receiver("team-X-pager").unwrap();
    assert!(pager.email_configs[0].headers.contains_key("Subject"));
    assert!(pager.pagerduty_configs[0].send_resolved);
    assert_eq!(pager.pagerduty_configs[0].severity, "error");
    assert_eq!(
        pager.integrations().iter().map(|i| i.name()).collect::<Vec<_>>(),
        ["email", "pagerduty"]
    );
    let db = c.receiver("team-DB-pager").unwrap();
    assert_eq!(db.pagerduty_configs[0].details.len(), 5, "defaults merged into details");
    assert!(db.webhook_configs[0].send_resolved);
    assert_eq!(db.webhook_configs[0].max_alerts, 10);
    let slack = c.receiver("slack-frontend").unwrap();
    assert!(slack.slack_configs[0].send_resolved);
    assert_eq!(
        slack.slack_configs[0].api_url.as_ref().unwrap().expose(),
        "https://hooks.slack.com/services/T000/B000/XXXX"
    );
    assert_eq!(slack.slack_configs[0].fields[0].short, Some(true));
    assert_eq!(slack.slack_configs[0].mrkdwn_in, ["fallback", "pretext", "text"]);
    // A bot token does not inherit the webhook URL.
    assert!(slack.slack_configs[1].api_url.is_none());
    assert_eq!(
        slack.slack_configs[1].token.as_ref().unwrap().expose(),
        "xoxb-secret-token"
    );
    assert!(!c.receiver("team-Y-pager").unwrap().pagerduty_configs[0].send_resolved);

    assert_eq!(c.time_intervals.len(), 2);
    assert_eq!(c.named_time_intervals().count(), 2);
}

#[test]
fn masked_yaml_hides_secrets_and_reloads() {
    let c = parse(EXAMPLE).unwrap();
    let out = c.to_masked_yaml();
    assert!(!out.contains("password'") && !out.contains(": password"), "{out}");
    assert!(!out.contains("xoxb-secret-token"));
    assert!(!out.contains("hooks.slack.com"));
    assert!(!out.contains("team-X-key"));
    assert!(out.contains("<secret>"));
    assert!(out.contains("group_wait: 30s"));
    // The masked output is itself a loadable config.
    let again = parse(&out).unwrap();
    assert_eq!(again.route, c.route);
    assert_eq!(again.inhibit_rules, c.inhibit_rules);
}

#[test]
fn from_value_accepts_embedded_section() {
    let doc: serde_yaml::Value = serde_yaml::from_str(&format!(
        "server: {{}}\nalertmanager:\n{}",
        EXAMPLE.lines().map(|l| format!("  {l}\n")).collect::<String>()
    ))
    .unwrap();
    let section = doc.get("alertmanager").unwrap().clone();
    let c = Config::from_value(section, "aerowatch.yml").unwrap();
    assert_eq!(c.receivers.len(), 6);

    let bad: serde_yaml::Value = serde_yaml::from_str("route: {receiver: nope}").unwrap();
    let e = Config::from_value(bad, "aerowatch.yml").unwrap_err();
    assert_eq!(e.to_string(), "aerowatch.yml: route: receiver \"nope\" is not defined");
}

fn err_of(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

#[test]
fn validation_errors_carry_file_line_and_reason() {
    let cases: &[(&str, &str)] = &[
        (
            "route:\n  receiver: a\n  routes:\n  - receiver: pager\nreceivers:\n- name: a\n",
            "alertmanager.yml:4: route.routes[0]: receiver \"pager\" is not defined",
        ),
        (
            "route:\n  receiver: pager\nreceivers:\n- name: a\n",
            "alertmanager.yml:2: route: receiver \"pager\" is not defined",
        ),
        (
            "route:\n  group_by: [a]\nreceivers:\n- name: a\n",
            "alertmanager.yml:1: route: root route must specify a default receiver",
        ),
        (
            "route:\n  receiver: a\n  matchers: [x=\"y\"]\nreceivers:\n- name: a\n",
            "alertmanager.yml:1: route: root route must not have any matchers",
        ),
        (
            "route:\n  receiver: a\n  continue: true\nreceivers:\n- name: a\n",
            "alertmanager.yml:1: route: cannot have continue in root route",
        ),
        (
            "receivers:\n- name: a\n",
            "alertmanager.yml: no route provided in config",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n- name: b\n- name: a\n",
            "alertmanager.yml:6: receivers: notification config name \"a\" is not unique",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n  opsgenie_configs:\n  - api_key: x\n",
            "alertmanager.yml:5: receiver \"a\": opsgenie_configs are not supported by Aerowatch (supported: email_configs, pagerduty_configs, slack_configs, webhook_configs)",
        ),
        (
            "route:\n  receiver: a\n  routes:\n  - receiver: a\n    mute_time_intervals: [weekends]\nreceivers:\n- name: a\n",
            "alertmanager.yml:5: route.routes[0]: undefined time interval \"weekends\" used in route",
        ),
        (
            "route:\n  receiver: a\n  routes:\n  - receiver: a\n    active_time_intervals:\n    - nights\nreceivers:\n- name: a\n",
            "alertmanager.yml:6: route.routes[0]: undefined time interval \"nights\" used in route",
        ),
        (
            "route:\n  receiver: a\n  group_by: ['...', 'job']\nreceivers:\n- name: a\n",
            "alertmanager.yml:3: route: cannot have wildcard group_by (`...`) and other labels at the same time",
        ),
        (
            "route:\n  receiver: a\n  group_by: ['job', 'job']\nreceivers:\n- name: a\n",
            "alertmanager.yml:3: route: duplicated label \"job\" in group_by",
        ),
        (
            "route:\n  receiver: a\n  group_by: ['bad-label']\nreceivers:\n- name: a\n",
            "alertmanager.yml:3: route: invalid label name \"bad-label\" in group_by list",
        ),
        (
            "route:\n  receiver: a\n  group_interval: 0s\nreceivers:\n- name: a\n",
            "alertmanager.yml:3: route: group_interval cannot be zero",
        ),
        (
            "route:\n  receiver: a\n  repeat_interval: 0s\nreceivers:\n- name: a\n",
            "alertmanager.yml:3: route: repeat_interval cannot be zero",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n  email_configs:\n  - to: x@example.org\n",
            "alertmanager.yml:4: receiver \"a\": no global SMTP smarthost set",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n  slack_configs:\n  - channel: '#x'\n",
            "alertmanager.yml:4: receiver \"a\": no global Slack API URL set either inline or in a file",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n  pagerduty_configs:\n  - severity: x\n",
            "alertmanager.yml:4: receiver \"a\": missing service or routing key in PagerDuty config",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\n  webhook_configs:\n  - send_resolved: true\n",
            "alertmanager.yml:4: receiver \"a\": one of url or url_file must be configured",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\ntime_intervals:\n- name: t\n  time_intervals: []\n- name: t\n  time_intervals: []\n",
            "alertmanager.yml:8: time_intervals: time interval \"t\" is not unique",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n- name: a\ninhibit_rules:\n- source_matchers: [a=b]\n  equal: ['bad-label']\n",
            "alertmanager.yml:7: inhibit_rules[0]: invalid label name \"bad-label\" in equal list",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(&err_of(src), want, "for config:\n{src}");
    }
}

#[test]
fn parse_errors_carry_yaml_positions() {
    let e = parse("route:\n  receiver: a\n  recevier: b\nreceivers:\n- name: a\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("unknown field `recevier`"), "{e}");

    let e = parse("route:\n  receiver: a\n  group_wait: 30 seconds\nreceivers:\n- name: a\n").unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("not a valid duration string"), "{e}");

    let e = parse("route:\n  receiver: a\n  routes:\n  - matchers:\n    - 'foo=\"bar'\nreceivers:\n- name: a\n")
        .unwrap_err();
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.contains("matcher value contains unescaped double quote"),
        "{e}"
    );

    let e = parse("route:\n  receiver: a\nreceivers:\n- name: a\ntime_intervals:\n- name: t\n  time_intervals:\n  - weekdays: ['sunday:monday', 'funday']\n").unwrap_err();
    assert_eq!(e.line, Some(8), "{e}");
    assert!(e.message.contains("funday is not a valid weekday"), "{e}");

    let e = parse("route: [\n").unwrap_err();
    assert!(e.line.is_some(), "{e}");
    assert!(e.to_string().starts_with("alertmanager.yml:"), "{e}");

    let e = parse("bogus: 1\nroute:\n  receiver: a\nreceivers:\n- name: a\n").unwrap_err();
    assert_eq!(e.line, Some(1), "{e}");
    assert!(e.message.contains("unknown field `bogus`"), "{e}");
}

#[test]
fn durations_and_defaults() {
    let c =
        parse("route:\n  receiver: a\n  group_wait: 1h30m\n  repeat_interval: 1d\nreceivers:\n- name: a\n").unwrap();
    assert_eq!(c.route.group_wait, Some(PromDuration::from_secs(5400)));
    assert_eq!(c.route.repeat_interval, Some(PromDuration::from_secs(86400)));
    assert_eq!(c.global.resolve_timeout, PromDuration::from_secs(300));
    assert_eq!(c.global.smtp_hello, "localhost");
}

#[test]
fn lenient_scalars_in_match() {
    let c = parse(
        "route:\n  receiver: a\n  routes:\n  - match: {code: 500, ok: true}\n    receiver: a\nreceivers:\n- name: a\n",
    )
    .unwrap();
    assert_eq!(c.route.routes[0].match_eq["code"], "500");
    assert_eq!(c.route.routes[0].match_eq["ok"], "true");
}

#[test]
fn locate_finds_keys_and_list_items() {
    let src = "a:\n  - receiver: 'x'  # comment\n  - receiver: y\nmute: [p, q]\n";
    assert_eq!(locate(src, "receiver", Some("x"), 0), Some(2));
    assert_eq!(locate(src, "receiver", Some("y"), 0), Some(3));
    assert_eq!(locate(src, "mute", Some("q"), 0), Some(4));
    assert_eq!(locate(src, "receiver", None, 1), Some(3));
    assert_eq!(canonical_header("x-mailer-id"), "X-Mailer-Id");
}
