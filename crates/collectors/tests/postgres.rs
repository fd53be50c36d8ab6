//! The PostgreSQL collector against a real server (Debian's `postgresql`,
//! installed by `.ci/run`): a throwaway cluster per test, preloading
//! pg_stat_statements.
mod common;

use std::sync::Arc;
use std::time::Duration;

use collectors::{Collectors, PostgresConfig};
use common::{only, series, value, wait_for, MemorySink};
use model::PromDuration;
use tokio_postgres::NoTls;

fn postgres(dsn: String) -> collectors::CollectorsConfig {
    only(Some(PostgresConfig { dsn, instance: None }), None)
}

/// psql blocks; let the runtime move other tasks off this worker meanwhile.
fn psql(pg: &testkit::Postgres, sql: &str) -> String {
    tokio::task::block_in_place(|| pg.psql(sql))
}

async fn client(pg: &testkit::Postgres) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.dsn(), NoTls)
        .await
        .expect("test connection");
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_activity() {
    let Some(pg) = testkit::Postgres::start() else {
        return;
    };
    let cfg = postgres(pg.dsn());
    let instance = format!("127.0.0.1:{}", pg.port);
    let db = [("datname", "postgres")];

    let first = Collectors::collect_once(&cfg).await;
    assert_eq!(value(&first, "pg_up", &[]), Some(1.0));
    assert!(first
        .iter()
        .all(|(l, _)| l.get("job") == Some("postgres") && l.get("instance") == Some(instance.as_str())));
    let stat = series(&first, "pg_static");
    assert_eq!(stat.len(), 1);
    assert!(stat[0].0.get("version").is_some_and(|v| v.starts_with("PostgreSQL")));
    assert!(stat[0]
        .0
        .get("short_version")
        .is_some_and(|v| v.split('.').count() == 3));
    assert_eq!(value(&first, "pg_settings_max_connections", &[]), Some(100.0));
    assert_eq!(value(&first, "pg_settings_fsync", &[]), Some(0.0));
    assert!(value(&first, "pg_settings_shared_buffers_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(value(&first, "pg_database_size_bytes", &db).is_some_and(|v| v > 0.0));
    assert!(value(&first, "pg_stat_database_numbackends", &db).is_some_and(|v| v >= 1.0));
    for counter in [
        "xact_rollback",
        "blks_read",
        "blks_hit",
        "tup_returned",
        "tup_fetched",
        "tup_inserted",
        "tup_updated",
        "tup_deleted",
        "conflicts",
        "temp_files",
        "temp_bytes",
        "deadlocks",
        "blk_read_time",
        "blk_write_time",
        "stats_reset",
    ] {
        let name = format!("pg_stat_database_{counter}");
        assert!(value(&first, &name, &db).is_some(), "{name}");
    }
    let datid = series(&first, "pg_stat_database_xact_commit")
        .iter()
        .find(|(l, _)| l.get("datname") == Some("postgres"))
        .and_then(|(l, _)| l.get("datid").map(str::to_string));
    assert!(datid.is_some_and(|d| d.parse::<u32>().is_ok()));
    // Zero rows for states and lock modes nobody is in, as postgres_exporter writes them.
    let aborted = [("datname", "template1"), ("state", "idle in transaction (aborted)")];
    assert_eq!(value(&first, "pg_stat_activity_count", &aborted), Some(0.0));
    assert_eq!(value(&first, "pg_stat_activity_max_tx_duration", &aborted), Some(0.0));
    assert_eq!(series(&first, "pg_stat_activity_count").len() % 6, 0);
    assert!(value(
        &first,
        "pg_stat_activity_count",
        &[("datname", "postgres"), ("state", "active")]
    )
    .is_some_and(|v| v >= 1.0));
    assert_eq!(series(&first, "pg_locks_count").len() % 9, 0);
    assert!(value(
        &first,
        "pg_locks_count",
        &[("datname", "postgres"), ("mode", "accesssharelock")]
    )
    .is_some_and(|v| v >= 1.0));
    // The collector's own statement counts, as it does for postgres_exporter.
    assert_eq!(value(&first, "pg_long_running_transactions", &[]), Some(1.0));
    assert!(value(&first, "pg_long_running_transactions_oldest_timestamp_seconds", &[]).is_some_and(|v| v < 5.0));
    for part in [
        "database",
        "stat_database",
        "stat_activity",
        "locks",
        "settings",
        "long_running_transactions",
    ] {
        assert_eq!(
            value(&first, "pg_scrape_collector_success", &[("collector", part)]),
            Some(1.0),
            "{part}"
        );
    }
    // Not installed yet: silently skipped.
    assert!(series(&first, "pg_stat_statements_calls_total").is_empty());
    assert_eq!(
        value(
            &first,
            "pg_scrape_collector_success",
            &[("collector", "stat_statements")]
        ),
        None
    );

    // Committed transactions move xact_commit (stats are flushed when the psql backend exits).
    let commits = value(&first, "pg_stat_database_xact_commit", &db).unwrap();
    psql(&pg, "CREATE TABLE t (id int PRIMARY KEY, v int)");
    for i in 1..=5 {
        psql(&pg, &format!("INSERT INTO t VALUES ({i}, 0)"));
    }
    let after = wait_for_value(&cfg, "pg_stat_database_xact_commit", &db, |v| v >= commits + 6.0).await;
    assert!(after >= commits + 6.0);
    let inserted = wait_for_value(&cfg, "pg_stat_database_tup_inserted", &db, |v| v >= 5.0).await;
    assert!(inserted >= 5.0);

    // An open transaction is a long-running one and shows as idle in transaction.
    let holder = client(&pg).await;
    holder.batch_execute("BEGIN; SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = Collectors::collect_once(&cfg).await;
    assert_eq!(value(&s, "pg_long_running_transactions", &[]), Some(2.0));
    assert!(value(&s, "pg_long_running_transactions_oldest_timestamp_seconds", &[]).is_some_and(|v| v >= 0.2));
    let idle_tx = [("datname", "postgres"), ("state", "idle in transaction")];
    assert_eq!(value(&s, "pg_stat_activity_count", &idle_tx), Some(1.0));
    assert!(value(&s, "pg_stat_activity_max_tx_duration", &idle_tx).is_some_and(|v| v >= 0.2));
    holder.batch_execute("ROLLBACK").await.unwrap();

    // A deadlock between two sessions is counted.
    let deadlocks = value(&s, "pg_stat_database_deadlocks", &db).unwrap();
    let (a, b) = (client(&pg).await, client(&pg).await);
    a.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    b.batch_execute("BEGIN; UPDATE t SET v = 2 WHERE id = 2").await.unwrap();
    let a_waits = tokio::spawn(async move {
        let r = a.batch_execute("UPDATE t SET v = 1 WHERE id = 2").await;
        let _ = a.batch_execute("ROLLBACK").await;
        r.is_ok()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b_result = b.batch_execute("UPDATE t SET v = 2 WHERE id = 1").await;
    let _ = b.batch_execute("ROLLBACK").await;
    let a_result = tokio::time::timeout(Duration::from_secs(10), a_waits)
        .await
        .unwrap()
        .unwrap();
    assert!(a_result != b_result.is_ok(), "exactly one side is the deadlock victim");
    drop(b);
    let now = wait_for_value(&cfg, "pg_stat_database_deadlocks", &db, |v| v > deadlocks).await;
    assert_eq!(now, deadlocks + 1.0);

    // pg_stat_statements appears once the extension exists.
    psql(&pg, "CREATE EXTENSION pg_stat_statements");
    for i in 0..5 {
        psql(
            &pg,
            &format!("SELECT count(*) FROM generate_series(1, {})", 1000 * (i + 1)),
        );
        psql(&pg, "SELECT pg_sleep(0.01)");
        psql(&pg, "SELECT * FROM t ORDER BY id");
    }
    let s = Collectors::collect_once(&cfg).await;
    assert_eq!(
        value(&s, "pg_scrape_collector_success", &[("collector", "stat_statements")]),
        Some(1.0)
    );
    let calls = series(&s, "pg_stat_statements_calls_total");
    assert!(!calls.is_empty() && calls.len() <= 100, "{}", calls.len());
    assert!(calls.iter().all(|(l, v)| {
        l.get("user") == Some("postgres") && l.get("queryid").is_some_and(|q| q.parse::<i64>().is_ok()) && *v >= 1.0
    }));
    let sleep = calls
        .iter()
        .find(|(l, v)| l.get("datname") == Some("postgres") && *v >= 5.0);
    assert!(sleep.is_some(), "a statement run 5 times: {calls:?}");
    for name in [
        "pg_stat_statements_seconds_total",
        "pg_stat_statements_rows_total",
        "pg_stat_statements_block_read_seconds_total",
        "pg_stat_statements_block_write_seconds_total",
    ] {
        assert_eq!(series(&s, name).len(), calls.len(), "{name}");
    }
    let slowest = series(&s, "pg_stat_statements_seconds_total")
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0, f64::max);
    assert!(slowest >= 0.05, "five 10ms sleeps: {slowest}");
}

/// Collects until `name{labels}` satisfies `ok` (stats reach pg_stat_* shortly after commit).
async fn wait_for_value(
    cfg: &collectors::CollectorsConfig,
    name: &str,
    labels: &[(&str, &str)],
    ok: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = Collectors::collect_once(cfg).await;
        if let Some(v) = value(&s, name, labels).filter(|v| ok(*v)) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{name}{labels:?} never got there");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_up_follows_the_server_and_the_connection_comes_back() {
    let Some(pg) = testkit::Postgres::start() else {
        return;
    };
    let sink = MemorySink::default();
    let mut cfg = only(
        Some(PostgresConfig {
            dsn: format!("postgres://postgres:unused-secret@127.0.0.1:{}/postgres", pg.port),
            instance: Some("main-db".to_string()),
        }),
        None,
    );
    // Also the collection's timeout: leave room for a loaded CI machine.
    cfg.interval = Some(PromDuration(Duration::from_secs(1)));
    let collectors = Collectors::start(&cfg, Arc::new(sink.clone()));
    assert_eq!(collectors.running(), ["postgres"]);
    let up = |want: f64| {
        let sink = sink.clone();
        move || {
            let batches = sink.batches_of("postgres");
            let last = batches.last()?;
            let v = last
                .iter()
                .find(|(l, _, _)| l.metric_name() == Some("pg_up"))
                .map(|(_, _, v)| *v)?;
            (v == want).then_some(batches.len())
        }
    };
    wait_for(Duration::from_secs(10), "pg_up 1", up(1.0)).await;
    let batch = sink.batches_of("postgres").pop().unwrap();
    assert!(batch.iter().all(|(l, _, _)| l.get("instance") == Some("main-db")));
    assert!(batch
        .iter()
        .any(|(l, _, _)| l.metric_name() == Some("pg_stat_database_xact_commit")));

    tokio::task::block_in_place(|| pg.stop());
    wait_for(Duration::from_secs(10), "pg_up 0 after stop", up(0.0)).await;
    let down = sink.batches_of("postgres").pop().unwrap();
    assert_eq!(down.len(), 1, "only pg_up while down: {down:?}");

    assert!(tokio::task::block_in_place(|| pg.start_again()), "{}", pg.log());
    wait_for(Duration::from_secs(15), "pg_up 1 after restart", up(1.0)).await;

    // Batches are stamped with increasing wall-clock times.
    let times: Vec<i64> = sink.batches_of("postgres").iter().map(|b| b[0].1).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let now = model::now_millis();
    assert!(times.last().is_some_and(|t| now - t < 10_000));
    collectors.stop().await;
}
