//! The scrape manager: one scrape pool per job, each turning target groups
//! (static and file_sd) into running scrape loops, after Prometheus 2.42's
//! `scrape.Manager` and `scrapePool`.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use model::Labels;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use super::config::{prepare_scrape_configs, ConfigError, GlobalScrapeDefaults, ScrapeConfig, TlsConfig};
use super::file_sd::FileSdWatcher;
use super::http::HttpScraper;
use super::scrape_loop::{LabelLimits, LoopHandle, LoopOptions, TaskGuard};
use super::target::{
    global_url, targets_from_group, DroppedTarget, GlobalUrlOptions, Populated, Target, TargetGroup, TargetStatus,
    ADDRESS_LABEL, SCRAPE_INTERVAL_LABEL, SCRAPE_TIMEOUT_LABEL,
};
use super::Cancel;
use crate::exposition::MetricMetadata;
use crate::sink::SampleSink;

/// How often file_sd files are checked for changes by default.
pub const DEFAULT_FILE_SD_POLL_INTERVAL: Duration = Duration::from_secs(3);

/// Metadata of one metric as scraped from one target, for
/// `/api/v1/targets/metadata`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMetadata {
    /// The job of the target.
    pub scrape_pool: String,
    /// The target's labels (as on its series).
    pub target: Labels,
    /// Metric family name.
    pub metric: String,
    /// Type, help and unit.
    pub metadata: MetricMetadata,
}

/// Runs the scrape loops of all configured jobs and reports on them.
///
/// All methods take `&self`; share it in an `Arc`. Dropping the manager
/// stops every loop like [`ScrapeManager::stop`] but without waiting.
pub struct ScrapeManager {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Arc<dyn SampleSink>,
    user_agent: String,
    jitter_seed: AtomicU64,
    file_sd_poll_ms: AtomicU64,
    global_url: RwLock<Option<GlobalUrlOptions>>,
    pools: RwLock<BTreeMap<String, Arc<ScrapePool>>>,
    apply_lock: tokio::sync::Mutex<()>,
    shutdown: Cancel,
    tasks_tx: Mutex<Option<mpsc::Sender<()>>>,
    tasks_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Inner {
    fn guard(&self) -> Option<TaskGuard> {
        self.tasks_tx.lock().clone().map(TaskGuard)
    }

    fn file_sd_poll(&self) -> Duration {
        Duration::from_millis(self.file_sd_poll_ms.load(Ordering::Relaxed).max(1))
    }
}

/// The targets of one job.
struct ScrapePool {
    job: String,
    /// Serialises config changes and target syncs of this pool.
    sync_lock: tokio::sync::Mutex<()>,
    state: Mutex<PoolState>,
}

struct PoolState {
    config: Arc<ScrapeConfig>,
    scraper: Arc<HttpScraper>,
    /// Target groups by provider and source.
    groups: BTreeMap<String, TargetGroup>,
    /// Bumped when discovery is restarted; older watchers' updates are ignored.
    generation: u64,
    sd_cancel: Cancel,
    loops: HashMap<u64, LoopHandle>,
    dropped: Vec<DroppedTarget>,
}

/// Whether `a` and `b` scrape the same way (only their target lists may
/// differ): then running loops are left alone.
fn same_scrape_settings(a: &ScrapeConfig, b: &ScrapeConfig) -> bool {
    let strip = |c: &ScrapeConfig| {
        let mut c = c.clone();
        c.static_configs.clear();
        c.file_sd_configs.clear();
        c
    };
    strip(a) == strip(b)
}

/// Prometheus's `reusableCache`: a loop may hand its cache (series and
/// staleness state) to its successor when only the interval, timeout,
/// sample limit or HTTP client settings changed.
fn reusable_cache(a: &ScrapeConfig, b: &ScrapeConfig) -> bool {
    let zero = |c: &ScrapeConfig| {
        let mut c = c.clone();
        c.static_configs.clear();
        c.file_sd_configs.clear();
        c.scrape_interval = None;
        c.scrape_timeout = None;
        c.sample_limit = 0;
        c.basic_auth = None;
        c.bearer_token = None;
        c.bearer_token_file = None;
        c.authorization = None;
        c.tls_config = TlsConfig::default();
        c
    };
    zero(a) == zero(b)
}

fn static_groups(cfg: &ScrapeConfig) -> BTreeMap<String, TargetGroup> {
    let mut out = BTreeMap::new();
    for (i, sc) in cfg.static_configs.iter().enumerate() {
        let group = TargetGroup {
            source: i.to_string(),
            targets: sc
                .targets
                .iter()
                .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t.as_str())]))
                .collect(),
            labels: Labels::from_pairs(sc.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        };
        out.insert(format!("static/{i}"), group);
    }
    out
}

fn file_sd_key(index: usize, source: &str) -> String {
    format!("file_sd/{index}/{source}")
}

/// Starts discovery for `cfg`: reads the file_sd files once now and returns
/// all groups, plus the watchers to run.
fn start_discovery(cfg: &ScrapeConfig) -> (BTreeMap<String, TargetGroup>, Vec<(usize, FileSdWatcher)>) {
    let mut groups = static_groups(cfg);
    let mut watchers = Vec::new();
    for (i, sd) in cfg.file_sd_configs.iter().enumerate() {
        let mut w = FileSdWatcher::new(sd.clone());
        for g in w.refresh() {
            groups.insert(file_sd_key(i, &g.source), g);
        }
        watchers.push((i, w));
    }
    (groups, watchers)
}

impl ScrapeManager {
    /// A manager appending to `sink`, sending `http_user_agent` as the
    /// `User-Agent` of every scrape. Nothing is scraped before
    /// [`apply_config`](ScrapeManager::apply_config). Needs a Tokio runtime
    /// when configs are applied.
    pub fn new(sink: Arc<dyn SampleSink>, http_user_agent: String) -> Self {
        let (tx, rx) = mpsc::channel(1);
        ScrapeManager {
            inner: Arc::new(Inner {
                sink,
                user_agent: http_user_agent,
                jitter_seed: AtomicU64::new(0),
                file_sd_poll_ms: AtomicU64::new(DEFAULT_FILE_SD_POLL_INTERVAL.as_millis() as u64),
                global_url: RwLock::new(None),
                pools: RwLock::new(BTreeMap::new()),
                apply_lock: tokio::sync::Mutex::new(()),
                shutdown: Cancel::new(),
                tasks_tx: Mutex::new(Some(tx)),
                tasks_rx: tokio::sync::Mutex::new(rx),
            }),
        }
    }

    /// Seed mixed into every target's scrape offset, so that several
    /// servers scraping the same targets do so at different times
    /// (Prometheus derives it from external labels and hostname). Applies
    /// to loops started afterwards.
    pub fn set_jitter_seed(&self, seed: u64) {
        self.inner.jitter_seed.store(seed, Ordering::Relaxed);
    }

    /// How often file_sd files are checked for changes (default 3s).
    /// Applies to discovery started afterwards.
    pub fn set_file_sd_poll_interval(&self, interval: Duration) {
        self.inner
            .file_sd_poll_ms
            .store(interval.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Where this server is reachable, to fill `globalUrl` of targets on
    /// loopback addresses; without it `globalUrl` is the scrape URL.
    pub fn set_global_url_options(&self, opts: Option<GlobalUrlOptions>) {
        *self.inner.global_url.write() = opts;
    }

    /// Applies a new set of scrape configs, diffing against what runs:
    /// jobs whose config is unchanged are left alone; jobs whose targets
    /// changed keep the loops of unchanged targets (no gap in data); jobs
    /// whose scrape settings changed restart their loops (handing over the
    /// series cache when Prometheus would); removed targets and jobs stop
    /// and get staleness markers for their series about two intervals
    /// later. Interval and timeout left unset take the built-in global
    /// defaults (1m, 10s); apply [`ScrapeConfig::apply_defaults`] first to
    /// use others.
    ///
    /// Invalid configs change nothing. A job whose HTTP client cannot be
    /// built (unreadable TLS files) keeps running with its old config; the
    /// others are applied and the error is returned.
    pub async fn apply_config(&self, mut configs: Vec<ScrapeConfig>) -> Result<(), ConfigError> {
        let inner = &self.inner;
        let _apply = inner.apply_lock.lock().await;
        if inner.shutdown.is_cancelled() {
            return Err(ConfigError {
                errors: vec!["the scrape manager is stopped".to_string()],
            });
        }
        prepare_scrape_configs(&mut configs, &GlobalScrapeDefaults::default())?;
        let mut errors = Vec::new();
        let old = inner.pools.read().clone();
        let wanted: HashSet<&str> = configs.iter().map(|c| c.job_name.as_str()).collect();

        let mut stopping = Vec::new();
        for (name, pool) in &old {
            if !wanted.contains(name.as_str()) {
                inner.pools.write().remove(name);
                stopping.push(pool.clone());
            }
        }
        futures::future::join_all(stopping.iter().map(|p| p.stop_all())).await;

        for cfg in configs {
            let job = cfg.job_name.clone();
            let cfg = Arc::new(cfg);
            let result = match old.get(&job) {
                Some(pool) => pool.update_config(inner, cfg).await,
                None => match ScrapePool::create(inner, cfg).await {
                    Ok(pool) => {
                        inner.pools.write().insert(job.clone(), pool);
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = result {
                tracing::error!(scrape_pool = %job, error = %e, "error applying scrape config");
                errors.push(format!("scrape config with job name {job:?}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors })
        }
    }

    /// Every active target with its last scrape's outcome, by job then URL.
    pub fn targets(&self) -> Vec<TargetStatus> {
        let gopts = self.inner.global_url.read().clone();
        let mut out = Vec::new();
        for pool in self.inner.pools.read().values() {
            let st = pool.state.lock();
            for h in st.loops.values() {
                let t = &h.target;
                let r = t.report.lock().clone();
                out.push(TargetStatus {
                    discovered_labels: t.discovered.lock().clone(),
                    labels: t.public_labels(),
                    scrape_pool: pool.job.clone(),
                    scrape_url: t.url.clone(),
                    global_url: global_url(&t.url, gopts.as_ref()),
                    last_error: r.last_error,
                    last_scrape: r.last_scrape_ms,
                    last_scrape_duration: r.last_scrape_duration.as_secs_f64(),
                    health: r.health,
                    scrape_interval: t.labels.get(SCRAPE_INTERVAL_LABEL).unwrap_or("").to_string(),
                    scrape_timeout: t.labels.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("").to_string(),
                    samples_out_of_order: r.samples_out_of_order,
                    samples_duplicate: r.samples_duplicate,
                    samples_out_of_bounds: r.samples_out_of_bounds,
                });
            }
        }
        out.sort_by(|a, b| (&a.scrape_pool, &a.scrape_url).cmp(&(&b.scrape_pool, &b.scrape_url)));
        out
    }

    /// Targets that relabelling dropped, by job in discovery order.
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let mut out = Vec::new();
        for pool in self.inner.pools.read().values() {
            out.extend(pool.state.lock().dropped.iter().cloned());
        }
        out
    }

    /// Metadata (type, help, unit) of every metric family exposed by any
    /// active target, deduplicated, sorted by metric name; for
    /// `/api/v1/metadata`. Kept for 10 scrapes after a family disappears.
    pub fn metadata(&self) -> Vec<(String, MetricMetadata)> {
        let mut out: Vec<(String, MetricMetadata)> = Vec::new();
        for tm in self.target_metadata() {
            if !out.iter().any(|(m, md)| *m == tm.metric && *md == tm.metadata) {
                out.push((tm.metric, tm.metadata));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.help.cmp(&b.1.help)));
        out
    }

    /// Metadata per target, for `/api/v1/targets/metadata`.
    pub fn target_metadata(&self) -> Vec<TargetMetadata> {
        let mut out = Vec::new();
        for pool in self.inner.pools.read().values() {
            let st = pool.state.lock();
            for h in st.loops.values() {
                let target = h.target.public_labels();
                for m in h.cache.lock().metadata() {
                    out.push(TargetMetadata {
                        scrape_pool: pool.job.clone(),
                        target: target.clone(),
                        metric: m.metric_family.clone(),
                        metadata: m,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.scrape_pool, &a.target, &a.metric).cmp(&(&b.scrape_pool, &b.target, &b.metric)));
        out
    }

    /// Stops every loop and file watcher and waits for them. In-flight
    /// scrapes are abandoned and, like Prometheus on shutdown, no staleness
    /// markers are written. Later `apply_config` calls fail.
    pub async fn stop(&self) {
        let inner = &self.inner;
        let _apply = inner.apply_lock.lock().await;
        inner.shutdown.cancel();
        let pools = std::mem::take(&mut *inner.pools.write());
        for pool in pools.values() {
            let mut st = pool.state.lock();
            st.sd_cancel.cancel();
            st.loops.clear();
        }
        drop(pools);
        inner.tasks_tx.lock().take();
        let mut rx = inner.tasks_rx.lock().await;
        while rx.recv().await.is_some() {}
    }
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        self.inner.shutdown.cancel();
    }
}

impl ScrapePool {
    async fn create(inner: &Arc<Inner>, cfg: Arc<ScrapeConfig>) -> Result<Arc<ScrapePool>, String> {
        let scraper = Arc::new(HttpScraper::new(&cfg, &inner.user_agent)?);
        let (groups, watchers) = start_discovery(&cfg);
        let sd_cancel = Cancel::new();
        let pool = Arc::new(ScrapePool {
            job: cfg.job_name.clone(),
            sync_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(PoolState {
                config: cfg,
                scraper,
                groups,
                generation: 0,
                sd_cancel: sd_cancel.clone(),
                loops: HashMap::new(),
                dropped: Vec::new(),
            }),
        });
        {
            let _sync = pool.sync_lock.lock().await;
            pool.sync(inner, None).await;
        }
        pool.spawn_watchers(inner, watchers, 0, sd_cancel);
        Ok(pool)
    }

    fn spawn_watchers(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
        watchers: Vec<(usize, FileSdWatcher)>,
        generation: u64,
        cancel: Cancel,
    ) {
        for (index, watcher) in watchers {
            let Some(guard) = inner.guard() else { return };
            let pool = Arc::downgrade(self);
            let weak_inner = Arc::downgrade(inner);
            let shutdown = inner.shutdown.clone();
            let poll = inner.file_sd_poll();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let _guard = guard;
                run_file_sd(weak_inner, pool, index, generation, watcher, poll, cancel, shutdown).await;
            });
        }
    }

    /// Applies a changed config for this job.
    async fn update_config(self: &Arc<Self>, inner: &Arc<Inner>, cfg: Arc<ScrapeConfig>) -> Result<(), String> {
        let _sync = self.sync_lock.lock().await;
        let (old_cfg, old_scraper) = {
            let st = self.state.lock();
            (st.config.clone(), st.scraper.clone())
        };
        if *old_cfg == *cfg {
            return Ok(());
        }
        let settings_changed = !same_scrape_settings(&old_cfg, &cfg);
        let scraper = if settings_changed {
            Arc::new(HttpScraper::new(&cfg, &inner.user_agent)?)
        } else {
            old_scraper
        };
        let sd_changed = old_cfg.static_configs != cfg.static_configs || old_cfg.file_sd_configs != cfg.file_sd_configs;
        let mut new_watchers = None;
        {
            let mut st = self.state.lock();
            if sd_changed {
                st.sd_cancel.cancel();
                st.sd_cancel = Cancel::new();
                st.generation += 1;
                let (groups, watchers) = start_discovery(&cfg);
                st.groups = groups;
                new_watchers = Some((watchers, st.generation, st.sd_cancel.clone()));
            }
            st.config = cfg.clone();
            st.scraper = scraper;
        }
        let restart = settings_changed.then(|| reusable_cache(&old_cfg, &cfg));
        self.sync(inner, restart).await;
        if let Some((watchers, generation, cancel)) = new_watchers {
            self.spawn_watchers(inner, watchers, generation, cancel);
        }
        Ok(())
    }

    /// Replaces the groups of file_sd provider `index` (if still current).
    async fn update_file_sd(&self, inner: &Arc<Inner>, index: usize, generation: u64, groups: Vec<TargetGroup>) {
        let _sync = self.sync_lock.lock().await;
        {
            let mut st = self.state.lock();
            if st.generation != generation {
                return;
            }
            let prefix = file_sd_key(index, "");
            let mut fresh: BTreeMap<String, TargetGroup> =
                groups.into_iter().map(|g| (file_sd_key(index, &g.source), g)).collect();
            let old: BTreeMap<String, TargetGroup> = st
                .groups
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if old == fresh {
                return;
            }
            st.groups.retain(|k, _| !k.starts_with(&prefix));
            st.groups.append(&mut fresh);
        }
        self.sync(inner, None).await;
    }

    /// Prometheus's `Sync`: turns the groups into targets, starts loops for
    /// new targets, stops those of vanished ones and, with `restart`, also
    /// restarts the loops of kept targets with the current settings
    /// (`Some(true)`: handing over their cache). Call with `sync_lock` held.
    async fn sync(&self, inner: &Arc<Inner>, restart: Option<bool>) {
        if inner.shutdown.is_cancelled() {
            return;
        }
        let to_stop: Vec<LoopHandle> = {
            let mut st = self.state.lock();
            let cfg = st.config.clone();
            let mut dropped = Vec::new();
            let mut wanted: Vec<Target> = Vec::new();
            let mut seen = HashSet::new();
            for g in st.groups.values() {
                let (populated, failures) = targets_from_group(g, &cfg);
                for f in failures {
                    tracing::error!(scrape_pool = %self.job, error = %f, "creating target failed");
                }
                for p in populated {
                    match p {
                        Populated::Kept { labels, discovered } => {
                            let t = Target::new(labels, discovered, &cfg.params);
                            if seen.insert(t.hash) {
                                wanted.push(t);
                            }
                        }
                        Populated::Dropped { discovered } => {
                            dropped.push(DroppedTarget {
                                discovered_labels: discovered,
                                scrape_pool: self.job.clone(),
                            });
                        }
                    }
                }
            }
            st.dropped = dropped;

            let mut old = std::mem::take(&mut st.loops);
            let mut loops = HashMap::with_capacity(wanted.len());
            for t in wanted {
                let hash = t.hash;
                match old.remove(&hash) {
                    Some(h) => {
                        *h.target.discovered.lock() = t.discovered.into_inner();
                        match restart {
                            None => {
                                loops.insert(hash, h);
                            }
                            Some(reuse) => {
                                let cache = reuse.then(|| {
                                    h.disable_end_of_run_staleness();
                                    h.cache.clone()
                                });
                                let target = h.target.clone();
                                if let Some(nh) = self.spawn_loop(inner, &st, target, cache, Some(h)) {
                                    loops.insert(hash, nh);
                                }
                            }
                        }
                    }
                    None => {
                        if let Some(nh) = self.spawn_loop(inner, &st, Arc::new(t), None, None) {
                            loops.insert(hash, nh);
                        }
                    }
                }
            }
            st.loops = loops;
            old.into_values().collect()
        };
        futures::future::join_all(to_stop.into_iter().map(LoopHandle::stop)).await;
    }

    fn spawn_loop(
        &self,
        inner: &Arc<Inner>,
        st: &PoolState,
        target: Arc<Target>,
        cache: Option<Arc<Mutex<super::scrape_loop::ScrapeCache>>>,
        previous: Option<LoopHandle>,
    ) -> Option<LoopHandle> {
        let guard = inner.guard()?;
        let cfg = &st.config;
        let (interval, timeout) = target.interval_and_timeout(cfg.interval(), cfg.timeout());
        let opts = LoopOptions {
            interval,
            timeout,
            honor_labels: cfg.honor_labels,
            honor_timestamps: cfg.honor_timestamps,
            sample_limit: cfg.sample_limit as usize,
            label_limits: LabelLimits {
                label_limit: cfg.label_limit as usize,
                name_length: cfg.label_name_length_limit as usize,
                value_length: cfg.label_value_length_limit as usize,
            },
            metric_relabel: Arc::new(cfg.metric_relabel_configs.clone()),
            jitter_seed: inner.jitter_seed.load(Ordering::Relaxed),
        };
        Some(LoopHandle::spawn(
            target,
            st.scraper.clone(),
            opts,
            inner.sink.clone(),
            cache,
            previous,
            inner.shutdown.clone(),
            guard,
        ))
    }

    /// Stops discovery and every loop (with end-of-run staleness markers).
    async fn stop_all(&self) {
        let _sync = self.sync_lock.lock().await;
        let loops: Vec<LoopHandle> = {
            let mut st = self.state.lock();
            st.sd_cancel.cancel();
            st.dropped.clear();
            st.loops.drain().map(|(_, h)| h).collect()
        };
        futures::future::join_all(loops.into_iter().map(LoopHandle::stop)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_file_sd(
    inner: Weak<Inner>,
    pool: Weak<ScrapePool>,
    index: usize,
    generation: u64,
    mut watcher: FileSdWatcher,
    poll: Duration,
    cancel: Cancel,
    shutdown: Cancel,
) {
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
        if !watcher.needs_refresh() {
            continue;
        }
        let groups = watcher.refresh();
        let (Some(inner), Some(pool)) = (inner.upgrade(), pool.upgrade()) else {
            return;
        };
        if cancel.is_cancelled() {
            return;
        }
        pool.update_file_sd(&inner, index, generation, groups).await;
    }
}
