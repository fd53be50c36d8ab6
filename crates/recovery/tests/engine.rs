//! End-to-end engine tests with real processes, files and sockets.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use probes::{State, StateEvent};
use recovery::{BoxFuture, Dispatch, Engine, EngineOptions, Escalator, Outcome, RecoveryConfig, Strategy, Verifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Passes when the file exists: the action "starts the service" by creating it.
struct FileVerifier(PathBuf);

impl Verifier for FileVerifier {
    fn verify<'a>(&'a self, _check: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { tokio::fs::try_exists(&self.0).await.map_err(|e| e.to_string()) })
    }
}

/// Escalations (strategy, message), and finished recoveries (strategy, trigger, recovered, message).
#[derive(Default)]
#[allow(clippy::type_complexity)]
struct Escalations(Mutex<Vec<(String, String)>>, Mutex<Vec<(String, String, bool, String)>>);

impl Escalator for Escalations {
    fn escalate(&self, strategy: &str, message: &str) {
        self.0.lock().push((strategy.to_string(), message.to_string()));
    }
    fn recovery_finished(&self, strategy: &str, trigger: &str, recovered: bool, message: &str) {
        self.1.lock().push((
            strategy.to_string(),
            trigger.to_string(),
            recovered,
            message.to_string(),
        ));
    }
}

fn strategies(yaml: &str) -> Vec<Strategy> {
    let known = vec!["web".to_string()];
    RecoveryConfig::from_yaml(yaml).unwrap().validate(Some(&known)).unwrap()
}

fn down(check: &str) -> StateEvent {
    StateEvent {
        check: check.to_string(),
        at: model::now_millis(),
        from: State::Up,
        to: State::Down,
        error: Some("connection refused".into()),
    }
}

async fn engine(yaml: &str, marker: &Path, data_dir: Option<&Path>) -> (Engine, Arc<Escalations>) {
    let esc = Arc::new(Escalations::default());
    let e = Engine::new(
        strategies(yaml),
        Arc::new(FileVerifier(marker.to_path_buf())),
        esc.clone(),
        EngineOptions {
            data_dir: data_dir.map(Path::to_path_buf),
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    (e, esc)
}

fn touch_yaml(marker: &Path, extra: &str) -> String {
    format!(
        "recovery:\n  - name: restart-web\n    trigger: {{ check: web }}\n    action: {{ command: [/usr/bin/touch, \"{}\"] }}\n{extra}",
        marker.display()
    )
}

fn outcomes(e: &Engine) -> Vec<(u32, Outcome)> {
    e.history().iter().map(|r| (r.attempt, r.outcome)).collect()
}

#[tokio::test]
async fn command_action_recovers_on_first_attempt_via_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("web.up");
    let (e, esc) = engine(&touch_yaml(&marker, ""), &marker, None).await;
    let (tx, rx) = tokio::sync::broadcast::channel(16);
    let runner = tokio::spawn(e.clone().run(rx));
    // Unrelated checks and non-Down transitions do nothing.
    tx.send(down("db")).unwrap();
    tx.send(StateEvent {
        to: State::Up,
        ..down("web")
    })
    .unwrap();
    tx.send(down("web")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while e.history().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    e.wait_idle().await;
    assert!(marker.exists());
    let h = e.history();
    assert_eq!(h.len(), 1, "{h:#?}");
    assert_eq!(h[0].outcome, Outcome::Recovered);
    assert_eq!(h[0].attempt, 1);
    assert_eq!(h[0].trigger, "check:web");
    assert_eq!(h[0].action, format!("command: /usr/bin/touch {}", marker.display()));
    assert!(h[0].error.is_none());
    {
        let finished = esc.1.lock();
        assert_eq!(finished.len(), 1, "the success is reported once");
        assert_eq!(
            (finished[0].0.as_str(), finished[0].1.as_str(), finished[0].2),
            ("restart-web", "check:web", true)
        );
        assert!(
            finished[0]
                .3
                .starts_with("recovered after 1 attempt(s) of command: /usr/bin/touch"),
            "{}",
            finished[0].3
        );
    }
    let mut m = String::new();
    e.write_metrics(&mut m);
    assert!(m.contains("# TYPE recovery_attempts_total counter"), "{m}");
    assert!(
        m.contains("recovery_attempts_total{strategy=\"restart-web\",outcome=\"recovered\"} 1"),
        "{m}"
    );
    drop(tx);
    runner.await.unwrap();
}

#[tokio::test]
async fn failing_action_retries_then_breaker_opens_and_escalates_once() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("never");
    let yaml = "recovery:\n  - name: r\n    trigger: { check: web }\n    action: { command: [/usr/bin/false] }\n    max_attempts: 3\n    backoff: 20ms\n    max_backoff: 40ms\n    cooldown: 0s\n    circuit_breaker: { failures: 2, window: 1h }\n";
    let (e, esc) = engine(yaml, &marker, None).await;

    assert_eq!(
        e.handle_event(&down("web")),
        vec![Dispatch::Started { strategy: "r".into() }]
    );
    e.wait_idle().await;
    assert_eq!(
        outcomes(&e),
        vec![
            (3, Outcome::Failed),
            (2, Outcome::AttemptFailed),
            (1, Outcome::AttemptFailed)
        ]
    );
    assert!(e.history()[0].error.as_deref().unwrap_or("").contains("exit code 1"));
    assert!(esc.0.lock().is_empty(), "one failure is below the breaker threshold");
    {
        let finished = esc.1.lock();
        assert_eq!(finished.len(), 1, "one report per recovery, not per attempt");
        assert!(!finished[0].2);
        assert!(
            finished[0].3.starts_with("not recovered after 3 attempt(s)") && finished[0].3.contains("exit code 1"),
            "{}",
            finished[0].3
        );
    }

    e.handle_event(&down("web"));
    e.wait_idle().await;
    assert_eq!(e.history().len(), 6);
    {
        let calls = esc.0.lock();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "r");
        assert!(calls[0].1.contains("circuit breaker open"), "{}", calls[0].1);
    }

    for _ in 0..2 {
        let d = e.handle_event(&down("web"));
        assert_eq!(
            d,
            vec![Dispatch::Skipped {
                strategy: "r".into(),
                outcome: Outcome::SkippedBreakerOpen
            }]
        );
    }
    e.wait_idle().await;
    assert_eq!(esc.0.lock().len(), 1, "escalated exactly once per opening");
    assert_eq!(e.history()[0].outcome, Outcome::SkippedBreakerOpen);
    let mut m = String::new();
    e.write_metrics(&mut m);
    assert!(
        m.contains("recovery_attempts_total{strategy=\"r\",outcome=\"failed\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("recovery_attempts_total{strategy=\"r\",outcome=\"attempt_failed\"} 4"),
        "{m}"
    );
    assert!(
        m.contains("recovery_attempts_total{strategy=\"r\",outcome=\"skipped_breaker_open\"} 2"),
        "{m}"
    );
}

#[tokio::test]
async fn cooldown_skips_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let marker = dir.path().join("web.up");
    let yaml = touch_yaml(&marker, "    cooldown: 10m\n");
    {
        let (e, _) = engine(&yaml, &marker, Some(&data)).await;
        e.handle_event(&down("web"));
        e.wait_idle().await;
        let d = e.handle_event(&down("web"));
        assert!(
            matches!(
                &d[..],
                [Dispatch::Skipped {
                    outcome: Outcome::SkippedCooldown,
                    ..
                }]
            ),
            "{d:?}"
        );
        e.wait_idle().await;
        assert_eq!(
            outcomes(&e),
            vec![(0, Outcome::SkippedCooldown), (1, Outcome::Recovered)]
        );
    }
    std::fs::remove_file(&marker).unwrap();

    let (e, _) = engine(&yaml, &marker, Some(&data)).await;
    assert_eq!(
        outcomes(&e),
        vec![(0, Outcome::SkippedCooldown), (1, Outcome::Recovered)],
        "history reloaded"
    );
    let d = e.handle_event(&down("web"));
    assert!(
        matches!(
            &d[..],
            [Dispatch::Skipped {
                outcome: Outcome::SkippedCooldown,
                ..
            }]
        ),
        "{d:?}"
    );
    e.wait_idle().await;
    assert!(!marker.exists(), "a restart must not repeat a recovery in cooldown");
    let h = e.history();
    assert_eq!(h.len(), 3);
    assert!(h[0].id > h[1].id, "ids keep increasing after a restart");
}

#[tokio::test]
async fn dry_run_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("web.up");
    let (e, _) = engine(&touch_yaml(&marker, "    dry_run: true\n"), &marker, None).await;
    e.handle_event(&down("web"));
    e.wait_idle().await;
    assert!(!marker.exists());
    assert_eq!(outcomes(&e), vec![(1, Outcome::DryRun)]);
}

#[tokio::test]
async fn hanging_command_is_killed_at_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("never");
    let yaml = "recovery:\n  - name: hang\n    trigger: { check: web }\n    action: { command: [/usr/bin/sleep, \"10\"] }\n    timeout: 200ms\n    max_attempts: 1\n";
    let (e, _) = engine(yaml, &marker, None).await;
    let start = Instant::now();
    e.handle_event(&down("web"));
    e.wait_idle().await;
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    let h = e.history();
    assert_eq!(h[0].outcome, Outcome::Failed);
    assert!(h[0].error.as_deref().unwrap_or("").contains("timed out"), "{h:?}");
}

#[tokio::test]
async fn failure_threshold_counts_down_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("web.up");
    let (e, _) = engine(&touch_yaml(&marker, "    failure_threshold: 2\n"), &marker, None).await;
    assert_eq!(
        e.handle_event(&down("web")),
        vec![Dispatch::BelowThreshold {
            strategy: "restart-web".into(),
            seen: 1
        }]
    );
    assert!(matches!(&e.handle_event(&down("web"))[..], [Dispatch::Started { .. }]));
    e.wait_idle().await;
    assert_eq!(outcomes(&e), vec![(1, Outcome::Recovered)]);
}

/// A one-request-at-a-time HTTP server answering every request with `status`.
async fn http_target(status: u16, body: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (format!("http://{addr}/restart"), task)
}

#[tokio::test]
async fn http_action_on_alert_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let (ok_url, ok_task) = http_target(200, "restarted").await;
    let (bad_url, bad_task) = http_target(500, "nope").await;
    let yaml = format!(
        "recovery:\n  - name: ok\n    trigger: {{ alert: HighErrorRate }}\n    action: {{ http: {{ url: \"{ok_url}\", body: x }} }}\n  - name: bad\n    trigger: {{ alert: Other }}\n    action: {{ http: {{ url: \"{bad_url}\" }} }}\n    max_attempts: 1\n"
    );
    let (e, _) = engine(&yaml, &dir.path().join("unused"), None).await;
    assert!(e.trigger_alert("Unrelated").is_empty());
    e.trigger_alert("HighErrorRate");
    e.trigger_alert("Other");
    e.wait_idle().await;
    let h = e.history();
    let ok = h.iter().find(|r| r.strategy == "ok").unwrap();
    assert_eq!(ok.outcome, Outcome::Recovered);
    assert_eq!(ok.trigger, "alert:HighErrorRate");
    assert_eq!(ok.stdout_tail, "restarted");
    let bad = h.iter().find(|r| r.strategy == "bad").unwrap();
    assert_eq!(bad.outcome, Outcome::Failed);
    assert_eq!(bad.error.as_deref(), Some("status 500"));
    ok_task.abort();
    bad_task.abort();
}
