//! `scalar`, `vector`, `sort`, `sort_desc`.

use model::Labels;

use super::step_index;
use crate::eval::gosort;
use crate::value::{Point, Series, Steps};

/// `scalar(v)`: the value of the only series present at a step, NaN when
/// there are none or several.
pub(super) fn scalar(steps: &Steps, vector: &[Series]) -> Vec<f64> {
    let mut count = vec![0u32; steps.len()];
    let mut value = vec![f64::NAN; steps.len()];
    for s in vector {
        for p in &s.points {
            let Some(i) = step_index(steps, p.t) else {
                continue;
            };
            count[i] += 1;
            value[i] = p.v;
        }
    }
    value
        .into_iter()
        .zip(count)
        .map(|(v, n)| if n == 1 { v } else { f64::NAN })
        .collect()
}

/// `vector(s)`: one series without labels holding the scalar at every step.
pub(super) fn vector(steps: &Steps, s: &[f64]) -> Vec<Series> {
    vec![Series {
        labels: Labels::empty(),
        points: steps.iter().zip(s).map(|(t, &v)| Point { t, v }).collect(),
    }]
}

/// `sort(v)` / `sort_desc(v)`: 2.42 sorts with Go's `sort.Sort` over
/// `sort.Reverse(vectorByReverseValueHeap)` (ascending) or
/// `sort.Reverse(vectorByValueHeap)` (descending), whose `Less` puts NaN
/// last; ties and NaNs land where Go's algorithm puts them. Series are
/// ordered by their first point, which is their value in an instant query
/// (the only place where the order is kept); labels are kept.
pub(super) fn sort(mut vector: Vec<Series>, descending: bool) -> Vec<Series> {
    let value = |s: &Series| s.points.first().map_or(f64::NAN, |p| p.v);
    if descending {
        // Reverse(vectorByValueHeap).Less(i, j) = heap.Less(j, i).
        gosort::sort_by(&mut vector, |a, b| {
            let (a, b) = (value(a), value(b));
            b.is_nan() || b < a
        });
    } else {
        // Reverse(vectorByReverseValueHeap).Less(i, j) = heap.Less(j, i).
        gosort::sort_by(&mut vector, |a, b| {
            let (a, b) = (value(a), value(b));
            b.is_nan() || b > a
        });
    }
    vector
}
