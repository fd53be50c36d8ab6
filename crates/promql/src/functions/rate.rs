//! `rate`, `increase`, `delta` (2.42's `extrapolatedRate`), `irate` and
//! `idelta` (`instantValue`). All drop the metric name.

use model::Sample;

use super::{duration_seconds, over_windows, over_windows_indexed};
use crate::error::QueryError;
use crate::value::{RangeVector, Series, Steps};

/// 2.42's `extrapolatedRate`: the increase (with counter-reset correction
/// when `is_counter`) between the first and last sample of each window,
/// extrapolated towards the window's boundaries `[end - range, end]`: all the
/// way when the gap is below 1.1 × the average sample interval, else by half
/// an interval; for counters never further back than the extrapolated zero
/// point. Per second of the selector's range when `is_rate`.
pub(super) fn extrapolated_rate(
    steps: &Steps,
    range: &RangeVector,
    is_counter: bool,
    is_rate: bool,
) -> Result<Vec<Series>, QueryError> {
    let range_seconds = duration_seconds(range.range_ms);
    over_windows_indexed(
        steps,
        range,
        true,
        |samples| if is_counter { next_resets(samples) } else { Vec::new() },
        |next_reset, i, samples, lo, hi| {
            let w = &samples[lo..hi];
            if w.len() < 2 {
                return Ok(None);
            }
            let mut result = w[w.len() - 1].v - w[0].v;
            if is_counter {
                // Go adds the value before each decrease, in order; only the
                // decreases are visited here, so a window costs O(resets).
                let mut j = next_reset[lo + 1];
                while j < hi {
                    result += samples[j - 1].v;
                    j = next_reset[j + 1];
                }
            }
            let range_end = range.window_ends[i];
            let range_start = range_end - range.range_ms;
            Ok(Some(extrapolate(
                w,
                result,
                range_start,
                range_end,
                range_seconds,
                is_counter,
                is_rate,
            )))
        },
    )
}

/// For each index `i`, the first `j >= i` (with `j >= 1`) where the counter
/// decreases (`v[j] < v[j-1]`, false for NaNs), or `len`; one extra entry
/// `len` at the end.
fn next_resets(samples: &[Sample]) -> Vec<usize> {
    let n = samples.len();
    let mut next = vec![n; n + 1];
    for j in (1..n).rev() {
        next[j] = if samples[j].v < samples[j - 1].v {
            j
        } else {
            next[j + 1]
        };
    }
    if n > 0 {
        next[0] = next[1.min(n)];
    }
    next
}

/// The extrapolation of 2.42's `extrapolatedRate`, given the window's
/// (reset-corrected) increase.
fn extrapolate(
    w: &[Sample],
    mut result: f64,
    range_start: i64,
    range_end: i64,
    range_seconds: f64,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_duration_between_samples = sampled_interval / (w.len() - 1) as f64;

    if is_counter && result > 0.0 && first.v >= 0.0 {
        let duration_to_zero = sampled_interval * (first.v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    let extrapolation_threshold = average_duration_between_samples * 1.1;
    let mut extrapolate_to_interval = sampled_interval;
    if duration_to_start < extrapolation_threshold {
        extrapolate_to_interval += duration_to_start;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    if duration_to_end < extrapolation_threshold {
        extrapolate_to_interval += duration_to_end;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    let mut factor = extrapolate_to_interval / sampled_interval;
    if is_rate {
        factor /= range_seconds;
    }
    // `result *= factor` in Go: rounding once, after the factor is complete.
    result *= factor;
    result
}

/// 2.42's `instantValue`: the difference of the last two samples of each
/// window (for `irate`, per second and taking a decrease as a counter reset).
pub(super) fn instant_value(steps: &Steps, range: &RangeVector, is_rate: bool) -> Result<Vec<Series>, QueryError> {
    over_windows(steps, range, true, |_, w| {
        if w.len() < 2 {
            return Ok(None);
        }
        let last = w[w.len() - 1];
        let previous = w[w.len() - 2];
        let mut result = if is_rate && last.v < previous.v {
            last.v
        } else {
            last.v - previous.v
        };
        let sampled_interval = last.t - previous.t;
        if sampled_interval == 0 {
            return Ok(None);
        }
        if is_rate {
            result /= sampled_interval as f64 / 1000.0;
        }
        Ok(Some(result))
    })
}
