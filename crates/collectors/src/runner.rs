//! Runs the enabled collectors: one task each, collecting every interval and
//! writing one batch per collection to the sink.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ingest::sink::SampleSink;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::config::{CollectorsConfig, DEFAULT_INTERVAL};
use crate::host::HostCollector;
use crate::postgres::PostgresCollector;
use crate::redis::RedisCollector;
use crate::sample::{Outcome, Sample};

/// How long [`Collectors::stop`] waits for a task to finish its collection.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The running collectors. Dropping it aborts them; [`Collectors::stop`] lets
/// a collection in progress finish first.
pub struct Collectors {
    shutdown: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl std::fmt::Debug for Collectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collectors").field("running", &self.running()).finish()
    }
}

impl Collectors {
    /// Spawns one task per enabled collector on the current tokio runtime (so it
    /// must be called inside one). Each collects at once, then every interval,
    /// and appends one batch stamped with the wall-clock time the collection
    /// started. A section that does not validate is logged and left out; call
    /// [`CollectorsConfig::validate`] first to reject it instead.
    pub fn start(config: &CollectorsConfig, sink: Arc<dyn SampleSink>) -> Collectors {
        let interval = match config.interval() {
            d if d.is_zero() => {
                tracing::warn!("collectors.interval is zero; using {}s", DEFAULT_INTERVAL.as_secs());
                DEFAULT_INTERVAL
            }
            d => d,
        };
        let (shutdown, _) = watch::channel(false);
        let tasks = build(config)
            .into_iter()
            .map(|c| {
                let name = c.name();
                let task = tokio::spawn(run(c, interval, sink.clone(), shutdown.subscribe()));
                (name, task)
            })
            .collect();
        Collectors { shutdown, tasks }
    }

    /// Names of the collectors running (`host`, `postgres`, `redis`).
    pub fn running(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|(n, _)| *n).collect()
    }

    /// Stops every task, letting a collection in progress finish (up to a few
    /// seconds) so its batch is not lost. For config reloads and shutdown.
    pub async fn stop(mut self) {
        // Tasks that already ended have dropped their receivers; nothing to tell them.
        let _ = self.shutdown.send(true);
        for (name, mut task) in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                tracing::warn!(collector = name, "collector did not stop in time; aborting it");
                task.abort();
            }
        }
    }

    /// Runs every enabled collector once, concurrently, and returns all their
    /// samples (for tests, diagnostics and one-shot runs). Opens and closes its
    /// own connections.
    pub async fn collect_once(config: &CollectorsConfig) -> Vec<Sample> {
        let mut handles = Vec::new();
        for mut c in build(config) {
            handles.push(tokio::spawn(async move { c.collect().await }));
        }
        let mut out = Vec::new();
        for h in handles {
            match h.await {
                Ok(o) => out.extend(o.samples),
                Err(e) => tracing::warn!(error = %e, "collector task failed"),
            }
        }
        out
    }
}

impl Drop for Collectors {
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// The enabled collectors whose sections compile.
fn build(config: &CollectorsConfig) -> Vec<Collector> {
    let timeout = config.timeout().max(Duration::from_millis(100));
    let mut out = Vec::new();
    if config.host.enabled {
        match config.host.compile() {
            Ok(settings) => out.push(Collector::Host(HostTask {
                inner: Arc::new(HostCollector::new(settings, timeout)),
                timeout,
                pending: None,
            })),
            Err(problems) => tracing::error!(?problems, "host collector not started: invalid configuration"),
        }
    }
    if let Some(pg) = &config.postgres {
        match pg.compile() {
            Ok(target) => out.push(Collector::Postgres(Box::new(PostgresCollector::new(target, timeout)))),
            Err(problems) => tracing::error!(?problems, "postgres collector not started: invalid configuration"),
        }
    }
    if let Some(r) = &config.redis {
        match r.compile() {
            Ok(target) => out.push(Collector::Redis(RedisCollector::new(target, timeout))),
            Err(problems) => tracing::error!(?problems, "redis collector not started: invalid configuration"),
        }
    }
    out
}

enum Collector {
    Host(HostTask),
    // Boxed: the connection config makes it several times larger than the others.
    Postgres(Box<PostgresCollector>),
    Redis(RedisCollector),
}

impl Collector {
    fn name(&self) -> &'static str {
        match self {
            Collector::Host(_) => "host",
            Collector::Postgres(_) => "postgres",
            Collector::Redis(_) => "redis",
        }
    }

    async fn collect(&mut self) -> Outcome {
        match self {
            Collector::Host(h) => h.collect().await,
            Collector::Postgres(p) => p.collect().await,
            Collector::Redis(r) => r.collect().await,
        }
    }
}

/// Runs the blocking host collection off the async threads, with a deadline.
struct HostTask {
    inner: Arc<HostCollector>,
    timeout: Duration,
    /// A collection that outlived its deadline; no new one starts before it ends,
    /// so a stuck filesystem cannot pile up blocking threads.
    pending: Option<JoinHandle<Outcome>>,
}

impl HostTask {
    async fn collect(&mut self) -> Outcome {
        if self.pending.as_ref().is_some_and(|p| !p.is_finished()) {
            return failed("collection", "the previous collection has not finished yet".to_string());
        }
        self.pending = None;
        let inner = self.inner.clone();
        let mut handle = tokio::task::spawn_blocking(move || inner.collect());
        match tokio::time::timeout(self.timeout, &mut handle).await {
            Ok(Ok(mut outcome)) => {
                // Lets the log say so when an earlier timeout is over.
                outcome.parts.push(("collection".to_string(), Ok(())));
                outcome
            }
            Ok(Err(e)) => failed("collection", format!("host collection failed: {e}")),
            Err(_) => {
                self.pending = Some(handle);
                failed("collection", format!("timed out after {:?}", self.timeout))
            }
        }
    }
}

fn failed(part: &str, error: String) -> Outcome {
    Outcome {
        samples: Vec::new(),
        parts: vec![(part.to_string(), Err(error))],
    }
}

async fn run(mut c: Collector, interval: Duration, sink: Arc<dyn SampleSink>, mut shutdown: watch::Receiver<bool>) {
    let name = c.name();
    let mut states = StateLog::default();
    let mut ticker = tokio::time::interval(interval);
    // A slow collection must not be followed by a burst of catch-up ones.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        let t = model::now_millis();
        let outcome = c.collect().await;
        states.observe(name, &outcome.parts);
        write(&*sink, name, t, &outcome.samples);
    }
}

fn write(sink: &dyn SampleSink, collector: &str, t: i64, samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    let mut app = sink.appender();
    for (labels, v) in samples {
        if let Err(e) = app.append(labels, t, *v) {
            tracing::debug!(collector, series = %labels, error = %e, "collected sample refused");
        }
    }
    if let Err(e) = app.commit() {
        tracing::warn!(collector, error = %e, "storing collected samples failed");
    }
}

/// Logs each part's failures once per change of state, not every interval.
#[derive(Debug, Default)]
struct StateLog {
    ok: HashMap<String, bool>,
}

impl StateLog {
    fn observe(&mut self, collector: &str, parts: &[(String, Result<(), String>)]) {
        for (part, result) in parts {
            let previous = self.ok.insert(part.clone(), result.is_ok());
            match (previous, result) {
                (None | Some(true), Err(error)) => tracing::warn!(collector, part, %error, "collector failing"),
                (Some(false), Ok(())) => tracing::info!(collector, part, "collector recovered"),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_log_reports_changes_only() {
        let mut s = StateLog::default();
        let err = vec![("connection".to_string(), Err("refused".to_string()))];
        let ok = vec![("connection".to_string(), Ok(()))];
        s.observe("redis", &err);
        assert_eq!(s.ok.get("connection"), Some(&false));
        s.observe("redis", &err);
        s.observe("redis", &ok);
        assert_eq!(s.ok.get("connection"), Some(&true));
    }

    #[tokio::test]
    async fn collect_once_with_nothing_enabled_is_empty() {
        let cfg = CollectorsConfig {
            host: crate::HostConfig {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(Collectors::collect_once(&cfg).await.is_empty());
        let c = Collectors::start(&cfg, Arc::new(NullSink));
        assert!(c.running().is_empty());
        c.stop().await;
    }

    struct NullSink;
    struct NullAppender;
    impl SampleSink for NullSink {
        fn appender(&self) -> Box<dyn ingest::sink::BatchAppender> {
            Box::new(NullAppender)
        }
    }
    impl ingest::sink::BatchAppender for NullAppender {
        fn append(&mut self, _: &model::Labels, _: i64, _: f64) -> Result<(), ingest::sink::SampleRefusal> {
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<u64, ingest::sink::CommitError> {
            Ok(0)
        }
    }
}
