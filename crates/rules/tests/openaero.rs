//! The seed's five rules (the `openaero` preset) fire and resolve against
//! generated data in a real store, evaluated step by step at chosen times.
use std::collections::BTreeMap;
use std::sync::Arc;

use model::Labels;
mod common;

use common::{driven_manager, Captured};
use rules::{AlertState, Manager, OutgoingAlert, Rule, RuleSources};

const STEP: i64 = 15_000;
const MIN: i64 = 60_000;

/// Series a healthy or failing system exposes at `t`, for `bad` phases.
fn generate(db: &tsdb::Db, from: i64, to: i64, bad: impl Fn(i64) -> bool) {
    let mut t = from;
    let mut requests = 0.0;
    let mut errors = 0.0;
    let mut latency_sum = 0.0;
    while t <= to {
        let broken = bad(t);
        let mut app = db.appender();
        let add = |app: &mut tsdb::HeadAppender, pairs: &[(&str, &str)], v: f64| {
            app.append(&Labels::from_pairs(pairs.iter().copied()), t, v).unwrap();
        };
        add(
            &mut app,
            &[("__name__", "probe_success"), ("check", "home")],
            if broken { 0.0 } else { 1.0 },
        );
        requests += 100.0;
        errors += if broken { 20.0 } else { 0.0 };
        latency_sum += if broken { 100.0 * 3.5 } else { 100.0 * 0.2 };
        add(
            &mut app,
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("status_code", "200"),
            ],
            requests - errors,
        );
        add(
            &mut app,
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("status_code", "500"),
            ],
            errors,
        );
        add(
            &mut app,
            &[("__name__", "http_request_duration_seconds_sum"), ("job", "api")],
            latency_sum,
        );
        add(
            &mut app,
            &[("__name__", "http_request_duration_seconds_count"), ("job", "api")],
            requests,
        );
        add(
            &mut app,
            &[
                ("__name__", "pg_stat_activity_count"),
                ("instance", "db:9187"),
                ("state", "active"),
            ],
            if broken { 90.0 } else { 10.0 },
        );
        add(
            &mut app,
            &[("__name__", "pg_settings_max_connections"), ("instance", "db:9187")],
            100.0,
        );
        add(
            &mut app,
            &[("__name__", "node_memory_MemTotal_bytes"), ("instance", "web:9100")],
            8e9,
        );
        add(
            &mut app,
            &[("__name__", "node_memory_MemAvailable_bytes"), ("instance", "web:9100")],
            if broken { 0.4e9 } else { 4e9 },
        );
        app.commit().unwrap();
        t += STEP;
    }
}

fn states(m: &Manager) -> BTreeMap<String, AlertState> {
    let mut out = BTreeMap::new();
    for g in m.groups() {
        for e in &g.rules {
            if let Rule::Alerting(r) = &e.rule {
                assert_eq!(e.last_error, None, "{}", r.name);
                out.insert(r.name.clone(), r.state());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_rules_fire_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap();
    let t0: i64 = 1_700_000_000_000 / STEP * STEP;
    // Healthy for 10 minutes, broken for 10, healthy again for 10.
    let broken = move |t: i64| t >= t0 + 10 * MIN && t < t0 + 20 * MIN;
    generate(&db, t0, t0 + 30 * MIN, broken);

    let captured = Arc::new(Captured::default());
    let sources = RuleSources {
        presets: vec!["openaero".into()],
        ..RuleSources::default()
    };
    let m = driven_manager(
        &db,
        &sources,
        dir.path(),
        BTreeMap::from([("cluster".to_string(), "test".to_string())]),
        captured.clone(),
    );
    assert_eq!(m.groups().len(), 2, "recording and alerting groups");

    let mut fired_at = BTreeMap::new();
    let mut resolved_at = BTreeMap::new();
    let mut t = t0 + 5 * MIN;
    while t <= t0 + 30 * MIN {
        m.eval_all_at(t).await;
        for (name, state) in states(&m) {
            if state == AlertState::Firing {
                fired_at.entry(name.clone()).or_insert(t);
            }
            if state == AlertState::Inactive && fired_at.contains_key(&name) {
                resolved_at.entry(name).or_insert(t);
            }
        }
        t += STEP;
    }
    let rel = |m: &BTreeMap<String, i64>, k: &str| m.get(k).map(|t| (t - t0) as f64 / MIN as f64);
    // Each fires after its `for` once the 5m windows see the breakage, and
    // resolves once they no longer do.
    for (name, hold_min) in [
        ("AvailabilityLow", 5.0),
        ("ResponseTimeHigh", 1.0),
        ("ErrorRateHigh", 2.0),
        ("DatabaseConnectionsHigh", 3.0),
        ("MemoryUsageHigh", 5.0),
    ] {
        let fired = rel(&fired_at, name).unwrap_or_else(|| panic!("{name} never fired: {fired_at:?}"));
        assert!(
            fired >= 10.0 + hold_min && fired <= 10.0 + hold_min + 5.0,
            "{name} fired at {fired} min"
        );
        let resolved = rel(&resolved_at, name).unwrap_or_else(|| panic!("{name} never resolved: {resolved_at:?}"));
        assert!((20.0..=25.5).contains(&resolved), "{name} resolved at {resolved} min");
    }
    let sent = captured.0.lock().clone();
    let error_rate: Vec<&OutgoingAlert> = sent
        .iter()
        .filter(|a| a.labels.get("alertname") == Some("ErrorRateHigh"))
        .collect();
    assert!(!error_rate.is_empty());
    let first = error_rate[0];
    assert_eq!(first.labels.get("severity"), Some("high"));
    assert_eq!(first.labels.get("rule_id"), Some("error-rate-high"));
    assert_eq!(first.labels.get("job"), Some("api"));
    assert_eq!(first.labels.get("cluster"), Some("test"), "external labels added");
    assert_eq!(first.annotations["summary"], "错误率过高");
    assert!(first
        .generator_url
        .starts_with("http://aerowatch.test/graph?g0.expr=error_rate+%3E+5"));
    let last = error_rate.last().unwrap();
    assert!(
        last.ends_at_ms <= t0 + 26 * MIN,
        "the resolution was sent: {}",
        last.ends_at_ms - t0
    );
    // ALERTS was written while firing.
    let q = m
        .context()
        .engine
        .instant(
            Arc::new(db.clone()),
            "count_over_time(ALERTS{alertstate=\"firing\"}[30m])",
            t0 + 30 * MIN,
            Default::default(),
        )
        .await
        .unwrap();
    match q.value {
        promql::ResultValue::Vector(v) => assert_eq!(v.len(), 5, "{v:?}"),
        other => panic!("{other:?}"),
    }
}
