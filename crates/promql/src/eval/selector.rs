//! Vector and matrix selectors: one storage read per selector for the whole
//! grid, then the lookback (`vectorSelectorSingle`) or window
//! (`matrixIterSlice`) logic of Prometheus 2.42 per grid time.
//!
//! 2.42's windows are closed on both ends: an instant selector takes the
//! newest sample in `[t - offset - lookback, t - offset]`, a range selector
//! the samples in `[t - offset - range, t - offset]`.
use model::{is_stale_nan, Labels, Sample};

use super::ast::{MatrixSel, VectorSel};
use super::{Ev, Val};
use crate::error::QueryError;
use crate::value::{Point, RangeVector, Series};

/// The selected series of a selector, samples trimmed to its select range.
pub(crate) struct Selected {
    pub series: Vec<(Labels, Vec<Sample>)>,
    /// Raw samples held (accounted in the query's sample count).
    pub raw: usize,
}

/// Reads the selector's series over its select range.
pub(crate) fn select(ev: &mut Ev<'_>, vs: &VectorSel) -> Result<Selected, QueryError> {
    ev.ctx.check()?;
    let (mint, maxt) = vs.select_range;
    if mint > maxt {
        return Ok(Selected {
            series: Vec::new(),
            raw: 0,
        });
    }
    let querier = ev.ctx.queryable.querier(mint, maxt);
    let found = querier.select(&vs.matchers).map_err(QueryError::from)?;
    let mut series = Vec::with_capacity(found.len());
    let mut raw = 0usize;
    for s in found {
        let mut samples = s.samples;
        // The querier bounds samples to its range already; trim defensively,
        // as Prometheus' storage trims to the selector's hints.
        let lo = samples.partition_point(|x| x.t < mint);
        let hi = samples.partition_point(|x| x.t <= maxt);
        if lo > 0 || hi < samples.len() {
            samples = samples[lo..hi].to_vec();
        }
        if samples.is_empty() {
            continue;
        }
        raw += samples.len();
        series.push((s.labels, samples));
    }
    ev.ctx.add(raw)?;
    ev.ctx.check()?;
    Ok(Selected { series, raw })
}

/// The point of one series at grid time `ts` (`vectorSelectorSingle`):
/// `j` is the number of samples at or before the previous reference time
/// and is advanced.
#[inline]
pub(crate) fn sample_at(samples: &[Sample], j: &mut usize, ref_time: i64, lookback: i64) -> Option<Sample> {
    while *j < samples.len() && samples[*j].t <= ref_time {
        *j += 1;
    }
    if *j == 0 {
        return None;
    }
    let s = samples[*j - 1];
    if s.t < ref_time - lookback || is_stale_nan(s.v) {
        return None;
    }
    Some(s)
}

/// An instant vector selector over the grid.
pub(crate) fn eval_vector(ev: &mut Ev<'_>, vs: &VectorSel) -> Result<Val, QueryError> {
    let sel = select(ev, vs)?;
    let steps = ev.steps();
    let lookback = ev.ctx.lookback;
    let mut out = Vec::with_capacity(sel.series.len());
    for (labels, samples) in sel.series {
        ev.ctx.check()?;
        // A sample answers every step within the lookback after it.
        let per_sample = (lookback / steps.step.max(1)).saturating_add(1) as usize;
        let mut points = Vec::with_capacity(steps.len().min(samples.len().saturating_mul(per_sample)));
        let mut j = 0usize;
        for ts in steps.iter() {
            if let Some(s) = sample_at(&samples, &mut j, ts - vs.offset, lookback) {
                points.push(Point { t: ts, v: s.v });
            }
        }
        ev.ctx.total += points.len() as u64;
        ev.ctx.add(points.len())?;
        if !points.is_empty() {
            out.push(Series { labels, points });
        }
    }
    ev.ctx.release(sel.raw);
    Ok(Val::Vector(out))
}

/// A vector selector at one time, keeping the samples' own timestamps (for
/// `timestamp()`).
pub(crate) fn vector_at(
    ev: &mut Ev<'_>,
    series: &[(Labels, Vec<Sample>)],
    offset: i64,
    ts: i64,
    out: &mut Vec<(usize, Sample)>,
) {
    out.clear();
    let lookback = ev.ctx.lookback;
    for (i, (_, samples)) in series.iter().enumerate() {
        let ref_time = ts - offset;
        let k = samples.partition_point(|s| s.t <= ref_time);
        let mut j = k;
        if let Some(s) = sample_at(samples, &mut j, ref_time, lookback) {
            out.push((i, s));
        }
    }
}

/// A matrix selector evaluated at the evaluator's start (instant queries):
/// raw samples in `[start - offset - range, start - offset]`.
pub(crate) fn eval_matrix(ev: &mut Ev<'_>, ms: &MatrixSel) -> Result<Val, QueryError> {
    let sel = select(ev, &ms.vs)?;
    let maxt = ev.start - ms.vs.offset;
    let mint = maxt - ms.range;
    let mut out = Vec::new();
    for (labels, samples) in sel.series {
        ev.ctx.check()?;
        let points: Vec<Point> = samples
            .iter()
            .filter(|s| s.t >= mint && s.t <= maxt && !is_stale_nan(s.v))
            .map(|s| Point { t: s.t, v: s.v })
            .collect();
        ev.ctx.total += points.len() as u64;
        if !points.is_empty() {
            out.push(Series { labels, points });
        }
    }
    ev.ctx.release(sel.raw);
    Ok(Val::Matrix(out))
}

/// Builds a range-vector argument from series with raw samples: staleness
/// markers dropped, samples outside every window dropped, and one window end
/// per grid time (`t - offset`). Windows are `[end - range, end]`.
pub(crate) fn range_vector(
    ev: &mut Ev<'_>,
    series: Vec<(Labels, Vec<Sample>)>,
    range: i64,
    offset: i64,
) -> Result<RangeVector, QueryError> {
    let window_ends: Vec<i64> = ev.steps().iter().map(|t| t - offset).collect();
    let (lo, hi) = match (window_ends.first(), window_ends.last()) {
        (Some(f), Some(l)) => (f - range, *l),
        _ => (0, -1),
    };
    let mut out = Vec::with_capacity(series.len());
    let mut held = 0usize;
    for (labels, samples) in series {
        ev.ctx.check()?;
        let samples: Vec<Sample> = samples
            .into_iter()
            .filter(|s| s.t >= lo && s.t <= hi && !is_stale_nan(s.v))
            .collect();
        if samples.is_empty() {
            continue;
        }
        // Samples touched: the size of every non-empty window.
        let (mut a, mut b) = (0usize, 0usize);
        for &end in &window_ends {
            while b < samples.len() && samples[b].t <= end {
                b += 1;
            }
            while a < b && samples[a].t < end - range {
                a += 1;
            }
            ev.ctx.total += (b - a) as u64;
        }
        held += samples.len();
        out.push((labels, samples));
    }
    ev.ctx.add(held)?;
    Ok(RangeVector {
        series: out,
        range_ms: range,
        window_ends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    #[test]
    fn lookback_window_is_closed() {
        let samples = [s(0, 1.0), s(10, 2.0)];
        let mut j = 0;
        assert_eq!(sample_at(&samples, &mut j, 10, 5).map(|s| s.v), Some(2.0));
        let mut j = 0;
        // Exactly `lookback` old: still visible in 2.42.
        assert_eq!(sample_at(&samples, &mut j, 15, 5).map(|s| s.v), Some(2.0));
        assert_eq!(sample_at(&samples, &mut j, 16, 5), None);
        let mut j = 0;
        assert_eq!(sample_at(&samples, &mut j, 9, 5), None);
    }

    #[test]
    fn stale_marker_hides_the_series() {
        let samples = [s(0, 1.0), s(10, model::STALE_NAN)];
        let mut j = 0;
        assert_eq!(sample_at(&samples, &mut j, 5, 300).map(|s| s.v), Some(1.0));
        assert_eq!(sample_at(&samples, &mut j, 12, 300), None);
    }
}
