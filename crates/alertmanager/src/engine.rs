//! [`Alertmanager`]: the components wired together the way Alertmanager's
//! `main.go` does, with config reload, periodic maintenance and persistence.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use model::Labels;
use parking_lot::{Mutex, RwLock};

use crate::alert::Alert;
use crate::clock::{system_clock, Clock, Timestamp};
use crate::config::Config;
use crate::dispatch::{Dispatcher, DispatcherParts, Notifier};
use crate::inhibit::Inhibitor;
use crate::marker::Marker;
use crate::nflog::{NflogError, NflogOptions, NotificationLog};
use crate::route::Route;
use crate::silences::{SilenceError, Silences, SilencesOptions};
use crate::store::{AlertStore, SubscriptionId, DEFAULT_GC_INTERVAL};

/// File name of the silences snapshot inside the data directory.
pub const SILENCES_FILE: &str = "silences.json";
/// File name of the notification log snapshot inside the data directory.
pub const NFLOG_FILE: &str = "nflog.json";
/// How often silences and the notification log are collected and
/// snapshotted (Alertmanager's maintenance interval).
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Construction options.
#[derive(Clone)]
pub struct EngineOptions {
    /// Where silences and the notification log are persisted; `None` keeps
    /// everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Retention of expired silences and notification log entries.
    pub retention: Duration,
    /// How often resolved alerts are dropped from the store.
    pub alert_gc_interval: Duration,
    /// Time source.
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            data_dir: None,
            retention: crate::silences::DEFAULT_RETENTION,
            alert_gc_interval: DEFAULT_GC_INTERVAL,
            clock: system_clock(),
        }
    }
}

/// Failure to start the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Loading silences failed.
    #[error(transparent)]
    Silences(#[from] SilenceError),
    /// Loading the notification log failed.
    #[error(transparent)]
    Nflog(#[from] NflogError),
    /// The inhibition rules did not compile.
    #[error("inhibit_rules: {0}")]
    Inhibit(String),
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Resolved alerts dropped from the store.
    pub alerts_collected: usize,
    /// Silences dropped after their retention.
    pub silences_collected: usize,
    /// Notification log entries dropped after their retention.
    pub nflog_collected: usize,
    /// Silences written to the snapshot.
    pub silences_written: usize,
    /// Notification log entries written to the snapshot.
    pub nflog_written: usize,
}

struct Generation {
    config: Arc<Config>,
    route: Arc<Route>,
    inhibitor: Arc<Inhibitor>,
    dispatcher: Arc<Dispatcher>,
    subscriptions: Vec<SubscriptionId>,
}

/// Alertmanager in one value.
pub struct Alertmanager {
    generation: RwLock<Arc<Generation>>,
    store: Arc<AlertStore>,
    marker: Arc<Marker>,
    silences: Arc<Silences>,
    nflog: Arc<NotificationLog>,
    clock: Arc<dyn Clock>,
    started_at: Timestamp,
    alert_gc_interval: Duration,
    reloads: tokio::sync::watch::Sender<u64>,
    reload_lock: Mutex<()>,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager")
            .field("alerts", &self.store.len())
            .field("started_at", &self.started_at)
            .finish()
    }
}

impl Alertmanager {
    /// Builds every component and loads persisted silences and notification
    /// log from `data_dir` (blocking I/O: call before entering async code or
    /// from `spawn_blocking`).
    pub fn new(config: Config, opts: EngineOptions) -> Result<Alertmanager, EngineError> {
        let clock = opts.clock.clone();
        let marker = Arc::new(Marker::new());
        let store = Arc::new(AlertStore::new(clock.clone(), Some(marker.clone())));
        let silences = Arc::new(Silences::new(
            SilencesOptions {
                retention: opts.retention,
                snapshot_path: opts.data_dir.as_ref().map(|d| d.join(SILENCES_FILE)),
            },
            clock.clone(),
        )?);
        let nflog = Arc::new(NotificationLog::new(
            NflogOptions {
                retention: opts.retention,
                snapshot_path: opts.data_dir.as_ref().map(|d| d.join(NFLOG_FILE)),
            },
            clock.clone(),
        )?);
        let generation = build_generation(config, &store, &marker, &silences, &nflog, &clock)?;
        let (reloads, _) = tokio::sync::watch::channel(0);
        Ok(Alertmanager {
            generation: RwLock::new(Arc::new(generation)),
            store,
            marker,
            silences,
            nflog,
            started_at: clock.now(),
            clock,
            alert_gc_interval: opts.alert_gc_interval,
            reloads,
            reload_lock: Mutex::new(()),
        })
    }

    /// Swaps in a new configuration: a new routing tree, inhibitor and
    /// dispatcher (aggregation groups start over, as in Alertmanager), fed
    /// with the alerts already stored. Silences and the notification log are
    /// kept, so already-notified groups are not notified again. A running
    /// [`Alertmanager::run`] switches to the new dispatcher.
    pub fn reload(&self, config: Config) -> Result<(), EngineError> {
        let _serial = self.reload_lock.lock();
        let next = build_generation(
            config,
            &self.store,
            &self.marker,
            &self.silences,
            &self.nflog,
            &self.clock,
        )?;
        let old = std::mem::replace(&mut *self.generation.write(), Arc::new(next));
        for id in &old.subscriptions {
            self.store.unsubscribe(*id);
        }
        self.reloads.send_modify(|g| *g += 1);
        Ok(())
    }

    /// The active configuration.
    pub fn config(&self) -> Arc<Config> {
        self.generation.read().config.clone()
    }

    /// The active routing tree.
    pub fn route(&self) -> Arc<Route> {
        self.generation.read().route.clone()
    }

    /// The active inhibitor.
    pub fn inhibitor(&self) -> Arc<Inhibitor> {
        self.generation.read().inhibitor.clone()
    }

    /// The active dispatcher.
    pub fn dispatcher(&self) -> Arc<Dispatcher> {
        self.generation.read().dispatcher.clone()
    }

    /// The alert store.
    pub fn store(&self) -> &Arc<AlertStore> {
        &self.store
    }

    /// The silences.
    pub fn silences(&self) -> &Arc<Silences> {
        &self.silences
    }

    /// The notification log.
    pub fn nflog(&self) -> &Arc<NotificationLog> {
        &self.nflog
    }

    /// Alert statuses.
    pub fn marker(&self) -> &Arc<Marker> {
        &self.marker
    }

    /// The time source.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// When the engine was created (the API's `uptime`).
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// Stores alerts (merging with existing ones) and hands them to the
    /// dispatcher and inhibitor.
    pub fn put_alerts(&self, alerts: Vec<Alert>) -> Vec<Alert> {
        self.store.put(alerts)
    }

    /// Re-evaluates inhibitions and silences for `labels` and records the
    /// result in the marker, like Alertmanager's API does before showing an
    /// alert's status.
    pub fn set_alert_status(&self, labels: &Labels) {
        let now = self.clock.now();
        let gen = self.generation.read().clone();
        gen.inhibitor.mutes_at(labels, now);
        let ids = self.silences.mutes_at(labels, now);
        self.marker.set_silenced(crate::alert::Fingerprint::of(labels), ids);
    }

    /// Drops resolved alerts, expired silences and old log entries, and
    /// snapshots silences and the notification log. Blocking I/O.
    pub fn maintenance(&self) -> MaintenanceReport {
        let mut r = self.collect_alerts();
        let (sc, sw, nc, nw) = self.snapshot();
        r.silences_collected = sc;
        r.silences_written = sw;
        r.nflog_collected = nc;
        r.nflog_written = nw;
        r
    }

    fn collect_alerts(&self) -> MaintenanceReport {
        let now = self.clock.now();
        let removed = self.store.gc(now);
        self.inhibitor().gc(now);
        MaintenanceReport {
            alerts_collected: removed.len(),
            ..Default::default()
        }
    }

    fn snapshot(&self) -> (usize, usize, usize, usize) {
        let sc = self.silences.gc();
        let sw = self.silences.snapshot().unwrap_or_else(|e| {
            tracing::error!(err = %e, "writing silences snapshot failed");
            0
        });
        let nc = self.nflog.gc();
        let nw = self.nflog.snapshot().unwrap_or_else(|e| {
            tracing::error!(err = %e, "writing notification log snapshot failed");
            0
        });
        (sc, sw, nc, nw)
    }

    /// Runs the dispatcher (switching on reload) and periodic maintenance
    /// (alert GC every `alert_gc_interval`, silence and log GC plus
    /// snapshots every [`SNAPSHOT_INTERVAL`], both via `spawn_blocking`)
    /// until `shutdown` resolves, then writes final snapshots.
    pub async fn run<F>(self: Arc<Self>, notifier: Arc<dyn Notifier>, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        tokio::pin!(shutdown);
        let maint = {
            let me = self.clone();
            tokio::spawn(async move { me.maintenance_loop().await })
        };
        let mut rx = self.reloads.subscribe();
        loop {
            rx.borrow_and_update();
            let d = self.dispatcher();
            let mut rx2 = rx.clone();
            let reloaded = async move {
                let _ = rx2.changed().await;
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = d.run(notifier.clone(), reloaded) => {}
            }
        }
        maint.abort();
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.snapshot()).await;
    }

    async fn maintenance_loop(self: Arc<Self>) {
        let mut gc = tokio::time::interval(self.alert_gc_interval);
        let mut snap = tokio::time::interval(SNAPSHOT_INTERVAL);
        gc.tick().await;
        snap.tick().await;
        loop {
            tokio::select! {
                _ = gc.tick() => {
                    let _ = self.collect_alerts();
                }
                _ = snap.tick() => {
                    let me = self.clone();
                    let _ = tokio::task::spawn_blocking(move || me.snapshot()).await;
                }
            }
        }
    }
}

fn build_generation(
    config: Config,
    store: &Arc<AlertStore>,
    marker: &Arc<Marker>,
    silences: &Arc<Silences>,
    nflog: &Arc<NotificationLog>,
    clock: &Arc<dyn Clock>,
) -> Result<Generation, EngineError> {
    let config = Arc::new(config);
    let route = Arc::new(Route::new(&config.route));
    let inhibitor =
        Arc::new(Inhibitor::new(&config.inhibit_rules, marker.clone(), clock.clone()).map_err(EngineError::Inhibit)?);
    let dispatcher = Dispatcher::new(
        &config,
        DispatcherParts {
            route: route.clone(),
            silences: silences.clone(),
            inhibitor: inhibitor.clone(),
            marker: marker.clone(),
            nflog: nflog.clone(),
            clock: clock.clone(),
        },
    );
    // Subscribe before replaying the stored alerts so none posted meanwhile
    // is missed; seeing an alert twice is harmless.
    let subscriptions = vec![store.subscribe(inhibitor.clone()), store.subscribe(dispatcher.clone())];
    for a in store.list() {
        inhibitor.observe(&a);
        dispatcher.insert(&a);
    }
    Ok(Generation {
        config,
        route,
        inhibitor,
        dispatcher,
        subscriptions,
    })
}
