//! What the rule-engine tests share: a real store as the sample sink, a
//! notifier that keeps what it is sent, and a manager whose evaluations the
//! test drives itself.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ingest::sink::{BatchAppender, CommitError, SampleRefusal, SampleSink};
use model::Labels;
use parking_lot::Mutex;
use rules::{AlertSink, EvalContext, Manager, OutgoingAlert, RuleSources};

struct DbSink(tsdb::Db);
struct DbBatch(tsdb::HeadAppender);

impl BatchAppender for DbBatch {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        self.0
            .append(labels, t, v)
            .map(|_| ())
            .map_err(|e| SampleRefusal::Rejected(e.to_string()))
    }
    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        self.0.commit().map(|_| 0).map_err(|e| CommitError(e.to_string()))
    }
}

impl SampleSink for DbSink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(DbBatch(self.0.appender()))
    }
}

/// Keeps every alert sent.
#[derive(Default)]
pub struct Captured(pub Mutex<Vec<OutgoingAlert>>);

impl AlertSink for Captured {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        self.0.lock().extend(alerts);
    }
}

/// A manager over `db` running the groups of `sources`, each with an
/// interval far longer than the test so the scheduler stays out of the way:
/// the test evaluates with `Manager::eval_all_at`.
pub fn driven_manager(
    db: &tsdb::Db,
    sources: &RuleSources,
    dir: &Path,
    external_labels: BTreeMap<String, String>,
    captured: Arc<Captured>,
) -> Manager {
    let specs: Vec<rules::GroupSpec> = rules::load(sources, dir, rules::template::go_templater().as_ref())
        .unwrap()
        .groups
        .into_iter()
        .map(|mut g| {
            g.def.interval = Some(model::PromDuration(Duration::from_secs(24 * 3600)));
            g
        })
        .collect();
    let m = Manager::new(
        EvalContext {
            engine: Arc::new(promql::Engine::new(promql::EngineOptions::default())),
            queryable: Arc::new(db.clone()),
            sink: Arc::new(DbSink(db.clone())),
            notifier: captured,
            templater: rules::template::go_templater(),
            external_labels,
            external_url: "http://aerowatch.test".into(),
            resend_delay_ms: 60_000,
            outage_tolerance_ms: 3_600_000,
            for_grace_period_ms: 600_000,
            metrics: Arc::default(),
        },
        Duration::from_secs(3600),
    );
    m.update(specs).unwrap();
    m
}
