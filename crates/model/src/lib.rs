//! Shared vocabulary of Aerowatch: label sets, samples, label matchers and
//! Prometheus-style durations. No I/O lives here, so every other crate can
//! depend on it without pulling anything heavy in.
#![warn(missing_docs)]

mod duration;
mod labels;
mod matcher;
mod sample;
mod shared_str;

pub use duration::{format_duration, parse_duration, DurationError, PromDuration};
pub use labels::{
    hash_label_pairs, is_valid_label_name, is_valid_metric_name, Label, Labels, LabelsBuilder, METRIC_NAME,
};
pub use matcher::{MatchType, Matcher, MatcherError};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use shared_str::SharedStr;

/// Milliseconds since the Unix epoch, the time unit of every sample.
pub type Timestamp = i64;

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
