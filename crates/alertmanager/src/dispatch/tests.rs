//! Dispatcher timing and pipeline tests, driven by a manual clock.

use super::*;
use crate::clock::ManualClock;
use crate::engine::{Alertmanager, EngineOptions};
use crate::matchers::parse_matchers;
use crate::silences::Silence;
use chrono::{TimeZone, Utc};

const CONFIG: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
  - matchers: [team="db"]
    receiver: db
    continue: true
  - matchers: [team="db"]
    receiver: db-audit
    group_by: ['...']
  - matchers: [team="quiet"]
    receiver: quiet
  - matchers: [team="weekend-off"]
    receiver: default
    mute_time_intervals: [weekends]
  - matchers: [team="office"]
    receiver: default
    active_time_intervals: [office-hours]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
receivers:
- name: default
  webhook_configs:
  - url: 'http://127.0.0.1:9/default'
- name: db
  webhook_configs:
  - url: 'http://127.0.0.1:9/db'
- name: db-audit
  webhook_configs:
  - url: 'http://127.0.0.1:9/audit'
- name: quiet
  webhook_configs:
  - url: 'http://127.0.0.1:9/quiet'
    send_resolved: false
time_intervals:
- name: weekends
  time_intervals:
  - weekdays: ['saturday', 'sunday']
- name: office-hours
  time_intervals:
  - times:
    - start_time: '09:00'
      end_time: '17:00'
"#;

/// 2024-01-01 is a Monday; 00:00 UTC.
fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

struct Sim {
    clock: ManualClock,
    am: Alertmanager,
    sent: Vec<Notification>,
    fail: bool,
}

impl Sim {
    fn new(config: &str) -> Sim {
        Sim::with_dir(config, None, t0())
    }

    fn with_dir(config: &str, dir: Option<&std::path::Path>, start: Timestamp) -> Sim {
        let clock = ManualClock::new(start);
        let cfg = Config::parse(config, "test.yml").unwrap();
        let am = Alertmanager::new(
            cfg,
            EngineOptions {
                data_dir: dir.map(|d| d.to_path_buf()),
                clock: Arc::new(clock.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        Sim {
            clock,
            am,
            sent: Vec::new(),
            fail: false,
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Posts a firing alert (started now, ending far in the future, like
    /// Prometheus re-sending it) or re-posts it.
    fn fire(&self, pairs: &[(&str, &str)]) -> Alert {
        self.fire_since(pairs, self.now())
    }

    fn fire_since(&self, pairs: &[(&str, &str)], start: Timestamp) -> Alert {
        let a = Alert {
            ends_at: Some(self.now() + chrono::Duration::hours(24)),
            updated_at: self.now(),
            ..Alert::new(Labels::from_pairs(pairs.iter().copied()), start)
        };
        self.am.put_alerts(vec![a]).remove(0)
    }

    fn resolve(&self, pairs: &[(&str, &str)]) {
        let labels = Labels::from_pairs(pairs.iter().copied());
        let start = self
            .am
            .store()
            .get(Fingerprint::of(&labels))
            .map(|a| a.starts_at)
            .unwrap_or(self.now());
        let a = Alert {
            ends_at: Some(self.now()),
            updated_at: self.now(),
            ..Alert::new(labels, start)
        };
        self.am.put_alerts(vec![a]);
    }

    /// Moves time forward, running every flush at its exact deadline.
    fn advance(&mut self, d: Duration) {
        let target = crate::clock::add(self.now(), d);
        loop {
            let dispatcher = self.am.dispatcher();
            let next = dispatcher.next_deadline();
            if next > target {
                break;
            }
            if next > self.now() {
                self.clock.set(next);
            }
            for job in dispatcher.flush_due() {
                let outcomes: Vec<bool> = job.notifications().iter().map(|_| !self.fail).collect();
                if !self.fail {
                    self.sent.extend(job.notifications().iter().cloned());
                }
                dispatcher.complete(job, &outcomes);
            }
        }
        self.clock.set(target);
    }

    fn take(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.sent)
    }
}

fn names(n: &Notification) -> Vec<String> {
    n.alerts
        .iter()
        .map(|a| {
            format!(
                "{}{}:{}",
                a.alert.labels.get("alertname").unwrap_or(""),
                a.alert
                    .labels
                    .get("instance")
                    .map(|i| format!("/{i}"))
                    .unwrap_or_default(),
                a.status.as_str()
            )
        })
        .collect()
}

#[test]
fn first_notification_waits_for_group_wait() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A"), ("instance", "1")]);
    sim.advance(secs(29));
    assert!(sim.take().is_empty());
    sim.advance(secs(1));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert_eq!(n.receiver, "default");
    assert_eq!(n.group_key, r#"{}:{alertname="A"}"#);
    assert_eq!(n.group_labels, Labels::from_pairs([("alertname", "A")]));
    assert_eq!(n.status, AlertStatus::Firing);
    assert_eq!(names(n), ["A/1:firing"]);
    assert_eq!(n.alerts[0].alert.ends_at, None, "firing alerts carry no end time");
    assert_eq!(n.integration.key.to_string(), "default/webhook/0");
    assert_eq!(n.timeout, secs(300));
    assert_eq!(
        n.common_labels,
        Labels::from_pairs([("alertname", "A"), ("instance", "1")])
    );
}

#[test]
fn group_interval_batches_later_alerts() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A"), ("instance", "1")]);
    sim.advance(secs(30));
    assert_eq!(sim.take().len(), 1);
    // Arrives 1m after the first flush: waits for the next group_interval tick.
    sim.advance(secs(60));
    sim.fire(&[("alertname", "A"), ("instance", "2")]);
    sim.fire(&[("alertname", "A"), ("instance", "3")]);
    sim.advance(secs(239));
    assert!(sim.take().is_empty());
    sim.advance(secs(1));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["A/1:firing", "A/2:firing", "A/3:firing"]);
    assert_eq!(sent[0].common_labels, Labels::from_pairs([("alertname", "A")]));
    // Nothing changes: no notification at the following ticks.
    sim.advance(secs(3600));
    assert!(sim.take().is_empty());
}

#[test]
fn repeat_interval_resends_unchanged_groups() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A")]);
    sim.advance(secs(30));
    assert_eq!(sim.take().len(), 1);
    // Flushes happen at 30s + k*5m; the repeat is due once strictly more than
    // 4h passed since the notification, i.e. at the tick at 4h05m30s.
    sim.advance(secs(4 * 3600));
    assert!(sim.take().is_empty());
    sim.advance(secs(299));
    assert!(sim.take().is_empty());
    sim.advance(secs(1));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sim.now(), t0() + chrono::Duration::seconds(4 * 3600 + 330));
}

#[test]
fn resolved_notification_with_send_resolved() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A"), ("instance", "1")]);
    sim.fire(&[("alertname", "A"), ("instance", "2")]);
    sim.advance(secs(30));
    assert_eq!(sim.take().len(), 1);
    sim.advance(secs(60));
    sim.resolve(&[("alertname", "A"), ("instance", "1")]);
    sim.advance(secs(240));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["A/1:resolved", "A/2:firing"]);
    assert!(sent[0].alerts[0].alert.ends_at.is_some());
    // The resolved alert left the group after the successful notification.
    sim.advance(secs(300));
    assert!(sim.take().is_empty());
    assert_eq!(sim.am.dispatcher().groups()[0].alerts.len(), 1);

    // Last alert resolves: a final all-resolved notification, then the group goes away.
    sim.resolve(&[("alertname", "A"), ("instance", "2")]);
    sim.advance(secs(300));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, AlertStatus::Resolved);
    assert_eq!(names(&sent[0]), ["A/2:resolved"]);
    sim.advance(secs(60));
    assert_eq!(sim.am.dispatcher().group_count(), 0);
    sim.advance(secs(3600));
    assert!(sim.take().is_empty());
}

#[test]
fn resolved_without_send_resolved_is_logged_not_sent() {
    let mut sim = Sim::new(CONFIG);
    let labels = [("alertname", "Q"), ("team", "quiet")];
    sim.fire(&labels);
    sim.advance(secs(30));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].receiver, "quiet");
    let key = sent[0].integration.key.clone();
    let gk = sent[0].group_key.clone();

    sim.resolve(&labels);
    sim.advance(secs(300));
    assert!(sim.take().is_empty(), "send_resolved: false");
    let entry = sim.am.nflog().query(&gk, &key).unwrap();
    assert!(entry.firing_alerts.is_empty(), "the log learned the alert resolved");
    assert_eq!(entry.resolved_alerts.len(), 1);

    // Firing again is news, so it is sent once more.
    sim.advance(secs(60));
    sim.fire(&labels);
    sim.advance(secs(300));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["Q:firing"]);
}

#[test]
fn resolved_before_group_wait_sends_nothing() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "Flap")]);
    sim.advance(secs(10));
    sim.resolve(&[("alertname", "Flap")]);
    sim.advance(secs(3600));
    assert!(sim.take().is_empty());
}

#[test]
fn group_by_all_labels_and_continue_create_separate_groups() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "Down"), ("team", "db"), ("instance", "1")]);
    sim.fire(&[("alertname", "Down"), ("team", "db"), ("instance", "2")]);
    sim.advance(secs(30));
    let sent = sim.take();
    let mut summary: Vec<(String, String, usize)> = sent
        .iter()
        .map(|n| (n.receiver.clone(), n.group_key.clone(), n.alerts.len()))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            ("db".to_string(), r#"{}/{team="db"}:{alertname="Down"}"#.to_string(), 2),
            (
                "db-audit".to_string(),
                r#"{}/{team="db"}:{alertname="Down", instance="1", team="db"}"#.to_string(),
                1
            ),
            (
                "db-audit".to_string(),
                r#"{}/{team="db"}:{alertname="Down", instance="2", team="db"}"#.to_string(),
                1
            ),
        ]
    );
    assert_eq!(sim.am.dispatcher().group_count(), 3);
}

#[test]
fn silenced_alert_is_not_sent_until_the_silence_expires() {
    let mut sim = Sim::new(CONFIG);
    let id = sim
        .am
        .silences()
        .set(Silence {
            id: String::new(),
            matchers: parse_matchers(r#"alertname="Noisy""#).unwrap(),
            starts_at: sim.now(),
            ends_at: sim.now() + chrono::Duration::hours(1),
            updated_at: sim.now(),
            created_by: "ops".into(),
            comment: "maintenance".into(),
        })
        .unwrap();
    let a = sim.fire(&[("alertname", "Noisy")]);
    sim.advance(secs(30));
    assert!(sim.take().is_empty());
    let st = sim.am.marker().status(a.fingerprint());
    assert_eq!(st.state, crate::marker::AlertState::Suppressed);
    assert_eq!(st.silenced_by, std::slice::from_ref(&id));

    sim.advance(secs(600));
    sim.am.silences().expire(&id).unwrap();
    // The silence ends at its expiry instant; the next tick is after it.
    sim.advance(secs(300));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["Noisy:firing"]);
    assert_eq!(
        sim.am.marker().status(a.fingerprint()).state,
        crate::marker::AlertState::Active
    );
}

#[test]
fn inhibited_alert_is_not_sent() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu"),
    ]);
    let w = sim.fire(&[("alertname", "Latency"), ("severity", "warning"), ("cluster", "eu")]);
    let other = sim.fire(&[("alertname", "Latency2"), ("severity", "warning"), ("cluster", "us")]);
    sim.advance(secs(30));
    let mut got: Vec<String> = sim.take().iter().flat_map(names).collect();
    got.sort();
    assert_eq!(got, ["ClusterDown:firing", "Latency2:firing"]);
    assert_eq!(
        sim.am.marker().status(w.fingerprint()).state,
        crate::marker::AlertState::Suppressed
    );
    assert_eq!(
        sim.am.marker().status(other.fingerprint()).state,
        crate::marker::AlertState::Active
    );

    // When the source resolves, the target is notified at the next tick.
    sim.resolve(&[
        ("alertname", "ClusterDown"),
        ("severity", "critical"),
        ("cluster", "eu"),
    ]);
    sim.advance(secs(300));
    let mut got: Vec<String> = sim.take().iter().flat_map(names).collect();
    got.sort();
    assert_eq!(got, ["ClusterDown:resolved", "Latency:firing"]);
}

#[test]
fn mute_and_active_time_intervals() {
    // Sunday 2024-01-07 23:50 UTC: weekend, outside office hours.
    let sun = Utc.with_ymd_and_hms(2024, 1, 7, 23, 50, 0).unwrap();
    let mut sim = Sim::with_dir(CONFIG, None, sun);
    sim.fire(&[("alertname", "W"), ("team", "weekend-off")]);
    sim.fire(&[("alertname", "O"), ("team", "office")]);
    sim.advance(secs(30));
    assert!(sim.take().is_empty(), "weekend muted, office inactive");
    // Monday 00:00:30 is the first tick outside the weekend.
    let until = |sim: &Sim, h: u32, m: u32, s: u32| {
        (Utc.with_ymd_and_hms(2024, 1, 8, h, m, s).unwrap() - sim.now())
            .to_std()
            .unwrap()
    };
    let d = until(&sim, 0, 0, 29);
    sim.advance(d);
    assert!(sim.take().is_empty());
    sim.advance(secs(1));
    let got: Vec<String> = sim.take().iter().flat_map(names).collect();
    assert_eq!(got, ["W:firing"]);
    // The office route only notifies from 09:00 on: first tick 09:00:30.
    // (W is repeated meanwhile at 04:05:30 and 08:10:30.)
    let office = |sent: Vec<Notification>| -> Vec<String> {
        sent.iter().flat_map(names).filter(|n| n.starts_with("O:")).collect()
    };
    let d = until(&sim, 9, 0, 29);
    sim.advance(d);
    assert!(office(sim.take()).is_empty());
    sim.advance(secs(1));
    assert_eq!(office(sim.take()), ["O:firing"]);
}

#[test]
fn failed_delivery_is_retried_at_the_next_tick() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A")]);
    sim.fail = true;
    sim.advance(secs(30));
    sim.fail = false;
    sim.resolve(&[("alertname", "A")]);
    sim.advance(secs(300));
    let sent = sim.take();
    // Never notified about the firing alert, so the resolution is not news.
    assert!(sent.is_empty());

    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "B")]);
    sim.advance(secs(30));
    assert_eq!(sim.take().len(), 1);
    sim.resolve(&[("alertname", "B")]);
    sim.fail = true;
    sim.advance(secs(300));
    // The resolved alert stays in the group because delivery failed...
    assert_eq!(sim.am.dispatcher().groups()[0].alerts.len(), 1);
    sim.fail = false;
    sim.advance(secs(300));
    // ...and the resolution goes out at the next tick.
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["B:resolved"]);
}

#[test]
fn restart_neither_resends_nor_forgets_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let labels = [("alertname", "Disk"), ("instance", "db1")];
    let started;
    {
        let mut sim = Sim::with_dir(CONFIG, Some(dir.path()), t0());
        started = sim.fire(&labels).starts_at;
        sim.advance(secs(30));
        assert_eq!(sim.take().len(), 1);
        sim.am.maintenance();
    }
    // Restart 10 minutes later; Prometheus re-sends the still-firing alert.
    let later = t0() + chrono::Duration::minutes(10);
    let mut sim = Sim::with_dir(CONFIG, Some(dir.path()), later);
    sim.fire_since(&labels, started);
    // The alert is older than group_wait, so the new group flushes at once...
    sim.advance(secs(0));
    // ...but the notification log says the receiver already knows.
    assert!(sim.take().is_empty());
    sim.advance(secs(600));
    assert!(sim.take().is_empty());

    // The resolution is still delivered.
    sim.resolve(&labels);
    sim.advance(secs(300));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(names(&sent[0]), ["Disk/db1:resolved"]);
    sim.am.maintenance();
    drop(sim);

    // After another restart Prometheus still re-sends the resolved alert for
    // a while: nothing is sent again.
    let mut sim = Sim::with_dir(CONFIG, Some(dir.path()), later + chrono::Duration::minutes(20));
    let a = Alert {
        ends_at: Some(later + chrono::Duration::minutes(15)),
        updated_at: sim.now(),
        ..Alert::new(Labels::from_pairs(labels), started)
    };
    sim.am.put_alerts(vec![a]);
    sim.advance(secs(3600));
    assert!(sim.take().is_empty());
}

#[test]
fn groups_snapshot_for_api() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "B")]);
    sim.fire(&[("alertname", "A"), ("instance", "2")]);
    sim.fire(&[("alertname", "A"), ("instance", "1")]);
    sim.advance(secs(1));
    let groups = sim.am.dispatcher().groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].labels, Labels::from_pairs([("alertname", "A")]));
    assert_eq!(groups[0].alerts.len(), 2);
    assert_eq!(groups[0].alerts[0].labels.get("instance"), Some("1"));
    assert_eq!(groups[0].route_id, "{}");
    assert_eq!(groups[1].receiver, "default");
}

#[test]
fn reload_keeps_dedup_state() {
    let mut sim = Sim::new(CONFIG);
    sim.fire(&[("alertname", "A")]);
    sim.advance(secs(30));
    assert_eq!(sim.take().len(), 1);
    sim.am.reload(Config::parse(CONFIG, "test.yml").unwrap()).unwrap();
    // The new dispatcher re-creates the group from the store and flushes
    // right away (the alert is older than group_wait) but dedups.
    sim.advance(secs(600));
    assert!(sim.take().is_empty());
    assert_eq!(sim.am.dispatcher().group_count(), 1);
}

struct Recorder(tokio::sync::mpsc::Sender<Notification>);

impl Notifier for Recorder {
    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            self.0.send(n.clone()).await.map_err(|e| NotifyError {
                message: e.to_string(),
                retryable: false,
            })
        })
    }
}

struct Flaky(std::sync::atomic::AtomicU32, tokio::sync::mpsc::Sender<u32>);

impl Notifier for Flaky {
    fn notify<'a>(&'a self, _n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let attempt = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if attempt == 0 {
                return Err(NotifyError {
                    message: "503".into(),
                    retryable: true,
                });
            }
            let _ = self.1.send(attempt).await;
            Ok(())
        })
    }
}

const FAST: &str = "route:\n  receiver: r\n  group_wait: 50ms\n  group_interval: 100ms\nreceivers:\n- name: r\n  webhook_configs:\n  - url: 'http://127.0.0.1:9/'\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_driver_delivers_with_real_time() {
    let am = Arc::new(Alertmanager::new(Config::parse(FAST, "fast.yml").unwrap(), EngineOptions::default()).unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(am.clone().run(Arc::new(Recorder(tx)), async move {
        let _ = stop_rx.await;
    }));
    let now = chrono::Utc::now();
    am.put_alerts(vec![Alert {
        ends_at: Some(now + chrono::Duration::hours(1)),
        ..Alert::new(Labels::from_pairs([("alertname", "Fast")]), now)
    }]);
    let n = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.group_key, "{}:{}");
    assert_eq!(names(&n), ["Fast:firing"]);
    // Reload while running: the new dispatcher takes over and dedups. The
    // log entry is written when the delivery completes, just after the
    // notifier returned: wait for it, or the reload races the delivery.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while am.nflog().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the delivery was never logged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    am.reload(Config::parse(FAST, "fast.yml").unwrap()).unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(400), rx.recv())
        .await
        .is_err());
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_driver_retries_retryable_errors() {
    let am = Arc::new(Alertmanager::new(Config::parse(FAST, "fast.yml").unwrap(), EngineOptions::default()).unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let notifier = Arc::new(Flaky(std::sync::atomic::AtomicU32::new(0), tx));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(am.clone().run(notifier, async move {
        let _ = stop_rx.await;
    }));
    let now = chrono::Utc::now();
    am.put_alerts(vec![Alert {
        ends_at: Some(now + chrono::Duration::hours(1)),
        ..Alert::new(Labels::from_pairs([("alertname", "Retry")]), now)
    }]);
    let attempt = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt, 1, "second attempt succeeded");
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .unwrap()
        .unwrap();
}
