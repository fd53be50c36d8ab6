//! PostgreSQL checks against a real server (Debian's `postgresql`, installed
//! by `.ci/run`), started by the test.
use probes::{Prober, ProbesConfig};

fn check(dsn: &str, query: Option<&str>) -> probes::Check {
    let query = query.map(|q| format!(", query: {q:?}")).unwrap_or_default();
    let cfg = ProbesConfig::from_yaml(&format!(
        "checks:\n  - name: database\n    postgres: {{ dsn: {dsn:?}{query} }}\n"
    ))
    .unwrap();
    cfg.validate().unwrap().remove(0)
}

#[tokio::test]
async fn select_one_a_failing_query_and_a_stopped_server() {
    let Some(pg) = testkit::Postgres::start() else { return };
    let prober = Prober::new().unwrap();
    let ok = prober.probe(&check(&pg.dsn(), None)).await;
    assert!(ok.success, "{ok:?}");

    let custom = prober
        .probe(&check(&pg.dsn(), Some("SELECT count(*) FROM pg_stat_activity")))
        .await;
    assert!(custom.success, "{custom:?}");

    let bad = prober
        .probe(&check(&pg.dsn(), Some("SELECT * FROM no_such_table")))
        .await;
    assert!(!bad.success);
    let error = bad.error.unwrap_or_default();
    assert!(
        error.contains("no_such_table") && error.contains("42P01"),
        "the server's message and SQLSTATE are kept: {error}"
    );

    let wrong_db = format!("postgres://postgres@127.0.0.1:{}/missing", pg.port);
    let r = prober.probe(&check(&wrong_db, None)).await;
    assert!(!r.success);
    assert!(r.error.unwrap_or_default().contains("missing"));

    pg.stop();
    let down = prober.probe(&check(&pg.dsn(), None)).await;
    assert!(!down.success);
    let error = down.error.unwrap_or_default();
    assert!(error.contains(&format!("connect 127.0.0.1:{}", pg.port)), "{error}");

    assert!(pg.start_again(), "{}", pg.log());
    let back = prober.probe(&check(&pg.dsn(), None)).await;
    assert!(back.success, "{back:?}");
}

#[test]
fn bad_dsns_are_config_errors_that_hide_the_password() {
    let cfg = ProbesConfig::from_yaml(
        "checks:
  - name: a
    postgres: { dsn: \"postgres://u:hunter2@h:notaport/db\" }
  - name: b
    postgres: { dsn: \"host=h\", query: \"  \" }
",
    )
    .unwrap();
    let e = cfg.validate().unwrap_err().problems;
    assert!(
        e.iter()
            .any(|m| m.contains("check \"a\"") && m.contains("invalid postgres dsn")),
        "{e:?}"
    );
    assert!(e.iter().all(|m| !m.contains("hunter2")), "{e:?}");
    assert!(
        e.iter()
            .any(|m| m.contains("check \"b\"") && m.contains("query must not be empty")),
        "{e:?}"
    );
}
