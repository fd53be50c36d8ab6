//! Built-in collectors that replace node_exporter, postgres_exporter and
//! redis_exporter for small setups. They write straight into the store,
//! under those exporters' own metric and label names, so existing dashboards
//! and alerts keep working.
//!
//! How the server uses it:
//!
//! 1. Deserialize the `collectors:` section into [`CollectorsConfig`] and call
//!    [`CollectorsConfig::validate`], which reports every problem at once.
//! 2. [`Collectors::start`] with an `Arc<dyn SampleSink>` spawns one task per
//!    enabled collector; each collects every `interval` (default 15s) and
//!    appends one batch stamped with the collection's start time.
//! 3. On reload or shutdown, [`Collectors::stop`], then start again.
//!
//! Every sample carries `job` and `instance`: `job="node"` with the host name,
//! `job="postgres"` / `job="redis"` with the server's `host:port` (or the
//! configured `instance`). An unreachable server gives `pg_up 0` /
//! `redis_up 0` within the timeout (the interval, at most 10s) and is logged
//! once per change of state, not every interval.
#![warn(missing_docs)]

pub mod config;
mod host;
mod postgres;
mod redis;
mod runner;
mod sample;

pub use config::{CollectorsConfig, HostConfig, PostgresConfig, RedisConfig};
pub use runner::Collectors;
pub use sample::Sample;
