//! Runs every check on its interval, records results and serves the query API.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ingest::sink::SampleSink;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{broadcast, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::config::Check;
use crate::metrics::SchedulerMetrics;
use crate::state::{CheckState, State, StateEvent};
use crate::{ProbeError, ProbeResult, Prober};

/// Tuning knobs; the defaults suit a few thousand checks.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Probes in flight at once across all checks; the rest wait their turn
    /// (waiting does not count against their timeout).
    pub max_concurrency: usize,
    /// State-change events kept for [`Scheduler::events`].
    pub history_len: usize,
    /// Buffer of the broadcast channel; slow subscribers see `Lagged`.
    pub event_channel_capacity: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            max_concurrency: 256,
            history_len: 1000,
            event_channel_capacity: 256,
        }
    }
}

/// Success ratios of raw probe results; `None` when no probe fell in the window.
/// 24h uses five-minute buckets; 7d and 30d use hour buckets (each accurate to its bucket).
/// Counters live in memory only: they restart empty with the process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UptimeRatios {
    /// Last 24 hours.
    pub h24: Option<f64>,
    /// Last 7 days.
    pub d7: Option<f64>,
    /// Last 30 days.
    pub d30: Option<f64>,
}

/// A snapshot of one check for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckStatus {
    /// Check name.
    pub name: String,
    /// `http`, `tcp` or `command`.
    pub kind: &'static str,
    /// Thresholded state.
    pub state: State,
    /// The latest probe, if any ran yet.
    pub last: Option<ProbeResult>,
    /// Current failure streak.
    pub consecutive_failures: u32,
    /// Current success streak.
    pub consecutive_successes: u32,
    /// Uptime ratios.
    pub uptime: UptimeRatios,
}

/// One check in the `/api/health` shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthEntry {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// Latest probe duration in milliseconds (0 before the first probe).
    #[serde(rename = "responseTime")]
    pub response_time: f64,
    /// Why it is unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Inner {
    sink: Arc<dyn SampleSink>,
    prober: Prober,
    semaphore: Arc<Semaphore>,
    history: Mutex<VecDeque<StateEvent>>,
    history_len: usize,
    events: broadcast::Sender<StateEvent>,
    metrics: SchedulerMetrics,
}

struct Entry {
    check: Arc<Check>,
    state: Arc<Mutex<CheckState>>,
    task: JoinHandle<()>,
}

/// Runs checks and holds their state. Dropping it stops every check.
pub struct Scheduler {
    inner: Arc<Inner>,
    /// In configuration order, which is the order of [`Scheduler::checks`].
    entries: Mutex<Vec<Entry>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("checks", &self.entries.lock().len())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts every check. Must be called inside a tokio runtime (it spawns).
    pub fn start(checks: Vec<Check>, sink: Arc<dyn SampleSink>, opts: SchedulerOptions) -> Result<Self, ProbeError> {
        let (events, _) = broadcast::channel(opts.event_channel_capacity.max(1));
        let inner = Arc::new(Inner {
            sink,
            prober: Prober::new()?,
            semaphore: Arc::new(Semaphore::new(opts.max_concurrency.max(1))),
            history: Mutex::new(VecDeque::new()),
            history_len: opts.history_len,
            events,
            metrics: SchedulerMetrics::default(),
        });
        let sched = Scheduler {
            inner,
            entries: Mutex::new(Vec::new()),
        };
        sched.reload(checks);
        Ok(sched)
    }

    /// Replaces the set of checks. A check whose configuration is unchanged keeps
    /// running with its state and schedule; a changed one restarts from unknown;
    /// a removed one stops (a probe in flight is cancelled, its child killed).
    pub fn reload(&self, checks: Vec<Check>) {
        let mut entries = self.entries.lock();
        let mut old: HashMap<String, Entry> = entries.drain(..).map(|e| (e.check.name.clone(), e)).collect();
        for check in checks {
            match old.remove(&check.name) {
                Some(e) if e.check.source == check.source => entries.push(e),
                prev => {
                    if let Some(prev) = prev {
                        prev.task.abort();
                    }
                    entries.push(self.spawn(check));
                }
            }
        }
        for (_, e) in old {
            e.task.abort();
        }
    }

    fn spawn(&self, check: Check) -> Entry {
        let check = Arc::new(check);
        let state = Arc::new(Mutex::new(CheckState::new()));
        let task = tokio::spawn(run_check(self.inner.clone(), check.clone(), state.clone()));
        Entry { check, state, task }
    }

    /// A snapshot of every check, in configuration order.
    pub fn checks(&self) -> Vec<CheckStatus> {
        let now = model::now_millis();
        let day = Duration::from_secs(86_400);
        self.entries
            .lock()
            .iter()
            .map(|e| {
                let s = e.state.lock();
                CheckStatus {
                    name: e.check.name.clone(),
                    kind: e.check.kind.name(),
                    state: s.state,
                    last: s.last.clone(),
                    consecutive_failures: s.consecutive_failures,
                    consecutive_successes: s.consecutive_successes,
                    uptime: UptimeRatios {
                        h24: s.uptime.ratio(now, day),
                        d7: s.uptime.ratio(now, day * 7),
                        d30: s.uptime.ratio(now, day * 30),
                    },
                }
            })
            .collect()
    }

    /// The `/api/health` view: whether every check is healthy, and each check.
    /// Up is healthy and down unhealthy; while a check is still unknown its latest
    /// raw result decides, and before its first probe it counts as unhealthy
    /// ("not probed yet") — health that was never observed is not claimed.
    pub fn health(&self) -> (bool, BTreeMap<String, HealthEntry>) {
        let mut all = true;
        let mut out = BTreeMap::new();
        for e in self.entries.lock().iter() {
            let s = e.state.lock();
            let healthy = match (s.state, &s.last) {
                (State::Up, _) => true,
                (State::Down, _) => false,
                (State::Unknown, Some(r)) => r.success,
                (State::Unknown, None) => false,
            };
            let error = if healthy {
                None
            } else {
                Some(
                    s.last
                        .as_ref()
                        .and_then(|r| r.error.clone())
                        .unwrap_or_else(|| "not probed yet".to_string()),
                )
            };
            all &= healthy;
            out.insert(
                e.check.name.clone(),
                HealthEntry {
                    status: if healthy { "healthy" } else { "unhealthy" },
                    response_time: s.last.as_ref().map_or(0.0, |r| r.duration.as_secs_f64() * 1000.0),
                    error,
                },
            );
        }
        (all, out)
    }

    /// Recent state changes, oldest first.
    pub fn events(&self) -> Vec<StateEvent> {
        self.inner.history.lock().iter().cloned().collect()
    }

    /// Appends the scheduler's own metrics in the text exposition format.
    pub fn write_metrics(&self, out: &mut String) {
        self.inner.metrics.write(out);
    }

    /// State changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StateEvent> {
        self.inner.events.subscribe()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for e in self.entries.lock().drain(..) {
            e.task.abort();
        }
    }
}

/// The stable offset of a check inside its interval. Stable across restarts
/// (FNV-1a of the name, not a seeded hasher) so probe times stay predictable,
/// and spread so thousands of checks with one interval don't fire together.
pub fn jitter_offset(name: &str, interval: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let interval_ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % interval_ms)
}

/// Delay from wall-clock `now_ms` to the next instant whose position in the
/// interval equals the offset; anchoring to the wall clock keeps a check's probe
/// times the same across restarts and reloads.
fn first_delay(now_ms: i64, interval: Duration, offset: Duration) -> Duration {
    let i = interval.as_millis().max(1) as i64;
    let d = (offset.as_millis() as i64 - now_ms).rem_euclid(i);
    Duration::from_millis(d as u64)
}

async fn run_check(inner: Arc<Inner>, check: Arc<Check>, state: Arc<Mutex<CheckState>>) {
    let offset = jitter_offset(&check.name, check.interval);
    let delay = first_delay(model::now_millis(), check.interval, offset);
    let mut ticker = tokio::time::interval_at(Instant::now() + delay, check.interval);
    // A probe that waited for a permit must not be followed by a burst of catch-up probes.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let due = ticker.tick().await;
        let Ok(permit) = inner.semaphore.clone().acquire_owned().await else {
            return;
        };
        inner.metrics.started_late_by(due.elapsed());
        // Boxed: a probe's future (reqwest's above all) is many KiB, and
        // inline it would sit in every idle check's task between probes.
        let result = Box::pin(inner.prober.probe(&check)).await;
        drop(permit);
        inner.metrics.probe_done(check.kind.name(), result.success);
        record(&inner, &check, &state, result);
    }
}

fn record(inner: &Inner, check: &Check, state: &Mutex<CheckState>, result: ProbeResult) {
    let (transition, current) = {
        let mut s = state.lock();
        let t = s.record(&result, check.failure_threshold, check.success_threshold);
        (t, s.state)
    };
    write_samples(inner, check, &result, current);
    if let Some((from, to)) = transition {
        let event = StateEvent {
            check: check.name.clone(),
            at: result.at,
            from,
            to,
            error: if to == State::Down { result.error.clone() } else { None },
        };
        match to {
            State::Down => tracing::warn!(check = %check.name, error = ?event.error, "check down"),
            _ => tracing::info!(check = %check.name, from = from.as_str(), to = to.as_str(), "check state changed"),
        }
        {
            let mut h = inner.history.lock();
            if inner.history_len > 0 {
                while h.len() >= inner.history_len {
                    h.pop_front();
                }
                h.push_back(event.clone());
            }
        }
        // No subscribers is normal (nothing listens yet); the event is still in history.
        let _ = inner.events.send(event);
    }
}

fn write_samples(inner: &Inner, check: &Check, r: &ProbeResult, state: State) {
    let kind = check.kind.name();
    let name = check.name.as_str();
    let mut app = inner.sink.appender();
    let mut put = |metric: &str, v: f64| {
        // Pairs are already sorted by name: "__name__" < "check" < "kind".
        if let Err(e) = app.append_pairs(&[("__name__", metric), ("check", name), ("kind", kind)], r.at, v) {
            tracing::debug!(check = %name, metric, error = %e, "probe sample refused");
        }
    };
    put("probe_success", if r.success { 1.0 } else { 0.0 });
    put("probe_duration_seconds", r.duration.as_secs_f64());
    if matches!(check.kind, crate::Kind::Http(_)) {
        put("probe_http_status_code", r.http_status.map_or(0.0, f64::from));
    }
    if let Some(t) = r.tls_cert_expiry {
        put("probe_ssl_earliest_cert_expiry", t as f64);
    }
    match state {
        State::Up => put("aerowatch_check_up", 1.0),
        State::Down => put("aerowatch_check_up", 0.0),
        State::Unknown => {}
    }
    if let Err(e) = app.commit() {
        tracing::warn!(check = %name, error = %e, "storing probe samples failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_stable_and_inside_the_interval() {
        let i = Duration::from_secs(30);
        assert_eq!(jitter_offset("web", i), jitter_offset("web", i));
        let offsets: std::collections::HashSet<_> = (0..1000).map(|n| jitter_offset(&format!("c{n}"), i)).collect();
        assert!(offsets.iter().all(|o| *o < i));
        assert!(offsets.len() > 900, "offsets should spread: {}", offsets.len());
        assert_eq!(jitter_offset("x", Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn first_delay_lands_on_the_offset() {
        let i = Duration::from_millis(1000);
        let o = Duration::from_millis(250);
        assert_eq!(first_delay(10_100, i, o), Duration::from_millis(150));
        assert_eq!(first_delay(10_250, i, o), Duration::ZERO);
        assert_eq!(first_delay(10_300, i, o), Duration::from_millis(950));
    }
}
