//! The delivery history: one [`DeliveryRecord`] per notification (per
//! integration and flush), updated by each attempt the dispatcher makes,
//! kept in a bounded ring; plus the counters behind `/metrics`.
//!
//! Attempts of one notification are recognised by receiver, integration,
//! group key and flush time. The dispatcher gives up in three ways, all of
//! which end a record as `failed`: a permanent error; dropping an attempt at
//! its deadline (the attempt's guard notices); or not trying again because
//! the next backoff would pass the deadline (noticed lazily once the
//! notification's timeout has elapsed since its first attempt).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::time::{Duration, Instant};

use alertmanager::dispatch::Notification;
use alertmanager::NotifyError;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

/// The integrations Alertmanager's metrics are pre-initialised for.
const INTEGRATIONS: [&str; 4] = ["email", "pagerduty", "slack", "webhook"];
/// Alertmanager's `notification_latency_seconds` buckets.
const LATENCY_BUCKETS: [f64; 5] = [1.0, 5.0, 10.0, 15.0, 20.0];
/// Slack between the dispatcher's deadline and ours before a record that
/// waits for a retry is declared failed.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The first attempt is under way.
    Pending,
    /// Delivered.
    Ok,
    /// Given up.
    Failed,
    /// The last attempt failed with a retryable error; the dispatcher will
    /// try again until the notification's timeout.
    Retrying,
}

/// An alert of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRef {
    /// The `alertname` label (empty when absent).
    pub alertname: String,
    /// Fingerprint, 16 hex digits.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
}

/// One notification's delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// Increasing id.
    pub id: u64,
    /// When the first attempt started.
    pub time: DateTime<Utc>,
    /// Receiver name.
    pub receiver: String,
    /// `email`, `pagerduty`, `slack` or `webhook`.
    pub integration: String,
    /// Index among the receiver's integrations of that kind.
    pub index: u32,
    /// The aggregation group's key.
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alerts in the notification.
    pub alerts: Vec<AlertRef>,
    /// Where it stands.
    pub outcome: Outcome,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// From the start of the first attempt to the end of the last one.
    pub duration_ms: u64,
}

type AttemptKey = (String, String, i64);

struct Open {
    key: AttemptKey,
    first_start: Instant,
    deadline: Instant,
    in_flight: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    notifications: u64,
    failed: u64,
    requests: u64,
    requests_failed: u64,
}

#[derive(Debug, Clone, Default)]
struct Latency {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

struct State {
    records: VecDeque<DeliveryRecord>,
    open: HashMap<u64, Open>,
    by_key: HashMap<AttemptKey, u64>,
    next_id: u64,
    by_integration: BTreeMap<String, Counts>,
    by_receiver: BTreeMap<(String, String), Counts>,
    latency: BTreeMap<String, Latency>,
}

/// Delivery records and counters.
pub struct History {
    capacity: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("capacity", &self.capacity)
            .field("records", &self.state.lock().records.len())
            .finish()
    }
}

impl History {
    /// A history keeping `capacity` records (at least one).
    pub fn new(capacity: usize) -> History {
        let capacity = capacity.max(1);
        let by_integration = INTEGRATIONS
            .iter()
            .map(|i| (i.to_string(), Counts::default()))
            .collect();
        let latency = INTEGRATIONS
            .iter()
            .map(|i| (i.to_string(), Latency::default()))
            .collect();
        History {
            capacity,
            state: Mutex::new(State {
                records: VecDeque::with_capacity(capacity.min(1024)),
                open: HashMap::new(),
                by_key: HashMap::new(),
                next_id: 1,
                by_integration,
                by_receiver: BTreeMap::new(),
                latency,
            }),
        }
    }

    /// Creates zero-valued per-receiver counters, so `rate()` works from the
    /// first notification on.
    pub fn init_receivers<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut st = self.state.lock();
        for (receiver, integration) in pairs {
            st.by_receiver
                .entry((receiver.to_string(), integration.to_string()))
                .or_default();
        }
    }

    /// The records, newest first.
    pub fn records(&self) -> Vec<DeliveryRecord> {
        let mut st = self.state.lock();
        st.sweep(Instant::now());
        st.records.iter().rev().cloned().collect()
    }

    /// Starts an attempt of `n`: a new record for its first attempt, the
    /// existing one for a retry.
    pub fn begin(&self, n: &Notification) -> Attempt<'_> {
        let now = Instant::now();
        let key: AttemptKey = (
            n.integration.key.to_string(),
            n.group_key.clone(),
            n.timestamp.timestamp_nanos_opt().unwrap_or(i64::MAX),
        );
        let mut st = self.state.lock();
        st.sweep(now);
        let existing = st.by_key.get(&key).copied();
        let id = match existing.filter(|id| st.open.contains_key(id)) {
            Some(id) => {
                if let Some(o) = st.open.get_mut(&id) {
                    o.in_flight = true;
                }
                if let Some(r) = st.record_mut(id) {
                    r.attempts += 1;
                }
                id
            }
            None => {
                let id = st.next_id;
                st.next_id += 1;
                let integration = n.integration.key.integration.clone();
                let receiver = n.receiver.clone();
                st.count(&receiver, &integration, |c| c.notifications += 1);
                st.records.push_back(DeliveryRecord {
                    id,
                    time: Utc::now(),
                    receiver,
                    integration,
                    index: n.integration.key.idx,
                    group_key: n.group_key.clone(),
                    status: n.status.as_str().to_string(),
                    alerts: n
                        .alerts
                        .iter()
                        .map(|a| AlertRef {
                            alertname: a.alert.labels.get("alertname").unwrap_or_default().to_string(),
                            fingerprint: a.fingerprint.to_string(),
                            status: a.status.as_str().to_string(),
                        })
                        .collect(),
                    outcome: Outcome::Pending,
                    attempts: 1,
                    last_error: None,
                    duration_ms: 0,
                });
                while st.records.len() > self.capacity {
                    if let Some(old) = st.records.pop_front() {
                        if let Some(o) = st.open.remove(&old.id) {
                            st.by_key.remove(&o.key);
                        }
                    }
                }
                st.open.insert(
                    id,
                    Open {
                        key: key.clone(),
                        first_start: now,
                        deadline: now + n.timeout,
                        in_flight: true,
                    },
                );
                st.by_key.insert(key, id);
                id
            }
        };
        Attempt {
            history: self,
            id,
            receiver: n.receiver.clone(),
            integration: n.integration.key.integration.clone(),
            started: now,
            done: false,
        }
    }

    fn settle(&self, a: &Attempt<'_>, result: Result<(), &NotifyError>, abandoned: bool) {
        let now = Instant::now();
        let elapsed = now.duration_since(a.started).as_secs_f64();
        let mut st = self.state.lock();
        st.count(&a.receiver, &a.integration, |c| {
            c.requests += 1;
            if result.is_err() || abandoned {
                c.requests_failed += 1;
            }
        });
        let lat = st.latency.entry(a.integration.clone()).or_default();
        lat.count += 1;
        lat.sum += elapsed;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if elapsed <= *b {
                lat.buckets[i] += 1;
            }
        }
        let Some(open) = st.open.get_mut(&a.id) else { return };
        open.in_flight = false;
        let first_start = open.first_start;
        let (outcome, error) = match (result, abandoned) {
            (_, true) => (
                Outcome::Failed,
                Some("attempt abandoned: the notification's timeout passed".to_string()),
            ),
            (Ok(()), _) => (Outcome::Ok, None),
            (Err(e), _) if e.retryable => (Outcome::Retrying, Some(e.message.clone())),
            (Err(e), _) => (Outcome::Failed, Some(e.message.clone())),
        };
        if outcome != Outcome::Retrying {
            if let Some(o) = st.open.remove(&a.id) {
                st.by_key.remove(&o.key);
            }
        }
        if outcome == Outcome::Failed {
            st.count(&a.receiver, &a.integration, |c| c.failed += 1);
        }
        if let Some(r) = st.record_mut(a.id) {
            r.outcome = outcome;
            if error.is_some() || outcome == Outcome::Ok {
                r.last_error = error;
            }
            r.duration_ms = u64::try_from(now.duration_since(first_start).as_millis()).unwrap_or(u64::MAX);
        }
    }

    /// Appends the metric families in the Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        let mut st = self.state.lock();
        st.sweep(Instant::now());
        let by_integration = |out: &mut String, name: &str, help: &str, get: fn(&Counts) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (integration, c) in &st.by_integration {
                let _ = writeln!(out, "{name}{{integration=\"{}\"}} {}", escape(integration), get(c));
            }
        };
        by_integration(
            out,
            "alertmanager_notifications_total",
            "The total number of attempted notifications.",
            |c| c.notifications,
        );
        by_integration(
            out,
            "alertmanager_notifications_failed_total",
            "The total number of failed notifications.",
            |c| c.failed,
        );
        by_integration(
            out,
            "alertmanager_notification_requests_total",
            "The total number of attempted notification requests.",
            |c| c.requests,
        );
        by_integration(
            out,
            "alertmanager_notification_requests_failed_total",
            "The total number of failed notification requests.",
            |c| c.requests_failed,
        );
        let name = "alertmanager_notification_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} The latency of notifications in seconds.\n# TYPE {name} histogram"
        );
        for (integration, l) in &st.latency {
            let i = escape(integration);
            for (b, n) in LATENCY_BUCKETS.iter().zip(l.buckets) {
                let _ = writeln!(out, "{name}_bucket{{integration=\"{i}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_bucket{{integration=\"{i}\",le=\"+Inf\"}} {}", l.count);
            let _ = writeln!(out, "{name}_sum{{integration=\"{i}\"}} {}", l.sum);
            let _ = writeln!(out, "{name}_count{{integration=\"{i}\"}} {}", l.count);
        }
        let by_receiver = |out: &mut String, name: &str, help: &str, get: fn(&Counts) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((receiver, integration), c) in &st.by_receiver {
                let _ = writeln!(
                    out,
                    "{name}{{receiver=\"{}\",integration=\"{}\"}} {}",
                    escape(receiver),
                    escape(integration),
                    get(c)
                );
            }
        };
        by_receiver(
            out,
            "aerowatch_notifications_total",
            "Notifications Aerowatch tried to deliver, by receiver and integration.",
            |c| c.notifications,
        );
        by_receiver(
            out,
            "aerowatch_notifications_failed_total",
            "Notifications that could not be delivered, by receiver and integration.",
            |c| c.failed,
        );
    }
}

impl State {
    fn record_mut(&mut self, id: u64) -> Option<&mut DeliveryRecord> {
        let idx = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        self.records.get_mut(idx)
    }

    fn count(&mut self, receiver: &str, integration: &str, f: impl Fn(&mut Counts)) {
        f(self.by_integration.entry(integration.to_string()).or_default());
        f(self
            .by_receiver
            .entry((receiver.to_string(), integration.to_string()))
            .or_default());
    }

    /// Ends records waiting for a retry that can no longer come.
    fn sweep(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, o)| !o.in_flight && now >= o.deadline + DEADLINE_GRACE)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let Some(o) = self.open.remove(&id) else { continue };
            self.by_key.remove(&o.key);
            let Some(r) = self.record_mut(id) else { continue };
            r.outcome = Outcome::Failed;
            r.last_error = Some(match r.last_error.take() {
                Some(e) => format!("{e} (no time left to retry)"),
                None => "no time left to retry".to_string(),
            });
            let (receiver, integration) = (r.receiver.clone(), r.integration.clone());
            self.count(&receiver, &integration, |c| c.failed += 1);
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One attempt in progress; [`Attempt::finish`] records its result. Dropped
/// unfinished (the dispatcher's deadline cancelled it), it records a
/// failure.
pub struct Attempt<'a> {
    history: &'a History,
    id: u64,
    receiver: String,
    integration: String,
    started: Instant,
    done: bool,
}

impl Attempt<'_> {
    /// The record's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Records the attempt's result.
    pub fn finish(mut self, result: &Result<(), NotifyError>) {
        self.done = true;
        self.history.settle(&self, result.as_ref().map(|_| ()), false);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.history.settle(self, Ok(()), true);
        }
    }
}
