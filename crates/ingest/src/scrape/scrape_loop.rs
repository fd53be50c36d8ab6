//! The scrape loop of one target, after Prometheus 2.42's `scrapeLoop`:
//! scrape at a fixed phase every interval, turn the body into series
//! (target labels, `honor_labels`, metric relabelling, limits), append them
//! with staleness markers for series that went away, and report the five
//! `up`/`scrape_*` series — all in one commit per scrape.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::{is_stale_nan, is_valid_label_name, is_valid_metric_name, now_millis, Labels, STALE_NAN};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use super::http::HttpScraper;
use super::target::{Target, TargetHealth};
use super::Cancel;
use crate::exposition::{self, Exposition, Format, MetricMetadata};
use crate::relabel::{self, RelabelConfig};
use crate::sink::{BatchAppender, SampleRefusal, SampleSink};

/// Prefix given to scraped labels that clash with target labels.
pub const EXPORTED_LABEL_PREFIX: &str = "exported_";

/// Samples further ahead than this are refused as out of bounds.
const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// Scrape timestamps within this of the ideal (interval-aligned) time are
/// moved onto it, which compresses better (Prometheus's
/// `ScrapeTimestampTolerance`).
const SCRAPE_TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// The series every scrape reports, in Prometheus's order.
pub(crate) const REPORT_METRICS: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Error of a scrape over `sample_limit`.
pub const ERR_SAMPLE_LIMIT: &str = "sample limit exceeded";

/// The label limits of a scrape config (0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LabelLimits {
    pub label_limit: usize,
    pub name_length: usize,
    pub value_length: usize,
}

/// Settings of one loop, from the scrape config and the target.
#[derive(Debug, Clone)]
pub(crate) struct LoopOptions {
    pub interval: Duration,
    pub timeout: Duration,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub sample_limit: usize,
    pub label_limits: LabelLimits,
    pub metric_relabel: Arc<Vec<RelabelConfig>>,
    pub jitter_seed: u64,
}

#[derive(Debug)]
struct CacheEntry {
    lset: Labels,
    last_iter: u64,
}

#[derive(Debug)]
struct MetaEntry {
    meta: MetricMetadata,
    last_iter: u64,
}

/// What a loop remembers between scrapes: scraped label sets already
/// turned into series (or dropped), the series of the previous scrape for
/// staleness, and metadata. Handed to the next loop of the same target on
/// a reload that does not change how series are made.
#[derive(Debug, Default)]
pub(crate) struct ScrapeCache {
    iter: u64,
    successful_count: usize,
    series: HashMap<Labels, CacheEntry>,
    dropped: HashMap<Labels, u64>,
    series_cur: HashSet<Labels>,
    series_prev: HashSet<Labels>,
    metadata: HashMap<String, MetaEntry>,
}

impl ScrapeCache {
    fn get(&mut self, scraped: &Labels) -> Option<Labels> {
        let iter = self.iter;
        self.series.get_mut(scraped).map(|e| {
            e.last_iter = iter;
            e.lset.clone()
        })
    }

    fn is_dropped(&mut self, scraped: &Labels) -> bool {
        let iter = self.iter;
        match self.dropped.get_mut(scraped) {
            Some(i) => {
                *i = iter;
                true
            }
            None => false,
        }
    }

    fn set_metadata(&mut self, m: &MetricMetadata) {
        let iter = self.iter;
        self.metadata
            .entry(m.metric_family.clone())
            .and_modify(|e| {
                e.meta = m.clone();
                e.last_iter = iter;
            })
            .or_insert_with(|| MetaEntry {
                meta: m.clone(),
                last_iter: iter,
            });
    }

    /// Ends a scrape: on success (non-empty body) forgets what was not seen,
    /// keeping metadata for 10 more scrapes; always makes this scrape's
    /// series the "previous" ones.
    fn iter_done(&mut self, mut flush: bool) {
        let count = self.series.len() + self.dropped.len() + self.metadata.len();
        if flush {
            self.successful_count = count;
        } else if count > self.successful_count * 2 + 1000 {
            // Failing scrapes with varying labels would grow the cache
            // forever; flush when it doubled.
            flush = true;
        }
        if flush {
            let iter = self.iter;
            self.series.retain(|_, e| e.last_iter == iter);
            self.dropped.retain(|_, i| *i == iter);
            self.metadata.retain(|_, e| iter - e.last_iter <= 10);
            self.iter += 1;
        }
        std::mem::swap(&mut self.series_prev, &mut self.series_cur);
        self.series_cur.clear();
    }

    /// Metadata currently known for the target.
    pub fn metadata(&self) -> Vec<MetricMetadata> {
        self.metadata.values().map(|e| e.meta.clone()).collect()
    }
}

/// Counts of one append pass.
#[derive(Debug, Default, Clone, Copy)]
struct AppendStats {
    total: usize,
    added: usize,
    series_added: usize,
}

#[derive(Debug, Default)]
struct Refusals {
    out_of_order: u64,
    duplicate: u64,
    out_of_bounds: u64,
}

/// Prometheus's `mutateSampleLabels` without the relabelling step: attach
/// the target's labels to a scraped label set. With `honor_labels` the
/// scraped value wins; otherwise the target's does and the scraped value
/// moves to `exported_<name>` (`exported_exported_<name>`, ... if taken).
pub fn merge_target_labels(scraped: &Labels, target: &Labels, honor_labels: bool) -> Labels {
    let mut lb = scraped.to_builder();
    if honor_labels {
        for l in target.iter() {
            if scraped.get(&l.name).unwrap_or("").is_empty() {
                lb.set(l.name.clone(), l.value.clone());
            }
        }
    } else {
        let mut conflicts = Vec::new();
        for l in target.iter() {
            if let Some(v) = scraped.get(&l.name).filter(|v| !v.is_empty()) {
                conflicts.push((l.name.to_string(), v.to_string()));
            }
            lb.set(l.name.clone(), l.value.clone());
        }
        // Shorter names first, so `exported_a` from `a` is resolved before
        // a scraped `exported_a` that clashes with a target label of that name.
        conflicts.sort_by_key(|(n, _)| n.len());
        for (name, value) in conflicts {
            let mut new_name = name;
            loop {
                new_name = format!("{EXPORTED_LABEL_PREFIX}{new_name}");
                if lb.get(&new_name).unwrap_or("").is_empty() {
                    lb.set(new_name, value);
                    break;
                }
            }
        }
    }
    lb.build()
}

/// Labels of a report series (`up`, ...): the metric name plus the target's.
fn report_labels(name: &str, target: &Labels) -> Labels {
    merge_target_labels(&Labels::from_pairs([(model::METRIC_NAME, name)]), target, false)
}

fn trunc50(s: &str) -> &str {
    match s.char_indices().nth(50) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Prometheus's `verifyLabelLimits`, with its messages.
pub(crate) fn verify_label_limits(lset: &Labels, limits: &LabelLimits) -> Result<(), String> {
    let met = lset.metric_name().unwrap_or("");
    if limits.label_limit > 0 && lset.len() > limits.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
            trunc50(met),
            lset.len(),
            limits.label_limit
        ));
    }
    for l in lset.iter() {
        if limits.name_length > 0 && l.name.len() > limits.name_length {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {}, label name: {}, length: {}, limit: {})",
                trunc50(met),
                trunc50(&l.name),
                l.name.len(),
                limits.name_length
            ));
        }
        if limits.value_length > 0 && l.value.len() > limits.value_length {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {}, label name: {}, value: {:?}, length: {}, limit: {})",
                trunc50(met),
                trunc50(&l.name),
                trunc50(&l.value),
                l.value.len(),
                limits.value_length
            ));
        }
    }
    Ok(())
}

fn labels_valid(lset: &Labels) -> bool {
    lset.iter()
        .all(|l| is_valid_label_name(&l.name) && (l.name != model::METRIC_NAME || is_valid_metric_name(&l.value)))
}

/// Keeps the manager's shutdown waiting while a task lives.
#[derive(Debug, Clone)]
pub(crate) struct TaskGuard(#[allow(dead_code)] pub mpsc::Sender<()>);

/// The manager's side of a running loop.
pub(crate) struct LoopHandle {
    pub target: Arc<Target>,
    pub cache: Arc<Mutex<ScrapeCache>>,
    stop: Cancel,
    stopped: oneshot::Receiver<()>,
    disable_end_of_run: Arc<AtomicBool>,
}

impl LoopHandle {
    /// Starts a loop for `target`. With `previous`, the new loop first waits
    /// for that loop to stop (a reload); with `cache`, it continues from
    /// that cache (the previous loop then writes no staleness markers).
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        target: Arc<Target>,
        scraper: Arc<HttpScraper>,
        opts: LoopOptions,
        sink: Arc<dyn SampleSink>,
        cache: Option<Arc<Mutex<ScrapeCache>>>,
        previous: Option<LoopHandle>,
        shutdown: Cancel,
        guard: TaskGuard,
    ) -> LoopHandle {
        let cache = cache.unwrap_or_default();
        let stop = Cancel::new();
        let (stopped_tx, stopped) = oneshot::channel();
        let disable_end_of_run = Arc::new(AtomicBool::new(false));
        let public = target.public_labels();
        let sl = ScrapeLoop {
            report_labels: REPORT_METRICS.map(|n| report_labels(n, &public)),
            target_labels: public,
            target: target.clone(),
            scraper,
            opts,
            sink,
            cache: cache.clone(),
            shutdown,
            stop: stop.clone(),
            disable_end_of_run: disable_end_of_run.clone(),
        };
        tokio::spawn(async move {
            let _guard = guard;
            if let Some(prev) = previous {
                prev.stop().await;
            }
            sl.run(stopped_tx).await;
        });
        LoopHandle {
            target,
            cache,
            stop,
            stopped,
            disable_end_of_run,
        }
    }

    /// No staleness markers when this loop ends (its cache lives on).
    pub fn disable_end_of_run_staleness(&self) {
        self.disable_end_of_run.store(true, Ordering::SeqCst);
    }

    /// Stops the loop and waits until it has stopped scraping (an in-flight
    /// scrape finishes first). Staleness markers for its series are written
    /// afterwards, about two intervals later, unless disabled or the
    /// manager shuts down.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.stopped.await;
    }
}

struct ScrapeLoop {
    target: Arc<Target>,
    target_labels: Labels,
    report_labels: [Labels; 5],
    scraper: Arc<HttpScraper>,
    opts: LoopOptions,
    sink: Arc<dyn SampleSink>,
    cache: Arc<Mutex<ScrapeCache>>,
    shutdown: Cancel,
    stop: Cancel,
    disable_end_of_run: Arc<AtomicBool>,
}

impl ScrapeLoop {
    async fn run(self, stopped: oneshot::Sender<()>) {
        let interval = self.opts.interval.max(Duration::from_millis(1));
        let offset = self.target.offset(interval, self.opts.jitter_seed);
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return drop(stopped),
            _ = self.stop.cancelled() => return drop(stopped),
            _ = tokio::time::sleep(offset) => {}
        }
        let interval_ms = interval.as_millis() as i64;
        let tolerance = SCRAPE_TIMESTAMP_TOLERANCE_MS.max(interval_ms / 100);
        let mut aligned = now_millis();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last: Option<i64> = None;
        loop {
            if self.shutdown.is_cancelled() {
                return drop(stopped);
            }
            if self.stop.is_cancelled() {
                break;
            }
            // Align the timestamp onto the ideal grid when within tolerance.
            let mut scrape_time = now_millis();
            while scrape_time - aligned >= interval_ms {
                aligned += interval_ms;
            }
            if scrape_time - aligned <= tolerance {
                scrape_time = aligned;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return drop(stopped),
                _ = self.scrape_and_report(scrape_time) => {}
            }
            last = Some(scrape_time);
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return drop(stopped),
                _ = self.stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
        }
        drop(stopped);
        if !self.disable_end_of_run.load(Ordering::SeqCst) {
            self.end_of_run_staleness(last, &mut ticker, interval).await;
        }
    }

    /// One scrape: fetch, append (or staleness markers only, on failure),
    /// report, commit once.
    async fn scrape_and_report(&self, ts: i64) {
        let start = Instant::now();
        let fetched = self.scraper.fetch(&self.target.url, self.opts.timeout).await;

        let mut app = self.sink.appender();
        let mut refusals = Refusals::default();
        let mut stats = AppendStats::default();
        let scrape_err: Option<String>;
        {
            let mut cache = self.cache.lock();
            let outcome = match fetched {
                Ok(f) => {
                    let non_empty = !f.body.is_empty();
                    match exposition::parse(&f.body, Format::from_content_type(&f.content_type)) {
                        Ok(expo) => {
                            match self.append(&mut cache, app.as_mut(), &expo, ts, &mut refusals) {
                                Ok(s) => {
                                    stats = s;
                                    cache.iter_done(non_empty);
                                    Ok(())
                                }
                                Err((s, e)) => {
                                    stats = s;
                                    // Nothing of a failed scrape is stored.
                                    app = self.sink.appender();
                                    Err(e)
                                }
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e),
            };
            scrape_err = outcome.err();
            if scrape_err.is_some() {
                // A failed scrape is an empty one: every series of the
                // previous scrape gets a staleness marker (once: the set of
                // previous series is empty afterwards).
                cache.series_cur.clear();
                self.append_stale_markers(&mut cache, app.as_mut(), ts);
                cache.iter_done(false);
            }
        }
        if let Some(e) = &scrape_err {
            tracing::debug!(target = %self.target.url, error = %e, "scrape failed");
        }

        let duration = start.elapsed();
        let health = if scrape_err.is_none() { 1.0 } else { 0.0 };
        let values = [
            health,
            duration.as_secs_f64(),
            stats.total as f64,
            stats.added as f64,
            stats.series_added as f64,
        ];
        self.append_report(app.as_mut(), ts, values);
        {
            let mut r = self.target.report.lock();
            r.health = if scrape_err.is_none() {
                TargetHealth::Up
            } else {
                TargetHealth::Down
            };
            r.last_error = scrape_err.unwrap_or_default();
            r.last_scrape_ms = Some(ts);
            r.last_scrape_duration = duration;
            r.samples_out_of_order += refusals.out_of_order;
            r.samples_duplicate += refusals.duplicate;
            r.samples_out_of_bounds += refusals.out_of_bounds;
        }
        if refusals.out_of_order > 0 {
            tracing::warn!(target = %self.target.url, num_dropped = refusals.out_of_order, "error on ingesting out-of-order samples");
        }
        if refusals.duplicate > 0 {
            tracing::warn!(target = %self.target.url, num_dropped = refusals.duplicate, "error on ingesting samples with different value but same timestamp");
        }
        if refusals.out_of_bounds > 0 {
            tracing::warn!(target = %self.target.url, num_dropped = refusals.out_of_bounds, "error on ingesting samples that are too old or are too far into the future");
        }
        if let Err(e) = app.commit() {
            tracing::error!(target = %self.target.url, error = %e, "scrape commit failed");
        }
    }

    /// Appends the samples of a parsed scrape. On error (invalid series,
    /// label limits, sample limit, a sample the storage rejects) the batch
    /// must be discarded; the counts are still reported.
    fn append(
        &self,
        cache: &mut ScrapeCache,
        app: &mut dyn BatchAppender,
        expo: &Exposition,
        default_ts: i64,
        refusals: &mut Refusals,
    ) -> Result<AppendStats, (AppendStats, String)> {
        let max_time = now_millis() + MAX_AHEAD_MS;
        let mut stats = AppendStats::default();
        let mut appended = 0usize;
        let mut sample_limit_hit = false;
        let mut err: Option<String> = None;

        for m in &expo.metadata {
            cache.set_metadata(m);
        }
        for s in &expo.samples {
            stats.total += 1;
            let explicit_ts = if self.opts.honor_timestamps {
                s.timestamp_ms
            } else {
                None
            };
            let t = explicit_ts.unwrap_or(default_ts);
            if cache.is_dropped(&s.labels) {
                continue;
            }
            let (lset, cached) = match cache.get(&s.labels) {
                Some(l) => (l, true),
                None => {
                    let merged = merge_target_labels(&s.labels, &self.target_labels, self.opts.honor_labels);
                    let lset = if self.opts.metric_relabel.is_empty() {
                        Some(merged)
                    } else {
                        relabel::process(&merged, &self.opts.metric_relabel)
                    };
                    let lset = match lset {
                        Some(l) if !l.is_empty() => l,
                        _ => {
                            cache.dropped.insert(s.labels.clone(), cache.iter);
                            continue;
                        }
                    };
                    if lset.metric_name().is_none() {
                        err = Some("missing metric name (__name__ label)".to_string());
                        break;
                    }
                    if !labels_valid(&lset) {
                        err = Some(format!("invalid metric name or label names: {lset}"));
                        break;
                    }
                    if let Err(e) = verify_label_limits(&lset, &self.opts.label_limits) {
                        err = Some(e);
                        break;
                    }
                    (lset, false)
                }
            };

            // The sample limit counts samples after relabelling.
            let over_limit = if self.opts.sample_limit > 0 && !is_stale_nan(s.value) {
                appended += 1;
                appended > self.opts.sample_limit
            } else {
                false
            };
            let sample_added = if over_limit {
                sample_limit_hit = true;
                false
            } else {
                let res = if t > max_time {
                    Err(SampleRefusal::OutOfBounds)
                } else {
                    app.append(&lset, t, s.value)
                };
                match res {
                    Ok(()) => {
                        if cached && explicit_ts.is_none() {
                            cache.series_cur.insert(lset.clone());
                        }
                        true
                    }
                    Err(SampleRefusal::OutOfOrder) => {
                        refusals.out_of_order += 1;
                        false
                    }
                    Err(SampleRefusal::DuplicateTimestamp) => {
                        refusals.duplicate += 1;
                        false
                    }
                    Err(SampleRefusal::OutOfBounds) => {
                        refusals.out_of_bounds += 1;
                        false
                    }
                    Err(SampleRefusal::Rejected(reason)) => {
                        err = Some(format!("{reason} (series {lset})"));
                        break;
                    }
                }
            };
            if !cached {
                // Series with an explicit timestamp get no staleness markers.
                if explicit_ts.is_none() {
                    cache.series_cur.insert(lset.clone());
                }
                if sample_added {
                    cache.series.insert(
                        s.labels.clone(),
                        CacheEntry {
                            lset,
                            last_iter: cache.iter,
                        },
                    );
                    if !sample_limit_hit {
                        stats.series_added += 1;
                    }
                }
            }
            stats.added += 1;
        }
        if err.is_none() && sample_limit_hit {
            err = Some(ERR_SAMPLE_LIMIT.to_string());
        }
        if let Some(e) = err {
            return Err((stats, e));
        }
        self.append_stale_markers(cache, app, default_ts);
        Ok(stats)
    }

    /// Staleness markers at `ts` for series of the previous scrape that are
    /// not in the current one. Refusals are expected (the target may have
    /// come back under a new loop) and ignored.
    fn append_stale_markers(&self, cache: &mut ScrapeCache, app: &mut dyn BatchAppender, ts: i64) {
        for lset in cache.series_prev.iter() {
            if !cache.series_cur.contains(lset) {
                if let Err(e) = app.append(lset, ts, STALE_NAN) {
                    tracing::debug!(series = %lset, error = %e, "staleness marker refused");
                }
            }
        }
    }

    fn append_report(&self, app: &mut dyn BatchAppender, ts: i64, values: [f64; 5]) {
        for (lset, v) in self.report_labels.iter().zip(values) {
            match app.append(lset, ts, v) {
                Ok(()) | Err(SampleRefusal::OutOfOrder) | Err(SampleRefusal::DuplicateTimestamp) => {}
                Err(e) => tracing::warn!(series = %lset, error = %e, "appending scrape report failed"),
            }
        }
    }

    /// After the loop was stopped (its target went away), waits for when
    /// the next scrape would have been, then one more interval and 10%, and
    /// writes staleness markers for all of the last scrape's series and the
    /// report series, timestamped at that next scrape time. Nothing is
    /// written if the manager shuts down meanwhile (Prometheus writes no
    /// markers on shutdown) or the loop never scraped.
    async fn end_of_run_staleness(&self, last: Option<i64>, ticker: &mut tokio::time::Interval, interval: Duration) {
        if last.is_none() {
            return;
        }
        let stale_time = tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return,
            _ = ticker.tick() => now_millis(),
        };
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval / 10) => {}
        }
        if self.disable_end_of_run.load(Ordering::SeqCst) {
            return;
        }
        let mut app = self.sink.appender();
        {
            let mut cache = self.cache.lock();
            cache.series_cur.clear();
            self.append_stale_markers(&mut cache, app.as_mut(), stale_time);
            cache.iter_done(false);
        }
        self.append_report(app.as_mut(), stale_time, [STALE_NAN; 5]);
        if let Err(e) = app.commit() {
            tracing::warn!(target = %self.target.url, error = %e, "stale commit failed");
        }
    }
}
