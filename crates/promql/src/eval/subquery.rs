//! Subqueries: the inner expression is evaluated over its own grid, aligned
//! to multiples of the subquery step (`SubqueryExpr` case of 2.42's `eval`).
use super::ast::{set_offset_for_at_modifier, SubqueryNode};
use super::{Ev, Val};
use crate::error::QueryError;

/// The inner grid of a subquery evaluated by `ev`: `(start, end, interval)`.
pub(crate) fn inner_grid(ev: &Ev<'_>, s: &SubqueryNode) -> Result<(i64, i64, i64), QueryError> {
    let offset = s.offset;
    let range = s.range;
    let interval = if s.step != 0 {
        s.step
    } else {
        ev.ctx.default_subquery_step
    };
    if interval <= 0 {
        return Err(QueryError::BadData("zero or negative subquery step".into()));
    }
    let end = ev.end - offset;
    let lower = ev.start - offset - range;
    let mut start = interval * (lower / interval);
    if start < lower {
        start += interval;
    }
    Ok((start, end, interval))
}

/// Evaluates a subquery: a matrix of the inner expression's points.
pub(crate) fn eval(ev: &mut Ev<'_>, s: &mut SubqueryNode) -> Result<Val, QueryError> {
    let (start, end, interval) = inner_grid(ev, s)?;
    if start != ev.start {
        set_offset_for_at_modifier(start, &mut s.expr);
    }
    let mut inner = ev.sub(start, end, interval);
    let steps = inner.steps();
    let v = inner.eval(&mut s.expr)?;
    Ok(Val::Matrix(v.into_series(&steps)))
}
