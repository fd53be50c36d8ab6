//! Aggregations: a step-by-step port of `aggregation()` from Prometheus
//! 2.42's engine.go, including its running mean for `avg`, its Welford
//! update for `stddev`/`stdvar`, Go's heap for `topk`/`bottomk` and Go's
//! sort for their output and for `quantile`.
use model::{is_valid_label_name, Labels, LabelsBuilder, METRIC_NAME};
use rustc_hash::FxHashMap;

use super::ast::{AggOp, AggregateNode, Node};
use super::{format_float_f, format_float_g, gosort, Ev, Out, StepWalker, Val};
use crate::error::QueryError;

/// The largest float convertible to an int64 without overflow.
const MAX_INT64: f64 = 9223372036854774784.0;
const MIN_INT64: f64 = -9223372036854775808.0;

pub(crate) use crate::functions::quantile;

struct Group {
    gid: usize,
    value: f64,
    mean: f64,
    count: usize,
    /// (value, input series index)
    heap: Vec<(f64, usize)>,
    quantile: Vec<f64>,
}

fn topk_less(a: &(f64, usize), b: &(f64, usize)) -> bool {
    a.0.is_nan() || a.0 < b.0
}

fn bottomk_less(a: &(f64, usize), b: &(f64, usize)) -> bool {
    a.0.is_nan() || a.0 > b.0
}

/// The labels of the group a metric falls in.
fn group_labels(metric: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut b: LabelsBuilder = metric.to_builder();
        for g in grouping {
            b.del(g);
        }
        b.del(METRIC_NAME);
        b.build()
    } else {
        let mut b: LabelsBuilder = metric.to_builder();
        b.retain(|l| grouping.binary_search_by(|g| g.as_str().cmp(l.name.as_str())).is_ok());
        b.build()
    }
}

struct Interner {
    ids: FxHashMap<Labels, usize>,
    labels: Vec<Labels>,
}

impl Interner {
    fn id(&mut self, l: Labels) -> usize {
        if let Some(&i) = self.ids.get(&l) {
            return i;
        }
        let i = self.labels.len();
        self.ids.insert(l.clone(), i);
        self.labels.push(l);
        i
    }
}

pub(crate) fn eval(ev: &mut Ev<'_>, a: &mut AggregateNode) -> Result<Val, QueryError> {
    let steps = ev.steps();
    let n = steps.len();
    let op = a.op;
    let mut string_param: Option<String> = None;
    let mut param: Vec<f64> = Vec::new();
    if let Some(p) = &mut a.param {
        p.unparen_in_place();
        if let Node::String(s) = p.unwrap_invariant_paren() {
            string_param = Some(s.clone());
        } else {
            param = ev.eval(p)?.into_scalar(n);
        }
    }
    let input = ev.eval(&mut a.expr)?.into_series(&steps);

    let mut grouping = a.grouping.clone();
    let without = a.without;
    let mut value_label = String::new();
    if op == AggOp::CountValues {
        value_label = string_param.unwrap_or_default();
        if !without {
            grouping.push(value_label.clone());
            grouping.sort();
        }
    }

    let mut interner = Interner {
        ids: FxHashMap::default(),
        labels: Vec::new(),
    };
    let group_of: Vec<usize> = if op == AggOp::CountValues {
        Vec::new()
    } else {
        input
            .iter()
            .map(|s| interner.id(group_labels(&s.labels, &grouping, without)))
            .collect()
    };

    let mut out = Out::new();
    let mut group_slot: Vec<Option<usize>> = Vec::new();
    let mut series_slot: Vec<Option<usize>> = vec![None; input.len()];
    let mut stamp: Vec<usize> = Vec::new();
    let mut pos: Vec<usize> = Vec::new();
    let mut walker = StepWalker::new(&input);
    let mut cur = Vec::new();
    let mut groups: Vec<Group> = Vec::new();

    for (step, ts) in steps.iter().enumerate() {
        ev.ctx.check()?;
        walker.at(ts, &mut cur);
        groups.clear();

        let mut k: i64 = 0;
        if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let f = param.get(step).copied().unwrap_or(f64::NAN);
            if !(MIN_INT64..=MAX_INT64).contains(&f) {
                return Err(QueryError::Execution(format!(
                    "Scalar value {} overflows int64",
                    format_float_g(f)
                )));
            }
            k = f as i64;
            if k < 1 {
                out.end_step()?;
                continue;
            }
        }
        let q = if op == AggOp::Quantile {
            param.get(step).copied().unwrap_or(f64::NAN)
        } else {
            0.0
        };
        if op == AggOp::CountValues && !is_valid_label_name(&value_label) {
            return Err(QueryError::Execution(format!("invalid label name {value_label:?}")));
        }

        for &(si, v) in &cur {
            let gid = if op == AggOp::CountValues {
                let mut b = input[si].labels.to_builder();
                b.set(value_label.clone(), format_float_f(v));
                interner.id(group_labels(&b.build(), &grouping, without))
            } else {
                group_of[si]
            };
            if gid >= stamp.len() {
                stamp.resize(gid + 1, usize::MAX);
                pos.resize(gid + 1, 0);
                group_slot.resize(gid + 1, None);
            }
            if stamp[gid] != step {
                stamp[gid] = step;
                pos[gid] = groups.len();
                let mut g = Group {
                    gid,
                    value: v,
                    mean: v,
                    count: 1,
                    heap: Vec::new(),
                    quantile: Vec::new(),
                };
                match op {
                    AggOp::Stdvar | AggOp::Stddev => g.value = 0.0,
                    AggOp::Topk | AggOp::Bottomk => g.heap.push((v, si)),
                    AggOp::Quantile => g.quantile.push(v),
                    AggOp::Group => g.value = 1.0,
                    _ => {}
                }
                groups.push(g);
                continue;
            }
            let g = &mut groups[pos[gid]];
            match op {
                AggOp::Sum => g.value += v,
                AggOp::Avg => {
                    g.count += 1;
                    if g.mean.is_infinite() {
                        if v.is_infinite() && (g.mean > 0.0) == (v > 0.0) {
                            continue;
                        }
                        if !v.is_infinite() && !v.is_nan() {
                            continue;
                        }
                    }
                    let c = g.count as f64;
                    g.mean += v / c - g.mean / c;
                }
                AggOp::Group => {}
                AggOp::Max => {
                    if g.value < v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                AggOp::Min => {
                    if g.value > v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                AggOp::Count | AggOp::CountValues => g.count += 1,
                AggOp::Stdvar | AggOp::Stddev => {
                    g.count += 1;
                    let delta = v - g.mean;
                    g.mean += delta / g.count as f64;
                    g.value += delta * (v - g.mean);
                }
                AggOp::Topk | AggOp::Bottomk => {
                    let less = if op == AggOp::Topk { topk_less } else { bottomk_less };
                    let top = g.heap[0].0;
                    let better = if op == AggOp::Topk { top < v } else { top > v };
                    if (g.heap.len() as i64) < k || better || top.is_nan() {
                        if g.heap.len() as i64 == k {
                            if k == 1 {
                                g.heap[0] = (v, si);
                                continue;
                            }
                            gosort::heap_pop(&mut g.heap, less);
                        }
                        gosort::heap_push(&mut g.heap, (v, si), less);
                    }
                }
                AggOp::Quantile => g.quantile.push(v),
            }
        }

        for g in &mut groups {
            let value = match op {
                AggOp::Avg => g.mean,
                AggOp::Count | AggOp::CountValues => g.count as f64,
                AggOp::Stdvar => g.value / g.count as f64,
                AggOp::Stddev => (g.value / g.count as f64).sqrt(),
                AggOp::Topk | AggOp::Bottomk => {
                    let less = if op == AggOp::Topk { topk_less } else { bottomk_less };
                    if g.heap.len() > 1 {
                        gosort::sort_by(&mut g.heap, |a, b| less(b, a));
                    }
                    for &(v, si) in &g.heap {
                        let slot = *series_slot[si].get_or_insert_with(|| out.slot(&input[si].labels));
                        out.push(ev.ctx, slot, ts, v)?;
                    }
                    continue;
                }
                AggOp::Quantile => quantile(q, &mut g.quantile),
                _ => g.value,
            };
            let slot = match group_slot[g.gid] {
                Some(s) => s,
                None => {
                    let s = out.slot(&interner.labels[g.gid]);
                    group_slot[g.gid] = Some(s);
                    s
                }
            };
            out.push(ev.ctx, slot, ts, value)?;
        }
        out.end_step()?;
    }
    Ok(Val::Vector(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_prometheus() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(0.0, &mut v), 1.0);
        assert_eq!(quantile(1.0, &mut v), 4.0);
        assert_eq!(quantile(1.5, &mut v), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn grouping_labels() {
        let l = Labels::from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")]);
        assert_eq!(group_labels(&l, &["a".into()], false), Labels::from_pairs([("a", "1")]));
        assert_eq!(group_labels(&l, &["a".into()], true), Labels::from_pairs([("b", "2")]));
        assert_eq!(
            group_labels(&l, &["__name__".into()], false),
            Labels::from_pairs([("__name__", "m")])
        );
    }
}
