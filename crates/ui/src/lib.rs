//! The web UI: its assets, embedded at build time, and the dashboards it
//! shows (a built-in overview, dashboard files named in the config, and
//! Grafana dashboards imported through the API). The HTTP routes live in the
//! `server` crate, behind its authentication.
mod assets;
mod dashboards;

pub use assets::{asset, index_html, Asset, PAGE_ROUTES};
pub use dashboards::{DashboardError, DashboardInfo, DashboardSource, DashboardStore};
