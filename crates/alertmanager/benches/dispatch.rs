//! Plain timing benchmark (no harness): prints medians.
//!
//! - 1,000 alerts through store → routing → grouping → mute → dedup →
//!   notifications, then a second flush where everything is deduplicated.
//! - Silence matching of 10,000 alerts against 1,000 silences.
//!
//! Run with `cargo bench -p alertmanager --bench dispatch`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertmanager::alert::Alert;
use alertmanager::clock::{Clock, ManualClock};
use alertmanager::config::Config;
use alertmanager::engine::{Alertmanager, EngineOptions};
use alertmanager::matchers::parse_matchers;
use alertmanager::silences::{Silence, Silences, SilencesOptions};
use chrono::{TimeZone, Utc};
use model::Labels;

const CONFIG: &str = r#"
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  routes:
  - matchers: [severity="critical"]
    receiver: pager
    continue: true
  - matchers: [team=~"db|storage"]
    receiver: db
    routes:
    - matchers: [env="prod"]
      receiver: db-prod
  - matchers: [team="web"]
    receiver: web
    group_by: ['...']
inhibit_rules:
- source_matchers: [alertname="ClusterDown"]
  target_matchers: [severity="warning"]
  equal: [cluster]
receivers:
- name: default
  webhook_configs: [{url: 'http://127.0.0.1:9/'}]
- name: pager
  pagerduty_configs: [{routing_key: 'k'}]
- name: db
  webhook_configs: [{url: 'http://127.0.0.1:9/db'}]
- name: db-prod
  webhook_configs: [{url: 'http://127.0.0.1:9/dbp'}, {url: 'http://127.0.0.1:9/dbp2'}]
- name: web
  webhook_configs: [{url: 'http://127.0.0.1:9/web'}]
"#;

fn alerts(n: usize, now: chrono::DateTime<Utc>) -> Vec<Alert> {
    let teams = ["db", "storage", "web", "infra"];
    let sev = ["critical", "warning", "info"];
    (0..n)
        .map(|i| Alert {
            ends_at: Some(now + chrono::Duration::hours(1)),
            ..Alert::new(
                Labels::from_pairs([
                    ("alertname", format!("Alert{}", i % 50)),
                    ("cluster", format!("c{}", i % 7)),
                    ("team", teams[i % teams.len()].to_string()),
                    ("severity", sev[i % sev.len()].to_string()),
                    ("env", if i % 2 == 0 { "prod" } else { "dev" }.to_string()),
                    ("instance", format!("host-{i}:9100")),
                    ("job", "node".to_string()),
                ]),
                now,
            )
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_dispatch(runs: usize) {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let cfg = Config::parse(CONFIG, "bench.yml").expect("config");
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut ingest = Vec::new();
    let mut sent = 0;
    for _ in 0..runs {
        let clock = ManualClock::new(start);
        let am = Alertmanager::new(
            cfg.clone(),
            EngineOptions {
                clock: Arc::new(clock.clone()),
                ..Default::default()
            },
        )
        .expect("engine");
        let batch = alerts(1000, start);
        let t = Instant::now();
        am.put_alerts(batch);
        ingest.push(t.elapsed());

        clock.advance(Duration::from_secs(30));
        let d = am.dispatcher();
        let t = Instant::now();
        let jobs = d.flush_due();
        sent = jobs.iter().map(|j| j.notifications().len()).sum::<usize>();
        for job in jobs {
            let ok = vec![true; job.notifications().len()];
            d.complete(job, &ok);
        }
        first.push(t.elapsed());

        clock.advance(Duration::from_secs(300));
        let t = Instant::now();
        let jobs = d.flush_due();
        assert!(jobs.is_empty(), "second flush must be fully deduplicated");
        second.push(t.elapsed());
        assert!(clock.now() > start);
    }
    println!(
        "dispatch: 1000 alerts put (store+routing+grouping): median {:?}",
        median(ingest)
    );
    println!(
        "dispatch: first flush (mute+dedup -> {sent} notifications, nflog writes): median {:?}",
        median(first)
    );
    println!("dispatch: second flush (all deduplicated): median {:?}", median(second));
}

fn bench_silences(runs: usize) {
    let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let clock = ManualClock::new(now);
    let sils = Silences::new(SilencesOptions::default(), Arc::new(clock)).expect("silences");
    for i in 0..1000 {
        // A mix: mostly equality-anchored, some regex-only silences.
        let m = if i % 10 == 0 {
            format!(r#"instance=~"host-{}.*", severity!="info""#, i)
        } else {
            format!(
                r#"alertname="Alert{}", cluster="c{}", instance=~"host-.*""#,
                i % 50,
                i % 7
            )
        };
        sils.set(Silence {
            id: String::new(),
            matchers: parse_matchers(&m).expect("matchers"),
            starts_at: now,
            ends_at: now + chrono::Duration::hours(1),
            updated_at: now,
            created_by: "bench".into(),
            comment: "bench".into(),
        })
        .expect("set");
    }
    let batch = alerts(10_000, now);
    let mut times = Vec::new();
    let mut muted = 0;
    for _ in 0..runs {
        let t = Instant::now();
        muted = batch
            .iter()
            .filter(|a| !sils.mutes_at(&a.labels, now).is_empty())
            .count();
        times.push(t.elapsed());
    }
    println!(
        "silences: 10000 alerts x 1000 silences ({muted} muted): median {:?}",
        median(times)
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less args; keep it quick then.
    let quick = std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { 15 };
    bench_dispatch(runs);
    bench_silences(runs);
}
