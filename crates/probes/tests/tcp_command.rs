mod common;
use std::time::{Duration, Instant};

use common::*;
use probes::Prober;

fn check(kind_yaml: &str, timeout: &str) -> probes::Check {
    one(&format!(
        "checks:\n  - name: c\n    interval: 5s\n    timeout: {timeout}\n    {kind_yaml}\n"
    ))
}

#[tokio::test]
async fn tcp_accepting_listener_vs_closed_port() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    let p = Prober::new().unwrap();
    let r = p.probe(&check(&format!("tcp: {{ address: \"{addr}\" }}"), "1s")).await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.http_status, None);

    let port = closed_port();
    let r = p
        .probe(&check(&format!("tcp: {{ address: \"127.0.0.1:{port}\" }}"), "1s"))
        .await;
    assert!(!r.success);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with(&format!("connect 127.0.0.1:{port}:")),
        "{r:?}"
    );

    let r = p
        .probe(&check(
            &format!("tcp: {{ address: \"localhost:{}\" }}", addr.port()),
            "1s",
        ))
        .await;
    assert!(r.success, "names resolve at probe time: {r:?}");
}

#[tokio::test]
async fn command_exit_codes() {
    let p = Prober::new().unwrap();
    let r = p.probe(&check(r#"command: { argv: ["/usr/bin/true"] }"#, "2s")).await;
    assert!(r.success, "{r:?}");
    let r = p.probe(&check(r#"command: { argv: ["/usr/bin/false"] }"#, "2s")).await;
    assert_eq!(r.error.as_deref(), Some("exit code 1, want 0"));
    let r = p
        .probe(&check(r#"command: { argv: ["/usr/bin/false"], expect_exit: 1 }"#, "2s"))
        .await;
    assert!(r.success, "{r:?}");
    let r = p
        .probe(&check(r#"command: { argv: ["/nonexistent/prog"] }"#, "2s"))
        .await;
    assert!(
        r.error.as_deref().unwrap().starts_with("spawn \"/nonexistent/prog\""),
        "{r:?}"
    );
}

#[tokio::test]
async fn command_stdout_regex_env_and_dir_without_a_shell() {
    let p = Prober::new().unwrap();
    let r = p
        .probe(&check(
            r#"command: { argv: ["/bin/echo", "all systems go"], stdout_regex: "systems\\s+go" }"#,
            "2s",
        ))
        .await;
    assert!(r.success, "{r:?}");
    let r = p
        .probe(&check(
            r#"command: { argv: ["/bin/echo", "degraded"], stdout_regex: "^ok" }"#,
            "2s",
        ))
        .await;
    assert!(r.error.as_deref().unwrap().contains("stdout does not match"), "{r:?}");
    // No shell: `$HOME` and `;` reach echo verbatim.
    let r = p
        .probe(&check(
            r#"command: { argv: ["/bin/echo", "$HOME; rm"], stdout_regex: "^\\$HOME; rm\\n?\\z" }"#,
            "2s",
        ))
        .await;
    assert!(r.success, "{r:?}");
    let r = p
        .probe(&check(
            r#"command: { argv: ["/usr/bin/env"], env: { PROBE_X: "42" }, dir: "/tmp", stdout_regex: "(?m)^PROBE_X=42$" }"#,
            "2s",
        ))
        .await;
    assert!(r.success, "{r:?}");
    let r = p
        .probe(&check(
            r#"command: { argv: ["/usr/bin/pwd"], dir: "/tmp", stdout_regex: "^/tmp" }"#,
            "2s",
        ))
        .await;
    assert!(r.success, "{r:?}");
}

#[tokio::test]
async fn large_output_is_drained_and_capped() {
    // 4 MB of output: the child must not block on a full pipe, and we keep only the cap.
    let r = Prober::new()
        .unwrap()
        .probe(&check(
            r#"command: { argv: ["/usr/bin/head", "-c", "4000000", "/dev/zero"] }"#,
            "3s",
        ))
        .await;
    assert!(r.success, "{r:?}");
}

fn process_with_arg_alive(arg: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn hanging_command_is_killed_on_timeout() {
    // A distinctive argument lets us find the child in /proc afterwards.
    let arg = format!("5.{}", std::process::id());
    let c = check(&format!(r#"command: {{ argv: ["/usr/bin/sleep", "{arg}"] }}"#), "200ms");
    let start = Instant::now();
    let r = Prober::new().unwrap().probe(&c).await;
    let took = start.elapsed();
    assert!(!r.success);
    assert_eq!(r.error.as_deref(), Some("command timed out and was killed"));
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(1),
        "{took:?}"
    );
    assert!(!process_with_arg_alive(&arg), "sleep {arg} still running");
}
