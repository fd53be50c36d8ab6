//! The query engine: parsing, limits (concurrency, timeout, samples, range
//! resolution), running the evaluator off the async workers and shaping the
//! result as Prometheus' query API does.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use model::Labels;
use tokio::sync::Semaphore;

use crate::error::QueryError;
use crate::eval::ast::{self, Node, ValueType};
use crate::eval::{Ctx, Ev, Val};
use crate::queryable::Queryable;
use crate::value::{Point, Series};

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`).
    pub lookback_delta_ms: i64,
    /// Samples a query may hold in memory at once (`--query.max-samples`).
    pub max_samples: usize,
    /// Longest a query may take, queueing included (`--query.timeout`).
    pub timeout: Duration,
    /// Queries evaluated at once; more wait (`--query.max-concurrency`).
    pub max_concurrent: usize,
    /// Step of a subquery written without one (`[30m:]`): Prometheus uses the
    /// global evaluation interval.
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_concurrent: 20,
            default_subquery_step_ms: 60_000,
        }
    }
}

/// Per-query settings.
#[derive(Debug, Default, Clone)]
pub struct QueryOptions {
    /// Overrides the engine's lookback delta (values <= 0 keep the default).
    pub lookback_delta_ms: Option<i64>,
    /// Whether the caller wants statistics (they are always computed).
    pub stats: bool,
    /// The request's own `timeout`, when shorter than the engine's.
    pub timeout: Option<Duration>,
}

/// One sample of an instant-vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation time (milliseconds).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A query's result, shaped as Prometheus' `resultType`s.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultValue {
    /// `scalar`.
    Scalar {
        /// Evaluation time (milliseconds).
        t: i64,
        /// Value.
        v: f64,
    },
    /// `string`.
    String {
        /// Evaluation time (milliseconds).
        t: i64,
        /// Value.
        v: String,
    },
    /// `vector`, in Prometheus' order (not sorted).
    Vector(Vec<Sample>),
    /// `matrix`: range queries (sorted by labels) and range-vector
    /// expressions of instant queries.
    Matrix(Vec<Series>),
}

/// Query statistics, as Prometheus reports with `stats=all`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    /// Samples touched by the evaluation.
    pub total_queryable_samples: u64,
    /// Most samples held in memory at once.
    pub peak_samples: u64,
    /// Seconds spent waiting for a query slot.
    pub queue_time_s: f64,
    /// Seconds spent preparing the query (parsing excluded).
    pub preparation_time_s: f64,
    /// Seconds spent evaluating.
    pub inner_eval_time_s: f64,
    /// Seconds spent sorting the result.
    pub result_sort_time_s: f64,
    /// Seconds for the whole execution.
    pub exec_total_time_s: f64,
}

/// What a query returns.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: ResultValue,
    /// Warnings to pass on to the client.
    pub warnings: Vec<String>,
    /// Statistics.
    pub stats: QueryStats,
}

/// Evaluates PromQL queries against a [`Queryable`].
pub struct Engine {
    opts: EngineOptions,
    slots: Arc<Semaphore>,
}

/// Maximum points of a range query per series (Prometheus' API limit).
const MAX_POINTS: i64 = 11_000;

fn register_functions() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use promql_parser::parser::value::ValueType as T;
        use promql_parser::parser::Function;
        // Prometheus 2.42 has `holt_winters` (renamed in 3.0), which
        // promql-parser no longer knows.
        let _ = promql_parser::parser::register_extra_functions(vec![Function::new(
            "holt_winters",
            vec![T::Matrix, T::Scalar, T::Scalar],
            0,
            T::Vector,
            false,
        )]);
    });
}

/// The `line:col` of byte offset `pos` (1-based, as Prometheus prints it).
fn position(query: &str, pos: usize) -> String {
    let pos = pos.min(query.len());
    let mut line = 1;
    let mut last_break: isize = -1;
    for (i, c) in query.as_bytes()[..pos].iter().enumerate() {
        if *c == b'\n' {
            line += 1;
            last_break = i as isize;
        }
    }
    format!("{line}:{}", pos as isize - last_break)
}

/// Where `name(` is called in the query, if anywhere.
fn call_position(query: &str, name: &str) -> Option<usize> {
    let bytes = query.as_bytes();
    let mut from = 0;
    while let Some(i) = query[from..].find(name) {
        let at = from + i;
        let before_ok = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let rest = query[at + name.len()..].trim_start();
        if before_ok && rest.starts_with('(') {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

/// Rewrites promql-parser's messages into Prometheus' wording, with a position.
fn parse_error(query: &str, msg: &str) -> QueryError {
    if msg.contains("parse error:") {
        return QueryError::Parse(msg.to_string());
    }
    // promql-parser quotes names with ' where Prometheus uses ".
    let quoted = |s: &str| s.replace('\'', "\"");
    let mut text = quoted(msg);
    let mut pos = 0usize;
    if let Some(name) = msg
        .strip_prefix("unknown function with name '")
        .and_then(|s| s.strip_suffix('\''))
    {
        pos = call_position(query, name).unwrap_or(0);
    } else if let Some(rest) = msg.strip_prefix("expected type ") {
        // "expected type matrix in call to function 'rate', got vector"
        let doc = |t: &str| {
            match t {
                "matrix" => "range vector",
                "vector" => "instant vector",
                other => other,
            }
            .to_string()
        };
        if let Some((expected, tail)) = rest.split_once(" in ") {
            if let Some((ctx, got)) = tail.rsplit_once(", got ") {
                text = format!("expected type {} in {}, got {}", doc(expected), quoted(ctx), doc(got));
                if let Some(name) = ctx
                    .strip_prefix("call to function '")
                    .and_then(|s| s.strip_suffix('\''))
                {
                    pos = call_position(query, name).map(|p| p + name.len() + 1).unwrap_or(0);
                }
            }
        }
    } else if msg == "invalid promql query" {
        text = "unexpected end of input or invalid expression".into();
    } else if msg.starts_with("unexpected end of input") || msg == "unclosed left parenthesis" {
        pos = query.trim_end().len();
    } else if let Some(got) =
        msg.strip_prefix("unary expression only allowed on expressions of type scalar or vector, got: ")
    {
        text = format!("unary expression only allowed on expressions of type scalar or instant vector, got {got:?}");
    }
    if let Some(rest) = text.clone().strip_prefix("expected type ") {
        // Prometheus words a bad aggregation parameter differently from a
        // bad aggregated expression.
        for param in ["scalar", "string"] {
            let prefix = format!("{param} in aggregation expression, got ");
            if let Some(got) = rest.strip_prefix(&prefix) {
                text = format!("expected type {param} in aggregation parameter, got {got}");
                pos = query.find('(').map(|p| p + 1).unwrap_or(0);
            }
        }
    }
    QueryError::Parse(format!("{}: parse error: {text}", position(query, pos)))
}

/// Refuses syntax that promql-parser accepts but Prometheus 2.42 does not:
/// durations without a unit (`[100]`, `offset 50`, `[5m:10]`) and quoted
/// metric or label names inside braces (`{"foo"}`).
fn check_2_42_syntax(query: &str) -> Result<(), QueryError> {
    let b = query.as_bytes();
    let err = |pos: usize, msg: String| {
        Err(QueryError::Parse(format!(
            "{}: parse error: {msg}",
            position(query, pos)
        )))
    };
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let skip_string = |i: usize| -> usize {
        // `i` is at the opening quote; returns the index after the closing one.
        let q = b[i];
        let mut j = i + 1;
        while j < b.len() && b[j] != q {
            if b[j] == b'\\' && q != b'`' {
                j += 1;
            }
            j += 1;
        }
        j + 1
    };
    let unitless = |tok: &str| !tok.is_empty() && tok.bytes().all(|c| c.is_ascii_digit() || c == b'.');
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => i = skip_string(i),
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                let mut expect_name = true;
                i += 1;
                while i < b.len() && b[i] != b'}' {
                    match b[i] {
                        b'"' | b'\'' | b'`' => {
                            if expect_name {
                                let end = skip_string(i).min(b.len());
                                return err(
                                    i,
                                    format!(
                                        "unexpected string {} in label matching, expected identifier or \"}}\"",
                                        &query[i..end]
                                    ),
                                );
                            }
                            i = skip_string(i);
                            continue;
                        }
                        b',' => expect_name = true,
                        c if c.is_ascii_whitespace() => {}
                        _ => expect_name = false,
                    }
                    i += 1;
                }
                i += 1;
            }
            b'[' => {
                let start = i + 1;
                let end = query[start..].find(']').map(|e| start + e).unwrap_or(b.len());
                let mut off = start;
                for part in query[start..end].split(':') {
                    let tok = part.trim();
                    if unitless(tok) {
                        let lead = part.len() - part.trim_start().len();
                        return err(off + lead, "missing unit character in duration".into());
                    }
                    off += part.len() + 1;
                }
                i = end + 1;
            }
            c if is_word(c) => {
                let start = i;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                if query[start..i].eq_ignore_ascii_case("offset") {
                    let mut j = i;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j < b.len() && b[j] == b'-' {
                        j += 1;
                        while j < b.len() && b[j].is_ascii_whitespace() {
                            j += 1;
                        }
                    }
                    let t0 = j;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
                        j += 1;
                    }
                    if unitless(&query[t0..j]) {
                        return err(
                            t0,
                            format!("unexpected number {:?} in offset, expected duration", &query[t0..j]),
                        );
                    }
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses a query into the evaluator's tree.
/// An expression parsed and checked once, for repeated evaluation.
#[derive(Debug, Clone)]
pub struct Prepared {
    node: Node,
}

/// Parses `query` as [`Engine::instant`] would, keeping the result for
/// [`Engine::instant_prepared`].
pub fn prepare(query: &str) -> Result<Prepared, QueryError> {
    Ok(Prepared { node: parse(query)? })
}

/// Parsed expressions by query text. Dashboards and API clients send the
/// same few queries over and over, and parsing one compiles its regex
/// matchers, which can cost more than evaluating it. Bounded: emptied when
/// full, so an unbounded stream of distinct queries costs at most this many.
const PARSED_CACHE_ENTRIES: usize = 512;

fn parse(query: &str) -> Result<Node, QueryError> {
    static PARSED: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<String, Node>>> =
        std::sync::OnceLock::new();
    let cache = PARSED.get_or_init(Default::default);
    if let Some(node) = cache.lock().get(query) {
        return Ok(node.clone());
    }
    let node = parse_uncached(query)?;
    let mut cache = cache.lock();
    if cache.len() >= PARSED_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(query.to_string(), node.clone());
    Ok(node)
}

fn parse_uncached(query: &str) -> Result<Node, QueryError> {
    register_functions();
    if query.trim().is_empty() {
        return Err(QueryError::Parse(
            "1:1: parse error: no expression found in input".into(),
        ));
    }
    check_2_42_syntax(query)?;
    let expr = promql_parser::parser::parse(query).map_err(|e| parse_error(query, &e))?;
    ast::convert(&expr)
}

/// The text of a panic's payload.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Sets the cancel flag if the query future is dropped before it finishes.
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

struct Job {
    node: Node,
    db: Arc<dyn Queryable>,
    start: i64,
    end: i64,
    /// 0 for an instant query.
    interval: i64,
    lookback: i64,
    deadline: Instant,
    canceled: Arc<AtomicBool>,
    max_samples: usize,
    default_subquery_step: i64,
}

fn run(job: Job, stats: &mut QueryStats) -> Result<(ResultValue, Vec<String>), QueryError> {
    let prep = Instant::now();
    let Job {
        mut node,
        db,
        start,
        end,
        interval,
        lookback,
        deadline,
        canceled,
        max_samples,
        default_subquery_step,
    } = job;
    let expr_type = node.value_type();
    ast::preprocess(&mut node, start, end);
    ast::set_select_ranges(&mut node, start, end, lookback);
    ast::set_offset_for_at_modifier(start, &mut node);
    let mut ctx = Ctx {
        queryable: db,
        deadline,
        canceled,
        lookback,
        default_subquery_step,
        max_samples,
        cur: 0,
        peak: 0,
        total: 0,
        warnings: Vec::new(),
    };
    stats.preparation_time_s = prep.elapsed().as_secs_f64();
    ctx.check()?;

    let eval_start = Instant::now();
    let instant = interval == 0;
    let mut ev = Ev {
        ctx: &mut ctx,
        start,
        end,
        interval: if instant { 1 } else { interval },
    };
    let steps = ev.steps();
    let val = ev.eval(&mut node);
    stats.inner_eval_time_s = eval_start.elapsed().as_secs_f64();
    stats.total_queryable_samples = ctx.total;
    stats.peak_samples = ctx.peak as u64;
    let val = val?;
    let warnings = std::mem::take(&mut ctx.warnings);

    if instant {
        let value = match (expr_type, val) {
            (_, Val::String(s)) => ResultValue::String { t: start, v: s },
            (ValueType::Scalar, Val::Scalar(v)) => ResultValue::Scalar {
                t: start,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            (ValueType::Matrix, Val::Matrix(s)) | (ValueType::Matrix, Val::Vector(s)) => ResultValue::Matrix(s),
            (_, v) => ResultValue::Vector(
                v.into_series(&steps)
                    .into_iter()
                    .filter_map(|s| {
                        s.points.first().map(|p| Sample {
                            labels: s.labels,
                            t: start,
                            v: p.v,
                        })
                    })
                    .collect(),
            ),
        };
        return Ok((value, warnings));
    }

    ctx.check()?;
    let sort_start = Instant::now();
    let mut series = match val {
        Val::Scalar(v) => vec![Series {
            labels: Labels::empty(),
            points: steps.iter().zip(v).map(|(t, v)| Point { t, v }).collect(),
        }],
        Val::Vector(s) | Val::Matrix(s) => s,
        Val::String(_) => Vec::new(),
    };
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    stats.result_sort_time_s = sort_start.elapsed().as_secs_f64();
    Ok((ResultValue::Matrix(series), warnings))
}

impl Engine {
    /// An engine with these settings.
    pub fn new(opts: EngineOptions) -> Engine {
        let slots = Arc::new(Semaphore::new(opts.max_concurrent.max(1)));
        Engine { opts, slots }
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `t_ms`. Parse errors are [`QueryError::Parse`]
    /// with Prometheus' `line:col: parse error: ...` shape.
    pub async fn instant(
        &self,
        db: Arc<dyn Queryable>,
        query: &str,
        t_ms: i64,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let node = parse(query)?;
        self.execute(db, node, t_ms, t_ms, 0, opts).await
    }

    /// Evaluates an expression parsed once with [`prepare`] at `t_ms` (rule
    /// evaluation runs the same expressions every interval).
    pub async fn instant_prepared(
        &self,
        db: Arc<dyn Queryable>,
        query: &Prepared,
        t_ms: i64,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        self.execute(db, query.node.clone(), t_ms, t_ms, 0, opts).await
    }

    /// Evaluates `query` from `start_ms` to `end_ms` every `step_ms`, with
    /// Prometheus' checks (positive step, end not before start, at most
    /// 11,000 points per series, scalar or instant-vector expression).
    pub async fn range(
        &self,
        db: Arc<dyn Queryable>,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        if end_ms < start_ms {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if (end_ms - start_ms) / step_ms > MAX_POINTS {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                    .into(),
            ));
        }
        let node = parse(query)?;
        let t = node.value_type();
        if t != ValueType::Vector && t != ValueType::Scalar {
            return Err(QueryError::BadData(format!(
                "invalid expression type {:?} for range query, must be Scalar or instant Vector",
                t.documented()
            )));
        }
        self.execute(db, node, start_ms, end_ms, step_ms, opts).await
    }

    async fn execute(
        &self,
        db: Arc<dyn Queryable>,
        node: Node,
        start: i64,
        end: i64,
        interval: i64,
        opts: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let exec_start = Instant::now();
        let deadline = exec_start + opts.timeout.map_or(self.opts.timeout, |t| t.min(self.opts.timeout));
        let permit = match tokio::time::timeout_at(deadline.into(), self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(QueryError::Canceled("query queue".into())),
            Err(_) => return Err(QueryError::Timeout("query queue".into())),
        };
        let queue_time = exec_start.elapsed().as_secs_f64();
        let lookback = match opts.lookback_delta_ms {
            Some(l) if l > 0 => l,
            _ => self.opts.lookback_delta_ms,
        };
        let canceled = Arc::new(AtomicBool::new(false));
        let mut guard = CancelOnDrop {
            flag: canceled.clone(),
            done: false,
        };
        let job = Job {
            node,
            db,
            start,
            end,
            interval,
            lookback,
            deadline,
            canceled,
            max_samples: self.opts.max_samples,
            default_subquery_step: self.opts.default_subquery_step_ms,
        };
        let evaluate = move || {
            let _permit = permit;
            let mut stats = QueryStats::default();
            let res = run(job, &mut stats);
            (res, stats)
        };
        // On the multi-threaded runtime the query runs on this worker thread,
        // which hands its other tasks to a new worker meanwhile: no wake-up of
        // a blocking-pool thread and back, which is most of a small query's
        // latency. Elsewhere (current-thread runtimes in tests) it goes to
        // the blocking pool.
        let joined: Result<_, String> =
            if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(evaluate)))
                    .map_err(|p| panic_message(p.as_ref()))
            } else {
                tokio::task::spawn_blocking(evaluate).await.map_err(|e| {
                    if e.is_panic() {
                        panic_message(e.into_panic().as_ref())
                    } else {
                        "evaluation task canceled".into()
                    }
                })
            };
        guard.done = true;
        let (res, mut stats) = match joined {
            Ok(r) => r,
            Err(msg) => {
                tracing::error!(error = %msg, "query evaluation panicked");
                return Err(QueryError::Execution(format!("unexpected error: {msg}")));
            }
        };
        let (value, warnings) = res?;
        stats.queue_time_s = queue_time;
        stats.exec_total_time_s = exec_start.elapsed().as_secs_f64();
        Ok(QueryResult { value, warnings, stats })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_line_and_column() {
        assert_eq!(position("foo", 0), "1:1");
        assert_eq!(position("a\nbc", 3), "2:2");
    }

    #[test]
    fn parse_errors_use_prometheus_wording() {
        let e = parse("rate(foo)").unwrap_err().to_string();
        assert_eq!(
            e,
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        let e = parse("foo + nosuchfn(bar)").unwrap_err().to_string();
        assert_eq!(e, "1:7: parse error: unknown function with name \"nosuchfn\"");
        assert!(parse("holt_winters(foo[5m], 0.5, 0.5)").is_ok());
        // Same texts as Prometheus 2.42's for these.
        for (q, want) in [
            ("foo{", "1:5: parse error: unexpected end of input inside braces"),
            ("sum(foo) by (a", "1:15: parse error: unclosed left parenthesis"),
            (
                "topk(foo, bar)",
                "1:6: parse error: expected type scalar in aggregation parameter, got instant vector",
            ),
            (
                "foo offset 50",
                "1:12: parse error: unexpected number \"50\" in offset, expected duration",
            ),
            (
                "sum_over_time(foo[100])",
                "1:19: parse error: missing unit character in duration",
            ),
            (
                "foo{a=\"b\" or b=\"c\"}",
                "1:1: parse error: unexpected identifier \"or\" in label matching, expected \",\" or \"}\"",
            ),
        ] {
            assert_eq!(parse(q).unwrap_err().to_string(), want, "{q}");
        }
        // Newer syntax and functions are refused.
        for q in [
            "{\"foo\"}",
            "sort_by_label(foo, \"a\")",
            "limitk(1, foo)",
            "foo * fill(0) bar",
        ] {
            assert!(matches!(parse(q), Err(QueryError::Parse(_))), "{q}");
        }
    }
}
