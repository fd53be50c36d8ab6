//! Element-wise math: `abs` … `atanh`, `deg`, `rad`, `sgn` (2.42's
//! `simpleFunc`), `round`, `clamp`, `clamp_min`, `clamp_max`. All drop the
//! metric name. `pi()` is a scalar and lives in the dispatcher.

use super::{gomath, map_values};
use crate::value::{Series, Steps};

/// The one-argument functions, each as Go computes it.
pub(super) fn simple(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "sqrt" => f64::sqrt,
        "exp" => gomath::exp,
        "ln" => gomath::log,
        "log2" => gomath::log2,
        "log10" => gomath::log10,
        "sin" => gomath::sin,
        "cos" => gomath::cos,
        "tan" => gomath::tan,
        "asin" => gomath::asin,
        "acos" => gomath::acos,
        "atan" => gomath::atan,
        "sinh" => gomath::sinh,
        "cosh" => gomath::cosh,
        "tanh" => gomath::tanh,
        "asinh" => gomath::asinh,
        "acosh" => gomath::acosh,
        "atanh" => gomath::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    };
    Some(f)
}

/// `round(v, to_nearest=1)`: `floor(v * (1/to_nearest) + 0.5) / (1/to_nearest)`,
/// ties rounding up, with the inverse as 2.42 uses it.
pub(super) fn round(steps: &Steps, vector: Vec<Series>, to_nearest: Option<&[f64]>) -> Vec<Series> {
    map_values(steps, vector, true, |i, v| {
        let to_nearest = to_nearest.map_or(1.0, |s| s[i]);
        let inverse = 1.0 / to_nearest;
        Some((v * inverse + 0.5).floor() / inverse)
    })
}

/// `clamp(v, min, max)`, `clamp_min(v, min)`, `clamp_max(v, max)` with Go's
/// `math.Max`/`math.Min` (NaN wins except against the matching infinity).
/// `clamp` returns nothing at a step where `max < min`.
pub(super) fn clamp(steps: &Steps, vector: Vec<Series>, lo: Option<&[f64]>, hi: Option<&[f64]>) -> Vec<Series> {
    map_values(steps, vector, true, |i, v| match (lo, hi) {
        (Some(lo), Some(hi)) => {
            let (lo, hi) = (lo[i], hi[i]);
            if hi < lo {
                None
            } else {
                Some(gomath::max(lo, gomath::min(hi, v)))
            }
        }
        (Some(lo), None) => Some(gomath::max(lo[i], v)),
        (None, Some(hi)) => Some(gomath::min(hi[i], v)),
        (None, None) => Some(v),
    })
}
