//! Function calls (the `Call` case of 2.42's `eval`): argument evaluation,
//! the range-vector argument, `timestamp`, `absent` and `absent_over_time`
//! (which need the argument expression or the samples' own timestamps);
//! every other function is `crate::functions::call`'s.
use model::{Labels, LabelsBuilder, MatchType, Matcher, Sample, METRIC_NAME};

use super::ast::{CallNode, Node, ValueType, VectorSel};
use super::selector::{self, range_vector, vector_at};
use super::{check_unique_labels, drop_metric_name, merge_same_labels, Ev, Out, StepWalker, Val};
use crate::error::QueryError;
use crate::value::{RangeVector, Series, Value};

/// Series with their raw samples.
type RawSeries = Vec<(Labels, Vec<Sample>)>;

fn call_function(name: &str, ev: &Ev<'_>, args: Vec<Value>) -> Result<Value, QueryError> {
    crate::functions::call(name, &ev.steps(), args)
}

/// `createLabelsForAbsentFunction`.
fn absent_labels(arg: &Node) -> Labels {
    let matchers: &[Matcher] = match arg {
        Node::Vector(vs) => &vs.matchers,
        Node::Matrix(ms) => &ms.vs.matchers,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    let mut empty = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.kind == MatchType::Equal && b.get(&m.name).is_none() {
            b.set(m.name.clone(), m.value.clone());
        } else {
            empty.push(m.name.clone());
        }
    }
    for n in &empty {
        b.del(n);
    }
    b.build()
}

pub(crate) fn eval(ev: &mut Ev<'_>, c: &mut CallNode) -> Result<Val, QueryError> {
    if ev.num_steps() == 0 {
        // 2.42 loops over no step at all (a subquery's empty inner grid).
        return Ok(match c.return_type {
            ValueType::Scalar => Val::Scalar(Vec::new()),
            _ => Val::Vector(Vec::new()),
        });
    }
    if c.name == "timestamp" {
        c.args[0].unparen_in_place();
        if let Node::Vector(vs) = c.args[0].unwrap_invariant_paren_mut() {
            return timestamp_of_selector(ev, vs);
        }
    }
    let mut matrix_idx = None;
    for (i, a) in c.args.iter_mut().enumerate() {
        a.unparen_in_place();
        if matches!(a.unwrap_invariant_paren(), Node::Matrix(_) | Node::Subquery(_)) {
            matrix_idx = Some(i);
            break;
        }
    }
    match matrix_idx {
        None => call_without_range(ev, c),
        Some(i) => call_with_range(ev, c, i),
    }
}

fn to_value(v: Val) -> Value {
    match v {
        Val::Scalar(s) => Value::Scalar(s),
        Val::Vector(s) | Val::Matrix(s) => Value::Vector(s),
        Val::String(s) => Value::String(s),
    }
}

/// Functions without a range-vector argument (`rangeEval` in 2.42): every
/// argument over the whole grid, results checked step by step.
fn call_without_range(ev: &mut Ev<'_>, c: &mut CallNode) -> Result<Val, QueryError> {
    let mut args = Vec::with_capacity(c.args.len());
    for a in c.args.iter_mut() {
        if a.value_type() == ValueType::String {
            let s = match a.unwrap_invariant_paren() {
                Node::String(s) => s.clone(),
                _ => String::new(),
            };
            args.push(Val::String(s));
        } else {
            args.push(ev.eval(a)?);
        }
    }
    match c.name.as_str() {
        "absent" => {
            let labels = absent_labels(c.args[0].unparen());
            let steps = ev.steps();
            let series = match args.into_iter().next() {
                Some(v) => v.into_series(&steps),
                None => Vec::new(),
            };
            let mut present = vec![false; steps.len()];
            for s in &series {
                for p in &s.points {
                    if p.t >= steps.start && p.t <= steps.end && (p.t - steps.start) % steps.step == 0 {
                        present[((p.t - steps.start) / steps.step) as usize] = true;
                    }
                }
            }
            let points: Vec<_> = steps
                .iter()
                .zip(present)
                .filter(|(_, p)| !p)
                .map(|(t, _)| crate::value::Point { t, v: 1.0 })
                .collect();
            ev.ctx.add(points.len())?;
            if points.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(vec![Series { labels, points }]))
        }
        "timestamp" => {
            // Not a selector: the points carry the evaluation times.
            let steps = ev.steps();
            let series = match args.into_iter().next() {
                Some(v) => v.into_series(&steps),
                None => Vec::new(),
            };
            let mut out = Out::new();
            let mut slots: Vec<Option<usize>> = vec![None; series.len()];
            let mut walker = StepWalker::new(&series);
            let mut cur = Vec::new();
            for ts in steps.iter() {
                ev.ctx.check()?;
                walker.at(ts, &mut cur);
                for &(i, _) in &cur {
                    let slot = *slots[i].get_or_insert_with(|| out.slot_owned(drop_metric_name(&series[i].labels)));
                    out.push(ev.ctx, slot, ts, ts as f64 / 1000.0)?;
                }
                out.end_step()?;
            }
            Ok(Val::Vector(out.finish()))
        }
        _ => {
            let values = args.into_iter().map(to_value).collect();
            match call_function(&c.name, ev, values)? {
                Value::Scalar(v) => Ok(Val::Scalar(v)),
                Value::Vector(s) => Ok(Val::Vector(merge_same_labels(s)?)),
                Value::String(s) => Ok(Val::String(s)),
                Value::Range(_) => Err(QueryError::Execution(format!(
                    "function {} returned a range vector",
                    c.name
                ))),
            }
        }
    }
}

/// Functions with a range-vector argument: a matrix selector or a subquery.
fn call_with_range(ev: &mut Ev<'_>, c: &mut CallNode, idx: usize) -> Result<Val, QueryError> {
    let steps = ev.steps();
    // A subquery argument is evaluated first (`evalSubquery`).
    let mut sub: Option<(RawSeries, i64, i64)> = None;
    if let Node::Subquery(s) = c.args[idx].unwrap_invariant_paren_mut() {
        let offset = match s.timestamp {
            Some(ts) => s.original_offset + (ev.start - ts),
            None => s.offset,
        };
        let range = s.range;
        let v = super::subquery::eval(ev, s)?;
        let points = v.num_points();
        let series: RawSeries = v
            .into_series(&steps)
            .into_iter()
            .map(|s| (s.labels, s.points.iter().map(|p| Sample { t: p.t, v: p.v }).collect()))
            .collect();
        // Held from here on as the range vector's samples.
        ev.ctx.release(points);
        sub = Some((series, range, offset));
    }
    let mut args: Vec<Option<Value>> = Vec::with_capacity(c.args.len());
    for (i, a) in c.args.iter_mut().enumerate() {
        if i == idx {
            args.push(None);
        } else if a.value_type() == ValueType::String {
            let s = match a.unwrap_invariant_paren() {
                Node::String(s) => s.clone(),
                _ => String::new(),
            };
            args.push(Some(Value::String(s)));
        } else {
            args.push(Some(to_value(ev.eval(a)?)));
        }
    }
    let (rv, labels_for_absent): (RangeVector, Labels) = match sub {
        Some((series, range, offset)) => (range_vector(ev, series, range, offset)?, Labels::empty()),
        None => {
            let Node::Matrix(ms) = c.args[idx].unwrap_invariant_paren() else {
                return Err(QueryError::Execution("expected a range vector argument".into()));
            };
            let ms = ms.clone();
            let sel = selector::select(ev, &ms.vs)?;
            let raw = sel.raw;
            let rv = range_vector(ev, sel.series, ms.range, ms.vs.offset)?;
            ev.ctx.release(raw);
            (rv, absent_labels(&Node::Matrix(ms)))
        }
    };

    if c.name == "absent_over_time" {
        let mut present = vec![false; steps.len()];
        for (_, samples) in &rv.series {
            let mut a = 0usize;
            let mut b = 0usize;
            for (k, &end) in rv.window_ends.iter().enumerate() {
                while b < samples.len() && samples[b].t <= end {
                    b += 1;
                }
                while a < b && samples[a].t < end - rv.range_ms {
                    a += 1;
                }
                if b > a {
                    present[k] = true;
                }
            }
        }
        if present.iter().all(|p| *p) {
            return Ok(Val::Vector(Vec::new()));
        }
        let points: Vec<_> = steps
            .iter()
            .zip(present)
            .filter(|(_, p)| !p)
            .map(|(t, _)| crate::value::Point { t, v: 1.0 })
            .collect();
        return Ok(Val::Vector(vec![Series {
            labels: labels_for_absent,
            points,
        }]));
    }

    args[idx] = Some(Value::Range(rv));
    let values: Vec<Value> = args.into_iter().flatten().collect();
    match call_function(&c.name, ev, values)? {
        Value::Vector(s) => {
            check_unique_labels(&s)?;
            Ok(Val::Vector(s))
        }
        Value::Scalar(v) => Ok(Val::Scalar(v)),
        Value::String(s) => Ok(Val::String(s)),
        Value::Range(_) => Err(QueryError::Execution(format!(
            "function {} returned a range vector",
            c.name
        ))),
    }
}

/// `timestamp(<vector selector>)`: the timestamps of the selected samples.
/// With `@`, 2.42 replaces the selector's offset by `t - @` at every step,
/// ignoring a written `offset` (while still selecting the offset range).
fn timestamp_of_selector(ev: &mut Ev<'_>, vs: &mut VectorSel) -> Result<Val, QueryError> {
    let sel = selector::select(ev, vs)?;
    let steps = ev.steps();
    let mut out = Out::new();
    let mut slots: Vec<Option<usize>> = vec![None; sel.series.len()];
    let mut cur = Vec::new();
    for ts in steps.iter() {
        ev.ctx.check()?;
        if let Some(at) = vs.timestamp {
            vs.offset = ts - at;
        }
        vector_at(ev, &sel.series, vs.offset, ts, &mut cur);
        ev.ctx.total += cur.len() as u64;
        for &(i, s) in &cur {
            let slot = *slots[i].get_or_insert_with(|| out.slot_owned(drop_metric_name(&sel.series[i].0)));
            out.push(ev.ctx, slot, ts, s.t as f64 / 1000.0)?;
        }
        out.end_step()?;
    }
    ev.ctx.release(sel.raw);
    Ok(Val::Vector(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_labels_keep_equality_matchers_only() {
        let vs = VectorSel {
            matchers: vec![
                Matcher::equal("job", "a"),
                Matcher::new(MatchType::Regex, "instance", "x.*").unwrap(),
                Matcher::equal("env", "p"),
                Matcher::new(MatchType::NotEqual, "env", "q").unwrap(),
                Matcher::equal(METRIC_NAME, "up"),
            ],
            original_offset: 0,
            offset: 0,
            timestamp: None,
            start_or_end: None,
            select_range: (0, 0),
        };
        let l = absent_labels(&Node::Vector(Box::new(vs)));
        assert_eq!(l, Labels::from_pairs([("job", "a")]));
    }
}
