//! The evaluator: a port of Prometheus 2.42's `promql/engine.go` evaluation
//! onto the grid representation of [`crate::value`].
//!
//! Every expression is evaluated over the evaluator's grid (`start..=end`
//! every `interval`); an instant vector is a list of series with at most one
//! point per grid time, a scalar a value per grid time. Nodes that Prometheus
//! evaluates step by step through `rangeEval` (aggregations, binary
//! operators, functions without a range argument) are evaluated here step by
//! step too, in the same order, so that per-step checks, error precedence,
//! floating-point summation order and the order of an instant query's result
//! are the same; selectors read storage once per selector for the whole grid.
pub(crate) mod aggregate;
pub(crate) mod ast;
pub(crate) mod binary;
pub(crate) mod call;
pub(crate) mod gomath;
pub mod gosort;
pub(crate) mod selector;
pub(crate) mod subquery;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use model::{Labels, METRIC_NAME};
use rustc_hash::FxHashMap;

use crate::error::QueryError;
use crate::queryable::Queryable;
use crate::value::{Point, Series, Steps};
use ast::Node;

/// State shared by every evaluator of one query (subqueries included).
pub(crate) struct Ctx {
    pub queryable: Arc<dyn Queryable>,
    pub deadline: Instant,
    pub canceled: Arc<AtomicBool>,
    pub lookback: i64,
    pub default_subquery_step: i64,
    pub max_samples: usize,
    /// Samples currently loaded or held by intermediate results.
    pub cur: usize,
    pub peak: usize,
    /// Samples touched, as Prometheus' `totalQueryableSamples`.
    pub total: u64,
    pub warnings: Vec<String>,
}

impl Ctx {
    /// Fails when the deadline passed or the query was canceled.
    pub(crate) fn check(&self) -> Result<(), QueryError> {
        if self.canceled.load(Ordering::Relaxed) {
            return Err(QueryError::Canceled("expression evaluation".into()));
        }
        if Instant::now() >= self.deadline {
            return Err(QueryError::Timeout("expression evaluation".into()));
        }
        Ok(())
    }

    /// Accounts for `n` more samples in memory.
    pub(crate) fn add(&mut self, n: usize) -> Result<(), QueryError> {
        self.cur += n;
        if self.cur > self.peak {
            self.peak = self.cur;
        }
        if self.cur > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    /// Releases `n` samples.
    pub(crate) fn release(&mut self, n: usize) {
        self.cur = self.cur.saturating_sub(n);
    }
}

/// The value of an evaluated expression.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// One value per grid time.
    Scalar(Vec<f64>),
    /// Series with points on grid times.
    Vector(Vec<Series>),
    /// Series with raw points (matrix selector, subquery).
    Matrix(Vec<Series>),
    String(String),
}

impl Val {
    pub(crate) fn num_points(&self) -> usize {
        match self {
            Val::Scalar(v) => v.len(),
            Val::Vector(s) | Val::Matrix(s) => s.iter().map(|s| s.points.len()).sum(),
            Val::String(_) => 0,
        }
    }

    /// The series of a vector (or matrix) value; a scalar becomes one series
    /// without labels (as Prometheus represents scalars during evaluation).
    pub(crate) fn into_series(self, steps: &Steps) -> Vec<Series> {
        match self {
            Val::Vector(s) | Val::Matrix(s) => s,
            Val::Scalar(v) if v.is_empty() => Vec::new(),
            Val::Scalar(v) => vec![Series {
                labels: Labels::empty(),
                points: steps.iter().zip(v).map(|(t, v)| Point { t, v }).collect(),
            }],
            Val::String(_) => Vec::new(),
        }
    }

    pub(crate) fn into_scalar(self, n: usize) -> Vec<f64> {
        match self {
            Val::Scalar(v) => v,
            // Cannot happen for well-typed expressions.
            _ => vec![f64::NAN; n],
        }
    }
}

/// An evaluator over one grid.
pub(crate) struct Ev<'a> {
    pub ctx: &'a mut Ctx,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
}

impl Ev<'_> {
    pub(crate) fn steps(&self) -> Steps {
        Steps {
            start: self.start,
            end: self.end,
            step: self.interval,
        }
    }

    /// Number of grid times.
    pub(crate) fn num_steps(&self) -> usize {
        self.steps().len()
    }

    /// An evaluator sharing this one's query state over another grid.
    pub(crate) fn sub(&mut self, start: i64, end: i64, interval: i64) -> Ev<'_> {
        Ev {
            ctx: &mut *self.ctx,
            start,
            end,
            interval,
        }
    }

    /// Evaluates `node`; afterwards only its result counts as held.
    pub(crate) fn eval(&mut self, node: &mut Node) -> Result<Val, QueryError> {
        self.ctx.check()?;
        let before = self.ctx.cur;
        let v = self.eval_inner(node)?;
        self.ctx.cur = before;
        self.ctx.add(v.num_points())?;
        Ok(v)
    }

    fn eval_inner(&mut self, node: &mut Node) -> Result<Val, QueryError> {
        match node {
            Node::Aggregate(a) => aggregate::eval(self, a),
            Node::Neg(inner) => {
                let v = self.eval(inner)?;
                match v {
                    Val::Scalar(mut v) => {
                        for x in &mut v {
                            *x = -*x;
                        }
                        Ok(Val::Scalar(v))
                    }
                    Val::Vector(mut series) => {
                        for s in &mut series {
                            s.labels = drop_metric_name(&s.labels);
                            for p in &mut s.points {
                                p.v = -p.v;
                            }
                        }
                        check_unique_labels(&series)?;
                        Ok(Val::Vector(series))
                    }
                    other => Ok(other),
                }
            }
            Node::Binary(b) => binary::eval(self, b),
            Node::Paren(inner) => self.eval(inner),
            Node::Subquery(s) => subquery::eval(self, s),
            Node::Number(v) => Ok(Val::Scalar(vec![*v; self.num_steps()])),
            Node::String(s) => Ok(Val::String(s.clone())),
            Node::Vector(vs) => selector::eval_vector(self, vs),
            Node::Matrix(ms) => {
                if self.start != self.end {
                    return Err(QueryError::Execution(
                        "cannot do range evaluation of matrix selector".into(),
                    ));
                }
                selector::eval_matrix(self, ms)
            }
            Node::Call(c) => call::eval(self, c),
            Node::StepInvariant(inner) => self.eval_step_invariant(inner),
        }
    }

    /// `StepInvariantExpr`: evaluated once at the start, then repeated.
    fn eval_step_invariant(&mut self, inner: &mut Node) -> Result<Val, QueryError> {
        if matches!(inner, Node::String(_) | Node::Number(_)) {
            return self.eval(inner);
        }
        let n = self.num_steps();
        let (start, interval) = (self.start, self.interval);
        let res = self.sub(start, start, interval).eval(inner)?;
        if matches!(inner, Node::Matrix(_) | Node::Subquery(_)) {
            return Ok(res);
        }
        match res {
            Val::Scalar(v) => {
                let x = v.first().copied().unwrap_or(f64::NAN);
                self.ctx.add(n.saturating_sub(1))?;
                Ok(Val::Scalar(vec![x; n]))
            }
            Val::Vector(mut series) | Val::Matrix(mut series) => {
                for s in &mut series {
                    if s.points.len() != 1 {
                        return Err(QueryError::Execution("unexpected number of samples".into()));
                    }
                    let v = s.points[0].v;
                    s.points.reserve(n.saturating_sub(1));
                    for i in 1..n {
                        s.points.push(Point {
                            t: start + i as i64 * interval,
                            v,
                        });
                    }
                    self.ctx.add(n.saturating_sub(1))?;
                }
                Ok(Val::Vector(series))
            }
            other => Ok(other),
        }
    }
}

/// The labels without `__name__`.
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    if l.get(METRIC_NAME).is_none() {
        return l.clone();
    }
    l.without_metric_name()
}

pub(crate) fn same_labelset_error() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// `Matrix.ContainsSameLabelset` over a whole matrix.
pub(crate) fn check_unique_labels(series: &[Series]) -> Result<(), QueryError> {
    if series.len() < 2 {
        return Ok(());
    }
    let mut seen = rustc_hash::FxHashSet::default();
    for s in series {
        if !seen.insert(&s.labels) {
            return Err(same_labelset_error());
        }
    }
    Ok(())
}

/// Labels the way Prometheus' `labels.Labels.String()` prints them
/// (`{__name__="x", a="b"}`), for error messages.
pub(crate) fn prom_labels_string(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, lb) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&lb.name);
        s.push('=');
        s.push_str(&format!("{:?}", lb.value));
    }
    s.push('}');
    s
}

/// Walks a vector's series grid time by grid time, yielding the series that
/// have a point at each time (in series order), like `rangeEval` does.
pub(crate) struct StepWalker<'a> {
    series: &'a [Series],
    pos: Vec<usize>,
}

impl<'a> StepWalker<'a> {
    pub(crate) fn new(series: &'a [Series]) -> Self {
        StepWalker {
            series,
            pos: vec![0; series.len()],
        }
    }

    /// Fills `out` with `(series index, value)` for grid time `ts`.
    pub(crate) fn at(&mut self, ts: i64, out: &mut Vec<(usize, f64)>) {
        out.clear();
        for (i, s) in self.series.iter().enumerate() {
            let p = self.pos[i];
            if let Some(pt) = s.points.get(p) {
                if pt.t == ts {
                    out.push((i, pt.v));
                    self.pos[i] = p + 1;
                }
            }
        }
    }
}

/// Collects per-step results into series, as `rangeEval` does: samples with
/// equal labels at different steps join one series; equal labels within one
/// step are an error (`vector cannot contain metrics with the same
/// labelset`), reported when the step ends.
pub(crate) struct Out {
    series: Vec<Series>,
    index: FxHashMap<Labels, usize>,
    last: Vec<i64>,
    dup: bool,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out {
            series: Vec::new(),
            index: FxHashMap::default(),
            last: Vec::new(),
            dup: false,
        }
    }

    /// The slot of a label set, created on first use.
    pub(crate) fn slot(&mut self, labels: &Labels) -> usize {
        if let Some(&i) = self.index.get(labels) {
            return i;
        }
        self.slot_owned(labels.clone())
    }

    pub(crate) fn slot_owned(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.series.len();
        self.index.insert(labels.clone(), i);
        self.series.push(Series {
            labels,
            points: Vec::new(),
        });
        self.last.push(i64::MIN);
        i
    }

    /// Adds a sample at grid time `t`.
    pub(crate) fn push(&mut self, ctx: &mut Ctx, slot: usize, t: i64, v: f64) -> Result<(), QueryError> {
        if self.last[slot] == t {
            self.dup = true;
            return Ok(());
        }
        self.last[slot] = t;
        self.series[slot].points.push(Point { t, v });
        ctx.add(1)
    }

    /// Ends a step: reports a duplicate label set seen during it.
    pub(crate) fn end_step(&mut self) -> Result<(), QueryError> {
        if self.dup {
            return Err(same_labelset_error());
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<Series> {
        self.series.into_iter().filter(|s| !s.points.is_empty()).collect()
    }
}

/// Merges series with equal labels as `rangeEval` does for results produced
/// step by step (an error when two of them have a point at the same time).
pub(crate) fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    if series.len() < 2 {
        return Ok(series);
    }
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut merged = false;
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged = true;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.points.sort_by_key(|p| p.t);
            if s.points.windows(2).any(|w| w[0].t == w[1].t) {
                return Err(same_labelset_error());
            }
        }
    }
    Ok(out)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`).
pub(crate) fn format_float_g(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_float_f(v);
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Shortest digits and decimal exponent via Rust's `{:e}`; Go switches to
    // exponent notation below 1e-4 and from 1e6 on (precision 6 for shortest).
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formats() {
        assert_eq!(format_float_f(1e21), "1000000000000000000000");
        assert_eq!(format_float_f(0.1), "0.1");
        assert_eq!(format_float_f(-2.5), "-2.5");
        assert_eq!(format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(format_float_g(1e20), "1e+20");
        assert_eq!(format_float_g(123456.0), "123456");
        assert_eq!(format_float_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(f64::NAN), "NaN");
    }

    #[test]
    fn merging_joins_steps_and_refuses_overlaps() {
        let l = Labels::from_pairs([("a", "1")]);
        let s = |t: i64| Series {
            labels: l.clone(),
            points: vec![Point { t, v: 1.0 }],
        };
        let merged = merge_same_labels(vec![s(2), s(1)]).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].points.iter().map(|p| p.t).collect::<Vec<_>>(), [1, 2]);
        assert!(merge_same_labels(vec![s(1), s(1)]).is_err());
    }
}
