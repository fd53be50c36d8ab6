//! Health checks of the monitored system through the real binary: results
//! become blackbox_exporter-style series, `/api/health` and `/api/v1/checks`
//! report them, and a rule on them alerts.
mod common;

use std::time::Duration;

use common::capture::Capture;
use common::{client, wait_for, Server};

#[test]
fn a_failing_http_check_turns_health_red_and_alerts() {
    let target = Capture::start();
    target.set_answer("/api/health", &[(200, "{\"status\":\"healthy\"}")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/checks.yml"),
        "groups:\n  - name: checks\n    rules:\n      - alert: CheckDown\n        expr: probe_success == 0\n",
    )
    .unwrap();
    let config = format!(
        "global:
  evaluation_interval: 1s
rule_files: [ \"rules/*.yml\" ]
checks:
  - name: web
    http: {{ url: \"{}\", expect_status: [200], body_contains: healthy }}
    interval: 1s
    timeout: 500ms
    failure_threshold: 2
  - name: port
    tcp: {{ address: \"127.0.0.1:{}\" }}
    interval: 1s
    timeout: 500ms
",
        target.url("/api/health"),
        target.port
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    let c = client();
    wait_for("checks up", Duration::from_secs(10), || {
        let r = c.get(s.url("/api/health")).send().ok()?;
        (r.status() == 200)
            .then(|| r.json::<serde_json::Value>().ok())
            .flatten()
    });
    let health: serde_json::Value = c.get(s.url("/api/health")).send().unwrap().json().unwrap();
    assert_eq!(health["checks"]["web"]["status"], "healthy");
    assert_eq!(health["checks"]["port"]["status"], "healthy");
    assert_eq!(
        health["checks"]["storage"]["status"], "healthy",
        "Aerowatch's own checks stay"
    );

    let metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("aerowatch_probes_total{kind=\"http\",result=\"success\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("aerowatch_probe_scheduling_lag_seconds_bucket{le=\"0.1\"}"));
    let q = s.get_json("/api/v1/query?query=probe_success%7Bcheck%3D%22web%22%7D");
    assert_eq!(q["data"]["result"][0]["value"][1], "1");
    assert_eq!(q["data"]["result"][0]["metric"]["kind"], "http");

    // The target starts failing: two failures turn the check down.
    target.set_answer("/api/health", &[(500, "{\"status\":\"broken\"}")]);
    let red = wait_for("health 503", Duration::from_secs(10), || {
        let r = c.get(s.url("/api/health")).send().ok()?;
        (r.status() == 503)
            .then(|| r.json::<serde_json::Value>().ok())
            .flatten()
    });
    assert_eq!(red["status"], "unhealthy");
    assert_eq!(red["checks"]["web"]["status"], "unhealthy");
    assert!(red["checks"]["web"]["error"].as_str().unwrap().contains("500"), "{red}");
    // Aerowatch itself stays alive for its own probes.
    assert_eq!(c.get(s.url("/-/healthy")).send().unwrap().status(), 200);

    let checks = wait_for("check down", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/checks");
        let web = v["data"]["checks"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "web")?
            .clone();
        (web["state"] == "down").then_some(v)
    });
    let events = checks["data"]["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["check"] == "web" && e["to"] == "down"),
        "{checks}"
    );

    let alert = wait_for("CheckDown", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["check"] == "web")
            .cloned()
    });
    assert_eq!(alert["labels"]["alertname"], "CheckDown");
}

#[test]
fn bad_checks_are_config_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("aerowatch.yml");
    std::fs::write(
        &cfg,
        "checks:\n  - name: web\n    http: { url: \"http://127.0.0.1:1/\" }\n    interval: 1s\n    timeout: 5s\n",
    )
    .unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("aerowatch.yml:2: checks: check \"web\""), "{err}");
    assert!(err.contains("timeout"), "{err}");
}

#[test]
fn slos_generate_rules_and_report_their_budget() {
    let target = Capture::start();
    target.set_answer("/ok", &[(200, "ok")]);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:
  evaluation_interval: 1s
checks:
  - name: web
    http: {{ url: \"{}\" }}
    interval: 1s
    timeout: 500ms
slos:
  - name: web-availability
    objective: 99.9
    window: 30d
    check: web
",
        target.url("/ok")
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    let slo = wait_for("the SLO's budget", Duration::from_secs(15), || {
        let v = s.get_json("/api/v1/slos");
        let slo = v["data"]["slos"].as_array()?.first()?.clone();
        slo["errorBudgetRemaining"].as_f64().map(|_| slo)
    });
    assert_eq!(slo["name"], "web-availability");
    assert_eq!(slo["objective"], 99.9);
    assert_eq!(slo["sli"]["check"], "web");
    assert_eq!(slo["errorBudgetRemaining"], 1.0, "no failures yet: {slo}");
    let rules = s.get_json("/api/v1/rules?type=alert");
    let names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SLOBurnRateHigh", "SLOBurnRateElevated"]);

    let dir2 = tempfile::tempdir().unwrap();
    let cfg = dir2.path().join("bad.yml");
    std::fs::write(&cfg, "slos:\n  - name: x\n    objective: 120\n    check: web\n").unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("bad.yml:2: slos: \"x\": objective must be"), "{err}");
}

#[test]
fn a_down_check_is_recovered_by_its_strategy_and_verified() {
    let port = common::free_port();
    // The "service": a listener the recovery command starts in the
    // background (argv, no shell), alive for 30 s.
    let service = format!(
        "import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', {port}))\ns.listen()\ntime.sleep(30)\n"
    );
    let starter = format!(
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {service:?}], start_new_session=True)\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "checks:
  - name: port
    tcp: {{ address: \"127.0.0.1:{port}\" }}
    interval: 500ms
    timeout: 300ms
    failure_threshold: 1
recovery:
  - name: start-service
    trigger: {{ check: port }}
    action: {{ command: [ \"/usr/bin/python3\", \"-c\", {starter:?} ] }}
    timeout: 10s
    max_attempts: 2
    backoff: 100ms
    max_backoff: 200ms
    cooldown: 1m
",
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    let attempt = wait_for("a verified recovery", Duration::from_secs(20), || {
        let v = s.get_json("/api/v1/recovery/attempts");
        v["data"]
            .as_array()?
            .iter()
            .find(|a| a["outcome"] == "recovered")
            .cloned()
    });
    assert_eq!(attempt["strategy"], "start-service");
    assert_eq!(attempt["trigger"], "check:port");
    wait_for("the check back up", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/checks");
        let c = v["data"]["checks"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "port")?
            .clone();
        (c["state"] == "up").then_some(())
    });
    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("recovery_attempts_total{strategy=\"start-service\",outcome=\"recovered\"} 1"),
        "{metrics}"
    );
    // A bad strategy is a config error naming it.
    let cfg = dir.path().join("bad.yml");
    std::fs::write(
        &cfg,
        "recovery:\n  - name: r\n    trigger: { check: nope }\n    action: { command: [] }\n",
    )
    .unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("bad.yml:2: recovery: recovery strategy \"r\""), "{err}");
}

#[test]
fn an_https_check_trusts_a_private_ca_and_warns_before_its_certificate_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = testkit::self_signed_cert(dir.path(), 3);
    // The "service": Aerowatch itself serving HTTPS with that certificate.
    let service = Server::start_tls(
        "web:\n  tls_server_config: { cert_file: cert.pem, key_file: key.pem }\n",
        &dir.path().join("service-data"),
        std::fs::read(&cert).unwrap(),
    );
    assert!(key.exists());
    let config = format!(
        "global:
  evaluation_interval: 500ms
checks:
  - name: secure
    http: {{ url: \"https://localhost:{}/-/healthy\", tls: {{ ca_file: cert.pem }} }}
    interval: 500ms
    timeout: 400ms
",
        service.port
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    wait_for("the https check up", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/checks");
        let c = v["data"]["checks"].as_array()?.first()?.clone();
        (c["state"] == "up").then_some(())
    });
    let alert = wait_for("CertificateExpiringSoon", Duration::from_secs(10), || {
        let v = s.get_json("/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "CertificateExpiringSoon" && a["state"] == "firing")
            .cloned()
    });
    assert_eq!(alert["labels"]["check"], "secure");
    assert_eq!(alert["labels"]["severity"], "warning");
    let description = alert["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains("expires in 2d") || description.contains("expires in 3d"),
        "{description}"
    );
    let rules = s.get_json("/api/v1/rules");
    assert!(
        rules
            .to_string()
            .contains("probe_ssl_earliest_cert_expiry{check=\\\"secure\\\"} - time() < 1209600"),
        "{rules}"
    );
}
