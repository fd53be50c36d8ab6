//! Alertmanager 0.25's core semantics as a library: what to send to which
//! receiver, when. No HTTP server and no delivery live here; the server crate
//! exposes [`api`] over HTTP and a delivery crate implements
//! [`dispatch::Notifier`].
//!
//! # Pipeline
//!
//! ```text
//!  POST /api/v2/alerts ──► api::post_alerts ─┐
//!  rule engine ─────────► Alertmanager::put_alerts
//!                                            ▼
//!                      store::AlertStore (merge by fingerprint, GC)
//!                                            │ AlertListener (sync, in order)
//!                      ┌─────────────────────┴───────────────┐
//!                      ▼                                     ▼
//!        inhibit::Inhibitor (source cache)     dispatch::Dispatcher
//!                                                │ route::Route::matches (continue, depth-first)
//!                                                ▼
//!                                aggregation group (route key + group labels)
//!                                                │ group_wait, then every group_interval
//!                                                ▼
//!                 mute: inhibition → active/mute time intervals → silences
//!                                                │ (marker records why)
//!                                                ▼
//!             dedup per integration: nflog::needs_update (repeat_interval, send_resolved)
//!                                                ▼
//!                         dispatch::Notifier (delivery crate) ──► nflog::NotificationLog
//! ```
//!
//! # Public API
//!
//! - [`config::Config::parse`] / [`config::Config::from_value`]: load and
//!   validate alertmanager.yml (errors carry file and line).
//! - [`engine::Alertmanager`]: everything wired together; `put_alerts`,
//!   `reload`, `maintenance` (GC + snapshots), and `run(notifier, shutdown)`.
//! - [`dispatch::Notifier`], [`dispatch::Notification`]: the delivery contract.
//! - [`api`]: Alertmanager API v2 request/response shapes and handler logic.
//! - Building blocks: [`matchers`] (classic matcher syntax), [`route::Route`],
//!   [`alert::Alert`] / [`alert::Fingerprint`], [`store::AlertStore`],
//!   [`silences::Silences`], [`inhibit::Inhibitor`], [`marker::Marker`],
//!   [`nflog::NotificationLog`], [`timeinterval`], [`clock`].
//!
//! # Time and I/O
//!
//! Every component reads time from a [`clock::Clock`]; tests use
//! [`clock::ManualClock`] to run group timers deterministically. Persistence
//! (silences, notification log) is synchronous, atomic file replacement done
//! at construction, from [`engine::Alertmanager::maintenance`], or from
//! `spawn_blocking` inside [`engine::Alertmanager::run`]; nothing on the
//! async paths blocks on I/O.
#![warn(missing_docs)]

pub mod alert;
pub mod api;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod inhibit;
pub mod marker;
pub mod matchers;
pub mod nflog;
pub mod persist;
pub mod route;
pub mod silences;
pub mod store;
pub mod timeinterval;
pub mod tz;
pub mod uuid;

pub use alert::{Alert, AlertStatus, Fingerprint};
pub use config::{Config, ConfigError};
pub use dispatch::{Notification, Notifier, NotifyError};
pub use engine::{Alertmanager, EngineOptions};
