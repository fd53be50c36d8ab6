//! Automatic recovery for Aerowatch (OpenAero design §5.2): when a check goes
//! down (or an alert fires), run a configured action — a program or an HTTP
//! request — retry it with backoff, verify the check came back, and give up
//! loudly when it keeps failing.
//!
//! How the server uses it:
//!
//! 1. Parse the `recovery:` section ([`RecoveryConfig::from_yaml`], or embed
//!    `Vec<`[`StrategyConfig`]`>` in a larger file) and [`RecoveryConfig::validate`]
//!    it with the configured check names → `Vec<`[`Strategy`]`>` or every problem at once.
//! 2. Implement [`Verifier`] (run the check once with `probes::Prober::probe`) and
//!    [`Escalator`] (raise a critical alert/notification).
//! 3. [`Engine::new`] with the strategies, both traits and [`EngineOptions`]
//!    (concurrency limit, history length, data dir); it loads `recovery.json`.
//! 4. `tokio::spawn(engine.clone().run(scheduler.subscribe()))`; call
//!    [`Engine::trigger_alert`] when an alert starts firing.
//! 5. Serve [`Engine::history`] (newest first) and append [`Engine::write_metrics`]
//!    to `/metrics`.
//!
//! Gating, per strategy: one recovery at a time; none within `cooldown` after the
//! previous one ended; none while the circuit breaker is open (opened by
//! `circuit_breaker.failures` failed recoveries within `window`, for `window`,
//! escalating once per opening). Cooldown and breaker state are persisted with
//! the history, so a restart does not repeat a recovery that is cooling down.
//!
//! A recovery makes up to `max_attempts` attempts: run the action (command:
//! argv without a shell, killed at `timeout`, last 64 KiB of output kept; http:
//! any 2xx is success), then verify through the [`Verifier`]; the first verified
//! attempt ends it. Between attempts it sleeps an exponential, fully jittered,
//! capped backoff. Every attempt and every skipped trigger is an [`AttemptRecord`].
#![warn(missing_docs)]

pub mod action;
pub mod config;
mod engine;
pub mod history;

pub use action::{ActionOutput, MAX_OUTPUT_BYTES};
pub use config::{
    Action, ActionConfig, BreakerConfig, ConfigError, HttpActionConfig, RecoveryConfig, Strategy, StrategyConfig,
    Trigger, TriggerConfig,
};
pub use engine::{BoxFuture, Dispatch, Engine, EngineOptions, Escalator, RecoveryError, Verifier};
pub use history::{AttemptRecord, Outcome, StrategyState};
