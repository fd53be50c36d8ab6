//! What expressions evaluate to, over a grid of evaluation steps.
//!
//! The engine always evaluates over a [`Steps`] grid (an instant query is a
//! grid of one step). An instant vector is a list of [`Series`] whose points
//! sit on step timestamps (a series has no point at a step where it has no
//! value); a scalar has one value per step. Range vectors only exist as
//! function arguments ([`RangeVector`]) and as the result of an instant
//! query of a matrix selector.
use model::{Labels, Sample};

/// The evaluation grid: `start, start + step, ..., <= end` (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// First evaluation time.
    pub start: i64,
    /// Last evaluation time (inclusive).
    pub end: i64,
    /// Distance between evaluation times; > 0 (1 for instant queries).
    pub step: i64,
}

impl Steps {
    /// A single evaluation at `t`.
    pub fn instant(t: i64) -> Steps {
        Steps {
            start: t,
            end: t,
            step: 1,
        }
    }

    /// Number of evaluation times.
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.step) as usize + 1
        }
    }

    /// True when there is no evaluation time.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th evaluation time.
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Every evaluation time.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }
}

/// One value of a series at one evaluation time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The evaluation time (a step timestamp).
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// A series of an instant vector over the grid, or of a matrix result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// Points sorted by time; at most one per step.
    pub points: Vec<Point>,
}

/// A range-vector argument: raw samples per series plus what a function
/// needs to cut them into one window per step. For step time `t` the window
/// is `[t - offset - range, t - offset]`, closed at both ends as in
/// Prometheus 2.42 (3.x made it left-open), or anchored at `@` when set.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeVector {
    /// Series with their raw samples (staleness markers already removed),
    /// covering every window of the grid.
    pub series: Vec<(Labels, Vec<Sample>)>,
    /// Window width.
    pub range_ms: i64,
    /// End of the window for each step (already adjusted for offset and `@`),
    /// same length as the grid.
    pub window_ends: Vec<i64>,
}

/// The value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number per step.
    Scalar(Vec<f64>),
    /// An instant vector over the grid.
    Vector(Vec<Series>),
    /// A range vector (argument position only).
    Range(RangeVector),
    /// A string literal.
    String(String),
}
