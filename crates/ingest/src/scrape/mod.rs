//! The scrape manager: pulls metrics from HTTP targets the way Prometheus
//! 2.42's `scrape` package does.
//!
//! * [`ScrapeConfig`] is one `scrape_configs` entry (static and file-based
//!   targets, HTTP auth and TLS, relabelling, limits), validated with every
//!   problem reported at once.
//! * [`populate_labels`] turns discovered label sets into targets exactly
//!   like Prometheus's `PopulateLabels`.
//! * [`ScrapeManager`] runs one loop per target, appending through a
//!   [`SampleSink`](crate::sink::SampleSink): one commit per scrape with the
//!   samples, staleness markers and the `up`/`scrape_*` report series; it
//!   answers what `/api/v1/targets` and `/api/v1/metadata` show.
//!
//! Deliberate differences from Prometheus 2.42:
//! * Removing a whole job writes staleness markers for its series, like
//!   removing one target does (Prometheus writes none for a removed job).
//! * A scrape failed by a limit or a parse error marks every series of the
//!   previous scrape stale, as any failed scrape does (Prometheus can miss
//!   series that it had begun to append).
//! * A change to only a job's target list (static or file_sd) keeps the
//!   loops of unchanged targets running (Prometheus restarts them).
//! * file_sd files are watched by polling modification times, not inotify.
//! * `tls_config.server_name` sets the name the certificate is verified
//!   against; the SNI sent remains the target host.
mod config;
mod file_sd;
mod http;
mod manager;
mod scrape_loop;
mod target;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::watch;

pub use config::{
    parse_scrape_configs, prepare_scrape_configs, Authorization, BasicAuth, ByteSize, ConfigError, FileSdConfig,
    GlobalScrapeDefaults, ScrapeConfig, Secret, StaticConfig, TlsConfig,
};
pub use file_sd::{parse_file_sd, FILEPATH_LABEL};
pub use http::{ERR_BODY_SIZE_LIMIT, SCRAPE_ACCEPT_HEADER};
pub use manager::{ScrapeManager, TargetMetadata, DEFAULT_FILE_SD_POLL_INTERVAL};
pub use scrape_loop::{merge_target_labels, ERR_SAMPLE_LIMIT, EXPORTED_LABEL_PREFIX};
pub use target::{
    format_rfc3339_millis, populate_labels, serialize_labels, targets_from_group, DroppedTarget, GlobalUrlOptions,
    PopulateError, Populated, TargetGroup, TargetHealth, TargetStatus, ADDRESS_LABEL, INSTANCE_LABEL, JOB_LABEL,
    META_LABEL_PREFIX, METRICS_PATH_LABEL, PARAM_LABEL_PREFIX, SCHEME_LABEL, SCRAPE_INTERVAL_LABEL,
    SCRAPE_TIMEOUT_LABEL,
};

/// A cancellation signal that any number of tasks can wait for.
#[derive(Debug, Clone)]
pub(crate) struct Cancel(Arc<watch::Sender<bool>>);

impl Cancel {
    pub fn new() -> Self {
        Cancel(Arc::new(watch::channel(false).0))
    }

    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancelled (at once if already).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}
