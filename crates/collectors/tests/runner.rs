//! `Collectors::start` writing batches into an in-memory sink.
mod common;

use std::sync::Arc;
use std::time::Duration;

use collectors::{Collectors, CollectorsConfig, RedisConfig};
use common::{wait_for, MemorySink};
use model::PromDuration;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn host_batches_arrive_with_job_and_instance_then_stop() {
    let sink = MemorySink::default();
    let cfg = CollectorsConfig {
        // Also the collection's timeout: leave room for a loaded CI machine.
        interval: Some(PromDuration(Duration::from_secs(1))),
        ..Default::default()
    };
    let collectors = Collectors::start(&cfg, Arc::new(sink.clone()));
    assert_eq!(collectors.running(), ["host"]);
    let batches = wait_for(Duration::from_secs(10), "two host batches", || {
        let b = sink.batches_of("node");
        (b.len() >= 2).then_some(b)
    })
    .await;
    let host = hostname();
    for batch in &batches {
        assert!(batch
            .iter()
            .all(|(l, _, _)| l.get("job") == Some("node") && l.get("instance") == Some(host.as_str())));
        // One timestamp per batch.
        assert!(batch.iter().all(|(_, t, _)| *t == batch[0].1));
        for name in [
            "node_memory_MemTotal_bytes",
            "node_load1",
            "node_time_seconds",
            "node_uname_info",
        ] {
            assert!(batch.iter().any(|(l, _, _)| l.metric_name() == Some(name)), "{name}");
        }
    }
    assert!(batches[1][0].1 > batches[0][0].1);
    assert!((model::now_millis() - batches[0][0].1).abs() < 10_000);

    let started = std::time::Instant::now();
    collectors.stop().await;
    assert!(started.elapsed() < Duration::from_secs(6));
    let count = sink.batches().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.batches().len(), count, "no batch after stop");
}

#[tokio::test]
async fn redis_goes_down_and_invalid_sections_are_skipped() {
    let Some(server) = testkit::Redis::start(None) else {
        return;
    };
    let port = server.port;
    let sink = MemorySink::default();
    let cfg = CollectorsConfig {
        interval: Some(PromDuration(Duration::from_millis(500))),
        host: collectors::HostConfig {
            enabled: false,
            ..Default::default()
        },
        postgres: Some(collectors::PostgresConfig {
            dsn: "postgres://h:notaport/x".to_string(),
            instance: None,
        }),
        redis: Some(RedisConfig {
            url: server.url(),
            instance: Some("cache".to_string()),
        }),
    };
    assert!(cfg.validate().is_err());
    let collectors = Collectors::start(&cfg, Arc::new(sink.clone()));
    assert_eq!(
        collectors.running(),
        ["redis"],
        "the invalid postgres section is left out"
    );
    let up = |want: f64| {
        let sink = sink.clone();
        move || {
            let last = sink.batches_of("redis").pop()?;
            let v = last.iter().find(|(l, _, _)| l.metric_name() == Some("redis_up"))?.2;
            (v == want).then_some(last)
        }
    };
    let batch = wait_for(Duration::from_secs(10), "redis_up 1", up(1.0)).await;
    assert!(batch.iter().all(|(l, _, _)| l.get("instance") == Some("cache")));
    assert!(batch
        .iter()
        .any(|(l, _, _)| l.metric_name() == Some("redis_connected_clients")));
    drop(server);
    assert!(testkit::wait_for_port_closed(port, Duration::from_secs(10)));
    wait_for(Duration::from_secs(10), "redis_up 0", up(0.0)).await;
    collectors.stop().await;
}
