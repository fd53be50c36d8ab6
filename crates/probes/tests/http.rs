mod common;
use std::time::{Duration, Instant};

use common::*;
use probes::Prober;

fn http_check(url: &str, extra: &str) -> probes::Check {
    one(&format!(
        "checks:\n  - name: web\n    interval: 2s\n    timeout: 300ms\n    http: {{ url: \"{url}\" {extra} }}\n"
    ))
}

#[tokio::test]
async fn healthy_target_passes_every_assertion() {
    let t = target().await;
    let c = http_check(
        &t.url("/ok"),
        r#", method: GET, headers: {X-A: b}, expect_status: [200], body_regex: "heal+thy", body_contains: "ok", json_field: { path: "status", equals: "healthy" }"#,
    );
    let r = Prober::new().unwrap().probe(&c).await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.error, None);
    assert!(r.at > 0);
}

#[tokio::test]
async fn failing_and_wrong_body_are_reported() {
    let t = target().await;
    let p = Prober::new().unwrap();
    let r = p.probe(&http_check(&t.url("/fail"), "")).await;
    assert!(!r.success);
    assert_eq!(r.http_status, Some(500));
    assert_eq!(r.error.as_deref(), Some("unexpected status code 500"));

    let r = p.probe(&http_check(&t.url("/fail"), ", expect_status: [500]")).await;
    assert!(r.success, "500 is acceptable when expected: {r:?}");

    let r = p
        .probe(&http_check(
            &t.url("/wrong"),
            r#", json_field: { path: "status", equals: "healthy" }"#,
        ))
        .await;
    assert!(!r.success);
    assert_eq!(r.http_status, Some(200));
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains(r#"JSON field "status" is "degraded""#),
        "{r:?}"
    );

    let r = p
        .probe(&http_check(&t.url("/wrong"), r#", body_regex: "^healthy$""#))
        .await;
    assert!(r.error.as_deref().unwrap().contains("does not match regex"), "{r:?}");
    let r = p.probe(&http_check(&t.url("/wrong"), r#", body_contains: "ok""#)).await;
    assert!(r.error.as_deref().unwrap().contains("does not contain"), "{r:?}");
}

#[tokio::test]
async fn slow_and_hanging_targets_time_out() {
    let t = target().await;
    let p = Prober::new().unwrap();
    for path in ["/slow", "/hang"] {
        let start = Instant::now();
        let r = p.probe(&http_check(&t.url(path), "")).await;
        let took = start.elapsed();
        assert!(!r.success);
        assert_eq!(r.error.as_deref(), Some("timed out after 300ms"), "{path}");
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(1000),
            "{took:?}"
        );
        assert!(r.duration >= Duration::from_millis(290));
    }
}

#[tokio::test]
async fn huge_body_fails_with_a_capped_read() {
    let t = target().await;
    let r = Prober::new().unwrap().probe(&http_check(&t.url("/big"), "")).await;
    assert!(!r.success);
    assert_eq!(r.http_status, Some(200));
    assert_eq!(
        r.error.as_deref(),
        Some(format!("response body exceeds {} bytes", probes::MAX_BODY_BYTES).as_str())
    );
}

#[tokio::test]
async fn redirects_follow_or_not() {
    let t = target().await;
    let p = Prober::new().unwrap();
    let r = p
        .probe(&http_check(&t.url("/redirect"), r#", body_contains: "healthy""#))
        .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.http_status, Some(200));
    let r = p
        .probe(&http_check(&t.url("/redirect"), ", follow_redirects: false"))
        .await;
    assert!(!r.success);
    assert_eq!(r.http_status, Some(307));
    let r = p
        .probe(&http_check(
            &t.url("/redirect"),
            ", follow_redirects: false, expect_status: [307]",
        ))
        .await;
    assert!(r.success, "{r:?}");
}

#[tokio::test]
async fn max_latency_and_retries() {
    let t = target().await;
    let p = Prober::new().unwrap();
    let r = p.probe(&http_check(&t.url("/delay"), ", max_latency: 50ms")).await;
    assert!(!r.success);
    assert!(
        r.error.as_deref().unwrap().contains("exceeds max_latency 50ms"),
        "{r:?}"
    );
    let r = p.probe(&http_check(&t.url("/delay"), ", max_latency: 250ms")).await;
    assert!(r.success, "{r:?}");

    // /flaky fails every other request starting with the first: one retry inside
    // the probe hides the flake, without retries it shows.
    let mut c = http_check(&t.url("/flaky"), "");
    c.retries = 1;
    let r = p.probe(&c).await;
    assert!(r.success, "{r:?}");
    c.retries = 0;
    let r = p.probe(&c).await;
    assert!(!r.success, "{r:?}");
    assert_eq!(r.http_status, Some(500));
}

#[tokio::test]
async fn connection_refused_is_an_error_not_a_panic() {
    let port = closed_port();
    let r = Prober::new()
        .unwrap()
        .probe(&http_check(&format!("http://127.0.0.1:{port}/"), ""))
        .await;
    assert!(!r.success);
    assert_eq!(r.http_status, None);
    assert!(r.error.is_some());
}

#[tokio::test]
async fn https_records_certificate_expiry_even_when_untrusted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(format!("{dir}/cert.pem"), format!("{dir}/key.pem"))
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
    let c = one(&format!(
        "checks:\n  - name: tls\n    interval: 5s\n    timeout: 2s\n    http: {{ url: \"https://localhost:{}/\" }}\n",
        addr.port()
    ));
    let r = Prober::new().unwrap().probe(&c).await;
    // The fixture is self-signed, so verification fails, but its expiry (2036-11-23T12:21:57Z) is known.
    assert!(!r.success);
    assert!(r.error.as_deref().unwrap().contains("certificate"), "{r:?}");
    assert_eq!(r.tls_cert_expiry, Some(2_111_055_717));

    // Trusting nobody in particular, it passes.
    let c = one(&format!(
        "checks:\n  - name: tls\n    interval: 5s\n    timeout: 2s\n    http: {{ url: \"https://localhost:{}/\", tls: {{ insecure_skip_verify: true }} }}\n",
        addr.port()
    ));
    let r = Prober::new().unwrap().probe(&c).await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.tls_cert_expiry, Some(2_111_055_717));
    let bad = probes::ProbesConfig::from_yaml(
        "checks:\n  - name: x\n    http: { url: \"https://localhost/\", tls: { ca_file: /nonexistent.pem } }\n",
    )
    .unwrap();
    let e = bad.validate().unwrap_err().problems;
    assert!(
        e.iter()
            .any(|m| m.contains("tls.ca_file: cannot read /nonexistent.pem")),
        "{e:?}"
    );

    let plain = target().await;
    let r = Prober::new().unwrap().probe(&http_check(&plain.url("/ok"), "")).await;
    assert_eq!(r.tls_cert_expiry, None);
}

#[tokio::test]
async fn a_private_ca_is_trusted_through_ca_file() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = testkit::self_signed_cert(dir.path(), 3);
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
    let url = format!("https://localhost:{port}/");
    let untrusted = one(&format!("checks:\n  - name: t\n    http: {{ url: \"{url}\" }}\n"));
    let r = Prober::new().unwrap().probe(&untrusted).await;
    assert!(!r.success, "not trusted without its CA: {r:?}");
    let trusted = one(&format!(
        "checks:\n  - name: t\n    http: {{ url: \"{url}\", tls: {{ ca_file: \"{}\" }} }}\n",
        cert.display()
    ));
    let r = Prober::new().unwrap().probe(&trusted).await;
    assert!(r.success, "{r:?}");
    let left = r.tls_cert_expiry.unwrap() - model::now_millis() / 1000;
    assert!((2 * 86_400..=3 * 86_400).contains(&left), "expires in {left}s");
    match &trusted.kind {
        probes::Kind::Http(h) => assert_eq!(
            h.cert_expiry_warning,
            Some(std::time::Duration::from_secs(14 * 86_400)),
            "https checks warn 14 days ahead by default"
        ),
        other => panic!("{other:?}"),
    }
}
