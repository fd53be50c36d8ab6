//! DNS checks through the system resolver, and Redis checks against a real redis-server (Debian's `redis-server`,
//! installed by `.ci/run`), started by the test on a free port.
use probes::{Prober, ProbesConfig};

fn check(url: &str) -> probes::Check {
    let cfg = ProbesConfig::from_yaml(&format!("checks:\n  - name: cache\n    redis: {{ url: \"{url}\" }}\n")).unwrap();
    cfg.validate().unwrap().remove(0)
}

#[tokio::test]
async fn ping_auth_select_and_a_stopped_server() {
    let prober = Prober::new().unwrap();
    let Some(server) = testkit::Redis::start(None) else {
        return;
    };
    let port = server.port;
    let r = prober.probe(&check(&format!("redis://127.0.0.1:{port}/3"))).await;
    assert!(r.success, "{r:?}");
    drop(server);
    let r = prober.probe(&check(&format!("redis://127.0.0.1:{port}"))).await;
    assert!(!r.success);
    assert!(r.error.unwrap_or_default().contains("connect"));

    let Some(server) = testkit::Redis::start(Some("s3cret")) else {
        return;
    };
    let port = server.port;
    let r = prober.probe(&check(&format!("redis://127.0.0.1:{port}"))).await;
    assert!(!r.success, "no password: refused");
    assert!(
        r.error.unwrap_or_default().contains("NOAUTH"),
        "Redis's own error is kept"
    );
    let r = prober.probe(&check(&format!("redis://:wrong@127.0.0.1:{port}"))).await;
    assert!(!r.success);
    let r = prober.probe(&check(&format!("redis://:s3cret@127.0.0.1:{port}"))).await;
    assert!(r.success, "{r:?}");
}

#[test]
fn bad_redis_urls_are_config_errors() {
    let cfg = ProbesConfig::from_yaml(
        "checks:\n  - name: a\n    redis: { url: \"http://x\" }\n  - name: b\n    redis: { url: \"redis://h:1/x\" }\n",
    )
    .unwrap();
    let e = cfg.validate().unwrap_err().problems;
    assert!(
        e.iter()
            .any(|m| m.contains("check \"a\"") && m.contains("scheme must be redis")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("check \"b\"") && m.contains("database number")),
        "{e:?}"
    );
}

#[tokio::test]
async fn dns_checks_resolve_through_the_system_resolver() {
    let prober = Prober::new().unwrap();
    let cfg = ProbesConfig::from_yaml(
        "checks:
  - name: local
    dns: { name: localhost, expect: [ \"127.0.0.1\" ] }
  - name: moved
    dns: { name: localhost, expect: [ \"10.9.9.9\" ] }
",
    )
    .unwrap();
    let checks = cfg.validate().unwrap();
    let ok = prober.probe(&checks[0]).await;
    assert!(ok.success, "{ok:?}");
    let moved = prober.probe(&checks[1]).await;
    assert!(!moved.success);
    assert!(moved.error.unwrap_or_default().contains("without 10.9.9.9"));
    let bad = ProbesConfig::from_yaml("checks:\n  - name: x\n    dns: { name: \"a b\", expect: [ nope ] }\n").unwrap();
    let e = bad.validate().unwrap_err().problems;
    assert!(e.iter().any(|m| m.contains("not a host name")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("not an IP address")), "{e:?}");
}
