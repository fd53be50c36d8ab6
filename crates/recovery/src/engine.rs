//! The recovery engine: turns check state changes and alerts into gated,
//! retried, verified recoveries, and keeps the audit trail.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use probes::{State, StateEvent};
use tokio::sync::{broadcast, watch, Semaphore};

use crate::action;
use crate::config::{Strategy, Trigger};
use crate::history::{self, AttemptRecord, History, Outcome};

/// A boxed future, so the traits stay object-safe (`Arc<dyn Verifier>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Confirms a recovery worked. The server runs the check once
/// (`probes::Prober::probe`) and answers with its success.
pub trait Verifier: Send + Sync + 'static {
    /// `Ok(true)` if `check` passes now; `Err` if it could not be run at all.
    fn verify<'a>(&'a self, check: &'a str) -> BoxFuture<'a, Result<bool, String>>;
}

/// Told how recoveries end, so the server can notify people: every finished
/// recovery (recovered, or all attempts failed), and — critical — a strategy
/// giving up when its circuit breaker opens.
pub trait Escalator: Send + Sync + 'static {
    /// Called exactly once per breaker opening. Must not block.
    fn escalate(&self, strategy: &str, message: &str);
    /// Called once per recovery that ran (not for dry runs or skips), after
    /// its last attempt. Must not block.
    fn recovery_finished(&self, strategy: &str, trigger: &str, recovered: bool, message: &str) {
        let _ = (strategy, trigger, recovered, message);
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Recoveries running at once, across all strategies.
    pub max_concurrency: usize,
    /// History entries kept (memory and snapshot).
    pub history_len: usize,
    /// Where `recovery.json` lives; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_concurrency: 4,
            history_len: 1000,
            data_dir: None,
        }
    }
}

/// Errors building the engine.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The HTTP client for http actions could not be built.
    #[error("building HTTP client: {0}")]
    HttpClient(String),
    /// The persisted history could not be read.
    #[error("loading recovery history from {path}: {source}")]
    Load {
        /// The data dir.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What a trigger did for one strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// A recovery was started (it may wait for a concurrency slot).
    Started {
        /// Strategy name.
        strategy: String,
    },
    /// Recorded as skipped ([`Outcome::SkippedCooldown`] or [`Outcome::SkippedBreakerOpen`]).
    Skipped {
        /// Strategy name.
        strategy: String,
        /// Why.
        outcome: Outcome,
    },
    /// A recovery of this strategy is already running; nothing recorded.
    AlreadyRunning {
        /// Strategy name.
        strategy: String,
    },
    /// Counted towards `failure_threshold`, not reached yet.
    BelowThreshold {
        /// Strategy name.
        strategy: String,
        /// Down transitions seen.
        seen: u32,
    },
}

/// The recovery engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    strategies: Vec<Arc<Strategy>>,
    verifier: Arc<dyn Verifier>,
    escalator: Arc<dyn Escalator>,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    data_dir: Option<PathBuf>,
    state: Mutex<EngineState>,
    /// Serialises snapshot writes: they share one temp file.
    save_lock: tokio::sync::Mutex<()>,
    active: watch::Sender<usize>,
    rng: AtomicU64,
}

struct EngineState {
    history: History,
    running: HashSet<String>,
    /// Down transitions seen per strategy since its last recovery started.
    downs: HashMap<String, u32>,
    counters: BTreeMap<(String, Outcome), u64>,
}

impl Engine {
    /// Builds the engine and loads the persisted history and cooldown/breaker
    /// state from `opts.data_dir`.
    pub async fn new(
        strategies: Vec<Strategy>,
        verifier: Arc<dyn Verifier>,
        escalator: Arc<dyn Escalator>,
        opts: EngineOptions,
    ) -> Result<Self, RecoveryError> {
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| RecoveryError::HttpClient(e.to_string()))?;
        let history = match &opts.data_dir {
            Some(dir) => match history::load(dir).await {
                Ok(Some(s)) => History::from_snapshot(opts.history_len, s),
                Ok(None) => History::new(opts.history_len),
                Err(source) => {
                    return Err(RecoveryError::Load {
                        path: dir.clone(),
                        source,
                    })
                }
            },
            None => History::new(opts.history_len),
        };
        let seed = (model::now_millis() as u64) ^ u64::from(std::process::id()).rotate_left(32);
        Ok(Engine {
            inner: Arc::new(Inner {
                strategies: strategies.into_iter().map(Arc::new).collect(),
                verifier,
                escalator,
                client,
                slots: Arc::new(Semaphore::new(opts.max_concurrency.max(1))),
                data_dir: opts.data_dir,
                state: Mutex::new(EngineState {
                    history,
                    running: HashSet::new(),
                    downs: HashMap::new(),
                    counters: BTreeMap::new(),
                }),
                save_lock: tokio::sync::Mutex::new(()),
                active: watch::Sender::new(0),
                rng: AtomicU64::new(seed),
            }),
        })
    }

    /// Consumes check state changes until the channel closes. Spawn it:
    /// `tokio::spawn(engine.clone().run(scheduler.subscribe()))`.
    pub async fn run(self, mut events: broadcast::Receiver<StateEvent>) {
        loop {
            match events.recv().await {
                Ok(ev) => {
                    self.handle_event(&ev);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // A missed Down means a missed recovery; nothing to replay, so say so.
                    tracing::warn!(missed = n, "recovery engine lagged behind check events");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Reacts to one state change: a change to Down triggers the strategies
    /// watching that check.
    pub fn handle_event(&self, ev: &StateEvent) -> Vec<Dispatch> {
        if ev.to != State::Down {
            return Vec::new();
        }
        self.trigger(|t| matches!(t, Trigger::Check(c) if *c == ev.check))
    }

    /// Triggers the strategies watching alert `name`; the server calls this
    /// when the alert starts firing.
    pub fn trigger_alert(&self, name: &str) -> Vec<Dispatch> {
        self.trigger(|t| matches!(t, Trigger::Alert(a) if a == name))
    }

    /// Audit history, newest first.
    pub fn history(&self) -> Vec<AttemptRecord> {
        self.inner.state.lock().history.records.iter().rev().cloned().collect()
    }

    /// Waits until no recovery is running or queued.
    pub async fn wait_idle(&self) {
        let mut rx = self.inner.active.subscribe();
        // The sender lives in `inner`, which we hold, so this cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Appends `recovery_attempts_total{strategy,outcome}` in Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        let st = self.inner.state.lock();
        out.push_str("# HELP recovery_attempts_total Recovery history entries by strategy and outcome.\n");
        out.push_str("# TYPE recovery_attempts_total counter\n");
        for ((strategy, outcome), n) in &st.counters {
            let _ = writeln!(
                out,
                "recovery_attempts_total{{strategy=\"{}\",outcome=\"{}\"}} {n}",
                escape_label(strategy),
                outcome.as_str()
            );
        }
    }

    fn trigger(&self, watches: impl Fn(&Trigger) -> bool) -> Vec<Dispatch> {
        let now = model::now_millis();
        let mut out = Vec::new();
        let mut skipped = false;
        for s in self.inner.strategies.iter().filter(|s| watches(&s.trigger)) {
            let mut st = self.inner.state.lock();
            let name = s.name.clone();
            if st.running.contains(&name) {
                out.push(Dispatch::AlreadyRunning { strategy: name });
                continue;
            }
            let seen = {
                let d = st.downs.entry(name.clone()).or_insert(0);
                *d = d.saturating_add(1);
                *d
            };
            if seen < s.failure_threshold {
                out.push(Dispatch::BelowThreshold { strategy: name, seen });
                continue;
            }
            st.downs.remove(&name);
            let gate = {
                let ss = st.history.state(&name);
                if ss.breaker_open_until.is_some_and(|until| now < until) {
                    Some(Outcome::SkippedBreakerOpen)
                } else if ss.last_end.is_some_and(|end| now < end.saturating_add(ms(s.cooldown))) {
                    Some(Outcome::SkippedCooldown)
                } else {
                    None
                }
            };
            if let Some(outcome) = gate {
                tracing::info!(strategy = %name, outcome = outcome.as_str(), "recovery skipped");
                record(&mut st, s, now, now, 0, outcome, None, String::new());
                skipped = true;
                out.push(Dispatch::Skipped {
                    strategy: name,
                    outcome,
                });
                continue;
            }
            st.running.insert(name.clone());
            drop(st);
            self.inner.active.send_modify(|n| *n += 1);
            let engine = self.clone();
            let strategy = Arc::clone(s);
            tokio::spawn(async move {
                engine.recover(&strategy).await;
            });
            out.push(Dispatch::Started { strategy: name });
        }
        if skipped {
            self.spawn_save();
        }
        out
    }

    async fn recover(&self, s: &Strategy) {
        let inner = &self.inner;
        let permit = Arc::clone(&inner.slots).acquire_owned().await;
        let trigger = s.trigger.to_string();
        let summary = s.action.summary();
        let mut recovered = false;
        let mut end = model::now_millis();
        let mut attempts = 0;
        let mut last_error = None;
        if s.dry_run {
            tracing::info!(strategy = %s.name, trigger = %trigger, action = %summary, "dry run: would run recovery action");
            let mut st = inner.state.lock();
            record(&mut st, s, end, end, 1, Outcome::DryRun, None, String::new());
        } else {
            for attempt in 1..=s.max_attempts {
                let started = model::now_millis();
                tracing::info!(strategy = %s.name, attempt, action = %summary, "running recovery action");
                let out = action::run(&s.action, s.timeout, &inner.client).await;
                let error = match out.error {
                    Some(e) => Some(e),
                    None => self.verify(s).await.err(),
                };
                end = model::now_millis();
                attempts = attempt;
                last_error.clone_from(&error);
                recovered = error.is_none();
                let outcome = match (recovered, attempt == s.max_attempts) {
                    (true, _) => Outcome::Recovered,
                    (false, true) => Outcome::Failed,
                    (false, false) => Outcome::AttemptFailed,
                };
                tracing::info!(strategy = %s.name, attempt, outcome = outcome.as_str(), error = ?error, "recovery attempt finished");
                {
                    let mut st = inner.state.lock();
                    record(&mut st, s, started, end, attempt, outcome, error, out.stdout);
                }
                if recovered {
                    break;
                }
                if attempt < s.max_attempts {
                    tokio::time::sleep(self.backoff(s, attempt)).await;
                }
            }
        }
        drop(permit);

        let escalation = {
            let mut st = inner.state.lock();
            st.running.remove(&s.name);
            let ss = st.history.state(&s.name);
            ss.last_end = Some(end);
            let window = ms(s.breaker_window);
            ss.failures.retain(|t| end.saturating_sub(*t) < window);
            if !recovered && !s.dry_run {
                ss.failures.push(end);
                if ss.failures.len() >= s.breaker_failures as usize {
                    ss.failures.clear();
                    ss.breaker_open_until = Some(end.saturating_add(window));
                    Some(format!(
                        "recovery strategy {:?} failed {} times within {}; circuit breaker open, no further attempts for {}",
                        s.name,
                        s.breaker_failures,
                        model::PromDuration(s.breaker_window),
                        model::PromDuration(s.breaker_window),
                    ))
                } else {
                    None
                }
            } else {
                None
            }
        };
        if !s.dry_run {
            let message = if recovered {
                format!("recovered after {attempts} attempt(s) of {summary}")
            } else {
                format!(
                    "not recovered after {attempts} attempt(s) of {summary}: {}",
                    last_error.as_deref().unwrap_or("unknown error")
                )
            };
            inner
                .escalator
                .recovery_finished(&s.name, &trigger, recovered, &message);
        }
        if let Some(msg) = escalation {
            tracing::error!(strategy = %s.name, "{msg}");
            inner.escalator.escalate(&s.name, &msg);
        }
        // Persist before reporting idle, so a caller that waits and then restarts sees the state.
        self.save().await;
        inner.active.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// Ok when the recovery is confirmed. Alert triggers have no check to run,
    /// so the action's own success is all there is.
    async fn verify(&self, s: &Strategy) -> Result<(), String> {
        let Trigger::Check(check) = &s.trigger else {
            return Ok(());
        };
        match tokio::time::timeout(s.timeout, self.inner.verifier.verify(check)).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!("verification: check {check:?} still failing")),
            Ok(Err(e)) => Err(format!("verification of check {check:?} failed: {e}")),
            Err(_) => Err(format!("verification of check {check:?} timed out")),
        }
    }

    /// Exponential backoff with full jitter: uniform in [0, min(max, base·2^(n-1))],
    /// so strategies failing together don't retry in lockstep.
    fn backoff(&self, s: &Strategy, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        let cap = s.backoff.saturating_mul(factor).min(s.max_backoff);
        let cap_ms = cap.as_millis() as u64;
        if cap_ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next_random() % (cap_ms + 1))
    }

    /// splitmix64: jitter needs spread, not cryptographic quality.
    fn next_random(&self) -> u64 {
        let mut z = self
            .inner
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn spawn_save(&self) {
        if self.inner.data_dir.is_none() {
            return;
        }
        let engine = self.clone();
        self.inner.active.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            engine.save().await;
            engine.inner.active.send_modify(|n| *n = n.saturating_sub(1));
        });
    }

    async fn save(&self) {
        let Some(dir) = &self.inner.data_dir else {
            return;
        };
        let _guard = self.inner.save_lock.lock().await;
        // Taken under the save lock so the last write always carries the newest state.
        let snap = self.inner.state.lock().history.snapshot();
        if let Err(e) = history::save(dir, &snap).await {
            tracing::warn!(dir = %dir.display(), error = %e, "saving recovery history failed");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    st: &mut EngineState,
    s: &Strategy,
    started_at: i64,
    finished_at: i64,
    attempt: u32,
    outcome: Outcome,
    error: Option<String>,
    stdout_tail: String,
) {
    st.history.push(AttemptRecord {
        id: 0,
        strategy: s.name.clone(),
        trigger: s.trigger.to_string(),
        started_at,
        finished_at,
        attempt,
        action: s.action.summary(),
        outcome,
        error,
        stdout_tail,
    });
    *st.counters.entry((s.name.clone(), outcome)).or_insert(0) += 1;
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
