//! `histogram_quantile(φ, v)` over classic histograms (`le` buckets), as
//! 2.42's `funcHistogramQuantile` and `bucketQuantile`. Native histograms
//! are out of scope: `histogram_count`, `histogram_sum` and
//! `histogram_fraction` see only floats and so return nothing, as 2.42 does
//! for float input (handled in the dispatcher).

use std::collections::HashMap;

use model::{Labels, METRIC_NAME};

use super::step_index;
use crate::error::QueryError;
use crate::eval::gosort;
use crate::value::{Point, Series, Steps};

/// Buckets are grouped by all their labels but `le` (the metric name
/// included, so `a_bucket` and `b_bucket` with equal labels stay apart,
/// prometheus#9910); a group's output drops `le` and the metric name. Series
/// whose `le` does not parse as Go's `strconv.ParseFloat` would are ignored.
/// A group yields a point at every step where at least one of its buckets
/// has one.
pub(super) fn histogram_quantile(steps: &Steps, q: &[f64], vector: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    struct Group {
        labels: Labels,
        /// (step index, upper bound, count) in input order.
        buckets: Vec<(usize, f64, f64)>,
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for s in &vector {
        let Some(upper) = s.labels.get("le").and_then(go_parse_float) else {
            continue;
        };
        let mut key = s.labels.to_builder();
        key.del("le");
        let key = key.build();
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                let mut out = key.to_builder();
                out.del(METRIC_NAME);
                groups.push(Group {
                    labels: out.build(),
                    buckets: Vec::new(),
                });
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let buckets = &mut groups[g].buckets;
        buckets.extend(
            s.points
                .iter()
                .filter_map(|p| Some((step_index(steps, p.t)?, upper, p.v))),
        );
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut at_step: Vec<Bucket> = Vec::new();
    for mut g in groups {
        // Stable: buckets of one step stay in input order, as 2.42 collects them.
        g.buckets.sort_by_key(|b| b.0);
        let mut points = Vec::new();
        let mut i = 0;
        while i < g.buckets.len() {
            let step = g.buckets[i].0;
            at_step.clear();
            while i < g.buckets.len() && g.buckets[i].0 == step {
                at_step.push(Bucket {
                    upper_bound: g.buckets[i].1,
                    count: g.buckets[i].2,
                });
                i += 1;
            }
            points.push(Point {
                t: steps.at(step),
                v: bucket_quantile(q[step], &mut at_step),
            });
        }
        if !points.is_empty() {
            out.push(Series {
                labels: g.labels,
                points,
            });
        }
    }
    Ok(out)
}

/// One classic histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The `le` bound.
    pub upper_bound: f64,
    /// Observations at or below it.
    pub count: f64,
}

/// 2.42's `bucketQuantile`: sorts the buckets (Go's algorithm), requires a
/// `+Inf` bucket (else NaN), merges buckets with equal bounds, makes counts
/// monotonic, then interpolates linearly inside the bucket holding rank
/// `q × total` (from 0 for the first bucket if its bound is positive). The
/// quantile falling in the `+Inf` bucket gives the second-highest bound.
/// NaN for a NaN `q`, fewer than two buckets or no observations; -Inf for
/// `q < 0`; +Inf for `q > 1`.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort_by(buckets, |a, b| a.upper_bound < b.upper_bound);
    if buckets.last().map(|b| b.upper_bound) != Some(f64::INFINITY) {
        return f64::NAN;
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_search(buckets.len() - 1, |i| buckets[i].count >= rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Go's `coalesceBuckets`: adds up the counts of buckets with equal bounds
/// (the input is sorted).
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut last = buckets[0];
    let mut i = 0;
    for j in 1..buckets.len() {
        let b = buckets[j];
        if b.upper_bound == last.upper_bound {
            last.count += b.count;
        } else {
            buckets[i] = last;
            last = b;
            i += 1;
        }
    }
    buckets[i] = last;
    buckets.truncate(i + 1);
}

/// Go's `ensureMonotonic`: raises each count to the largest before it,
/// starting from the first bucket's count (so a NaN first count, never
/// exceeded, leaves every bucket as it is).
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut max = buckets[0].count;
    for b in &mut buckets[1..] {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
}

/// Go's `sort.Search`: the smallest `i` in `[0, n)` with `f(i)`, by the same
/// bisection (so a non-monotonic `f`, e.g. with NaN counts, answers the same).
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) >> 1;
        if !f(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

/// Go's `strconv.ParseFloat(s, 64)`, returning `None` where Go returns an
/// error: Go accepts `Inf`/`infinity` (any case, optional sign), `NaN` (any
/// case, no sign), `_` between digits, hexadecimal mantissas with a `p`
/// exponent; it refuses values that overflow to ±Inf.
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let signed = |v: f64| if neg { -v } else { v };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(signed(f64::INFINITY));
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let b = body.as_bytes();
    let hex = b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x';
    if body.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        return go_parse_float(&s.replace('_', ""));
    }
    if hex {
        return parse_hex(&body[2..]).map(signed);
    }
    // Rust's grammar is Go's decimal grammar apart from the special values
    // handled above (Rust would also take "infinity" variants with a sign on
    // NaN) and both round correctly.
    if !b
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    if v.is_infinite() {
        return None; // ErrRange
    }
    Some(signed(v))
}

/// Go's `underscoreOK`.
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    if let Some(&c) = b.first() {
        if c == b'+' || c == b'-' {
            b = &b[1..];
        }
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = (b[1] | 0x20) == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && (c | 0x20).is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// A hexadecimal float body (after `0x`): `h[.h]p[+-]d`. Exact while the
/// mantissa has at most 13 significant hex digits.
fn parse_hex(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m = 0.0f64;
    for c in int.chars().chain(frac.chars()) {
        m = m * 16.0 + c.to_digit(16)? as f64;
    }
    let e = exp.checked_sub(4 * frac.len() as i32)?;
    let v = m * 2f64.powi(e);
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper_bound, count)| Bucket { upper_bound, count })
            .collect()
    }

    #[test]
    fn parse_float_like_go() {
        assert_eq!(go_parse_float("0.5"), Some(0.5));
        assert_eq!(go_parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(go_parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(go_parse_float("Infinity"), Some(f64::INFINITY));
        assert!(go_parse_float("NaN").unwrap().is_nan());
        assert_eq!(go_parse_float("-nan"), None);
        assert_eq!(go_parse_float("1_000"), Some(1000.0));
        assert_eq!(go_parse_float("1__0"), None);
        assert_eq!(go_parse_float("_1"), None);
        assert_eq!(go_parse_float("0x1p-2"), Some(0.25));
        assert_eq!(go_parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(go_parse_float("0x10"), None);
        assert_eq!(go_parse_float("1e400"), None);
        assert_eq!(go_parse_float("1e-400"), Some(0.0));
        assert_eq!(go_parse_float(".5"), Some(0.5));
        assert_eq!(go_parse_float("5."), Some(5.0));
        assert_eq!(go_parse_float(""), None);
        assert_eq!(go_parse_float(" 1"), None);
        assert_eq!(go_parse_float("1e"), None);
        assert_eq!(go_parse_float("abc"), None);
    }

    #[test]
    fn bucket_quantile_rules() {
        let h = [(0.1, 10.0), (0.5, 20.0), (1.0, 30.0), (f64::INFINITY, 40.0)];
        assert_eq!(bucket_quantile(0.5, &mut b(&h)), 0.5);
        assert_eq!(bucket_quantile(0.25, &mut b(&h)), 0.1);
        assert_eq!(
            bucket_quantile(0.99, &mut b(&h)),
            1.0,
            "+Inf bucket: second highest bound"
        );
        assert_eq!(bucket_quantile(0.0, &mut b(&h)), 0.0);
        assert_eq!(bucket_quantile(-0.1, &mut b(&h)), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(1.1, &mut b(&h)), f64::INFINITY);
        assert!(bucket_quantile(f64::NAN, &mut b(&h)).is_nan());
        assert!(bucket_quantile(0.5, &mut b(&h[..3])).is_nan(), "no +Inf bucket");
        assert!(
            bucket_quantile(0.5, &mut b(&[(f64::INFINITY, 3.0)])).is_nan(),
            "one bucket"
        );
        assert!(bucket_quantile(0.5, &mut b(&[(1.0, 0.0), (f64::INFINITY, 0.0)])).is_nan());
        // Negative first bound is returned as it is.
        assert_eq!(
            bucket_quantile(0.1, &mut b(&[(-1.0, 5.0), (f64::INFINITY, 10.0)])),
            -1.0
        );
        // Unsorted, duplicated and non-monotonic buckets.
        let messy = [
            (f64::INFINITY, 40.0),
            (1.0, 10.0),
            (0.5, 25.0),
            (1.0, 20.0),
            (0.1, 10.0),
        ];
        // Sorted: 0.1:10, 0.5:25, 1:10+20=30, +Inf:40 → rank 20 in (0.1, 0.5].
        assert_eq!(bucket_quantile(0.5, &mut b(&messy)), 0.1 + (0.5 - 0.1) * (10.0 / 15.0));
        let dip = [(0.1, 10.0), (0.5, 5.0), (1.0, 30.0), (f64::INFINITY, 40.0)];
        // 0.5's count becomes 10: rank 20 lies in (0.5, 1].
        assert_eq!(bucket_quantile(0.5, &mut b(&dip)), 0.5 + 0.5 * (10.0 / 20.0));
    }
}
