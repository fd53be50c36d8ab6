use std::time::Duration;

use probes::{Kind, ProbesConfig};

const EXAMPLE: &str = r#"
checks:
  - name: web
    http: { url: "http://127.0.0.1:3000/api/health", method: GET, headers: {X-A: b}, body: "", expect_status: [200], body_regex: "healthy", body_contains: "ok", json_field: { path: "status", equals: "healthy" }, max_latency: 2s, follow_redirects: true }
    interval: 10s
    timeout: 5s
    retries: 0
    failure_threshold: 3
    success_threshold: 1
  - name: api-port
    tcp: { address: "127.0.0.1:3000" }
  - name: job
    command: { argv: [ "/usr/bin/true" ], env: {}, dir: null, expect_exit: 0, stdout_regex: null }
"#;

fn problems(yaml: &str) -> Vec<String> {
    ProbesConfig::from_yaml(yaml).unwrap().validate().unwrap_err().problems
}

#[test]
fn the_issue_example_parses_with_defaults() {
    let checks = ProbesConfig::from_yaml(EXAMPLE).unwrap().validate().unwrap();
    assert_eq!(checks.len(), 3);
    let web = &checks[0];
    assert_eq!(web.interval, Duration::from_secs(10));
    assert_eq!(web.timeout, Duration::from_secs(5));
    let Kind::Http(h) = &web.kind else { panic!("http") };
    assert_eq!(h.body, None, "an empty body sends none");
    assert_eq!(h.max_latency, Some(Duration::from_secs(2)));
    assert_eq!(h.headers.get("x-a").unwrap(), "b");
    let port = &checks[1];
    assert_eq!(port.kind.name(), "tcp");
    assert_eq!(port.interval, Duration::from_secs(30));
    assert_eq!(port.timeout, Duration::from_secs(10));
    assert_eq!(
        (port.failure_threshold, port.success_threshold, port.retries),
        (3, 1, 0)
    );
    assert_eq!(checks[2].kind.name(), "command");
}

#[test]
fn every_problem_is_reported_naming_its_check() {
    let p = problems(
        r#"
checks:
  - name: web
    http: { url: "http://x/" }
    interval: 5s
    timeout: 5s
  - name: web
    tcp: { address: "127.0.0.1:1" }
  - name: none
  - name: both
    tcp: { address: "a:1" }
    command: { argv: ["/usr/bin/true"] }
  - name: badurl
    http: { url: "not a url" }
  - name: ftp
    http: { url: "ftp://host/" }
  - name: badre
    http: { url: "http://h/", body_regex: "(" }
  - name: badaddr
    tcp: { address: "no-port" }
  - name: badport
    tcp: { address: "host:99999" }
  - name: noargv
    command: { argv: [] }
  - name: zero
    tcp: { address: "h:1" }
    failure_threshold: 0
  - name: hdr
    http: { url: "http://h/", headers: { "bad header": x }, method: "GE T" }
  - name: outre
    command: { argv: ["/usr/bin/true"], stdout_regex: "[" }
"#,
    );
    let expect = [
        r#"check "web": timeout must be shorter than interval"#,
        r#"check "web": duplicate name"#,
        r#"check "none": exactly one of http, tcp, command, redis, dns, postgres is required, found none"#,
        r#"check "both": exactly one of http, tcp, command, redis, dns, postgres is allowed, found several"#,
        r#"check "badurl": invalid url "not a url""#,
        r#"check "ftp": invalid url "ftp://host/": scheme must be http or https"#,
        r#"check "badre": invalid body_regex"#,
        r#"check "badaddr": invalid address "no-port": want host:port"#,
        r#"check "badport": invalid address "host:99999""#,
        r#"check "noargv": command.argv must not be empty"#,
        r#"check "zero": failure_threshold must be at least 1"#,
        r#"check "hdr": invalid method "GE T""#,
        r#"check "hdr": invalid header "bad header""#,
        r#"check "outre": invalid stdout_regex"#,
    ];
    for e in expect {
        assert!(p.iter().any(|m| m.starts_with(e)), "missing {e:?} in {p:#?}");
    }
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

#[test]
fn unknown_fields_and_bad_durations_are_rejected() {
    let e = ProbesConfig::from_yaml("checks:\n  - name: a\n    tcp: { address: \"h:1\" }\n    intervall: 5s\n")
        .unwrap_err();
    assert!(e.problems[0].contains("unknown field `intervall`"), "{e}");
    let e = ProbesConfig::from_yaml("checks:\n  - name: a\n    tcp: { address: \"h:1\", port: 2 }\n").unwrap_err();
    assert!(e.problems[0].contains("unknown field `port`"), "{e}");
    let e = ProbesConfig::from_yaml("checks:\n  - name: a\n    tcp: { address: \"h:1\" }\n    interval: soon\n")
        .unwrap_err();
    assert!(!e.problems.is_empty());
}

#[test]
fn default_timeout_must_fit_a_short_interval() {
    let p = problems("checks:\n  - name: quick\n    tcp: { address: \"[::1]:80\" }\n    interval: 5s\n");
    assert_eq!(
        p,
        vec![r#"check "quick": timeout must be shorter than interval"#.to_string()]
    );
}
