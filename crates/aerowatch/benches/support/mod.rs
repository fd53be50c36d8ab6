//! Helpers of the benches: the workload, a lean HTTP client, and process
//! control with /proc readings. Shared by several benches, each of which uses
//! a different part, hence the dead-code allowance.
#![allow(dead_code)]
/// The browser tests' WebDriver client, shared with the UI bench.
#[path = "../../tests/common/browser.rs"]
pub mod browser;
pub mod dataset;
pub mod http;
pub mod proc;
pub mod proto;
pub mod webapp;

pub use proc::free_port;

/// A number from the environment, or `default` when unset or unparsable.
pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
