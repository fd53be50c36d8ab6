//! Wall-clock time as a dependency.
//!
//! Every component that needs "now" (alert resolution, silence states, group
//! timers, the notification log) takes an `Arc<dyn Clock>` instead of calling
//! `Utc::now()`, so tests can move time deterministically with [`ManualClock`]
//! and exercise hours of group_wait / group_interval / repeat_interval logic in
//! microseconds. This is the only timing abstraction the crate uses: the async
//! driver sleeps for "deadline minus clock.now()" and re-reads the clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// A UTC instant; the time type used throughout the crate.
pub type Timestamp = DateTime<Utc>;

/// A source of the current wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock frozen at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock to `t` (callers may move it backwards; components
    /// assume they do not).
    pub fn set(&self, t: Timestamp) {
        *self.now.lock() = t;
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let mut now = self.now.lock();
        *now = add(*now, d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock()
    }
}

/// The system clock behind an `Arc`, the usual default.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Converts a std duration to a chrono one, saturating at chrono's maximum.
pub(crate) fn to_chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `t + d`, saturating at the latest representable instant.
pub fn add(t: Timestamp, d: std::time::Duration) -> Timestamp {
    t.checked_add_signed(to_chrono(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, saturating at the earliest representable instant.
pub fn sub(t: Timestamp, d: std::time::Duration) -> Timestamp {
    t.checked_sub_signed(to_chrono(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Formats a timestamp the way Alertmanager's API (go-openapi `strfmt.DateTime`)
/// does: RFC 3339 with milliseconds, in UTC.
pub fn format_rfc3339_millis(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(std::time::Duration::from_secs(90));
        assert_eq!(c.now(), start + chrono::Duration::seconds(90));
    }

    #[test]
    fn rfc3339_millis_format() {
        let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(7);
        assert_eq!(format_rfc3339_millis(&t), "2024-01-02T03:04:05.007Z");
    }
}
