//! The Redis collector against a real redis-server (Debian's `redis-server`,
//! installed by `.ci/run`), started by each test on a free port.
mod common;

use std::time::Duration;

use collectors::{Collectors, RedisConfig};
use common::{only, redis_cmd, value};

fn redis(url: String) -> collectors::CollectorsConfig {
    only(None, Some(RedisConfig { url, instance: None }))
}

#[tokio::test]
async fn keyspace_hits_and_misses_move() {
    let Some(server) = testkit::Redis::start(None) else {
        return;
    };
    let port = server.port;
    let cfg = redis(server.url());
    let before = Collectors::collect_once(&cfg).await;
    let instance = format!("127.0.0.1:{port}");
    assert_eq!(
        value(&before, "redis_up", &[("instance", &instance), ("job", "redis")]),
        Some(1.0)
    );
    let hits = value(&before, "redis_keyspace_hits_total", &[]).unwrap();
    let misses = value(&before, "redis_keyspace_misses_total", &[]).unwrap();

    assert_eq!(redis_cmd(port, None, &["SET", "greeting", "hello"]), "+OK");
    assert_eq!(redis_cmd(port, None, &["GET", "greeting"]), "$5");
    assert_eq!(redis_cmd(port, None, &["GET", "missing"]), "$-1");
    assert_eq!(redis_cmd(port, None, &["SELECT", "3"]), "+OK");

    let after = Collectors::collect_once(&cfg).await;
    assert_eq!(value(&after, "redis_keyspace_hits_total", &[]), Some(hits + 1.0));
    assert_eq!(value(&after, "redis_keyspace_misses_total", &[]), Some(misses + 1.0));
    assert_eq!(value(&after, "redis_db_keys", &[("db", "db0")]), Some(1.0));
    assert_eq!(value(&after, "redis_db_keys_expiring", &[("db", "db0")]), Some(0.0));
    assert!(value(&after, "redis_commands_total", &[("cmd", "get")]).is_some_and(|v| v >= 2.0));
    assert!(value(&after, "redis_connected_clients", &[]).is_some_and(|v| v >= 1.0));
    assert_eq!(value(&after, "redis_blocked_clients", &[]), Some(0.0));
    assert!(value(&after, "redis_memory_used_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(value(&after, "redis_memory_max_bytes", &[]).is_some());
    assert!(value(&after, "redis_commands_processed_total", &[]).is_some_and(|v| v >= 4.0));
    assert!(value(&after, "redis_connections_received_total", &[]).is_some_and(|v| v >= 5.0));
    assert!(value(&after, "redis_uptime_in_seconds", &[]).is_some());
    for counter in [
        "redis_rejected_connections_total",
        "redis_evicted_keys_total",
        "redis_expired_keys_total",
    ] {
        assert!(value(&after, counter, &[]).is_some(), "{counter}");
    }
    let info = common::series(&after, "redis_instance_info");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].0.get("role"), Some("master"));
    assert!(info[0].0.get("redis_version").is_some_and(|v| !v.is_empty()));
    assert_eq!(info[0].0.get("tcp_port"), Some(port.to_string().as_str()));
    assert!(after
        .iter()
        .all(|(l, _)| l.get("job") == Some("redis") && l.get("instance") == Some(instance.as_str())));
}

#[tokio::test]
async fn a_closed_port_is_down_quickly() {
    let port = testkit::free_port();
    let started = std::time::Instant::now();
    let s = Collectors::collect_once(&redis(format!("redis://127.0.0.1:{port}"))).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(value(&s, "redis_up", &[]), Some(0.0));
    assert_eq!(value(&s, "redis_connected_clients", &[]), None);
}

#[tokio::test]
async fn password_and_database_selection() {
    let Some(server) = testkit::Redis::start(Some("s3cret")) else {
        return;
    };
    let port = server.port;
    let up = |url: String| async move {
        let s = Collectors::collect_once(&redis(url)).await;
        (value(&s, "redis_up", &[]), s)
    };
    assert_eq!(
        up(format!("redis://127.0.0.1:{port}")).await.0,
        Some(0.0),
        "no password"
    );
    assert_eq!(
        up(format!("redis://:wrong@127.0.0.1:{port}")).await.0,
        Some(0.0),
        "wrong password"
    );
    assert_eq!(
        up(format!("redis://default:s3cret@127.0.0.1:{port}")).await.0,
        Some(1.0),
        "user and password"
    );

    // A key in database 2, seen through a URL that selects it.
    let replies = common::redis_cmds(port, &[&["AUTH", "s3cret"], &["SELECT", "2"], &["SET", "k", "v"]]);
    assert_eq!(replies, ["+OK", "+OK", "+OK"]);
    let (ok, s) = up(format!("redis://:s3cret@127.0.0.1:{port}/2")).await;
    assert_eq!(ok, Some(1.0));
    assert_eq!(value(&s, "redis_db_keys", &[("db", "db2")]), Some(1.0));
    assert_eq!(value(&s, "redis_db_keys", &[("db", "db0")]), None);
}
