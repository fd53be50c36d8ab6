//! PromQL's float functions, answering as Prometheus 2.42's
//! `promql/functions.go` and `promql/quantile.go` do, to the last bit.
//!
//! The evaluator calls [`call`] once per function node with every argument
//! already evaluated over the whole grid; each function computes all steps
//! at once (range-vector functions slide a window over each series' samples
//! in one pass). One family per file:
//!
//! | file | functions |
//! |---|---|
//! | `rate.rs` | `rate`, `increase`, `delta`, `irate`, `idelta` |
//! | `over_time.rs` | `*_over_time`, `changes`, `resets`, `deriv`, `predict_linear`, `holt_winters` |
//! | `math.rs` | `abs` … `atanh`, `deg`, `rad`, `pi`, `sgn`, `round`, `clamp*` |
//! | `histogram.rs` | `histogram_quantile` (classic `le` buckets), native-histogram functions |
//! | `labels.rs` | `label_replace`, `label_join` |
//! | `time.rs` | `time`, `minute` … `year` |
//! | `misc.rs` | `scalar`, `vector`, `sort`, `sort_desc` |
//!
//! `gomath.rs` and `eval/gosort.rs` reproduce Go's `math` functions and
//! `sort.Sort`, on which results depend to the last bit (and, for NaNs and
//! ties, to the order).
//!
//! Semantics shared with the evaluator (Prometheus 2.42, not 3.x):
//! - a range window for step `i` is the **closed** interval
//!   `[window_ends[i] - range_ms, window_ends[i]]`: 2.42 includes a sample
//!   lying exactly on the lower boundary (3.0 made windows left-open);
//! - a step whose window holds no sample produces no point; the function is
//!   then not called for it at all, so e.g. `holt_winters` argument errors
//!   are raised only for steps that have samples, as in 2.42;
//! - output series keep the input order; a series without points is left out;
//! - what is left to the evaluator: refusing duplicate label sets ("vector
//!   cannot contain metrics with the same labelset", which 2.42 checks over
//!   the whole matrix for range-vector functions and per step for the
//!   others, e.g. after `label_replace` or a dropped metric name), and
//!   step-invariant calls (`@`): 2.42 evaluates those once at the query
//!   start and repeats the value, which matters for `predict_linear`, whose
//!   line is evaluated from the step time;
//! - input order matters where Go's sort sees ties or NaNs (`sort`,
//!   `sort_desc`, `quantile_over_time`, `histogram_quantile`): 2.42 feeds
//!   series in the order its querier returns them (label order from
//!   blocks; series-creation order when only the head is queried).

pub(crate) mod gomath;
mod histogram;
mod labels;
mod math;
mod misc;
mod over_time;
mod rate;
#[cfg(test)]
mod tests;
mod time;

use model::Sample;

use crate::error::QueryError;
use crate::value::{Point, RangeVector, Series, Steps, Value};

pub use histogram::{bucket_quantile, Bucket};
pub use over_time::{kahan_sum_inc, quantile};

/// Evaluates function `name` over the grid. `args` are already evaluated, in call order:
/// `Value::Range` for range-vector arguments, `Value::Scalar` (one f64 per step) for scalars,
/// `Value::String` for strings, `Value::Vector` for instant vectors; absent optional arguments are missing.
///
/// `absent`, `absent_over_time` and `timestamp` are the evaluator's (they need
/// the argument expression or the samples' own timestamps).
pub fn call(name: &str, steps: &Steps, args: Vec<Value>) -> Result<Value, QueryError> {
    let mut a = Args::new(name, steps, args);
    let v = match name {
        // rate.rs
        "rate" => Value::Vector(rate::extrapolated_rate(steps, &a.range(0)?, true, true)?),
        "increase" => Value::Vector(rate::extrapolated_rate(steps, &a.range(0)?, true, false)?),
        "delta" => Value::Vector(rate::extrapolated_rate(steps, &a.range(0)?, false, false)?),
        "irate" => Value::Vector(rate::instant_value(steps, &a.range(0)?, true)?),
        "idelta" => Value::Vector(rate::instant_value(steps, &a.range(0)?, false)?),

        // over_time.rs
        "avg_over_time" | "min_over_time" | "max_over_time" | "sum_over_time" | "count_over_time"
        | "stddev_over_time" | "stdvar_over_time" | "last_over_time" | "present_over_time" | "changes" | "resets"
        | "deriv" => Value::Vector(over_time::simple(name, steps, &a.range(0)?)?),
        "quantile_over_time" => {
            let q = a.scalar(0)?;
            Value::Vector(over_time::quantile_over_time(steps, &q, &a.range(1)?)?)
        }
        "predict_linear" => {
            let d = a.scalar(1)?;
            Value::Vector(over_time::predict_linear(steps, &a.range(0)?, &d)?)
        }
        "holt_winters" => {
            let sf = a.scalar(1)?;
            let tf = a.scalar(2)?;
            Value::Vector(over_time::holt_winters(steps, &a.range(0)?, &sf, &tf)?)
        }

        // math.rs
        "pi" => Value::Scalar(vec![std::f64::consts::PI; steps.len()]),
        "round" => {
            let to_nearest = a.opt_scalar(1)?;
            Value::Vector(math::round(steps, a.vector(0)?, to_nearest.as_deref()))
        }
        "clamp" => {
            let (lo, hi) = (a.scalar(1)?, a.scalar(2)?);
            Value::Vector(math::clamp(steps, a.vector(0)?, Some(&lo), Some(&hi)))
        }
        "clamp_min" => {
            let lo = a.scalar(1)?;
            Value::Vector(math::clamp(steps, a.vector(0)?, Some(&lo), None))
        }
        "clamp_max" => {
            let hi = a.scalar(1)?;
            Value::Vector(math::clamp(steps, a.vector(0)?, None, Some(&hi)))
        }
        _ if math::simple(name).is_some() => {
            let f = math::simple(name).expect("checked");
            Value::Vector(map_values(steps, a.vector(0)?, true, |_, v| Some(f(v))))
        }

        // histogram.rs
        "histogram_quantile" => {
            let q = a.scalar(0)?;
            Value::Vector(histogram::histogram_quantile(steps, &q, a.vector(1)?)?)
        }
        "histogram_count" | "histogram_sum" => {
            a.vector(0)?;
            Value::Vector(Vec::new())
        }
        "histogram_fraction" => {
            a.scalar(0)?;
            a.scalar(1)?;
            a.vector(2)?;
            Value::Vector(Vec::new())
        }

        // labels.rs
        "label_replace" => {
            let v = a.vector(0)?;
            let (dst, repl, src, re) = (a.string(1)?, a.string(2)?, a.string(3)?, a.string(4)?);
            Value::Vector(labels::label_replace(v, &dst, &repl, &src, &re)?)
        }
        "label_join" => {
            let v = a.vector(0)?;
            let (dst, sep) = (a.string(1)?, a.string(2)?);
            let mut srcs = Vec::new();
            for i in 3..a.len() {
                srcs.push(a.string(i)?);
            }
            Value::Vector(labels::label_join(v, &dst, &sep, &srcs)?)
        }

        // time.rs
        "time" => Value::Scalar(steps.iter().map(|t| t as f64 / 1000.0).collect()),
        _ if time::date_function(name).is_some() => {
            let f = time::date_function(name).expect("checked");
            let v = a.opt_vector(0)?;
            Value::Vector(time::date(steps, v, f))
        }

        // misc.rs
        "scalar" => Value::Scalar(misc::scalar(steps, &a.vector(0)?)),
        "vector" => Value::Vector(misc::vector(steps, &a.scalar(0)?)),
        "sort" => Value::Vector(misc::sort(a.vector(0)?, false)),
        "sort_desc" => Value::Vector(misc::sort(a.vector(0)?, true)),

        _ => return Err(QueryError::BadData(format!("function {name} is not handled here"))),
    };
    Ok(v)
}

/// The evaluated arguments of one call, taken out by position and type.
struct Args<'a> {
    name: &'a str,
    steps: usize,
    args: Vec<Option<Value>>,
}

impl<'a> Args<'a> {
    fn new(name: &'a str, steps: &Steps, args: Vec<Value>) -> Self {
        Args {
            name,
            steps: steps.len(),
            args: args.into_iter().map(Some).collect(),
        }
    }

    fn len(&self) -> usize {
        self.args.len()
    }

    fn wrong(&self, i: usize, want: &str) -> QueryError {
        let got = match self.args.get(i) {
            None => "nothing",
            Some(None) => "an argument already taken",
            Some(Some(Value::Scalar(_))) => "a scalar",
            Some(Some(Value::Vector(_))) => "an instant vector",
            Some(Some(Value::Range(_))) => "a range vector",
            Some(Some(Value::String(_))) => "a string",
        };
        QueryError::BadData(format!(
            "expected {want} in argument {} of {}(), got {got}",
            i + 1,
            self.name
        ))
    }

    fn take(&mut self, i: usize) -> Option<Value> {
        self.args.get_mut(i).and_then(Option::take)
    }

    fn range(&mut self, i: usize) -> Result<RangeVector, QueryError> {
        match self.take(i) {
            Some(Value::Range(r)) => {
                if r.window_ends.len() != self.steps {
                    return Err(QueryError::BadData(format!(
                        "range vector argument of {}() has {} window ends for {} steps",
                        self.name,
                        r.window_ends.len(),
                        self.steps
                    )));
                }
                Ok(r)
            }
            other => {
                self.put_back(i, other);
                Err(self.wrong(i, "a range vector"))
            }
        }
    }

    fn vector(&mut self, i: usize) -> Result<Vec<Series>, QueryError> {
        match self.take(i) {
            Some(Value::Vector(v)) => Ok(v),
            other => {
                self.put_back(i, other);
                Err(self.wrong(i, "an instant vector"))
            }
        }
    }

    fn opt_vector(&mut self, i: usize) -> Result<Option<Vec<Series>>, QueryError> {
        if i >= self.args.len() {
            return Ok(None);
        }
        self.vector(i).map(Some)
    }

    fn scalar(&mut self, i: usize) -> Result<Vec<f64>, QueryError> {
        match self.take(i) {
            Some(Value::Scalar(v)) => {
                if v.len() != self.steps {
                    return Err(QueryError::BadData(format!(
                        "scalar argument {} of {}() has {} values for {} steps",
                        i + 1,
                        self.name,
                        v.len(),
                        self.steps
                    )));
                }
                Ok(v)
            }
            other => {
                self.put_back(i, other);
                Err(self.wrong(i, "a scalar"))
            }
        }
    }

    fn opt_scalar(&mut self, i: usize) -> Result<Option<Vec<f64>>, QueryError> {
        if i >= self.args.len() {
            return Ok(None);
        }
        self.scalar(i).map(Some)
    }

    fn string(&mut self, i: usize) -> Result<String, QueryError> {
        match self.take(i) {
            Some(Value::String(s)) => Ok(s),
            other => {
                self.put_back(i, other);
                Err(self.wrong(i, "a string"))
            }
        }
    }

    fn put_back(&mut self, i: usize, v: Option<Value>) {
        if let (Some(slot), Some(v)) = (self.args.get_mut(i), v) {
            *slot = Some(v);
        }
    }
}

/// The grid index of a point's time; `None` for a time off the grid (never
/// produced by the evaluator; such points are ignored rather than trusted).
fn step_index(steps: &Steps, t: i64) -> Option<usize> {
    let off = t.checked_sub(steps.start)?;
    if off < 0 || t > steps.end || off % steps.step != 0 {
        return None;
    }
    Some((off / steps.step) as usize)
}

/// Labels as an output of a function that drops the metric name.
fn output_labels(labels: &model::Labels, drop_name: bool) -> model::Labels {
    if drop_name && labels.metric_name().is_some() {
        labels.without_metric_name()
    } else {
        labels.clone()
    }
}

/// Applies `f(step index, value)` to every point of an instant vector;
/// `None` drops the point. Series left without points are dropped.
fn map_values(
    steps: &Steps,
    vector: Vec<Series>,
    drop_name: bool,
    mut f: impl FnMut(usize, f64) -> Option<f64>,
) -> Vec<Series> {
    let mut out = Vec::with_capacity(vector.len());
    for s in vector {
        let points: Vec<Point> = s
            .points
            .iter()
            .filter_map(|p| f(step_index(steps, p.t)?, p.v).map(|v| Point { t: p.t, v }))
            .collect();
        if !points.is_empty() {
            out.push(Series {
                labels: output_labels(&s.labels, drop_name),
                points,
            });
        }
    }
    out
}

/// Calls `f(step index, window)` for every step whose window holds at least
/// one sample, for every series of `range`, with a sliding window over the
/// samples: O(samples + steps) per series to find the windows. The window of
/// step `i` is `[window_ends[i] - range_ms, window_ends[i]]`, both ends
/// included, as in Prometheus 2.42.
fn over_windows(
    steps: &Steps,
    range: &RangeVector,
    drop_name: bool,
    mut f: impl FnMut(usize, &[Sample]) -> Result<Option<f64>, QueryError>,
) -> Result<Vec<Series>, QueryError> {
    over_windows_indexed(
        steps,
        range,
        drop_name,
        |_| (),
        |_, i, samples, lo, hi| f(i, &samples[lo..hi]),
    )
}

/// [`over_windows`] for functions that precompute something per series
/// (`prepare(samples)`) and then see each window as `samples[lo..hi]`.
fn over_windows_indexed<P>(
    steps: &Steps,
    range: &RangeVector,
    drop_name: bool,
    mut prepare: impl FnMut(&[Sample]) -> P,
    mut f: impl FnMut(&P, usize, &[Sample], usize, usize) -> Result<Option<f64>, QueryError>,
) -> Result<Vec<Series>, QueryError> {
    let mut out = Vec::new();
    for (labels, samples) in &range.series {
        let prepared = prepare(samples);
        let mut points = Vec::with_capacity(range.window_ends.len().min(samples.len()));
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut prev_end = i64::MIN;
        for (i, &end) in range.window_ends.iter().enumerate() {
            if end < prev_end {
                // Windows moving backwards (never on a grid): start over.
                lo = 0;
                hi = 0;
            }
            prev_end = end;
            let start = end - range.range_ms;
            while hi < samples.len() && samples[hi].t <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].t < start {
                lo += 1;
            }
            if lo == hi {
                continue;
            }
            if let Some(v) = f(&prepared, i, samples, lo, hi)? {
                points.push(Point { t: steps.at(i), v });
            }
        }
        if !points.is_empty() {
            out.push(Series {
                labels: output_labels(labels, drop_name),
                points,
            });
        }
    }
    Ok(out)
}

/// Go's `time.Duration.Seconds()` for a whole number of milliseconds:
/// `float64(d / Second) + float64(d % Second) / 1e9`, which can differ in
/// the last bit from `ms / 1000.0`.
fn duration_seconds(ms: i64) -> f64 {
    let ns = ms.wrapping_mul(1_000_000);
    let sec = ns / 1_000_000_000;
    let nsec = ns % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}
