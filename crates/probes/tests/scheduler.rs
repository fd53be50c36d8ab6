mod common;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use probes::{Scheduler, SchedulerOptions, State, StateEvent};
use tokio::sync::broadcast;

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next_event(rx: &mut broadcast::Receiver<StateEvent>) -> StateEvent {
    tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .expect("no event within 3s")
        .expect("channel closed")
}

fn web_yaml(t: &Target) -> String {
    format!(
        "checks:\n  - name: web\n    interval: 100ms\n    timeout: 80ms\n    http: {{ url: \"{}\", json_field: {{ path: status, equals: healthy }} }}\n",
        t.url("/switch")
    )
}

#[tokio::test]
async fn thresholds_events_and_samples() {
    let t = target().await;
    let sink = MemSink::default();
    let sched = Scheduler::start(
        checks(&web_yaml(&t)),
        Arc::new(sink.clone()),
        SchedulerOptions::default(),
    )
    .unwrap();
    let mut rx = sched.subscribe();

    let e = next_event(&mut rx).await;
    assert_eq!(
        (e.check.as_str(), e.from, e.to, e.error.clone()),
        ("web", State::Unknown, State::Up, None)
    );

    // Three consecutive failures (500) take it down, not fewer.
    t.set(FAIL);
    let failing_since = Instant::now();
    let e = next_event(&mut rx).await;
    assert!(failing_since.elapsed() >= Duration::from_millis(200), "down too early");
    assert_eq!((e.from, e.to), (State::Up, State::Down));
    assert_eq!(e.error.as_deref(), Some("unexpected status code 500"));
    let st = &sched.checks()[0];
    assert_eq!(st.state, State::Down);
    assert!(st.consecutive_failures >= 3);
    assert_eq!(st.last.as_ref().unwrap().http_status, Some(500));
    let (all, health) = sched.health();
    assert!(!all);
    assert_eq!(health["web"].status, "unhealthy");
    assert_eq!(health["web"].error.as_deref(), Some("unexpected status code 500"));

    // One success brings it back (success_threshold 1).
    t.set(OK);
    let e = next_event(&mut rx).await;
    assert_eq!((e.from, e.to, e.error), (State::Down, State::Up, None));
    let (all, health) = sched.health();
    assert!(all);
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(json["web"]["status"], "healthy");
    assert!(json["web"]["responseTime"].as_f64().unwrap() > 0.0);
    assert!(json["web"].get("error").is_none());

    // Wrong body counts as a failure too; slow answers time out.
    t.set(WRONG_BODY);
    let e = next_event(&mut rx).await;
    assert!(e.error.as_deref().unwrap().contains("JSON field"), "{e:?}");
    t.set(OK);
    next_event(&mut rx).await;
    t.set(SLOW);
    let e = next_event(&mut rx).await;
    assert_eq!(e.error.as_deref(), Some("timed out after 80ms"));

    let history = sched.events();
    let transitions: Vec<_> = history.iter().map(|e| (e.from, e.to)).collect();
    use State::*;
    assert_eq!(
        transitions,
        [
            (Unknown, Up),
            (Up, Down),
            (Down, Up),
            (Up, Down),
            (Down, Up),
            (Up, Down)
        ]
    );
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at));

    let status = sched.checks().remove(0);
    assert_eq!(status.kind, "http");
    let h24 = status.uptime.h24.unwrap();
    assert!(h24 > 0.0 && h24 < 1.0, "{h24}");
    assert_eq!(status.uptime.d30, status.uptime.d7);
    drop(sched);

    // Samples: blackbox names, labels, one per probe, stamped at the probe's end.
    let success = sink.values("probe_success", "web");
    assert!(success.len() >= 12, "{}", success.len());
    let (labels, _, _) = &success[0];
    assert_eq!(labels.get("kind"), Some("http"));
    assert_eq!(labels.len(), 3);
    assert_eq!(sink.values("probe_duration_seconds", "web").len(), success.len());
    let codes: Vec<f64> = sink
        .values("probe_http_status_code", "web")
        .iter()
        .map(|s| s.2)
        .collect();
    assert_eq!(codes.len(), success.len());
    assert!(
        codes.contains(&200.0) && codes.contains(&500.0) && codes.contains(&0.0),
        "{codes:?}"
    );
    let up: Vec<f64> = sink.values("aerowatch_check_up", "web").iter().map(|s| s.2).collect();
    assert!(up.contains(&1.0) && up.contains(&0.0));
    let last = status.last.unwrap();
    assert!(
        success.iter().any(|s| s.1 == last.at),
        "samples carry the probe end time"
    );
}

#[tokio::test]
async fn hanging_probes_do_not_block_other_checks() {
    let t = target().await;
    // Two permits, three hanging checks: the semaphore caps in-flight probes, and
    // the timeout frees the permits so the healthy check still runs on schedule.
    let mut yaml = String::from("checks:\n");
    for i in 0..3 {
        yaml += &format!(
            "  - name: hang{i}\n    interval: 200ms\n    timeout: 150ms\n    http: {{ url: \"{}\" }}\n",
            t.url("/hang")
        );
    }
    yaml += &format!(
        "  - name: fine\n    interval: 100ms\n    timeout: 50ms\n    http: {{ url: \"{}\" }}\n",
        t.url("/ok")
    );
    let sink = MemSink::default();
    let opts = SchedulerOptions {
        max_concurrency: 2,
        ..SchedulerOptions::default()
    };
    let sched = Scheduler::start(checks(&yaml), Arc::new(sink.clone()), opts).unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let fine = sink.values("probe_success", "fine");
    assert!(fine.len() >= 5, "healthy check starved: {} probes", fine.len());
    assert!(fine.iter().all(|s| s.2 == 1.0));
    for i in 0..3 {
        let hang = sink.values("probe_success", &format!("hang{i}"));
        assert!(!hang.is_empty() && hang.iter().all(|s| s.2 == 0.0), "hang{i}: {hang:?}");
    }
    let statuses = sched.checks();
    assert_eq!(
        statuses.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["hang0", "hang1", "hang2", "fine"],
        "configuration order"
    );
    assert_eq!(
        statuses[0].last.as_ref().unwrap().error.as_deref(),
        Some("timed out after 150ms")
    );
}

#[tokio::test]
async fn first_probe_lands_inside_the_first_interval() {
    let t = target().await;
    let mut yaml = String::from("checks:\n");
    for i in 0..20 {
        yaml += &format!(
            "  - name: c{i}\n    interval: 300ms\n    timeout: 100ms\n    tcp: {{ address: \"{}\" }}\n",
            t.addr
        );
    }
    let sink = MemSink::default();
    let start_ms = model::now_millis();
    let sched = Scheduler::start(checks(&yaml), Arc::new(sink.clone()), SchedulerOptions::default()).unwrap();
    wait_until("all first probes", Duration::from_millis(600), || {
        sched.checks().iter().all(|c| c.last.is_some())
    })
    .await;
    let mut firsts: Vec<i64> = Vec::new();
    for i in 0..20 {
        let s = sink.values("probe_success", &format!("c{i}"));
        let first = s[0].1 - start_ms;
        assert!(first < 300 + 100, "c{i} first probe after {first}ms");
        firsts.push(first / 30);
    }
    firsts.sort();
    firsts.dedup();
    assert!(firsts.len() >= 4, "jitter should spread first probes: {firsts:?}");
    let (all, health) = sched.health();
    assert!(all, "{health:?}");
    assert_eq!(health.len(), 20);
}

#[tokio::test]
async fn reload_keeps_unchanged_state_and_stops_removed_checks() {
    let t = target().await;
    let tcp = |name: &str, interval: &str| {
        format!(
            "  - name: {name}\n    interval: {interval}\n    timeout: 50ms\n    tcp: {{ address: \"{}\" }}\n",
            t.addr
        )
    };
    let sink = MemSink::default();
    let first = checks(&format!(
        "checks:\n{}{}{}",
        tcp("keep", "100ms"),
        tcp("gone", "100ms"),
        tcp("edit", "100ms")
    ));
    let sched = Scheduler::start(first, Arc::new(sink.clone()), SchedulerOptions::default()).unwrap();
    wait_until("all up", Duration::from_secs(2), || {
        sched
            .checks()
            .iter()
            .all(|c| c.state == State::Up && c.consecutive_successes >= 3)
    })
    .await;
    let (_, health) = sched.health();
    assert!(health.contains_key("gone"));

    sched.reload(checks(&format!(
        "checks:\n{}{}{}",
        tcp("edit", "150ms"),
        tcp("keep", "100ms"),
        tcp("new", "100ms")
    )));
    let after = sched.checks();
    assert_eq!(
        after.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["edit", "keep", "new"]
    );
    assert_eq!(after[0].state, State::Unknown, "a changed check restarts");
    assert_eq!(after[1].state, State::Up, "an unchanged check keeps its state");
    assert!(after[1].consecutive_successes >= 3);
    assert_eq!(after[2].state, State::Unknown);

    let gone_before = sink.values("probe_success", "gone").len();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        sink.values("probe_success", "gone").len(),
        gone_before,
        "removed check still probing"
    );
    assert!(!sched.health().1.contains_key("gone"));
    assert_eq!(sched.checks()[2].state, State::Up);
}
