//! The evaluator's own expression tree.
//!
//! `promql-parser`'s AST is converted once into [`Node`], which carries what
//! Prometheus 2.42 keeps on its AST nodes during evaluation: resolved `@`
//! timestamps, the offset actually applied (recomputed by
//! [`set_offset_for_at_modifier`] whenever the evaluation start changes) and
//! the time range each selector selects. [`preprocess`] wraps step-invariant
//! sub-trees the way `PreprocessExpr` does, so that the quirks of 2.42's `@`
//! handling are reproduced rather than approximated.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model::{MatchType, Matcher, METRIC_NAME};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self as pp, Expr};

use crate::error::QueryError;

/// The four PromQL value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// The name Prometheus documents for the type (`parser.DocumentedType`).
    pub(crate) fn documented(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// `shouldDropMetricName`: arithmetic drops the metric name.
    pub(crate) fn drops_metric_name(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Div | BinOp::Mul | BinOp::Pow | BinOp::Mod
        )
    }
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
}

/// Vector matching cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `parser.VectorMatching`.
#[derive(Debug, Clone)]
pub(crate) struct VectorMatching {
    pub card: Card,
    /// Labels of `on(...)` / `ignoring(...)`.
    pub matching_labels: Vec<String>,
    /// `on` (true) or `ignoring` / nothing (false).
    pub on: bool,
    /// Extra labels of `group_left(...)` / `group_right(...)`.
    pub include: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartOrEnd {
    Start,
    End,
}

/// A vector selector with its evaluation state.
#[derive(Debug, Clone)]
pub(crate) struct VectorSel {
    /// Matchers as parsed (the metric name included as a `__name__` matcher).
    pub matchers: Vec<Matcher>,
    /// The offset as written (milliseconds, negative for `offset -5m`).
    pub original_offset: i64,
    /// The offset applied at evaluation (adjusted for `@`).
    pub offset: i64,
    /// `@` timestamp in milliseconds (resolved for `start()`/`end()`).
    pub timestamp: Option<i64>,
    pub start_or_end: Option<StartOrEnd>,
    /// `[start, end]` this selector reads from storage, set before evaluation.
    pub select_range: (i64, i64),
}

#[derive(Debug, Clone)]
pub(crate) struct MatrixSel {
    pub vs: VectorSel,
    pub range: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct SubqueryNode {
    pub expr: Node,
    pub range: i64,
    /// 0: the engine's default subquery step.
    pub step: i64,
    pub original_offset: i64,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub start_or_end: Option<StartOrEnd>,
}

#[derive(Debug, Clone)]
pub(crate) struct AggregateNode {
    pub op: AggOp,
    pub expr: Node,
    pub param: Option<Node>,
    /// Sorted grouping labels.
    pub grouping: Vec<String>,
    pub without: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct BinaryNode {
    pub op: BinOp,
    pub lhs: Node,
    pub rhs: Node,
    /// Set when both sides are vectors.
    pub matching: Option<VectorMatching>,
    pub return_bool: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CallNode {
    pub name: String,
    pub args: Vec<Node>,
    pub return_type: ValueType,
}

/// An expression.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Aggregate(Box<AggregateNode>),
    /// Unary minus (unary plus is dropped by the parser).
    Neg(Box<Node>),
    Binary(Box<BinaryNode>),
    Paren(Box<Node>),
    Subquery(Box<SubqueryNode>),
    Number(f64),
    String(String),
    Vector(Box<VectorSel>),
    Matrix(Box<MatrixSel>),
    Call(Box<CallNode>),
    StepInvariant(Box<Node>),
}

impl Node {
    /// `Expr.Type()`.
    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            Node::Aggregate(_) => ValueType::Vector,
            Node::Neg(e) | Node::Paren(e) | Node::StepInvariant(e) => e.value_type(),
            Node::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Node::Subquery(_) | Node::Matrix(_) => ValueType::Matrix,
            Node::Number(_) => ValueType::Scalar,
            Node::String(_) => ValueType::String,
            Node::Vector(_) => ValueType::Vector,
            Node::Call(c) => c.return_type,
        }
    }

    /// The expression without enclosing parentheses.
    pub(crate) fn unparen(&self) -> &Node {
        let mut n = self;
        while let Node::Paren(inner) = n {
            n = inner;
        }
        n
    }

    /// Removes enclosing parentheses in place (`unwrapParenExpr`).
    pub(crate) fn unparen_in_place(&mut self) {
        while let Node::Paren(inner) = self {
            let inner = std::mem::replace(&mut **inner, Node::Number(0.0));
            *self = inner;
        }
    }

    /// `unwrapStepInvariantExpr` followed by `unwrapParenExpr`.
    pub(crate) fn unwrap_invariant_paren(&self) -> &Node {
        match self {
            Node::StepInvariant(inner) => inner.unparen(),
            other => other.unparen(),
        }
    }

    pub(crate) fn unwrap_invariant_paren_mut(&mut self) -> &mut Node {
        let n = match self {
            Node::StepInvariant(inner) => &mut **inner,
            other => other,
        };
        n.unparen_in_place();
        n
    }
}

/// Milliseconds of a parser duration.
fn millis(d: &Duration) -> i64 {
    d.as_millis() as i64
}

fn offset_millis(o: &Option<pp::Offset>) -> i64 {
    match o {
        None => 0,
        Some(pp::Offset::Pos(d)) => millis(d),
        Some(pp::Offset::Neg(d)) => -millis(d),
    }
}

fn system_time_millis(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn at_modifier(at: &Option<pp::AtModifier>) -> (Option<i64>, Option<StartOrEnd>) {
    match at {
        None => (None, None),
        Some(pp::AtModifier::Start) => (None, Some(StartOrEnd::Start)),
        Some(pp::AtModifier::End) => (None, Some(StartOrEnd::End)),
        Some(pp::AtModifier::At(t)) => (Some(system_time_millis(t)), None),
    }
}

fn parse_err(msg: impl Into<String>) -> QueryError {
    QueryError::Parse(msg.into())
}

/// Escapes `{` that does not start a valid repetition, as Go's RE2 accepts
/// literal braces where Rust's `regex` does not (mirrors promql-parser).
fn escape_braces(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < bytes.len() {
            out.push_str(&pattern[i..i + 2]);
            i += 2;
            continue;
        }
        if c == b'{' {
            let rest = &pattern[i + 1..];
            let valid = rest.find('}').is_some_and(|end| {
                let body = &rest[..end];
                let mut parts = body.splitn(2, ',');
                let first = parts.next().unwrap_or("");
                let second = parts.next();
                !first.is_empty()
                    && first.bytes().all(|b| b.is_ascii_digit())
                    && second.is_none_or(|s| s.bytes().all(|b| b.is_ascii_digit()))
            });
            if !valid {
                out.push_str("\\{");
                i += 1;
                continue;
            }
        }
        let ch = pattern[i..].chars().next().unwrap_or('\u{0}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn convert_matcher(m: &promql_parser::label::Matcher) -> Result<Matcher, QueryError> {
    let kind = match &m.op {
        MatchOp::Equal => MatchType::Equal,
        MatchOp::NotEqual => MatchType::NotEqual,
        MatchOp::Re(_) => MatchType::Regex,
        MatchOp::NotRe(_) => MatchType::NotRegex,
    };
    match Matcher::new(kind, m.name.clone(), m.value.clone()) {
        Ok(m) => Ok(m),
        Err(e) => {
            let escaped = escape_braces(&m.value);
            match Matcher::new(kind, m.name.clone(), escaped) {
                // Keep the pattern as written for display; matching uses the escaped regex.
                Ok(matcher) => Ok(matcher),
                Err(_) => Err(parse_err(format!("1:1: parse error: {e}"))),
            }
        }
    }
}

fn vector_sel(vs: &pp::VectorSelector) -> Result<VectorSel, QueryError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(parse_err(
            "1:1: parse error: unexpected identifier \"or\" in label matching, expected \",\" or \"}\"",
        ));
    }
    let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    for m in &vs.matchers.matchers {
        matchers.push(convert_matcher(m)?);
    }
    if let Some(name) = &vs.name {
        matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
    }
    let offset = offset_millis(&vs.offset);
    let (timestamp, start_or_end) = at_modifier(&vs.at);
    Ok(VectorSel {
        matchers,
        original_offset: offset,
        offset,
        timestamp,
        start_or_end,
        select_range: (0, 0),
    })
}

fn bin_op(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "^" => BinOp::Pow,
        "atan2" => BinOp::Atan2,
        "==" => BinOp::Eql,
        "!=" => BinOp::Neq,
        ">" => BinOp::Gtr,
        "<" => BinOp::Lss,
        ">=" => BinOp::Gte,
        "<=" => BinOp::Lte,
        "and" => BinOp::And,
        "or" => BinOp::Or,
        "unless" => BinOp::Unless,
        _ => return None,
    })
}

fn agg_op(op: &str) -> Option<AggOp> {
    Some(match op {
        "sum" => AggOp::Sum,
        "avg" => AggOp::Avg,
        "count" => AggOp::Count,
        "min" => AggOp::Min,
        "max" => AggOp::Max,
        "group" => AggOp::Group,
        "stddev" => AggOp::Stddev,
        "stdvar" => AggOp::Stdvar,
        "topk" => AggOp::Topk,
        "bottomk" => AggOp::Bottomk,
        "count_values" => AggOp::CountValues,
        "quantile" => AggOp::Quantile,
        _ => return None,
    })
}

fn value_type(t: pp::value::ValueType) -> ValueType {
    match t {
        pp::value::ValueType::Scalar => ValueType::Scalar,
        pp::value::ValueType::Vector => ValueType::Vector,
        pp::value::ValueType::Matrix => ValueType::Matrix,
        pp::value::ValueType::String => ValueType::String,
    }
}

/// Functions Prometheus 2.42 knows, with their argument types, the number of
/// optional trailing arguments (-1: unbounded) and return type.
pub(crate) fn function_signature(name: &str) -> Option<(&'static [ValueType], i32, ValueType)> {
    use ValueType::{Matrix as M, Scalar as S, String as T, Vector as V};
    Some(match name {
        "abs" | "absent" | "acos" | "acosh" | "asin" | "asinh" | "atan" | "atanh" | "ceil" | "cos" | "cosh" | "deg"
        | "exp" | "floor" | "histogram_count" | "histogram_sum" | "ln" | "log10" | "log2" | "rad" | "sgn" | "sin"
        | "sinh" | "sort" | "sort_desc" | "sqrt" | "tan" | "tanh" | "timestamp" => (&[V], 0, V),
        "absent_over_time" | "avg_over_time" | "changes" | "count_over_time" | "delta" | "deriv" | "idelta"
        | "increase" | "irate" | "last_over_time" | "max_over_time" | "min_over_time" | "present_over_time"
        | "rate" | "resets" | "stddev_over_time" | "stdvar_over_time" | "sum_over_time" => (&[M], 0, V),
        "clamp" => (&[V, S, S], 0, V),
        "clamp_max" | "clamp_min" => (&[V, S], 0, V),
        "days_in_month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute" | "month" | "year" => {
            (&[V], 1, V)
        }
        "histogram_fraction" => (&[S, S, V], 0, V),
        "histogram_quantile" => (&[S, V], 0, V),
        "holt_winters" => (&[M, S, S], 0, V),
        "label_replace" => (&[V, T, T, T, T], 0, V),
        "label_join" => (&[V, T, T, T], -1, V),
        "pi" | "time" => (&[], 0, S),
        "predict_linear" => (&[M, S], 0, V),
        "quantile_over_time" => (&[S, M], 0, V),
        "round" => (&[V, S], 1, V),
        "scalar" => (&[V], 0, S),
        "vector" => (&[S], 0, V),
        _ => return None,
    })
}

/// Checks the arguments of a call the way Prometheus 2.42's `checkAST` does
/// (promql-parser skips the type check for a few literal special cases).
fn check_call(name: &str, args: &[Node]) -> Result<(), QueryError> {
    let Some((types, variadic, _)) = function_signature(name) else {
        return Err(parse_err(format!(
            "1:1: parse error: unknown function with name {name:?}"
        )));
    };
    let n = args.len();
    if variadic == 0 {
        if n != types.len() {
            return Err(parse_err(format!(
                "1:1: parse error: expected {} argument(s) in call to {name:?}, got {n}",
                types.len()
            )));
        }
    } else {
        let na = types.len() - 1;
        if na > n {
            return Err(parse_err(format!(
                "1:1: parse error: expected at least {na} argument(s) in call to {name:?}, got {n}"
            )));
        }
        let max = na as i64 + variadic as i64;
        if variadic > 0 && max < n as i64 {
            return Err(parse_err(format!(
                "1:1: parse error: expected at most {max} argument(s) in call to {name:?}, got {n}"
            )));
        }
    }
    for (i, a) in args.iter().enumerate() {
        let expected = types[i.min(types.len() - 1)];
        let actual = a.value_type();
        if actual != expected {
            return Err(parse_err(format!(
                "1:1: parse error: expected type {} in call to function {name:?}, got {}",
                expected.documented(),
                actual.documented()
            )));
        }
    }
    Ok(())
}

/// Converts a parsed expression, refusing what Prometheus 2.42 does not know.
pub(crate) fn convert(e: &Expr) -> Result<Node, QueryError> {
    Ok(match e {
        Expr::Aggregate(a) => {
            let op_name = a.op.to_string();
            let Some(op) = agg_op(&op_name) else {
                return Err(parse_err(format!(
                    "1:1: parse error: unknown function with name {op_name:?}"
                )));
            };
            let (grouping, without) = match &a.modifier {
                None => (Vec::new(), false),
                Some(pp::LabelModifier::Include(l)) => (l.labels.clone(), false),
                Some(pp::LabelModifier::Exclude(l)) => (l.labels.clone(), true),
            };
            let mut grouping = grouping;
            grouping.sort();
            Node::Aggregate(Box::new(AggregateNode {
                op,
                expr: convert(&a.expr)?,
                param: a.param.as_deref().map(convert).transpose()?,
                grouping,
                without,
            }))
        }
        Expr::Unary(u) => Node::Neg(Box::new(convert(&u.expr)?)),
        Expr::Binary(b) => {
            let op_name = b.op.to_string();
            let op = bin_op(&op_name)
                .ok_or_else(|| parse_err(format!("1:1: parse error: unknown binary operator {op_name:?}")))?;
            let lhs = convert(&b.lhs)?;
            let rhs = convert(&b.rhs)?;
            let both_vectors = lhs.value_type() == ValueType::Vector && rhs.value_type() == ValueType::Vector;
            let modifier = b.modifier.clone().unwrap_or_default();
            if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
                return Err(parse_err(
                    "1:1: parse error: unexpected identifier \"fill\" in binary expression",
                ));
            }
            let matching = if both_vectors {
                let (card, include) = match &modifier.card {
                    pp::VectorMatchCardinality::OneToOne => {
                        (if op.is_set() { Card::ManyToMany } else { Card::OneToOne }, Vec::new())
                    }
                    pp::VectorMatchCardinality::ManyToMany => (Card::ManyToMany, Vec::new()),
                    pp::VectorMatchCardinality::ManyToOne(l) => (Card::ManyToOne, l.labels.clone()),
                    pp::VectorMatchCardinality::OneToMany(l) => (Card::OneToMany, l.labels.clone()),
                };
                let (on, matching_labels) = match &modifier.matching {
                    None => (false, Vec::new()),
                    Some(pp::LabelModifier::Include(l)) => (true, l.labels.clone()),
                    Some(pp::LabelModifier::Exclude(l)) => (false, l.labels.clone()),
                };
                Some(VectorMatching {
                    card,
                    matching_labels,
                    on,
                    include,
                })
            } else {
                None
            };
            Node::Binary(Box::new(BinaryNode {
                op,
                lhs,
                rhs,
                matching,
                return_bool: modifier.return_bool,
            }))
        }
        Expr::Paren(p) => Node::Paren(Box::new(convert(&p.expr)?)),
        Expr::Subquery(s) => {
            let (timestamp, start_or_end) = at_modifier(&s.at);
            let offset = offset_millis(&s.offset);
            Node::Subquery(Box::new(SubqueryNode {
                expr: convert(&s.expr)?,
                range: millis(&s.range),
                step: s.step.as_ref().map(millis).unwrap_or(0),
                original_offset: offset,
                offset,
                timestamp,
                start_or_end,
            }))
        }
        Expr::NumberLiteral(n) => Node::Number(n.val),
        Expr::StringLiteral(s) => Node::String(s.val.clone()),
        Expr::VectorSelector(vs) => Node::Vector(Box::new(vector_sel(vs)?)),
        Expr::MatrixSelector(ms) => Node::Matrix(Box::new(MatrixSel {
            vs: vector_sel(&ms.vs)?,
            range: millis(&ms.range),
        })),
        Expr::Call(c) => {
            let args = c.args.args.iter().map(|a| convert(a)).collect::<Result<Vec<_>, _>>()?;
            check_call(c.func.name, &args)?;
            let return_type = function_signature(c.func.name)
                .map(|s| s.2)
                .unwrap_or(value_type(c.func.return_type));
            Node::Call(Box::new(CallNode {
                name: c.func.name.to_string(),
                args,
                return_type,
            }))
        }
        Expr::Extension(_) => return Err(parse_err("1:1: parse error: unsupported expression")),
    })
}

/// `PreprocessExpr`: resolves `start()`/`end()` and wraps step-invariant
/// sub-trees.
pub(crate) fn preprocess(node: &mut Node, start: i64, end: i64) {
    if preprocess_helper(node, start, end) {
        wrap_invariant(node);
    }
}

fn wrap_invariant(node: &mut Node) {
    let inner = std::mem::replace(node, Node::Number(0.0));
    *node = Node::StepInvariant(Box::new(inner));
}

/// Functions whose result depends on the evaluation time even when their
/// arguments do not (`AtModifierUnsafeFunctions`).
fn at_modifier_unsafe(name: &str) -> bool {
    matches!(
        name,
        "days_in_month"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "hour"
            | "minute"
            | "month"
            | "year"
            | "predict_linear"
            | "time"
            | "timestamp"
    )
}

fn resolve_at(ts: &mut Option<i64>, soe: Option<StartOrEnd>, start: i64, end: i64) {
    match soe {
        Some(StartOrEnd::Start) => *ts = Some(start),
        Some(StartOrEnd::End) => *ts = Some(end),
        None => {}
    }
}

fn preprocess_helper(node: &mut Node, start: i64, end: i64) -> bool {
    match node {
        Node::Vector(vs) => {
            resolve_at(&mut vs.timestamp, vs.start_or_end, start, end);
            vs.timestamp.is_some()
        }
        Node::Aggregate(a) => {
            // Prometheus' helper only looks at the aggregated expression; the
            // parameter is left as is.
            preprocess_helper(&mut a.expr, start, end)
        }
        Node::Binary(b) => {
            let l = preprocess_helper(&mut b.lhs, start, end);
            let r = preprocess_helper(&mut b.rhs, start, end);
            if l && r {
                return true;
            }
            if l {
                wrap_invariant(&mut b.lhs);
            }
            if r {
                wrap_invariant(&mut b.rhs);
            }
            false
        }
        Node::Call(c) => {
            let mut invariant = !at_modifier_unsafe(&c.name);
            let flags: Vec<bool> = c.args.iter_mut().map(|a| preprocess_helper(a, start, end)).collect();
            invariant = invariant && flags.iter().all(|f| *f);
            if invariant {
                return true;
            }
            for (a, f) in c.args.iter_mut().zip(flags) {
                if f {
                    wrap_invariant(a);
                }
            }
            false
        }
        Node::Matrix(ms) => {
            resolve_at(&mut ms.vs.timestamp, ms.vs.start_or_end, start, end);
            ms.vs.timestamp.is_some()
        }
        Node::Subquery(s) => {
            if preprocess_helper(&mut s.expr, start, end) {
                wrap_invariant(&mut s.expr);
            }
            resolve_at(&mut s.timestamp, s.start_or_end, start, end);
            s.timestamp.is_some()
        }
        Node::Paren(e) | Node::Neg(e) => preprocess_helper(e, start, end),
        Node::String(_) | Node::Number(_) => true,
        Node::StepInvariant(_) => true,
    }
}

/// What `subqueryTimes` sums up along the path of enclosing subqueries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SubqPath {
    offset: i64,
    range: i64,
    ts: Option<i64>,
}

impl SubqPath {
    fn enter(self, s: &SubqueryNode) -> SubqPath {
        if let Some(ts) = s.timestamp {
            SubqPath {
                offset: s.original_offset,
                range: s.range,
                ts: Some(ts),
            }
        } else {
            SubqPath {
                offset: self.offset + s.original_offset,
                range: self.range + s.range,
                ts: self.ts,
            }
        }
    }
}

/// `setOffsetForAtModifier`: recomputes the offset of every selector and
/// subquery carrying `@` relative to `eval_time`.
pub(crate) fn set_offset_for_at_modifier(eval_time: i64, node: &mut Node) {
    set_offsets(eval_time, node, SubqPath::default());
}

fn get_offset(eval_time: i64, ts: Option<i64>, original: i64, path: SubqPath) -> i64 {
    let Some(ts) = ts else {
        return original;
    };
    let mut subq_offset = path.offset;
    if let Some(sts) = path.ts {
        subq_offset += eval_time - sts;
    }
    let offset_for_ts = eval_time - ts;
    original + (offset_for_ts - subq_offset)
}

fn set_offsets(eval_time: i64, node: &mut Node, path: SubqPath) {
    match node {
        Node::Vector(vs) => vs.offset = get_offset(eval_time, vs.timestamp, vs.original_offset, path),
        Node::Matrix(ms) => ms.vs.offset = get_offset(eval_time, ms.vs.timestamp, ms.vs.original_offset, path),
        Node::Subquery(s) => {
            s.offset = get_offset(eval_time, s.timestamp, s.original_offset, path);
            let inner = path.enter(s);
            set_offsets(eval_time, &mut s.expr, inner);
        }
        Node::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                set_offsets(eval_time, p, path);
            }
            set_offsets(eval_time, &mut a.expr, path);
        }
        Node::Binary(b) => {
            set_offsets(eval_time, &mut b.lhs, path);
            set_offsets(eval_time, &mut b.rhs, path);
        }
        Node::Call(c) => {
            for a in &mut c.args {
                set_offsets(eval_time, a, path);
            }
        }
        Node::Paren(e) | Node::Neg(e) | Node::StepInvariant(e) => set_offsets(eval_time, e, path),
        Node::Number(_) | Node::String(_) => {}
    }
}

/// `getTimeRangesForSelector` for every selector in the tree: the range
/// each one reads from storage (`[start, end]`, milliseconds).
pub(crate) fn set_select_ranges(node: &mut Node, start: i64, end: i64, lookback: i64) {
    select_ranges(node, start, end, lookback, SubqPath::default());
}

fn selector_range(vs: &VectorSel, start: i64, end: i64, lookback: i64, eval_range: i64, path: SubqPath) -> (i64, i64) {
    let (mut s, mut e) = (start, end);
    if let Some(ts) = path.ts {
        s = ts;
        e = ts;
    }
    if let Some(ts) = vs.timestamp {
        s = ts;
        e = ts;
    } else {
        s = s - path.offset - path.range;
        e -= path.offset;
    }
    if eval_range == 0 {
        s -= lookback;
    } else {
        s -= eval_range;
    }
    (s - vs.original_offset, e - vs.original_offset)
}

fn select_ranges(node: &mut Node, start: i64, end: i64, lookback: i64, path: SubqPath) {
    match node {
        Node::Vector(vs) => vs.select_range = selector_range(vs, start, end, lookback, 0, path),
        Node::Matrix(ms) => ms.vs.select_range = selector_range(&ms.vs, start, end, lookback, ms.range, path),
        Node::Subquery(s) => {
            let inner = path.enter(s);
            select_ranges(&mut s.expr, start, end, lookback, inner);
        }
        Node::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                select_ranges(p, start, end, lookback, path);
            }
            select_ranges(&mut a.expr, start, end, lookback, path);
        }
        Node::Binary(b) => {
            select_ranges(&mut b.lhs, start, end, lookback, path);
            select_ranges(&mut b.rhs, start, end, lookback, path);
        }
        Node::Call(c) => {
            for a in &mut c.args {
                select_ranges(a, start, end, lookback, path);
            }
        }
        Node::Paren(e) | Node::Neg(e) | Node::StepInvariant(e) => select_ranges(e, start, end, lookback, path),
        Node::Number(_) | Node::String(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(q: &str) -> Node {
        convert(&promql_parser::parser::parse(q).unwrap()).unwrap()
    }

    #[test]
    fn braces_are_escaped_only_when_not_a_repetition() {
        assert_eq!(escape_braces("a{b}"), "a\\{b}");
        assert_eq!(escape_braces("a{2,3}"), "a{2,3}");
        assert_eq!(escape_braces("a\\{"), "a\\{");
    }

    #[test]
    fn step_invariant_wrapping_follows_prometheus() {
        let mut n = node("foo @ 100 + bar");
        preprocess(&mut n, 0, 0);
        let Node::Binary(b) = &n else { panic!() };
        assert!(matches!(b.lhs, Node::StepInvariant(_)));
        assert!(matches!(b.rhs, Node::Vector(_)));

        let mut n = node("rate(foo[5m] @ end())");
        preprocess(&mut n, 10, 20);
        let Node::StepInvariant(inner) = &n else { panic!() };
        let Node::Call(c) = &**inner else { panic!() };
        let Node::Matrix(ms) = &c.args[0] else { panic!() };
        assert_eq!(ms.vs.timestamp, Some(20));
    }

    #[test]
    fn offsets_for_at_are_relative_to_eval_time() {
        let mut n = node("foo @ 100 offset 10s");
        preprocess(&mut n, 0, 0);
        set_offset_for_at_modifier(1000, &mut n);
        let Node::StepInvariant(inner) = &n else { panic!() };
        let Node::Vector(vs) = &**inner else { panic!() };
        // refTime = 1000 - offset = 100_000 - 10_000.
        assert_eq!(1000 - vs.offset, 90_000);
    }

    #[test]
    fn unknown_and_newer_functions_are_refused() {
        for q in [
            "sort_by_label(foo, \"a\")",
            "ln(-1)",
            "mad_over_time(foo[5m])",
            "limitk(1, foo)",
        ] {
            let e = promql_parser::parser::parse(q)
                .map_err(QueryError::Parse)
                .and_then(|e| convert(&e));
            assert!(e.is_err(), "{q}");
        }
    }
}
