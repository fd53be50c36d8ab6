//! The scrape manager as the server's view of targets.
use std::sync::Arc;

use ingest::scrape::ScrapeManager;

/// Adapts [`ScrapeManager`] to [`server::TargetsSource`].
pub struct ScrapeTargets(pub Arc<ScrapeManager>);

impl server::TargetsSource for ScrapeTargets {
    fn active_targets(&self) -> Vec<serde_json::Value> {
        self.0
            .targets()
            .iter()
            .filter_map(|t| serde_json::to_value(t).ok())
            .collect()
    }

    fn dropped_targets(&self) -> Vec<serde_json::Value> {
        self.0
            .dropped_targets()
            .iter()
            .filter_map(|t| serde_json::to_value(t).ok())
            .collect()
    }
}
