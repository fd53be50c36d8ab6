//! A Pushgateway inside Aerowatch: batch jobs `PUT`/`POST` their metrics in
//! the text format to `/metrics/job/<job>{/<label>/<value>}` and the
//! groups are kept (and persisted) until deleted, their samples written at
//! push time and again at every scrape interval, as if a Pushgateway were
//! scraped with `honor_labels: true`. Semantics follow the Pushgateway:
//! `PUT` replaces the whole group, `POST` replaces only the metric families
//! it sends, `DELETE` removes the group; `push_time_seconds` and
//! `push_failure_time_seconds` are kept per group.
mod grouping;
mod store;

pub use grouping::{parse_grouping_path, GroupingError};
pub use store::{PushError, PushMode, PushStore};
