//! SLO burn-rate alerts (SRE workbook thresholds) on generated check
//! results in a real store, evaluated step by step at chosen times.
use std::collections::BTreeMap;
use std::sync::Arc;

use model::Labels;
mod common;

use common::{driven_manager, Captured};
use rules::{AlertState, Rule, RuleSources};

const STEP: i64 = 15_000;
const MIN: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_burn_pages_and_a_slow_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap();
    let t0: i64 = 1_700_000_000_000 / STEP * STEP;
    // `web` fails every probe from 120 to 150 min; `api` fails 1 probe in 400
    // (0.25%, a burn rate of 2.5 against 99.9%: below both paging pairs —
    // one failure makes a 30 m window 0.83%, but the 6 h window stays low).
    // Samples are written as time goes on, as a scrape would: rule output
    // written far behind the newest sample would be out of bounds.
    let mut written = t0;
    let mut i = 0u64;
    let mut write_until = |until: i64| {
        while written <= until {
            let t = written;
            let mut app = db.appender();
            let web = if t >= t0 + 120 * MIN && t < t0 + 150 * MIN {
                0.0
            } else {
                1.0
            };
            let api = if i % 400 == 200 { 0.0 } else { 1.0 };
            app.append(
                &Labels::from_pairs([("__name__", "probe_success"), ("check", "web")]),
                t,
                web,
            )
            .unwrap();
            app.append(
                &Labels::from_pairs([("__name__", "probe_success"), ("check", "api")]),
                t,
                api,
            )
            .unwrap();
            app.commit().unwrap();
            written += STEP;
            i += 1;
        }
    };
    let slos: Vec<rules::slo::SloConfig> = serde_yaml::from_str(
        "[ { name: web, objective: 99.9, window: 30d, check: web }, { name: api, objective: 99.9, window: 30d, check: api } ]",
    )
    .unwrap();
    let sources = RuleSources {
        slos,
        ..RuleSources::default()
    };
    let captured = Arc::new(Captured::default());
    let m = driven_manager(&db, &sources, dir.path(), BTreeMap::new(), captured.clone());
    let mut paged: BTreeMap<String, (i64, Option<i64>)> = BTreeMap::new();
    let mut t = t0 + 60 * MIN;
    while t <= t0 + 190 * MIN {
        write_until(t);
        m.eval_all_at(t).await;
        for g in m.groups() {
            for e in &g.rules {
                assert_eq!(e.last_error, None, "{}", e.rule.name());
                if let Rule::Alerting(r) = &e.rule {
                    if r.name != "SLOBurnRateHigh" {
                        continue;
                    }
                    let slo = g.name.trim_start_matches("slo:").to_string();
                    match (r.state(), paged.get_mut(&slo)) {
                        (AlertState::Firing, None) => {
                            paged.insert(slo, (t, None));
                        }
                        (AlertState::Inactive, Some((_, end @ None))) => *end = Some(t),
                        _ => {}
                    }
                }
            }
        }
        t += MIN;
    }
    let (fired, resolved) = paged
        .get("web")
        .copied()
        .unwrap_or_else(|| panic!("web never paged: {paged:?}"));
    let rel = |t: i64| (t - t0) as f64 / MIN as f64;
    assert!((120.0..=123.0).contains(&rel(fired)), "paged at {} min", rel(fired));
    // The 14.4× pair clears 5 min after the errors stop; the 6× pair keeps
    // paging until its 30 min short window no longer holds any error.
    let resolved = resolved.expect("the page resolves once the short windows recover");
    assert!(
        (178.0..=182.0).contains(&rel(resolved)),
        "resolved at {} min",
        rel(resolved)
    );
    assert!(
        !paged.contains_key("api"),
        "a 0.25% error rate must not page: {paged:?}"
    );
    let q = m
        .context()
        .engine
        .instant(
            Arc::new(db.clone()),
            "slo:error_budget_remaining{slo=\"api\"}",
            t0 + 180 * MIN,
            Default::default(),
        )
        .await
        .unwrap();
    match q.value {
        // 2 failed probes of 721 (0 to 180 min) against a 0.1% budget:
        // 1 - (2/721)/0.001 = -1.77.
        promql::ResultValue::Vector(v) => assert!((v[0].v + 1.77).abs() < 0.05, "{v:?}"),
        other => panic!("{other:?}"),
    }
    assert!(captured
        .0
        .lock()
        .iter()
        .any(|a| a.labels.get("slo") == Some("web") && a.labels.get("severity") == Some("page")));
}
