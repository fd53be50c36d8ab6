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
/// shorter than the threshold still shows. Five-minute buckets cover 24h; hour
/// buckets cover 7d and 30d, each to within its bucket. A check costs 4 KiB
/// (1,008 buckets of two u16 counts), so 5,000 checks stay near 20 MiB.
#[derive(Debug, Clone, Default)]
pub(crate) struct Uptime {
    short: Ring,
    long: Ring,
}

const SHORT_MS: i64 = 5 * MINUTE_MS;
const SHORT_LEN: usize = (DAY_MS / SHORT_MS) as usize;
const LONG_LEN: usize = 30 * 24;

impl Uptime {
    fn record(&mut self, at: i64, ok: bool) {
        self.short.record(at, ok, SHORT_MS, SHORT_LEN);
        self.long.record(at, ok, HOUR_MS, LONG_LEN);
    }

    /// Success ratio over the window ending at `now`, `None` without probes in it.
    pub fn ratio(&self, now: i64, window: Duration) -> Option<f64> {
        let window_ms = window.as_millis() as i64;
        let (ok, total) = if window_ms <= DAY_MS {
            self.short.sum(now, window_ms, SHORT_MS)
        } else {
            self.long.sum(now, window_ms, HOUR_MS)
        };
        (total > 0).then(|| ok as f64 / total as f64)
    }
}

/// A fixed ring of time buckets, allocated on first use. Slot `i` holds bucket
/// number `b ≡ i (mod len)` for the `len` buckets ending at `newest`; which
/// bucket a slot holds is implied, so a slot is just its two counts.
#[derive(Debug, Clone, Default)]
struct Ring {
    newest: i64,
    /// `(ok, total)` per slot.
    counts: Box<[(u16, u16)]>,
}

impl Ring {
    fn record(&mut self, at: i64, ok: bool, width: i64, len: usize) {
        let idx = at.div_euclid(width);
        if self.counts.is_empty() {
            self.counts = vec![(0, 0); len].into_boxed_slice();
            self.newest = idx;
        }
        let len_i = self.counts.len() as i64;
        if idx > self.newest {
            if idx - self.newest >= len_i {
                self.counts.fill((0, 0));
            } else {
                for b in self.newest + 1..=idx {
                    self.counts[b.rem_euclid(len_i) as usize] = (0, 0);
                }
            }
            self.newest = idx;
        } else if idx <= self.newest - len_i {
            return;
        }
        let slot = &mut self.counts[idx.rem_euclid(len_i) as usize];
        if slot.1 == u16::MAX {
            // Sub-second intervals can overflow an hour's count; halving both
            // keeps the ratio.
            *slot = (slot.0 / 2, slot.1 / 2);
        }
        slot.1 += 1;
        if ok {
            slot.0 += 1;
        }
    }

    fn sum(&self, now: i64, window: i64, width: i64) -> (u64, u64) {
        if self.counts.is_empty() {
            return (0, 0);
        }
        let len = self.counts.len() as i64;
        let until = now.div_euclid(width).min(self.newest);
        let from = (now.div_euclid(width) - (window / width).max(1) + 1).max(self.newest - len + 1);
        (from..=until)
            .map(|b| self.counts[b.rem_euclid(len) as usize])
            .fold((0, 0), |(ok, total), (o, t)| (ok + u64::from(o), total + u64::from(t)))
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
        // The short ring wraps after a day: an old slot must not count as current.
        assert_eq!(u.ratio(now + DAY_MS, Duration::from_secs(86_400)), None);
    }

    #[test]
    fn rings_wrap_clear_and_keep_ratios_past_u16() {
        let mut r = Ring::default();
        r.record(0, true, 10, 4);
        r.record(15, false, 10, 4);
        assert_eq!(r.sum(15, 40, 10), (1, 2));
        // Jumping two buckets ahead clears the skipped one and keeps the rest.
        r.record(35, true, 10, 4);
        assert_eq!(r.sum(35, 40, 10), (2, 3));
        assert_eq!(r.sum(35, 10, 10), (1, 1));
        // A record older than the ring is dropped, not wrapped onto a live slot.
        r.record(-100, false, 10, 4);
        assert_eq!(r.sum(35, 40, 10), (2, 3));
        // Far ahead: everything old is gone.
        r.record(1000, true, 10, 4);
        assert_eq!(r.sum(1000, 40, 10), (1, 1));
        let mut busy = Ring::default();
        for i in 0..100_000 {
            busy.record(0, i % 4 != 0, 10, 4);
        }
        let (ok, total) = busy.sum(0, 10, 10);
        assert!(
            total > 30_000 && (ok as f64 / total as f64 - 0.75).abs() < 0.01,
            "{ok}/{total}"
        );
    }
}
