//! The `*_over_time` family, `changes`, `resets`, `deriv`, `predict_linear`
//! and `holt_winters`: one value per window. All drop the metric name except
//! `last_over_time`, which 2.42 treats like an offset.

use model::Sample;

use super::{gomath, over_windows, over_windows_indexed};
use crate::error::QueryError;
use crate::eval::gosort;
use crate::value::{RangeVector, Series, Steps};

/// The range functions that take no argument besides the range vector.
pub(super) fn simple(name: &str, steps: &Steps, range: &RangeVector) -> Result<Vec<Series>, QueryError> {
    let f: fn(&[Sample]) -> f64 = match name {
        "avg_over_time" => avg,
        "min_over_time" => min,
        "max_over_time" => max,
        "sum_over_time" => sum,
        "count_over_time" => |w| w.len() as f64,
        "stddev_over_time" => |w| stdvar(w).sqrt(),
        "stdvar_over_time" => stdvar,
        "last_over_time" => |w| w[w.len() - 1].v,
        "present_over_time" => |_| 1.0,
        "changes" | "resets" => {
            // Counted with prefix sums over consecutive pairs: O(1) a window.
            let event: fn(f64, f64) -> bool = if name == "changes" {
                |prev, cur| cur != prev && !(cur.is_nan() && prev.is_nan())
            } else {
                |prev, cur| cur < prev
            };
            return over_windows_indexed(
                steps,
                range,
                true,
                |samples| {
                    // prefix[k]: events between samples j-1 and j for 1 <= j <= k.
                    let mut prefix = Vec::with_capacity(samples.len());
                    let mut n = 0usize;
                    prefix.push(0);
                    for pair in samples.windows(2) {
                        n += event(pair[0].v, pair[1].v) as usize;
                        prefix.push(n);
                    }
                    prefix
                },
                |prefix, _, _, lo, hi| Ok(Some((prefix[hi - 1] - prefix[lo]) as f64)),
            );
        }
        "deriv" => {
            return over_windows(steps, range, true, |_, w| {
                if w.len() < 2 {
                    return Ok(None);
                }
                // Regress around the first sample's time to keep the numbers
                // small (prometheus#2674).
                Ok(Some(linear_regression(w, w[0].t).0))
            });
        }
        _ => unreachable!("not a simple range function: {name}"),
    };
    over_windows(steps, range, name != "last_over_time", |_, w| Ok(Some(f(w))))
}

/// Go's `kahanSumInc` (Neumaier's variant of Kahan summation): adds `inc`
/// to `sum` with compensation `c`; the total is `sum + c` (or `sum` when it
/// is infinite).
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn sum(w: &[Sample]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for s in w {
        (sum, c) = kahan_sum_inc(s.v, sum, c);
    }
    if sum.is_infinite() {
        return sum;
    }
    sum + c
}

/// An incremental, compensated mean, as 2.42 computes it (not sum / count).
fn avg(w: &[Sample]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
    for s in w {
        count += 1.0;
        if mean.is_infinite() {
            if s.v.is_infinite() && (mean > 0.0) == (s.v > 0.0) {
                // Same infinity: the mean is right already.
                continue;
            }
            if !s.v.is_infinite() && !s.v.is_nan() {
                // A finite value cannot move an infinite mean (and the
                // update below would turn it into NaN).
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(s.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        return mean;
    }
    mean + c
}

fn min(w: &[Sample]) -> f64 {
    let mut min = w[0].v;
    for s in w {
        if s.v < min || min.is_nan() {
            min = s.v;
        }
    }
    min
}

fn max(w: &[Sample]) -> f64 {
    let mut max = w[0].v;
    for s in w {
        if s.v > max || max.is_nan() {
            max = s.v;
        }
    }
    max
}

/// Welford's algorithm with compensated sums, as 2.42's `stdvar_over_time`.
fn stdvar(w: &[Sample]) -> f64 {
    let mut count = 0.0f64;
    let (mut mean, mut c_mean) = (0.0f64, 0.0f64);
    let (mut aux, mut c_aux) = (0.0f64, 0.0f64);
    for s in w {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// 2.42's `quantile`: sorts `values` (with Go's algorithm and Prometheus's
/// comparison, under which NaN is less than everything) and interpolates
/// linearly between the closest ranks. NaN for no values or a NaN `q`,
/// -Inf for `q < 0`, +Inf for `q > 1`. Shared with the `quantile` aggregation.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort_by(values, |a, b| a.is_nan() || a < b);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower_index = gomath::max(0.0, rank.floor());
    let upper_index = gomath::min(n - 1.0, lower_index + 1.0);
    let weight = rank - rank.floor();
    values[lower_index as usize] * (1.0 - weight) + values[upper_index as usize] * weight
}

pub(super) fn quantile_over_time(steps: &Steps, q: &[f64], range: &RangeVector) -> Result<Vec<Series>, QueryError> {
    let mut buf = Vec::new();
    over_windows(steps, range, true, |i, w| {
        buf.clear();
        buf.extend(w.iter().map(|s| s.v));
        Ok(Some(quantile(q[i], &mut buf)))
    })
}

/// 2.42's `linearRegression`: least squares over `(t - intercept_time in
/// seconds, v)` with compensated sums; returns the slope and the value at
/// `intercept_time`. A constant series has slope 0 (NaN if it is infinite).
fn linear_regression(w: &[Sample], intercept_time: i64) -> (f64, f64) {
    let mut n = 0.0f64;
    let (mut sum_x, mut c_x) = (0.0f64, 0.0f64);
    let (mut sum_y, mut c_y) = (0.0f64, 0.0f64);
    let (mut sum_xy, mut c_xy) = (0.0f64, 0.0f64);
    let (mut sum_x2, mut c_x2) = (0.0f64, 0.0f64);
    let init_y = w[0].v;
    let mut const_y = true;
    for (i, s) in w.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(s.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * s.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;

    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `predict_linear(v, t)`: the regression line's value `t` seconds after the
/// evaluation time (the step time, not the window end: with an offset the
/// intercept still sits at the step).
pub(super) fn predict_linear(steps: &Steps, range: &RangeVector, duration: &[f64]) -> Result<Vec<Series>, QueryError> {
    over_windows(steps, range, true, |i, w| {
        if w.len() < 2 {
            return Ok(None);
        }
        let (slope, intercept) = linear_regression(w, steps.at(i));
        Ok(Some(slope * duration[i] + intercept))
    })
}

/// Go's `%f`.
fn go_fixed6(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v:.6}")
    }
}

/// 2.42's `holt_winters` (double exponential smoothing). Factors outside
/// (0, 1) fail the query, but only at a step that has samples.
pub(super) fn holt_winters(
    steps: &Steps,
    range: &RangeVector,
    sf: &[f64],
    tf: &[f64],
) -> Result<Vec<Series>, QueryError> {
    over_windows(steps, range, true, |i, w| {
        let (sf, tf) = (sf[i], tf[i]);
        if sf <= 0.0 || sf >= 1.0 {
            return Err(QueryError::Execution(format!(
                "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                go_fixed6(sf)
            )));
        }
        if tf <= 0.0 || tf >= 1.0 {
            return Err(QueryError::Execution(format!(
                "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                go_fixed6(tf)
            )));
        }
        if w.len() < 2 {
            return Ok(None);
        }
        let (mut s0, mut s1) = (0.0f64, w[0].v);
        let mut b = w[1].v - w[0].v;
        for (i, s) in w.iter().enumerate().skip(1) {
            let x = sf * s.v;
            // calcTrendValue(i-1, ...): the first trend is the raw one.
            if i > 1 {
                b = tf * (s1 - s0) + (1.0 - tf) * b;
            }
            let y = (1.0 - sf) * (s1 + b);
            (s0, s1) = (s1, x + y);
        }
        Ok(Some(s1))
    })
}
