//! The built-in collectors through the real binary, reading real PostgreSQL
//! and Redis servers and this machine's /proc: the OpenAero design's §2.2.2
//! metrics (CPU, memory, disk, network, connections, query time, cache hit
//! rate, slow queries, deadlocks, evictions) answer through PromQL under the
//! exporters' names.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use common::{urlencode, wait_for, Server};

/// The values of an instant query, or `None` while it has no result.
fn values(s: &Server, promql: &str) -> Option<Vec<f64>> {
    let v = s.get_json(&format!("/api/v1/query?query={}", urlencode(promql)));
    assert_eq!(v["status"], "success", "{promql}: {v}");
    let result = v["data"]["result"].as_array()?;
    if result.is_empty() {
        return None;
    }
    Some(
        result
            .iter()
            .map(|r| r["value"][1].as_str().unwrap().parse::<f64>().unwrap())
            .collect(),
    )
}

/// Inline Redis commands, one reply line read per command.
fn redis(port: u16, commands: &[&str]) {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    for c in commands {
        writer.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.starts_with('$') && !line.starts_with("$-1") {
            line.clear();
            reader.read_line(&mut line).unwrap();
        }
    }
}

#[test]
fn the_designs_infrastructure_database_and_cache_metrics_answer_through_promql() {
    let Some(pg) = testkit::Postgres::start() else { return };
    let Some(cache) = testkit::Redis::start(None) else {
        return;
    };
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    pg.psql("CREATE TABLE orders (id int primary key, total numeric)");
    pg.psql("INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g");
    pg.psql("SELECT count(*), sum(total) FROM orders WHERE id % 7 = 0");
    redis(
        cache.port,
        &["SET user:1 alice", "GET user:1", "GET user:1", "GET user:missing"],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "collectors:
  interval: 1s
  postgres: {{ dsn: \"{}\" }}
  redis: {{ url: \"{}\" }}
",
        pg.dsn(),
        cache.url()
    );
    let s = Server::start(Some(&config), &dir.path().join("data"));
    wait_for("three collections", Duration::from_secs(20), || {
        values(&s, "count_over_time(pg_up{job=\"postgres\"}[1m]) >= 3")
    });
    assert_eq!(values(&s, "pg_up").unwrap(), vec![1.0]);
    assert_eq!(values(&s, "redis_up").unwrap(), vec![1.0]);
    let instance = format!("127.0.0.1:{}", pg.port);
    assert_eq!(
        values(&s, &format!("pg_up{{instance=\"{instance}\"}}")).unwrap(),
        vec![1.0],
        "instance is host:port"
    );

    // Infrastructure (node_exporter names).
    let cpu_busy = values(&s, "100 * (1 - avg(rate(node_cpu_seconds_total{mode=\"idle\"}[1m])))").unwrap()[0];
    assert!((0.0..=100.0).contains(&cpu_busy), "CPU busy % {cpu_busy}");
    let mem_used = values(
        &s,
        "(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100",
    )
    .unwrap()[0];
    assert!(mem_used > 0.0 && mem_used < 100.0, "memory used % {mem_used}");
    let disk_free = values(
        &s,
        "max(node_filesystem_avail_bytes{fstype!~\"tmpfs|ramfs\"} / node_filesystem_size_bytes)",
    )
    .unwrap()[0];
    assert!(disk_free > 0.0 && disk_free <= 1.0, "disk free ratio {disk_free}");
    let lo = values(&s, "rate(node_network_receive_bytes_total{device=\"lo\"}[1m])").unwrap()[0];
    assert!(lo > 0.0, "loopback traffic (the collectors' own) {lo}");
    assert!(values(&s, "node_load1").unwrap()[0] >= 0.0);

    // Database (postgres_exporter names).
    let connections = values(&s, "sum(pg_stat_activity_count)").unwrap()[0];
    assert!(connections >= 1.0, "connections {connections}");
    let max_connections = values(&s, "pg_settings_max_connections").unwrap()[0];
    assert!(max_connections >= connections, "max_connections {max_connections}");
    let hit_ratio = values(
        &s,
        "sum(pg_stat_database_blks_hit) / (sum(pg_stat_database_blks_hit) + sum(pg_stat_database_blks_read))",
    )
    .unwrap()[0];
    assert!(hit_ratio > 0.0 && hit_ratio <= 1.0, "cache hit ratio {hit_ratio}");
    assert_eq!(
        values(&s, "sum(pg_stat_database_deadlocks)").unwrap(),
        vec![0.0],
        "no deadlocks were made"
    );
    let commits = values(&s, "pg_stat_database_xact_commit{datname=\"postgres\"}").unwrap()[0];
    assert!(commits >= 4.0, "commits {commits}");
    // Query time and slow statements: pg_stat_statements, slowest first.
    let slowest = values(
        &s,
        "topk(1, pg_stat_statements_seconds_total / pg_stat_statements_calls_total)",
    )
    .unwrap()[0];
    assert!(slowest > 0.0, "mean seconds of the slowest statement {slowest}");
    let orders_calls = values(&s, "sum(pg_stat_statements_calls_total{datname=\"postgres\"})").unwrap()[0];
    assert!(orders_calls >= 3.0, "statements seen {orders_calls}");

    // Cache (redis_exporter names).
    assert_eq!(values(&s, "redis_keyspace_hits_total").unwrap(), vec![2.0]);
    assert_eq!(values(&s, "redis_keyspace_misses_total").unwrap(), vec![1.0]);
    let hit_rate = values(
        &s,
        "redis_keyspace_hits_total / (redis_keyspace_hits_total + redis_keyspace_misses_total)",
    )
    .unwrap()[0];
    assert!((hit_rate - 2.0 / 3.0).abs() < 1e-9, "{hit_rate}");
    assert_eq!(values(&s, "redis_evicted_keys_total").unwrap(), vec![0.0]);
    assert_eq!(values(&s, "redis_db_keys{db=\"db0\"}").unwrap(), vec![1.0]);
    assert!(values(&s, "redis_connected_clients").unwrap()[0] >= 1.0);

    // Stopping PostgreSQL turns pg_up to 0; the other collectors go on.
    pg.stop();
    wait_for("pg_up 0", Duration::from_secs(15), || values(&s, "pg_up == 0"));
    assert_eq!(values(&s, "redis_up").unwrap(), vec![1.0]);
}

#[test]
fn bad_collector_settings_are_config_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yml");
    std::fs::write(
        &cfg,
        "collectors:\n  interval: 5s\n  redis: { url: \"http://:hunter2@cache:6379\" }\n",
    )
    .unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("bad.yml:3: collectors.redis"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    std::fs::write(&cfg, "collectors:\n  host: { enabled: true, procfs: /proc }\n").unwrap();
    let (ok, err) = common::check_config(&cfg);
    assert!(!ok);
    assert!(err.contains("bad.yml:2") && err.contains("procfs"), "{err}");
}
