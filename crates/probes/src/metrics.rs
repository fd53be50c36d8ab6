//! The scheduler's own figures for `/metrics`: probes run by kind and result,
//! and how late probes start against their schedule (a permit wait or a busy
//! runtime both show up here first when there are too many checks).
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, seconds, of the lag histogram's buckets.
const LAG_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Every kind's `kind` label, in the order of the counters.
const KINDS: [&str; 6] = ["http", "tcp", "command", "redis", "dns", "postgres"];

#[derive(Debug, Default)]
pub(crate) struct SchedulerMetrics {
    /// `[kind][0 = success, 1 = failure]`.
    probes: [[AtomicU64; 2]; KINDS.len()],
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    /// Sum of lags in microseconds (an integer so it can be atomic).
    lag_sum_micros: AtomicU64,
}

impl SchedulerMetrics {
    pub(crate) fn probe_done(&self, kind: &str, success: bool) {
        if let Some(i) = KINDS.iter().position(|k| *k == kind) {
            self.probes[i][usize::from(!success)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn started_late_by(&self, lag: Duration) {
        let secs = lag.as_secs_f64();
        if let Some(i) = LAG_BUCKETS.iter().position(|b| secs <= *b) {
            self.lag_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.lag_count.fetch_add(1, Ordering::Relaxed);
        self.lag_sum_micros
            .fetch_add(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("# HELP aerowatch_probes_total Probes run by check kind and result.\n");
        out.push_str("# TYPE aerowatch_probes_total counter\n");
        for (kind, counts) in KINDS.iter().zip(&self.probes) {
            for (result, n) in ["success", "failure"].iter().zip(counts) {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "aerowatch_probes_total{{kind=\"{kind}\",result=\"{result}\"}} {n}");
                }
            }
        }
        out.push_str("# HELP aerowatch_probe_scheduling_lag_seconds How late probes started against their schedule.\n");
        out.push_str("# TYPE aerowatch_probe_scheduling_lag_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, n) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "aerowatch_probe_scheduling_lag_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.lag_count.load(Ordering::Relaxed);
        let sum = self.lag_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "aerowatch_probe_scheduling_lag_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "aerowatch_probe_scheduling_lag_seconds_sum {sum}");
        let _ = writeln!(out, "aerowatch_probe_scheduling_lag_seconds_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let m = SchedulerMetrics::default();
        m.probe_done("http", true);
        m.probe_done("http", false);
        m.probe_done("postgres", true);
        m.started_late_by(Duration::from_micros(500));
        m.started_late_by(Duration::from_millis(30));
        m.started_late_by(Duration::from_secs(60));
        let mut out = String::new();
        m.write(&mut out);
        assert!(out.contains("aerowatch_probes_total{kind=\"http\",result=\"failure\"} 1\n"));
        assert!(out.contains("aerowatch_probes_total{kind=\"postgres\",result=\"success\"} 1\n"));
        assert!(!out.contains("kind=\"tcp\""), "no zero series for unused kinds");
        assert!(out.contains("_bucket{le=\"0.001\"} 1\n"));
        assert!(out.contains("_bucket{le=\"0.05\"} 2\n"));
        assert!(out.contains("_bucket{le=\"10\"} 2\n"));
        assert!(out.contains("_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("_count 3\n"));
        assert!(out.contains("_sum 60.0305\n"), "{out}");
    }
}
