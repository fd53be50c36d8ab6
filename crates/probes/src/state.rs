//! Per-check state: thresholded up/down (Kubernetes-probe semantics), the last
//! result, and uptime counters.
use std::time::Duration;

use serde::Serialize;

use crate::ProbeResult;

/// The thresholded state of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not enough probes yet to cross either threshold.
    Unknown,
    /// `success_threshold` consecutive successes since the last down.
    Up,
    /// `failure_threshold` consecutive failures since the last up.
    Down,
}

impl State {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
        }
    }
}

/// A state change of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateEvent {
    /// Check name.
    pub check: String,
    /// When the deciding probe ended, ms since the epoch.
    pub at: i64,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// The deciding probe's error (for a change to down).
    pub error: Option<String>,
}

/// Mutable state of one running check.
#[derive(Debug, Clone)]
pub(crate) struct CheckState {
    pub state: State,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub last: Option<ProbeResult>,
    pub uptime: Uptime,
}

impl CheckState {
    pub fn new() -> Self {
        CheckState {
            state: State::Unknown,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last: None,
            uptime: Uptime::default(),
        }
    }

    /// Applies one probe result; returns the transition if the state changed.
    pub fn record(
        &mut self,
        r: &ProbeResult,
        failure_threshold: u32,
        success_threshold: u32,
    ) -> Option<(State, State)> {
        if r.success {
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
            self.consecutive_failures = 0;
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
        }
        self.uptime.record(r.at, r.success);
        self.last = Some(r.clone());
        let next = if r.success && self.consecutive_successes >= success_threshold {
            State::Up
        } else if !r.success && self.consecutive_failures >= failure_threshold {
            State::Down
        } else {
            self.state
        };
        if next == self.state {
            return None;
        }
        let from = self.state;
        self.state = next;
        Some((from, next))
    }
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Uptime ratios from raw probe results (not the thresholded state), so a flap
/// shorter than the threshold still shows. Minute buckets cover 24h exactly;
/// hour buckets cover 7d and 30d to within the current hour, which keeps a check
/// at about 17 KiB instead of 500 KiB for minute resolution over 30 days.
#[derive(Debug, Clone, Default)]
pub(crate) struct Uptime {
    minutes: Ring,
    hours: Ring,
}

impl Uptime {
    fn record(&mut self, at: i64, ok: bool) {
        self.minutes.record(at, ok, MINUTE_MS, 24 * 60);
        self.hours.record(at, ok, HOUR_MS, 30 * 24);
    }

    /// Success ratio over the window ending at `now`, `None` without probes in it.
    pub fn ratio(&self, now: i64, window: Duration) -> Option<f64> {
        let window_ms = window.as_millis() as i64;
        let (ok, total) = if window_ms <= DAY_MS {
            self.minutes.sum(now, window_ms, MINUTE_MS)
        } else {
            self.hours.sum(now, window_ms, HOUR_MS)
        };
        (total > 0).then(|| ok as f64 / total as f64)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Bucket number since the epoch; tells a live bucket from a stale one in the same slot.
    idx: i64,
    ok: u32,
    total: u32,
}

/// Fixed ring of time buckets, allocated on first use.
#[derive(Debug, Clone, Default)]
struct Ring {
    buckets: Vec<Bucket>,
}

impl Ring {
    fn record(&mut self, at: i64, ok: bool, width: i64, len: usize) {
        if self.buckets.is_empty() {
            self.buckets = vec![
                Bucket {
                    idx: -1,
                    ok: 0,
                    total: 0
                };
                len
            ];
        }
        let idx = at.div_euclid(width);
        let slot = &mut self.buckets[idx.rem_euclid(len as i64) as usize];
        if slot.idx != idx {
            *slot = Bucket { idx, ok: 0, total: 0 };
        }
        slot.total = slot.total.saturating_add(1);
        if ok {
            slot.ok = slot.ok.saturating_add(1);
        }
    }

    fn sum(&self, now: i64, window: i64, width: i64) -> (u64, u64) {
        let newest = now.div_euclid(width);
        let count = (window / width).max(1);
        let oldest = newest - count + 1;
        self.buckets
            .iter()
            .filter(|b| b.idx >= oldest && b.idx <= newest)
            .fold((0, 0), |(ok, total), b| (ok + b.ok as u64, total + b.total as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(at: i64, success: bool) -> ProbeResult {
        ProbeResult {
            success,
            duration: Duration::from_millis(1),
            error: (!success).then(|| "boom".to_string()),
            at,
            http_status: None,
            tls_cert_expiry: None,
        }
    }

    #[test]
    fn thresholds_follow_kubernetes_semantics() {
        let mut s = CheckState::new();
        assert_eq!(s.record(&result(1, false), 3, 2), None);
        assert_eq!(s.record(&result(2, false), 3, 2), None);
        assert_eq!(s.record(&result(3, false), 3, 2), Some((State::Unknown, State::Down)));
        assert_eq!(s.record(&result(4, false), 3, 2), None);
        assert_eq!(s.record(&result(5, true), 3, 2), None);
        assert_eq!(
            s.record(&result(6, false), 3, 2),
            None,
            "a failure resets the success streak"
        );
        assert_eq!(s.record(&result(7, true), 3, 2), None);
        assert_eq!(s.record(&result(8, true), 3, 2), Some((State::Down, State::Up)));
        assert_eq!(s.consecutive_successes, 2);
        assert_eq!(s.record(&result(9, false), 3, 2), None);
        assert_eq!(s.state, State::Up);
    }

    #[test]
    fn uptime_windows() {
        let mut u = Uptime::default();
        let now = 100 * DAY_MS;
        // Two days ago: all failures; the last hour: 3 of 4 succeed.
        for i in 0..10 {
            u.record(now - 2 * DAY_MS + i * 1000, false);
        }
        for (i, ok) in [true, true, false, true].into_iter().enumerate() {
            u.record(now - 10 * MINUTE_MS + i as i64 * MINUTE_MS, ok);
        }
        assert_eq!(u.ratio(now, Duration::from_secs(86_400)), Some(0.75));
        assert_eq!(u.ratio(now, Duration::from_secs(7 * 86_400)), Some(3.0 / 14.0));
        assert_eq!(u.ratio(now + 40 * DAY_MS, Duration::from_secs(30 * 86_400)), None);
        // The minute ring wraps after a day: an old slot must not count as current.
        assert_eq!(u.ratio(now + DAY_MS, Duration::from_secs(86_400)), None);
    }
}
