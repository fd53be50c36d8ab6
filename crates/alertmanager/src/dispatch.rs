//! The dispatcher (`dispatch/dispatch.go` plus the notification pipeline of
//! `notify/notify.go`): aggregation groups, their timers, muting, dedup
//! against the notification log, and handing batches to a [`Notifier`].
//!
//! # Design
//!
//! The grouping and timing logic is a synchronous state machine driven by a
//! [`Clock`]: [`Dispatcher::insert`] files an alert into the groups of every
//! route it matches, [`Dispatcher::next_deadline`] says when the next group
//! is due, [`Dispatcher::flush_due`] runs the due flushes and returns
//! [`FlushJob`]s (the notifications to deliver), and
//! [`Dispatcher::complete`] records the delivery outcome (notification log,
//! removal of resolved alerts). [`Dispatcher::run`] is the async driver used
//! in production: it sleeps until the next deadline (or until an alert
//! arrives), delivers jobs concurrently with retries and a timeout, and
//! completes them. Tests drive the state machine directly with a
//! [`crate::clock::ManualClock`], so hours of timers run deterministically.
//!
//! # Timing (as in Alertmanager)
//!
//! A new group flushes `group_wait` after its first alert, or at once when
//! that alert started more than `group_wait` ago (e.g. after a restart);
//! afterwards every `group_interval`. A flush sends the group's alerts, with
//! alerts resolved by then marked resolved, unless muted or deduplicated;
//! resolved alerts leave the group once a flush was delivered successfully,
//! and empty groups are removed by the maintenance pass every 30 seconds.
//!
//! # Pipeline of one flush
//!
//! inhibition → active time intervals → mute time intervals → silences
//! (each removes alerts; nothing left means nothing to send) → for each
//! integration of the route's receiver: dedup ([`needs_update`]) → deliver
//! (resolved alerts only if `send_resolved`; a resolved-only batch for an
//! integration without `send_resolved` is not delivered but still logged) →
//! on success, log to the notification log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use model::Labels;
use parking_lot::Mutex;

use crate::alert::{alert_order, Alert, AlertStatus, Fingerprint};
use crate::clock::{add, Clock, Timestamp};
use crate::config::{Config, IntegrationConfig};
use crate::inhibit::Inhibitor;
use crate::marker::Marker;
use crate::matchers::format_label_set;
use crate::nflog::{needs_update, NotificationLog, ReceiverKey};
use crate::route::{Route, RouteNode};
use crate::silences::Silences;
use crate::store::AlertListener;
use crate::timeinterval::TimeInterval;

/// How often empty aggregation groups are removed (Alertmanager: 30s).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// Alertmanager's `notify.MinTimeout`: the least time a delivery gets.
pub const MIN_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// One integration of a receiver, as notifications refer to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Receiver name, integration name and per-kind index.
    pub key: ReceiverKey,
    /// The integration's configuration (defaults and globals applied).
    pub config: IntegrationConfig,
}

impl Integration {
    /// Whether resolved alerts are delivered to this integration.
    pub fn send_resolved(&self) -> bool {
        self.config.send_resolved()
    }
}

/// An alert inside a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationAlert {
    /// The alert. For firing alerts `ends_at` is `None`, as Alertmanager
    /// clears it so receivers do not see a projected end time.
    pub alert: Alert,
    /// Firing or resolved at flush time.
    pub status: AlertStatus,
    /// The alert's fingerprint.
    pub fingerprint: Fingerprint,
}

/// A batch of alerts for one integration: everything a receiver needs to
/// render and deliver the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Receiver name.
    pub receiver: String,
    /// The integration to deliver through.
    pub integration: Arc<Integration>,
    /// Alertmanager's group key: `<route key>:<group labels>`, e.g.
    /// `{}/{team="db"}:{alertname="Down"}`. Stable across restarts; PagerDuty
    /// dedup keys and webhook `groupKey` derive from it.
    pub group_key: String,
    /// The labels the group is defined by.
    pub group_labels: Labels,
    /// `firing` if any alert fires, else `resolved`.
    pub status: AlertStatus,
    /// The alerts, in Alertmanager's order.
    pub alerts: Vec<NotificationAlert>,
    /// Labels shared by all alerts.
    pub common_labels: Labels,
    /// Annotations shared by all alerts.
    pub common_annotations: BTreeMap<String, String>,
    /// When the flush happened.
    pub timestamp: Timestamp,
    /// How long delivery (with retries) may take: the route's group_interval,
    /// at least [`MIN_NOTIFY_TIMEOUT`].
    pub timeout: Duration,
}

impl Notification {
    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &NotificationAlert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Firing)
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &NotificationAlert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Resolved)
    }
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    /// What went wrong.
    pub message: String,
    /// Whether trying again may help (network errors, 5xx); the driver
    /// retries those with backoff until the notification's timeout.
    pub retryable: bool,
}

/// The boxed future a [`Notifier`] returns.
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// Delivers notifications (implemented by the delivery crate).
pub trait Notifier: Send + Sync + 'static {
    /// Delivers one notification once (the dispatcher handles retries).
    fn notify<'a>(&'a self, notification: &'a Notification) -> NotifyFuture<'a>;
}

/// The deliveries one flush produced, to be reported back through
/// [`Dispatcher::complete`] with one outcome per notification.
#[derive(Debug)]
pub struct FlushJob {
    group: (usize, Fingerprint),
    group_key: String,
    items: Vec<PendingLog>,
    notifications: Vec<Notification>,
    resolved: Vec<(Fingerprint, Timestamp)>,
}

#[derive(Debug)]
struct PendingLog {
    key: ReceiverKey,
    firing: Vec<u64>,
    resolved: Vec<u64>,
}

impl FlushJob {
    /// The aggregation group's key.
    pub fn group_key(&self) -> &str {
        &self.group_key
    }

    /// The notifications to deliver.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }
}

/// A snapshot of an aggregation group for the API.
#[derive(Debug, Clone)]
pub struct AlertGroupSnapshot {
    /// Group labels.
    pub labels: Labels,
    /// The route's receiver.
    pub receiver: String,
    /// The group key.
    pub group_key: String,
    /// The route's ID.
    pub route_id: String,
    /// The alerts currently in the group.
    pub alerts: Vec<Alert>,
}

#[derive(Debug)]
struct AggrGroup {
    route: usize,
    labels: Labels,
    key: String,
    alerts: HashMap<Fingerprint, Alert>,
    next_flush: Timestamp,
    has_flushed: bool,
    in_flight: bool,
}

#[derive(Debug)]
struct State {
    groups: HashMap<(usize, Fingerprint), AggrGroup>,
    next_maintenance: Timestamp,
}

/// What a dispatcher works with.
pub struct DispatcherParts {
    /// The routing tree.
    pub route: Arc<Route>,
    /// Silences.
    pub silences: Arc<Silences>,
    /// Inhibition rules.
    pub inhibitor: Arc<Inhibitor>,
    /// Alert status for the API.
    pub marker: Arc<Marker>,
    /// The notification log.
    pub nflog: Arc<NotificationLog>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
}

/// Groups alerts and decides what to send to which receiver when.
pub struct Dispatcher {
    route: Arc<Route>,
    receivers: HashMap<String, Vec<Arc<Integration>>>,
    time_intervals: HashMap<String, Vec<TimeInterval>>,
    silences: Arc<Silences>,
    inhibitor: Arc<Inhibitor>,
    marker: Arc<Marker>,
    nflog: Arc<NotificationLog>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("groups", &self.state.lock().groups.len())
            .finish()
    }
}

/// The integrations of every receiver, with Alertmanager's per-kind indices.
pub fn build_integrations(config: &Config) -> HashMap<String, Vec<Arc<Integration>>> {
    let mut out = HashMap::new();
    for r in &config.receivers {
        let mut counts: HashMap<&'static str, u32> = HashMap::new();
        let list = r
            .integrations()
            .into_iter()
            .map(|cfg| {
                let n = counts.entry(cfg.name()).or_default();
                let idx = *n;
                *n += 1;
                Arc::new(Integration {
                    key: ReceiverKey {
                        group_name: r.name.clone(),
                        integration: cfg.name().to_string(),
                        idx,
                    },
                    config: cfg,
                })
            })
            .collect();
        out.insert(r.name.clone(), list);
    }
    out
}

impl Dispatcher {
    /// A dispatcher for `config`'s receivers and time intervals.
    pub fn new(config: &Config, parts: DispatcherParts) -> Arc<Dispatcher> {
        let time_intervals = config
            .named_time_intervals()
            .map(|t| (t.name.clone(), t.time_intervals.clone()))
            .collect();
        let now = parts.clock.now();
        Arc::new(Dispatcher {
            route: parts.route,
            receivers: build_integrations(config),
            time_intervals,
            silences: parts.silences,
            inhibitor: parts.inhibitor,
            marker: parts.marker,
            nflog: parts.nflog,
            clock: parts.clock,
            state: Mutex::new(State {
                groups: HashMap::new(),
                next_maintenance: add(now, MAINTENANCE_INTERVAL),
            }),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The routing tree.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Files an alert into the aggregation group of every route it matches.
    pub fn insert(&self, alert: &Alert) {
        let now = self.clock.now();
        let fp = alert.fingerprint();
        let mut st = self.state.lock();
        for node in self.route.matches(&alert.labels) {
            let labels = node.group_labels(&alert.labels);
            let gfp = Fingerprint::of(&labels);
            let wait = node.opts.group_wait;
            let g = st.groups.entry((node.index, gfp)).or_insert_with(|| AggrGroup {
                route: node.index,
                key: format!("{}:{}", node.key(), format_label_set(&labels)),
                labels,
                alerts: HashMap::new(),
                next_flush: add(now, wait),
                has_flushed: false,
                in_flight: false,
            });
            g.alerts.insert(fp, alert.clone());
            // An alert that started more than group_wait ago (e.g. re-sent
            // after a restart) need not wait again.
            if !g.has_flushed && add(alert.starts_at, wait) < now {
                g.next_flush = now;
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    /// When the next flush or maintenance pass is due.
    pub fn next_deadline(&self) -> Timestamp {
        let st = self.state.lock();
        st.groups
            .values()
            .filter(|g| !g.in_flight)
            .map(|g| g.next_flush)
            .fold(st.next_maintenance, Timestamp::min)
    }

    /// Number of aggregation groups.
    pub fn group_count(&self) -> usize {
        self.state.lock().groups.len()
    }

    /// Runs every flush due now (and the maintenance pass when due) and
    /// returns the deliveries to make. Jobs with nothing to deliver are
    /// completed before returning.
    pub fn flush_due(&self) -> Vec<FlushJob> {
        let now = self.clock.now();
        let mut st = self.state.lock();
        if st.next_maintenance <= now {
            st.groups.retain(|_, g| !g.alerts.is_empty() || g.in_flight);
            st.next_maintenance = add(now, MAINTENANCE_INTERVAL);
        }
        let mut due: Vec<((usize, Fingerprint), Timestamp, String)> = st
            .groups
            .iter()
            .filter(|(_, g)| !g.in_flight && g.next_flush <= now)
            .map(|(k, g)| (*k, g.next_flush, g.key.clone()))
            .collect();
        due.sort_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)));

        let mut jobs = Vec::new();
        for (k, _, _) in due {
            let Some(g) = st.groups.get_mut(&k) else { continue };
            let Some(node) = self.route.node(g.route) else { continue };
            g.next_flush = add(now, node.opts.group_interval);
            g.has_flushed = true;
            if g.alerts.is_empty() {
                continue;
            }
            let job = self.build_job(k, g, node, now);
            if job.notifications.is_empty() {
                delete_resolved(g, &job.resolved);
            } else {
                g.in_flight = true;
                jobs.push(job);
            }
        }
        jobs
    }

    fn build_job(&self, k: (usize, Fingerprint), g: &AggrGroup, node: &RouteNode, now: Timestamp) -> FlushJob {
        let mut alerts = Vec::with_capacity(g.alerts.len());
        let mut resolved_in_group = Vec::new();
        for (fp, a) in &g.alerts {
            let mut a = a.clone();
            let status = a.status_at(now);
            if status == AlertStatus::Resolved {
                resolved_in_group.push((*fp, a.updated_at));
            } else {
                // Keep the alert from resolving as time moves during delivery.
                a.ends_at = None;
            }
            alerts.push(NotificationAlert {
                alert: a,
                status,
                fingerprint: *fp,
            });
        }
        alerts.sort_by(|a, b| alert_order(&a.alert, &b.alert));
        let mut job = FlushJob {
            group: k,
            group_key: g.key.clone(),
            items: Vec::new(),
            notifications: Vec::new(),
            resolved: resolved_in_group,
        };

        let alerts = self.mute(alerts, node, now);
        if alerts.is_empty() {
            return job;
        }
        let Some(integrations) = self.receivers.get(&node.opts.receiver) else {
            tracing::error!(receiver = %node.opts.receiver, "no integrations for receiver; notification dropped");
            return job;
        };
        let firing: Vec<u64> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
            .map(|a| a.fingerprint.0)
            .collect();
        let resolved: Vec<u64> = alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
            .map(|a| a.fingerprint.0)
            .collect();
        let firing_set: HashSet<u64> = firing.iter().copied().collect();
        let resolved_set: HashSet<u64> = resolved.iter().copied().collect();
        let timeout = node.opts.group_interval.max(MIN_NOTIFY_TIMEOUT);

        for integ in integrations {
            let entry = self.nflog.query(&g.key, &integ.key);
            let send_resolved = integ.send_resolved();
            if !needs_update(
                entry.as_ref(),
                &firing_set,
                &resolved_set,
                node.opts.repeat_interval,
                send_resolved,
                now,
            ) {
                continue;
            }
            if !send_resolved && firing.is_empty() {
                // Nothing to deliver, but the log must learn that the
                // alerts it lists as firing are gone.
                self.nflog.log(&integ.key, &g.key, firing.clone(), resolved.clone());
                continue;
            }
            let batch: Vec<NotificationAlert> = if send_resolved {
                alerts.clone()
            } else {
                alerts
                    .iter()
                    .filter(|a| a.status == AlertStatus::Firing)
                    .cloned()
                    .collect()
            };
            job.notifications
                .push(make_notification(g, node, integ, batch, now, timeout));
            job.items.push(PendingLog {
                key: integ.key.clone(),
                firing: firing.clone(),
                resolved: resolved.clone(),
            });
        }
        job
    }

    /// Alertmanager's mute stages, in its order. Records marker state.
    fn mute(&self, mut alerts: Vec<NotificationAlert>, node: &RouteNode, now: Timestamp) -> Vec<NotificationAlert> {
        alerts.retain(|a| !self.inhibitor.mutes_at(&a.alert.labels, now));
        if alerts.is_empty() {
            return alerts;
        }
        let active = &node.opts.active_time_intervals;
        if !active.is_empty() && !self.in_time_intervals(now, active) {
            return Vec::new();
        }
        if self.in_time_intervals(now, &node.opts.mute_time_intervals) {
            return Vec::new();
        }
        alerts.retain(|a| {
            let ids = self.silences.mutes_at(&a.alert.labels, now);
            let silenced = !ids.is_empty();
            self.marker.set_silenced(a.fingerprint, ids);
            !silenced
        });
        alerts
    }

    fn in_time_intervals(&self, now: Timestamp, names: &[String]) -> bool {
        names.iter().any(|name| match self.time_intervals.get(name) {
            Some(list) => list.iter().any(|ti| ti.contains(now)),
            None => {
                tracing::warn!(interval = %name, "time interval doesn't exist in config");
                false
            }
        })
    }

    /// Records the outcome of a job's deliveries (`outcomes[i]` for
    /// `job.notifications()[i]`): successful ones are logged; if all
    /// succeeded, alerts that were resolved at flush time and have not been
    /// updated since leave the group.
    pub fn complete(&self, job: FlushJob, outcomes: &[bool]) {
        let mut all_ok = outcomes.len() == job.items.len();
        for (item, ok) in job.items.iter().zip(outcomes.iter().chain(std::iter::repeat(&false))) {
            if *ok {
                self.nflog
                    .log(&item.key, &job.group_key, item.firing.clone(), item.resolved.clone());
            } else {
                all_ok = false;
            }
        }
        let mut st = self.state.lock();
        if let Some(g) = st.groups.get_mut(&job.group) {
            g.in_flight = false;
            if all_ok {
                delete_resolved(g, &job.resolved);
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    /// The current aggregation groups, sorted by labels then receiver, each
    /// with its alerts in Alertmanager's order.
    pub fn groups(&self) -> Vec<AlertGroupSnapshot> {
        let st = self.state.lock();
        let mut out: Vec<AlertGroupSnapshot> = st
            .groups
            .values()
            .filter_map(|g| {
                let node = self.route.node(g.route)?;
                let mut alerts: Vec<Alert> = g.alerts.values().cloned().collect();
                alerts.sort_by(alert_order);
                Some(AlertGroupSnapshot {
                    labels: g.labels.clone(),
                    receiver: node.opts.receiver.clone(),
                    group_key: g.key.clone(),
                    route_id: node.id().to_string(),
                    alerts,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            if a.labels == b.labels {
                a.receiver.cmp(&b.receiver)
            } else if crate::alert::labels_before(&a.labels, &b.labels) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        out
    }

    /// The async driver: flushes groups when due, delivers through
    /// `notifier` (each notification in its own task, retrying retryable
    /// errors with exponential backoff until its timeout) and completes the
    /// jobs, until `shutdown` resolves. Wakes early when alerts arrive or
    /// deliveries finish.
    pub async fn run<F>(self: Arc<Self>, notifier: Arc<dyn Notifier>, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        tokio::pin!(shutdown);
        loop {
            for job in self.flush_due() {
                let d = self.clone();
                let n = notifier.clone();
                tokio::spawn(async move { d.deliver(job, n).await });
            }
            let wait = (self.next_deadline() - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                // Re-read the wall clock at least every second so clock
                // adjustments cannot stall a group.
                .min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn deliver(self: Arc<Self>, job: FlushJob, notifier: Arc<dyn Notifier>) {
        let handles: Vec<_> = job
            .notifications
            .iter()
            .cloned()
            .map(|n| {
                let notifier = notifier.clone();
                tokio::spawn(async move { deliver_with_retry(notifier.as_ref(), &n).await })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(handles.len());
        for h in handles {
            outcomes.push(matches!(h.await, Ok(true)));
        }
        self.complete(job, &outcomes);
        // What was sent is on disk before the next flush, so a crash right
        // after a delivery neither sends it again nor forgets a resolution.
        if outcomes.iter().any(|delivered| *delivered) {
            let nflog = self.nflog.clone();
            match tokio::task::spawn_blocking(move || nflog.snapshot()).await {
                Ok(Err(e)) => tracing::error!(err = %e, "writing notification log snapshot failed"),
                Err(e) => tracing::error!(err = %e, "writing notification log snapshot panicked"),
                Ok(Ok(_)) => {}
            }
        }
    }
}

impl AlertListener for Dispatcher {
    fn on_alert(&self, alert: &Alert) {
        self.insert(alert);
    }
}

fn delete_resolved(g: &mut AggrGroup, resolved: &[(Fingerprint, Timestamp)]) {
    for (fp, updated) in resolved {
        // Keep the alert if it fired again while the flush was in progress.
        if g.alerts.get(fp).is_some_and(|a| a.updated_at == *updated) {
            g.alerts.remove(fp);
        }
    }
}

/// Backoff between delivery attempts: Alertmanager's exponential backoff
/// (500ms initial, ×1.5, capped at 60s) without jitter.
fn backoff(attempt: u32) -> Duration {
    let ms = 500.0 * 1.5f64.powi(attempt.min(20) as i32);
    Duration::from_millis(ms.min(60_000.0) as u64)
}

async fn deliver_with_retry(notifier: &dyn Notifier, n: &Notification) -> bool {
    let deadline = tokio::time::Instant::now() + n.timeout;
    let mut attempt = 0u32;
    loop {
        let result = tokio::time::timeout_at(deadline, notifier.notify(n)).await;
        match result {
            Ok(Ok(())) => return true,
            Ok(Err(e)) if e.retryable => {
                tracing::warn!(receiver = %n.receiver, integration = %n.integration.key, attempt, err = %e, "notify attempt failed, will retry");
            }
            Ok(Err(e)) => {
                tracing::error!(receiver = %n.receiver, integration = %n.integration.key, err = %e, "notify failed (not retryable)");
                return false;
            }
            Err(_) => {
                tracing::error!(receiver = %n.receiver, integration = %n.integration.key, "notify timed out");
                return false;
            }
        }
        let pause = backoff(attempt);
        attempt += 1;
        if tokio::time::Instant::now() + pause >= deadline {
            tracing::error!(receiver = %n.receiver, integration = %n.integration.key, attempts = attempt, "notify retry canceled: out of time");
            return false;
        }
        tokio::time::sleep(pause).await;
    }
}

fn make_notification(
    g: &AggrGroup,
    node: &RouteNode,
    integ: &Arc<Integration>,
    alerts: Vec<NotificationAlert>,
    now: Timestamp,
    timeout: Duration,
) -> Notification {
    let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let (common_labels, common_annotations) = common(&alerts);
    Notification {
        receiver: node.opts.receiver.clone(),
        integration: integ.clone(),
        group_key: g.key.clone(),
        group_labels: g.labels.clone(),
        status,
        alerts,
        common_labels,
        common_annotations,
        timestamp: now,
        timeout,
    }
}

/// Labels and annotations with the same value in every alert.
fn common(alerts: &[NotificationAlert]) -> (Labels, BTreeMap<String, String>) {
    let Some(first) = alerts.first() else {
        return (Labels::empty(), BTreeMap::new());
    };
    let mut labels: Vec<model::Label> = first.alert.labels.iter().cloned().collect();
    let mut ann = first.alert.annotations.clone();
    for a in &alerts[1..] {
        labels.retain(|l| a.alert.labels.get(&l.name) == Some(l.value.as_str()));
        ann.retain(|k, v| a.alert.annotations.get(k) == Some(v));
    }
    (Labels::from_sorted_unchecked(labels), ann)
}

#[cfg(test)]
mod tests;
