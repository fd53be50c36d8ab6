//! Binary operators: `scalarBinop`, `VectorscalarBinop`, `VectorBinop`,
//! `VectorAnd`/`VectorOr`/`VectorUnless` of Prometheus 2.42, step by step.
use model::{Labels, LabelsBuilder, METRIC_NAME};
use rustc_hash::FxHashMap;

use super::ast::{BinOp, BinaryNode, Card, ValueType, VectorMatching};
use super::{drop_metric_name, gomath, prom_labels_string, Ev, Out, StepWalker, Val};
use crate::error::QueryError;
use crate::value::Series;

fn btos(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Go's `math.Mod` (the result has the sign of `x`, like Rust's `%`).
fn go_mod(x: f64, y: f64) -> f64 {
    x % y
}

/// `scalarBinop`.
pub(crate) fn scalar_binop(op: BinOp, l: f64, r: f64) -> f64 {
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Pow => gomath::pow(l, r),
        BinOp::Mod => go_mod(l, r),
        BinOp::Eql => btos(l == r),
        BinOp::Neq => btos(l != r),
        BinOp::Gtr => btos(l > r),
        BinOp::Lss => btos(l < r),
        BinOp::Gte => btos(l >= r),
        BinOp::Lte => btos(l <= r),
        BinOp::Atan2 => gomath::atan2(l, r),
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

/// `vectorElemBinop`: the value and whether a comparison keeps the sample.
pub(crate) fn elem_binop(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Pow => (gomath::pow(l, r), true),
        BinOp::Mod => (go_mod(l, r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
        BinOp::Atan2 => (gomath::atan2(l, r), true),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

pub(crate) fn eval(ev: &mut Ev<'_>, b: &mut BinaryNode) -> Result<Val, QueryError> {
    let lt = b.lhs.value_type();
    let rt = b.rhs.value_type();
    let steps = ev.steps();
    let n = steps.len();
    match (lt, rt) {
        (ValueType::Scalar, ValueType::Scalar) => {
            let l = ev.eval(&mut b.lhs)?.into_scalar(n);
            let r = ev.eval(&mut b.rhs)?.into_scalar(n);
            let v = l.iter().zip(&r).map(|(l, r)| scalar_binop(b.op, *l, *r)).collect();
            Ok(Val::Scalar(v))
        }
        (ValueType::Vector, ValueType::Vector) => {
            let l = ev.eval(&mut b.lhs)?.into_series(&steps);
            let r = ev.eval(&mut b.rhs)?.into_series(&steps);
            let default_matching = VectorMatching {
                card: if b.op.is_set() {
                    Card::ManyToMany
                } else {
                    Card::OneToOne
                },
                matching_labels: Vec::new(),
                on: false,
                include: Vec::new(),
            };
            let matching = b.matching.as_ref().unwrap_or(&default_matching);
            match b.op {
                BinOp::And | BinOp::Or | BinOp::Unless => set_op(ev, b.op, &l, &r, matching),
                _ => vector_binop(ev, b.op, &l, &r, matching, b.return_bool),
            }
        }
        (ValueType::Vector, ValueType::Scalar) => {
            let l = ev.eval(&mut b.lhs)?.into_series(&steps);
            let r = ev.eval(&mut b.rhs)?.into_scalar(n);
            vector_scalar(ev, b.op, &l, &r, false, b.return_bool)
        }
        (ValueType::Scalar, ValueType::Vector) => {
            let l = ev.eval(&mut b.lhs)?.into_scalar(n);
            let r = ev.eval(&mut b.rhs)?.into_series(&steps);
            vector_scalar(ev, b.op, &r, &l, true, b.return_bool)
        }
        _ => Err(QueryError::BadData(
            "binary expression must contain only scalar and instant vector types".into(),
        )),
    }
}

/// `VectorscalarBinop` over the grid.
fn vector_scalar(
    ev: &mut Ev<'_>,
    op: BinOp,
    vec: &[Series],
    scalar: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Val, QueryError> {
    let steps = ev.steps();
    let mut out = Out::new();
    let mut slots: Vec<Option<usize>> = vec![None; vec.len()];
    let mut walker = StepWalker::new(vec);
    let mut cur = Vec::new();
    let drop_name = op.drops_metric_name() || return_bool;
    for (k, ts) in steps.iter().enumerate() {
        ev.ctx.check()?;
        walker.at(ts, &mut cur);
        let sv = scalar.get(k).copied().unwrap_or(f64::NAN);
        for &(i, v) in &cur {
            let (mut lv, mut rv) = (v, sv);
            if swap {
                std::mem::swap(&mut lv, &mut rv);
            }
            let (mut value, mut keep) = elem_binop(op, lv, rv);
            if op.is_comparison() && swap {
                value = rv;
            }
            if return_bool {
                value = btos(keep);
                keep = true;
            }
            if !keep {
                continue;
            }
            let slot = match slots[i] {
                Some(s) => s,
                None => {
                    let s = if drop_name {
                        out.slot_owned(drop_metric_name(&vec[i].labels))
                    } else {
                        out.slot(&vec[i].labels)
                    };
                    slots[i] = Some(s);
                    s
                }
            };
            out.push(ev.ctx, slot, ts, value)?;
        }
        out.end_step()?;
    }
    Ok(Val::Vector(out.finish()))
}

/// Interns join signatures (`signatureFunc`) into small ids.
struct Signatures {
    ids: FxHashMap<Vec<u8>, u32>,
    buf: Vec<u8>,
}

impl Signatures {
    fn new() -> Self {
        Signatures {
            ids: FxHashMap::default(),
            buf: Vec::new(),
        }
    }

    fn id(&mut self, l: &Labels, m: &VectorMatching) -> u32 {
        self.buf.clear();
        for lb in l.iter() {
            let listed = m.matching_labels.iter().any(|n| *n == lb.name);
            let include = if m.on {
                listed
            } else {
                !listed && lb.name != METRIC_NAME
            };
            if include {
                self.buf.extend_from_slice(lb.name.as_bytes());
                self.buf.push(0xff);
                self.buf.extend_from_slice(lb.value.as_bytes());
                self.buf.push(0xff);
            }
        }
        let next = self.ids.len() as u32;
        *self.ids.entry(self.buf.clone()).or_insert(next)
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// `labels.MatchLabels` for error messages.
fn match_labels(l: &Labels, m: &VectorMatching) -> Labels {
    let pairs = l.iter().filter(|lb| {
        let listed = m.matching_labels.iter().any(|n| *n == lb.name);
        m.on == listed && (m.on || lb.name != METRIC_NAME)
    });
    Labels::from_pairs(pairs.map(|lb| (lb.name.clone(), lb.value.clone())))
}

/// `resultMetric`.
fn result_metric(lhs: &Labels, rhs: &Labels, op: BinOp, m: &VectorMatching) -> Labels {
    let mut lb: LabelsBuilder = lhs.to_builder();
    if op.drops_metric_name() {
        lb.del(METRIC_NAME);
    }
    if m.card == Card::OneToOne {
        if m.on {
            lb.retain(|l| m.matching_labels.iter().any(|n| *n == l.name));
        } else {
            for n in &m.matching_labels {
                lb.del(n);
            }
        }
    }
    for ln in &m.include {
        match rhs.get(ln) {
            Some(v) if !v.is_empty() => {
                lb.set(ln.clone(), v.to_string());
            }
            _ => {
                lb.del(ln);
            }
        }
    }
    lb.build()
}

/// `VectorBinop` (one-to-one, many-to-one, one-to-many) over the grid.
fn vector_binop(
    ev: &mut Ev<'_>,
    op: BinOp,
    lhs: &[Series],
    rhs: &[Series],
    m: &VectorMatching,
    return_bool: bool,
) -> Result<Val, QueryError> {
    let steps = ev.steps();
    let mut sigs = Signatures::new();
    let lsig: Vec<u32> = lhs.iter().map(|s| sigs.id(&s.labels, m)).collect();
    let rsig: Vec<u32> = rhs.iter().map(|s| sigs.id(&s.labels, m)).collect();
    let nsig = sigs.len();
    let swapped = m.card == Card::OneToMany;
    // "many" side iterated, "one" side hashed.
    let (many, one, many_sig, one_sig) = if swapped {
        (rhs, lhs, &rsig, &lsig)
    } else {
        (lhs, rhs, &lsig, &rsig)
    };
    let mut out = Out::new();
    let mut pair_slot: FxHashMap<(u32, u32), usize> = FxHashMap::default();
    // Per signature: (step stamp, index into the one-side step vector).
    let mut right: Vec<(usize, usize)> = vec![(usize::MAX, 0); nsig];
    let mut matched: Vec<usize> = vec![usize::MAX; nsig];
    let mut matched_slots: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    let mut wl = StepWalker::new(lhs);
    let mut wr = StepWalker::new(rhs);
    let (mut lv, mut rv) = (Vec::new(), Vec::new());
    for (step, ts) in steps.iter().enumerate() {
        ev.ctx.check()?;
        wl.at(ts, &mut lv);
        wr.at(ts, &mut rv);
        if lv.is_empty() || rv.is_empty() {
            continue;
        }
        let (many_v, one_v) = if swapped { (&rv, &lv) } else { (&lv, &rv) };
        for (k, &(j, _)) in one_v.iter().enumerate() {
            let sig = one_sig[j] as usize;
            if right[sig].0 == step {
                let dup = &one[one_v[right[sig].1].0];
                let side = if swapped { "left" } else { "right" };
                return Err(QueryError::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    prom_labels_string(&match_labels(&one[j].labels, m)),
                    prom_labels_string(&one[j].labels),
                    prom_labels_string(&dup.labels),
                )));
            }
            right[sig] = (step, k);
        }
        if m.card != Card::OneToOne {
            matched_slots.clear();
        }
        for &(i, v) in many_v.iter() {
            let sig = many_sig[i] as usize;
            if right[sig].0 != step {
                continue;
            }
            let (j, ov) = one_v[right[sig].1];
            let (a, b) = if swapped { (ov, v) } else { (v, ov) };
            let (mut value, keep) = elem_binop(op, a, b);
            if return_bool {
                value = btos(keep);
            } else if !keep {
                continue;
            }
            let slot = match pair_slot.get(&(i as u32, j as u32)) {
                Some(&s) => s,
                None => {
                    let mut metric = result_metric(&many[i].labels, &one[j].labels, op, m);
                    if return_bool {
                        metric = drop_metric_name(&metric);
                    }
                    let s = out.slot_owned(metric);
                    pair_slot.insert((i as u32, j as u32), s);
                    s
                }
            };
            if m.card == Card::OneToOne {
                if matched[sig] == step {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                            .into(),
                    ));
                }
                matched[sig] = step;
            } else {
                let set = matched_slots.entry(sig as u32).or_default();
                if set.contains(&slot) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches".into(),
                    ));
                }
                set.push(slot);
            }
            out.push(ev.ctx, slot, ts, value)?;
        }
        out.end_step()?;
    }
    Ok(Val::Vector(out.finish()))
}

/// `and`, `or`, `unless` over the grid.
fn set_op(ev: &mut Ev<'_>, op: BinOp, lhs: &[Series], rhs: &[Series], m: &VectorMatching) -> Result<Val, QueryError> {
    let steps = ev.steps();
    let mut sigs = Signatures::new();
    let lsig: Vec<u32> = lhs.iter().map(|s| sigs.id(&s.labels, m)).collect();
    let rsig: Vec<u32> = rhs.iter().map(|s| sigs.id(&s.labels, m)).collect();
    let nsig = sigs.len();
    let mut out = Out::new();
    let mut lslot: Vec<Option<usize>> = vec![None; lhs.len()];
    let mut rslot: Vec<Option<usize>> = vec![None; rhs.len()];
    let mut seen: Vec<usize> = vec![usize::MAX; nsig];
    let mut wl = StepWalker::new(lhs);
    let mut wr = StepWalker::new(rhs);
    let (mut lv, mut rv) = (Vec::new(), Vec::new());
    for (step, ts) in steps.iter().enumerate() {
        ev.ctx.check()?;
        wl.at(ts, &mut lv);
        wr.at(ts, &mut rv);
        let mut emit_l = |out: &mut Out, ctx: &mut super::Ctx, i: usize, v: f64| -> Result<(), QueryError> {
            let slot = *lslot[i].get_or_insert_with(|| out.slot(&lhs[i].labels));
            out.push(ctx, slot, ts, v)
        };
        match op {
            BinOp::And => {
                if !lv.is_empty() && !rv.is_empty() {
                    for &(j, _) in &rv {
                        seen[rsig[j] as usize] = step;
                    }
                    for &(i, v) in &lv {
                        if seen[lsig[i] as usize] == step {
                            emit_l(&mut out, ev.ctx, i, v)?;
                        }
                    }
                }
            }
            BinOp::Unless => {
                if lv.is_empty() || rv.is_empty() {
                    for &(i, v) in &lv {
                        emit_l(&mut out, ev.ctx, i, v)?;
                    }
                } else {
                    for &(j, _) in &rv {
                        seen[rsig[j] as usize] = step;
                    }
                    for &(i, v) in &lv {
                        if seen[lsig[i] as usize] != step {
                            emit_l(&mut out, ev.ctx, i, v)?;
                        }
                    }
                }
            }
            _ => {
                for &(i, v) in &lv {
                    seen[lsig[i] as usize] = step;
                    emit_l(&mut out, ev.ctx, i, v)?;
                }
                let left_empty = lv.is_empty();
                for &(j, v) in &rv {
                    if left_empty || seen[rsig[j] as usize] != step {
                        let slot = *rslot[j].get_or_insert_with(|| out.slot(&rhs[j].labels));
                        out.push(ev.ctx, slot, ts, v)?;
                    }
                }
            }
        }
        out.end_step()?;
    }
    Ok(Val::Vector(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulo_and_division_follow_ieee_and_go() {
        assert_eq!(scalar_binop(BinOp::Mod, -7.0, 3.0), -1.0);
        assert!(scalar_binop(BinOp::Mod, 1.0, 0.0).is_nan());
        assert_eq!(scalar_binop(BinOp::Div, 1.0, 0.0), f64::INFINITY);
        assert_eq!(scalar_binop(BinOp::Div, -1.0, 0.0), f64::NEG_INFINITY);
        assert!(scalar_binop(BinOp::Div, 0.0, 0.0).is_nan());
        assert_eq!(scalar_binop(BinOp::Pow, 2.0, 10.0), 1024.0);
    }

    #[test]
    fn result_metric_on_keeps_only_listed_labels() {
        let l = Labels::from_pairs([("__name__", "a"), ("x", "1"), ("y", "2")]);
        let r = Labels::from_pairs([("__name__", "b"), ("x", "1"), ("z", "3")]);
        let m = VectorMatching {
            card: Card::OneToOne,
            matching_labels: vec!["x".into()],
            on: true,
            include: vec![],
        };
        assert_eq!(result_metric(&l, &r, BinOp::Add, &m), Labels::from_pairs([("x", "1")]));
        let m = VectorMatching {
            card: Card::ManyToOne,
            matching_labels: vec!["x".into()],
            on: true,
            include: vec!["z".into()],
        };
        assert_eq!(
            result_metric(&l, &r, BinOp::Mul, &m),
            Labels::from_pairs([("x", "1"), ("y", "2"), ("z", "3")])
        );
    }
}
