//! The PromQL query API and the status endpoints around it:
//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query`,
//! `/api/v1/query_exemplars`, `/api/v1/metadata` and
//! `/api/v1/status/{config,flags,runtimeinfo}`.
//!
//! Parameters, error messages and JSON are Prometheus 2.42's, byte for byte
//! where it matters to clients:
//! - sample values are strings; in vectors and matrices they are written as
//!   Prometheus's jsoniter encoder writes them (shortest round-trip digits,
//!   exponent form below 1e-6 and from 1e21 on: `"1e-07"`, `"1e+21"`), while
//!   scalars never use an exponent (`"0.0000001"`), exactly as Prometheus
//!   2.42 answers; `"+Inf"`, `"-Inf"`, `"NaN"`;
//! - timestamps are JSON numbers in seconds: a sample's with all three
//!   decimals when it has milliseconds (`1435781451.780`), a scalar's or
//!   string's in the shortest form (`1435781451.78`), as 2.42 writes them;
//! - strings are escaped as Go escapes them (`<`, `>`, `&`, U+2028 and
//!   U+2029 as `\u` escapes).
//!
//! `lookback_delta` (a per-query lookback, from later Prometheus releases;
//! 2.42 ignores it) is honoured. The request `timeout` bounds the wait for
//! the answer; the engine's own `query.timeout` bounds the evaluation.
//!
//! The JSON is written directly into one buffer rather than through
//! `serde_json::Value`, so large matrices cost one allocation per response.
//!
//! `format_query` is a port of Prometheus 2.42's `Pretty` (prettier.go) over
//! `promql-parser`'s AST, with numbers printed as Go's `fmt.Sprint` prints
//! them (`1e+06`) and 2.42's function set (`holt_winters`; functions added
//! after 2.42 are unknown), so its output is Prometheus's byte for byte.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use promql::{QueryOptions, QueryResult, Queryable, ResultValue};

use super::{parse_time, success, ApiError, Params, MAX_TIME_MS, MIN_TIME_MS};
use crate::AppState;

/// Prometheus's limit on points per series of a range query.
pub const MAX_POINTS_PER_SERIES: i128 = 11_000;

fn invalid_param(name: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError::BadData(format!("invalid parameter {name:?}: {msg}"))
}

/// Parses an API duration as Prometheus's `parseDuration` does: float
/// seconds, or a Prometheus duration such as `1m30s`. Returns nanoseconds.
pub fn parse_duration_param(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if ns.is_nan() {
            return Err(format!("cannot parse {s:?} to a valid duration"));
        }
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!("cannot parse {s:?} to a valid duration. It overflows int64"));
        }
        return Ok(ns as i64);
    }
    match model::parse_duration(s) {
        Ok(d) => i64::try_from(d.as_nanos()).map_err(|_| format!("cannot parse {s:?} to a valid duration")),
        Err(_) => Err(format!("cannot parse {s:?} to a valid duration")),
    }
}

/// `time`-like parameter with a default, with Prometheus's `parseTimeParam` message.
fn time_param(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get(name).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => parse_time(s).map_err(|e| invalid_param(name, format!("Invalid time value for '{name}': {e}"))),
    }
}

/// The optional `timeout` parameter.
fn timeout_param(p: &Params) -> Result<Option<Duration>, ApiError> {
    match p.get("timeout").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let ns = parse_duration_param(s).map_err(|e| invalid_param("timeout", e))?;
            Ok(Some(Duration::from_nanos(ns.max(0) as u64)))
        }
    }
}

/// `lookback_delta` and `stats`, as Prometheus's `extractQueryOpts`.
fn query_opts(p: &Params) -> Result<QueryOptions, ApiError> {
    let mut opts = QueryOptions {
        stats: p.get("stats").is_some_and(|s| !s.is_empty()),
        ..Default::default()
    };
    if let Some(s) = p.get("lookback_delta").filter(|s| !s.is_empty()) {
        let ns = parse_duration_param(s)
            .map_err(|e| ApiError::BadData(format!("error parsing lookback delta duration: {e}")))?;
        // Zero or negative: the engine's default, as in Prometheus.
        if ns >= 1_000_000 {
            opts.lookback_delta_ms = Some(ns / 1_000_000);
        }
    }
    Ok(opts)
}

/// Runs a query future under the request's `timeout`, if any.
async fn with_timeout<F>(fut: F, timeout: Option<Duration>) -> Result<QueryResult, ApiError>
where
    F: std::future::Future<Output = Result<QueryResult, promql::QueryError>>,
{
    let res = match timeout {
        None => fut.await,
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r,
            Err(_) => return Err(ApiError::Timeout("query timed out in expression evaluation".into())),
        },
    };
    res.map_err(ApiError::from)
}

fn queryable(st: &AppState) -> Arc<dyn Queryable> {
    Arc::new(st.db.clone())
}

/// `GET|POST /api/v1/query`: `query`, `time` (default now), `timeout`,
/// `lookback_delta`, `stats`.
pub async fn query(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let t = time_param(&params, "time", model::now_millis())?;
    let timeout = timeout_param(&params)?;
    let opts = QueryOptions {
        timeout,
        ..query_opts(&params)?
    };
    let stats = opts.stats;
    let q = params.get("query").unwrap_or_default();
    let res = with_timeout(st.engine.instant(queryable(&st), q, t, opts), timeout).await?;
    Ok(json_response(render_query_result(&res, stats)))
}

/// `GET|POST /api/v1/query_range`: `query`, `start`, `end`, `step`, `timeout`,
/// `lookback_delta`, `stats`.
pub async fn query_range(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let (start, end, step_ms) = range_params(&params)?;
    let timeout = timeout_param(&params)?;
    let opts = QueryOptions {
        timeout,
        ..query_opts(&params)?
    };
    let stats = opts.stats;
    let q = params.get("query").unwrap_or_default();
    let res = with_timeout(st.engine.range(queryable(&st), q, start, end, step_ms, opts), timeout).await?;
    Ok(json_response(render_query_result(&res, stats)))
}

/// `start`, `end` and `step` of a range query, checked in Prometheus's order
/// with its messages. Returns milliseconds.
pub fn range_params(p: &Params) -> Result<(i64, i64, i64), ApiError> {
    let start = parse_time(p.get("start").unwrap_or_default()).map_err(|e| invalid_param("start", e))?;
    let end = parse_time(p.get("end").unwrap_or_default()).map_err(|e| invalid_param("end", e))?;
    if end < start {
        return Err(invalid_param("end", "end timestamp must not be before start time"));
    }
    let step_ns = parse_duration_param(p.get("step").unwrap_or_default()).map_err(|e| invalid_param("step", e))?;
    if step_ns <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end as i128 - start as i128) * 1_000_000 / step_ns as i128 > MAX_POINTS_PER_SERIES {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                .into(),
        ));
    }
    let step_ms = step_ns / 1_000_000;
    if step_ms == 0 {
        // Prometheus 2.42 fails these with a division by zero (422).
        return Err(ApiError::Execution(
            "query resolution steps below one millisecond are not supported".into(),
        ));
    }
    Ok((start, end, step_ms))
}

/// Functions Prometheus 2.42 knows. `promql-parser` follows newer
/// Prometheus releases (more functions, `holt_winters` renamed
/// `double_exponential_smoothing`); the endpoints that only parse answer as
/// 2.42 does.
const FUNCTIONS_2_42: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Aggregation operators Prometheus 2.42 knows.
const AGGREGATIONS_2_42: &[&str] = &[
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
];

const HOLT_WINTERS: &str = "holt_winters";
const HOLT_WINTERS_NEW: &str = "double_exponential_smoothing";

/// Replaces the identifier `from` by `to` outside string literals.
fn replace_ident(text: &str, from: &str, to: &str) -> String {
    let b = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut out = String::with_capacity(text.len());
    let (mut i, mut last) = (0, 0);
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' && c != b'`' {
                    j += 1;
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if is_ident(c) && (i == 0 || !is_ident(b[i - 1])) {
            let mut j = i;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
            if &text[i..j] == from {
                out.push_str(&text[last..i]);
                out.push_str(to);
                last = j;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last.min(text.len())..]);
    out
}

fn check_dialect(e: &promql_parser::parser::Expr) -> Result<(), String> {
    use promql_parser::parser::Expr;
    match e {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS_2_42.contains(&op.as_str()) {
                return Err(format!("1:1: parse error: unknown function with name {op:?}"));
            }
            check_dialect(&a.expr)?;
            a.param.as_deref().map_or(Ok(()), check_dialect)
        }
        Expr::Unary(u) => check_dialect(&u.expr),
        Expr::Binary(b) => {
            if b.modifier.as_ref().is_some_and(|m| m.to_string().contains("fill")) {
                return Err("1:1: parse error: unexpected fill modifier".into());
            }
            check_dialect(&b.lhs)?;
            check_dialect(&b.rhs)
        }
        Expr::Paren(p) => check_dialect(&p.expr),
        Expr::Subquery(s) => check_dialect(&s.expr),
        Expr::Call(c) => {
            let name = if c.func.name == HOLT_WINTERS_NEW {
                HOLT_WINTERS
            } else {
                c.func.name
            };
            if !FUNCTIONS_2_42.contains(&name) {
                return Err(format!("1:1: parse error: unknown function with name {name:?}"));
            }
            c.args.args.iter().try_for_each(|a| check_dialect(a))
        }
        _ => Ok(()),
    }
}

/// Parses a PromQL expression for the endpoints that only parse, in
/// Prometheus 2.42's dialect, with the error as Prometheus prints it.
fn parse_expr(q: &str) -> Result<promql_parser::parser::Expr, String> {
    if replace_ident(q, HOLT_WINTERS_NEW, "") != q {
        return Err(format!(
            "1:1: parse error: unknown function with name {HOLT_WINTERS_NEW:?}"
        ));
    }
    let expr = promql_parser::parser::parse(&replace_ident(q, HOLT_WINTERS, HOLT_WINTERS_NEW)).map_err(|e| {
        let e = e.replace(HOLT_WINTERS_NEW, HOLT_WINTERS);
        if e.starts_with(|c: char| c.is_ascii_digit()) && e.contains("parse error") {
            e
        } else {
            format!("1:1: parse error: {e}")
        }
    })?;
    check_dialect(&expr)?;
    Ok(expr)
}

/// `GET|POST /api/v1/format_query`: the expression pretty-printed.
pub async fn format_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse_expr(params.get("query").unwrap_or_default()).map_err(|e| invalid_param("query", e))?;
    Ok(success(pretty(&expr, 0)))
}

/// Prometheus's `String()` of an expression: `promql-parser`'s rendering
/// with numbers and `holt_winters` as Prometheus 2.42 writes them.
fn go_string(e: &promql_parser::parser::Expr) -> String {
    go_number_literals(&replace_ident(&e.to_string(), HOLT_WINTERS_NEW, HOLT_WINTERS))
}

/// Prometheus 2.42's `Pretty` (promql/parser/prettier.go), line for line:
/// a node is split when its one-line form is longer than 100 characters
/// (indentation not counted); a subquery that fits is printed without
/// indentation, as 2.42 does.
fn pretty(e: &promql_parser::parser::Expr, level: usize) -> String {
    use promql_parser::label::Labels as ParserLabels;
    use promql_parser::parser::{Expr, LabelModifier};
    const MAX_CHARACTERS_PER_LINE: usize = 100;
    let ind = "  ".repeat(level);
    let one_line = go_string(e);
    if one_line.len() <= MAX_CHARACTERS_PER_LINE {
        return match e {
            Expr::Subquery(_) => one_line,
            _ => format!("{ind}{one_line}"),
        };
    }
    match e {
        Expr::Aggregate(a) => {
            let mut op = a.op.to_string();
            let join = |ls: &ParserLabels| ls.labels.join(", ");
            match &a.modifier {
                Some(LabelModifier::Exclude(ls)) => op.push_str(&format!(" without ({}) ", join(ls))),
                Some(LabelModifier::Include(ls)) if !ls.labels.is_empty() => {
                    op.push_str(&format!(" by ({}) ", join(ls)))
                }
                _ => {}
            }
            let mut out = format!("{ind}{op}(\n");
            if let Some(p) = &a.param {
                out.push_str(&pretty(p, level + 1));
                out.push_str(",\n");
            }
            out.push_str(&pretty(&a.expr, level + 1));
            out.push_str(&format!("\n{ind})"));
            out
        }
        Expr::Binary(b) => {
            let modifier = b.modifier.as_ref().map(|m| m.to_string()).unwrap_or_default();
            format!(
                "{}\n{ind}{}{modifier}\n{}",
                pretty(&b.lhs, level + 1),
                b.op,
                pretty(&b.rhs, level + 1)
            )
        }
        Expr::Call(c) => {
            let args: Vec<String> = c.args.args.iter().map(|a| pretty(a, level + 1)).collect();
            let name = if c.func.name == HOLT_WINTERS_NEW {
                HOLT_WINTERS
            } else {
                c.func.name
            };
            format!("{ind}{name}(\n{}\n{ind})", args.join(",\n"))
        }
        Expr::Paren(p) => format!("{ind}(\n{}\n{ind})", pretty(&p.expr, level + 1)),
        Expr::Subquery(sq) => {
            let inner = sq.expr.to_string();
            let full = e.to_string();
            let suffix = full.strip_prefix(inner.as_str()).unwrap_or_default();
            format!("{}{suffix}", pretty(&sq.expr, level))
        }
        Expr::Unary(u) => format!("{ind}-{}", pretty(&u.expr, level).trim_start()),
        _ => format!("{ind}{one_line}"),
    }
}

/// Go's `fmt.Sprint(float64)` (`%v`): shortest digits, exponent form when
/// the decimal exponent is below -4 or at least 6 (`1e+06`, `1.7067456e+09`).
fn go_sprint_float(v: f64) -> String {
    let mut out = String::new();
    if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.is_nan() {
        out.push_str("NaN");
    } else if v == 0.0 {
        go_f(&mut out, v);
    } else {
        let sci = format!("{v:e}");
        let exp: i32 = sci.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
        if !(-4..6).contains(&exp) {
            go_e(&mut out, v);
        } else {
            go_f(&mut out, v);
        }
    }
    out
}

/// Rewrites the number literals of `promql-parser`'s pretty-printed text as
/// Prometheus prints them (`fmt.Sprint`, `+Inf`); strings, durations and
/// `@` timestamps are left alone.
fn go_number_literals(text: &str) -> String {
    let b = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            // Skip a string literal.
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' && c != b'`' {
                    j += 1;
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let prev = if i > 0 { b[i - 1] } else { b' ' };
        if is_ident(c) && !c.is_ascii_digit() && !is_ident(prev) {
            let mut j = i;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
            if &text[i..j] == "Inf" && prev != b'-' && prev != b'+' {
                out.push_str(&text[last..i]);
                out.push_str("+Inf");
                last = j;
            }
            i = j;
            continue;
        }
        if (c.is_ascii_digit() || c == b'.') && !is_ident(prev) && prev != b'.' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            let duration = j < b.len() && b[j].is_ascii_alphabetic();
            let at = text[..i].trim_end().ends_with('@');
            if !duration && !at {
                if let Ok(v) = text[i..j].parse::<f64>() {
                    out.push_str(&text[last..i]);
                    out.push_str(&go_sprint_float(v));
                    last = j;
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

/// `GET|POST /api/v1/query_exemplars`: Aerowatch stores no exemplars, so the
/// answer is always empty, after the parameters are checked as Prometheus
/// checks them (an expression without selectors answers 204).
pub async fn query_exemplars(params: Params) -> Result<Response, ApiError> {
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::BadData(
            "end timestamp must not be before start timestamp".into(),
        ));
    }
    let expr = parse_expr(params.get("query").unwrap_or_default()).map_err(ApiError::BadData)?;
    if !has_selector(&expr) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(success(Vec::<serde_json::Value>::new()))
}

fn has_selector(e: &promql_parser::parser::Expr) -> bool {
    use promql_parser::parser::Expr;
    match e {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::Extension(_) => true,
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => false,
    }
}

/// Where `/api/v1/metadata` reads metric metadata; implemented by the
/// scrape manager.
pub trait MetadataSource: Send + Sync {
    /// Metadata of every metric family exposed by an active target,
    /// deduplicated, as `(metric name, metadata)`.
    fn metadata(&self) -> Vec<(String, ingest::exposition::MetricMetadata)>;
}

impl MetadataSource for ingest::scrape::ScrapeManager {
    fn metadata(&self) -> Vec<(String, ingest::exposition::MetricMetadata)> {
        ingest::scrape::ScrapeManager::metadata(self)
    }
}

/// No scrape metadata (tests).
pub struct NoMetadata;
impl MetadataSource for NoMetadata {
    fn metadata(&self) -> Vec<(String, ingest::exposition::MetricMetadata)> {
        Vec::new()
    }
}

/// `GET /api/v1/metadata?metric=&limit=`.
pub async fn metadata(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let limit: i64 = match params.get("limit").filter(|s| !s.is_empty()) {
        None => -1,
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::BadData("limit must be a number".into()))?,
    };
    let limit_per_metric: i64 = match params.get("limit_per_metric").filter(|s| !s.is_empty()) {
        None => -1,
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::BadData("limit_per_metric must be a number".into()))?,
    };
    let metric = params.get("metric").unwrap_or_default();
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (name, md) in st.metadata.metadata() {
        if !metric.is_empty() && name != metric {
            continue;
        }
        if !out.contains_key(&name) && limit >= 0 && out.len() as i64 >= limit {
            continue;
        }
        let entries = out.entry(name).or_default();
        if limit_per_metric >= 0 && entries.len() as i64 >= limit_per_metric {
            continue;
        }
        let entry = serde_json::json!({ "type": md.kind.as_str(), "help": md.help, "unit": md.unit });
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(success(out))
}

/// What `/api/v1/status/{config,flags,runtimeinfo}` report about the
/// running process. The binary fills in the public fields at start and calls
/// [`RuntimeStatus::config_loaded`] / [`RuntimeStatus::config_failed`] on
/// every (re)load.
pub struct RuntimeStatus {
    /// When the process started.
    pub start_time: DateTime<Utc>,
    /// The working directory.
    pub cwd: String,
    /// Retention as Prometheus prints it (`15d`, `15d or 10GiB`); see [`retention_string`].
    pub storage_retention: String,
    /// Command-line flags and effective query settings, by flag name.
    pub flags: BTreeMap<String, String>,
    /// WAL corruptions repaired at start-up.
    pub corruption_count: u64,
    config: RwLock<ConfigState>,
}

struct ConfigState {
    yaml: String,
    last_load: DateTime<Utc>,
    last_ok: bool,
}

impl Default for RuntimeStatus {
    fn default() -> Self {
        let now = Utc::now();
        RuntimeStatus {
            start_time: now,
            cwd: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            storage_retention: String::new(),
            flags: BTreeMap::new(),
            corruption_count: 0,
            config: RwLock::new(ConfigState {
                yaml: String::new(),
                last_load: now,
                last_ok: true,
            }),
        }
    }
}

impl RuntimeStatus {
    /// Records a successful (re)load of this configuration text; secrets are
    /// masked before it is stored.
    pub fn config_loaded(&self, yaml_text: &str) {
        let yaml = redact_config(yaml_text);
        let mut c = self.config.write();
        c.yaml = yaml;
        c.last_load = Utc::now();
        c.last_ok = true;
    }

    /// Records a failed reload (the previous configuration stays in force).
    pub fn config_failed(&self) {
        self.config.write().last_ok = false;
    }

    /// The running configuration, secrets masked.
    pub fn config_yaml(&self) -> String {
        self.config.read().yaml.clone()
    }
}

/// Keys whose values are credentials, masked in `/api/v1/status/config`
/// as Prometheus masks its `Secret` fields.
const SECRET_KEYS: &[&str] = &[
    "password",
    "bearer_token",
    "credentials",
    "client_secret",
    "token",
    "secret_key",
    "access_key",
];

fn redact_value(v: &mut serde_yaml::Value) {
    use serde_yaml::Value;
    match v {
        Value::Mapping(m) => {
            for (k, val) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default();
                if SECRET_KEYS.contains(&key) && !val.is_null() {
                    *val = Value::String("<secret>".into());
                } else if key == "basic_auth_users" {
                    if let Value::Mapping(users) = val {
                        for (_, hash) in users.iter_mut() {
                            *hash = Value::String("<secret>".into());
                        }
                    }
                } else {
                    redact_value(val);
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(redact_value),
        Value::Tagged(t) => redact_value(&mut t.value),
        _ => {}
    }
}

/// The configuration text with credentials replaced by `<secret>` (comments
/// and layout are not kept: like Prometheus, the YAML is re-rendered).
pub fn redact_config(text: &str) -> String {
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(serde_yaml::Value::Null) => String::new(),
        Ok(mut v) => {
            redact_value(&mut v);
            serde_yaml::to_string(&v).unwrap_or_default()
        }
        // Validated configs always parse; never show text we cannot mask.
        Err(_) => String::new(),
    }
}

/// Retention as Prometheus's runtime info prints it: `15d`, `512MiB`, or
/// `15d or 512MiB`.
pub fn retention_string(time_ms: i64, size_bytes: u64) -> String {
    let mut s = String::new();
    if time_ms > 0 {
        // As Prometheus 2.42 prints it: `15d`, not `2w1d`.
        let mut ms = time_ms;
        for (unit, mult) in [
            ("y", 365 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if ms >= mult {
                let _ = write!(s, "{}{unit}", ms / mult);
                ms %= mult;
            }
        }
    }
    if size_bytes > 0 {
        if !s.is_empty() {
            s.push_str(" or ");
        }
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut n = size_bytes;
        let mut u = 0;
        while u + 1 < UNITS.len() && n.is_multiple_of(1024) {
            n /= 1024;
            u += 1;
        }
        let _ = write!(s, "{n}{}", UNITS[u]);
    }
    s
}

/// `GET /api/v1/status/config`: `{"yaml": ...}`.
pub async fn config(State(st): State<Arc<AppState>>) -> Response {
    success(serde_json::json!({ "yaml": st.runtime.config_yaml() }))
}

/// `GET /api/v1/status/flags`.
pub async fn flags(State(st): State<Arc<AppState>>) -> Response {
    success(&st.runtime.flags)
}

/// Go's RFC 3339 with nanoseconds, trailing zeros trimmed (`time.RFC3339Nano`, `time.Time`'s JSON).
pub(crate) fn rfc3339_nano(t: &DateTime<Utc>) -> String {
    let s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}Z")
}

/// `GET /api/v1/status/runtimeinfo`, in Prometheus's shape (the Go runtime
/// fields report the Tokio runtime's workers and tasks).
pub async fn runtimeinfo(State(st): State<Arc<AppState>>) -> Response {
    let rt = &st.runtime;
    let (last_load, last_ok) = {
        let c = rt.config.read();
        (c.last_load, c.last_ok)
    };
    let m = tokio::runtime::Handle::current().metrics();
    success(serde_json::json!({
        "startTime": rfc3339_nano(&rt.start_time),
        "CWD": rt.cwd,
        "reloadConfigSuccess": last_ok,
        "lastConfigTime": last_load.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "corruptionCount": rt.corruption_count,
        "goroutineCount": m.num_alive_tasks(),
        "GOMAXPROCS": m.num_workers(),
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": rt.storage_retention,
    }))
}

// ---------------------------------------------------------------- JSON ---

fn json_response(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Appends `s` as a JSON string, escaped as Go's encoder escapes it.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let needs_u = matches!(c, '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}');
        if esc.is_none() && !needs_u {
            continue;
        }
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a sample's millisecond timestamp as Prometheus's vector and
/// matrix encoder writes it: seconds, and when there are milliseconds, all
/// three digits (`1435781451.780`, `-1.500`, `0`).
pub fn push_timestamp(out: &mut String, t_ms: i64) {
    let t = t_ms as i128;
    let (neg, t) = if t < 0 { (true, -t) } else { (false, t) };
    if neg {
        out.push('-');
    }
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends a scalar's or string's timestamp as Go's `encoding/json` writes
/// `float64(t)/1000`: shortest decimal (`1435781451.78`, `-1.5`).
pub fn push_float_timestamp(out: &mut String, t_ms: i64) {
    let mut s = String::new();
    push_timestamp(&mut s, t_ms);
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0');
        out.push_str(trimmed);
    } else {
        out.push_str(&s);
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` for finite values: the
/// shortest round-trip digits, never in exponent form. Every sample of a
/// query answer goes through here, so integers (most counters and gauges)
/// take `itoa` and the rest `ryu` (both several times faster than `Display`),
/// with ryu's exponent form expanded.
fn go_f(out: &mut String, v: f64) {
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    let Some((mantissa, exp)) = s.split_once('e') else {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
        return;
    };
    let exp: i64 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let frac = if frac == "0" { "" } else { frac };
    let digits = format!("{int}{frac}");
    // Position of the decimal point within `digits`.
    let point = int.len() as i64 + exp;
    out.push_str(sign);
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)` for finite values: shortest
/// digits, exponent with a sign and at least two digits (`1e-07`, `1.5e+21`).
pub(crate) fn go_e(out: &mut String, v: f64) {
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    out.push_str(mant);
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
}

/// A float as jsoniter writes it (Prometheus's sample values and stats):
/// 'f' form, 'e' form below 1e-6 and from 1e21 on.
fn go_float(out: &mut String, v: f64) {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_e(out, v);
    } else {
        go_f(out, v);
    }
}

fn push_special(out: &mut String, v: f64) -> bool {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v == f64::INFINITY {
        out.push_str("\"+Inf\"");
    } else if v == f64::NEG_INFINITY {
        out.push_str("\"-Inf\"");
    } else {
        return false;
    }
    true
}

/// A vector or matrix sample value, quoted, as Prometheus writes it.
pub fn push_sample_value(out: &mut String, v: f64) {
    if !push_special(out, v) {
        out.push('"');
        go_float(out, v);
        out.push('"');
    }
}

/// A scalar's value, quoted: always 'f' form, as Prometheus's `Scalar` writes it.
pub fn push_scalar_value(out: &mut String, v: f64) {
    if !push_special(out, v) {
        out.push('"');
        go_f(out, v);
        out.push('"');
    }
}

fn push_labels(out: &mut String, labels: &model::Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, &l.name);
        out.push(':');
        push_json_str(out, &l.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    push_timestamp(out, t);
    out.push(',');
    push_sample_value(out, v);
    out.push(']');
}

/// Appends `{"resultType":...,"result":...}` without the closing brace.
fn push_data(out: &mut String, value: &ResultValue) {
    match value {
        ResultValue::Scalar { t, v } => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":[");
            push_float_timestamp(out, *t);
            out.push(',');
            push_scalar_value(out, *v);
            out.push(']');
        }
        ResultValue::String { t, v } => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            push_float_timestamp(out, *t);
            out.push(',');
            push_json_str(out, v);
            out.push(']');
        }
        ResultValue::Vector(samples) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"value\":");
                push_point(out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        ResultValue::Matrix(series) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(out, p.t, p.v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
}

fn push_stats(out: &mut String, s: &promql::QueryStats) {
    let eval_total = s.preparation_time_s + s.inner_eval_time_s + s.result_sort_time_s;
    out.push_str(",\"stats\":{\"timings\":{");
    let timings = [
        ("evalTotalTime", eval_total),
        ("resultSortTime", s.result_sort_time_s),
        ("queryPreparationTime", s.preparation_time_s),
        ("innerEvalTime", s.inner_eval_time_s),
        ("execQueueTime", s.queue_time_s),
        ("execTotalTime", s.exec_total_time_s),
    ];
    for (i, (k, v)) in timings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{k}\":");
        go_float(out, if v.is_finite() { *v } else { 0.0 });
    }
    let _ = write!(
        out,
        "}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
        s.total_queryable_samples, s.peak_samples
    );
}

/// The whole success body of a query: envelope, data, optional stats and warnings.
pub fn render_query_result(res: &QueryResult, stats: bool) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":");
    push_data(&mut out, &res.value);
    if stats {
        push_stats(&mut out, &res.stats);
    }
    out.push('}');
    if !res.warnings.is_empty() {
        out.push_str(",\"warnings\":[");
        for (i, w) in res.warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, w);
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v: f64) -> String {
        let mut s = String::new();
        push_sample_value(&mut s, v);
        s
    }

    fn scalar(v: f64) -> String {
        let mut s = String::new();
        push_scalar_value(&mut s, v);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        push_timestamp(&mut s, t);
        s
    }

    #[test]
    fn fast_float_formatting_matches_display() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![
            1e15,
            1e16,
            123456789012345678.0,
            1e-5,
            1e-7,
            5e-324,
            f64::MAX,
            0.1,
            2.5,
            -7.25,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x % 1_000_000) as f64 / 1000.0);
        }
        for v in values {
            let mut fast = String::new();
            go_f(&mut fast, v);
            // Shortest round trip, as long as Display's; the digits differ
            // only on exact ties, where Go (and ryu) round half to even.
            assert_eq!(fast.parse::<f64>().ok(), Some(v), "{v:e} -> {fast}");
            assert_eq!(fast.len(), format!("{v}").len(), "{v:e} -> {fast}");
        }
        // A tie, checked against Prometheus 2.42 (`vector(1658206780088562.25)`);
        // Rust's Display writes ...562.3.
        let tie: f64 = "1658206780088562.25".parse().unwrap();
        assert_eq!(sample(tie), "\"1658206780088562.2\"");
    }

    #[test]
    fn sample_values_are_written_as_prometheus_writes_them() {
        // Checked against Prometheus 2.42's /api/v1/query.
        assert_eq!(sample(1e-7), "\"1e-07\"");
        assert_eq!(sample(1e21), "\"1e+21\"");
        assert_eq!(sample(123456789012345678.0), "\"123456789012345680\"");
        assert_eq!(sample(0.1 + 0.2), "\"0.30000000000000004\"");
        assert_eq!(sample(-1e-300), "\"-1e-300\"");
        assert_eq!(sample(1.5e300), "\"1.5e+300\"");
        assert_eq!(sample(1e-6), "\"0.000001\"");
        assert_eq!(sample(9.99e20), "\"999000000000000000000\"");
        assert_eq!(sample(0.0), "\"0\"");
        assert_eq!(sample(-0.0), "\"-0\"");
        assert_eq!(sample(1435781451.781), "\"1435781451.781\"");
        assert_eq!(sample(f64::NAN), "\"NaN\"");
        assert_eq!(sample(f64::INFINITY), "\"+Inf\"");
        assert_eq!(sample(f64::NEG_INFINITY), "\"-Inf\"");
        assert_eq!(sample(f64::from_bits(model::STALE_NAN_BITS)), "\"NaN\"");
        assert_eq!(sample(5e-324), "\"5e-324\"");
    }

    #[test]
    fn format_query_prints_numbers_as_prometheus() {
        // Checked against Prometheus 2.42's /api/v1/format_query.
        let f = |q: &str| pretty(&parse_expr(q).unwrap(), 0);
        assert_eq!(f("vector(1706745600)"), "vector(1.7067456e+09)");
        assert_eq!(f("x > 4.5e9"), "x > 4.5e+09");
        assert_eq!(f("vector(1e-7) + 1e21"), "vector(1e-07) + 1e+21");
        assert_eq!(
            f("vector(Inf) + -Inf + NaN + 1e5 + 1e6 + 123456.7 + 0.0001 + 0.00001 + 0x10 + -1"),
            "vector(+Inf) + -Inf + NaN + 100000 + 1e+06 + 123456.7 + 0.0001 + 1e-05 + 16 + -1"
        );
        assert_eq!(f("up @ 100 offset -5m"), "up @ 100.000 offset -5m");
        assert_eq!(
            f("rate(http_2xx{a=\"1e6\"}[5m:1m]) * 1000000"),
            "rate(http_2xx{a=\"1e6\"}[5m:1m]) * 1e+06"
        );
        assert_eq!(f("topk(3, x)"), "topk(3, x)");
    }

    #[test]
    fn format_query_lays_out_as_prometheus_2_42() {
        // Outputs of Prometheus 2.42's /api/v1/format_query.
        let f = |q: &str| pretty(&parse_expr(q).unwrap(), 0);
        assert_eq!(f("sum(rate(x[5m]))by(job)"), "sum by (job) (rate(x[5m]))");
        assert_eq!(
            f("sum by (job, instance) (rate(http_requests_total{job=\"api\",code=~\"5..\"}[5m] offset 1h)) / on(job) group_left(foo) sum by (job) (rate(http_requests_total[5m])) > bool 0.5 and topk(3, x) unless label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"),
            "        sum by (job, instance) (rate(http_requests_total{code=~\"5..\",job=\"api\"}[5m] offset 1h))\n      / on (job) group_left (foo)\n        sum by (job) (rate(http_requests_total[5m]))\n    > bool\n      0.5\n  and\n    topk(3, x)\nunless\n  label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"
        );
        assert_eq!(
            f("sum by (mode) (holt_winters(queue_length{queue=\"q2\"}[1h] @ 1704065940 offset 1h, 0.5, 0.1))"),
            "sum by (mode) (holt_winters(queue_length{queue=\"q2\"}[1h] @ 1704065940.000 offset 1h, 0.5, 0.1))"
        );
        assert_eq!(
            f("absent(group without (instance) (present_over_time((floor(predict_linear(temperature_celsius{instance=~\"node-1.*\"}[5m], 60)))[3m:20s])))"),
            "absent(\n  group without (instance) (\n    present_over_time(\n(floor(predict_linear(temperature_celsius{instance=~\"node-1.*\"}[5m], 60)))[3m:20s]\n    )\n  )\n)"
        );
        assert_eq!(
            f("vector(Inf) + -Inf + NaN + 1e5 + 1e6 + 123456.7 + 0.0001 + 0.00001 + 0x10 + -1 + up @ 100 offset -5m + sum(x) by (job) + 1.5e300+ -(2) + -vector(3)"),
            "          vector(+Inf) + -Inf + NaN + 100000 + 1e+06 + 123456.7 + 0.0001 + 1e-05 + 16 + -1\n        +\n          up @ 100.000 offset -5m\n      +\n        sum by (job) (x)\n    +\n      1.5e+300\n  +\n    -(2)\n+\n  -vector(3)"
        );
    }

    #[test]
    fn query_errors_map_to_prometheus_types_and_codes() {
        use promql::QueryError as Q;
        let cases = [
            (
                Q::Parse("1:5: parse error: x".into()),
                400,
                "bad_data",
                "invalid parameter \"query\": 1:5: parse error: x",
            ),
            (Q::BadData("too many points".into()), 400, "bad_data", "too many points"),
            (Q::Execution("many-to-many".into()), 422, "execution", "many-to-many"),
            (
                Q::TooManySamples,
                422,
                "execution",
                "query processing would load too many samples into memory in query execution",
            ),
            (
                Q::Timeout("query queue".into()),
                503,
                "timeout",
                "query timed out in query queue",
            ),
            (
                Q::Canceled("expression evaluation".into()),
                503,
                "canceled",
                "query was canceled in expression evaluation",
            ),
            (Q::Storage("disk".into()), 500, "internal", "disk"),
        ];
        for (err, code, kind, msg) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.to_string(), msg);
            let (status, t) = api.parts();
            assert_eq!((status.as_u16(), t), (code, kind), "{msg}");
        }
    }

    #[test]
    fn only_prometheus_2_42_functions_parse() {
        assert!(parse_expr("holt_winters(x[5m], 0.5, 0.5)").is_ok());
        assert!(parse_expr("label_replace(x, \"holt_winters\", \"\", \"a\", \"\")").is_ok());
        for q in [
            "double_exponential_smoothing(x[5m], 0.5, 0.5)",
            "sort_by_label(x, \"a\")",
            "limitk(1, x)",
        ] {
            let e = parse_expr(q).unwrap_err();
            assert!(
                e.starts_with("1:1: parse error: unknown function with name"),
                "{q}: {e}"
            );
        }
        assert_eq!(
            replace_ident(
                "holt_winters(a[1m], 1, 1) + x{a=\"holt_winters\"} + holt_winters_x",
                HOLT_WINTERS,
                "h"
            ),
            "h(a[1m], 1, 1) + x{a=\"holt_winters\"} + holt_winters_x"
        );
    }

    #[test]
    fn scalars_never_use_exponents() {
        assert_eq!(scalar(1e-7), "\"0.0000001\"");
        assert_eq!(scalar(1e21), "\"1000000000000000000000\"");
        assert_eq!(scalar(-2.5), "\"-2.5\"");
        assert_eq!(scalar(f64::NEG_INFINITY), "\"-Inf\"");
    }

    fn float_ts(t: i64) -> String {
        let mut s = String::new();
        push_float_timestamp(&mut s, t);
        s
    }

    #[test]
    fn timestamps_are_seconds_with_millis() {
        // Samples: always three decimals when there are any (Prometheus 2.42).
        assert_eq!(ts(1435781451781), "1435781451.781");
        assert_eq!(ts(1435781451780), "1435781451.780");
        assert_eq!(ts(1435781451005), "1435781451.005");
        assert_eq!(ts(1000), "1");
        assert_eq!(ts(0), "0");
        assert_eq!(ts(-1500), "-1.500");
        assert_eq!(ts(-5), "-0.005");
        // Scalars and strings: Go's float encoding.
        assert_eq!(float_ts(1435781451780), "1435781451.78");
        assert_eq!(float_ts(-1500), "-1.5");
        assert_eq!(float_ts(-5), "-0.005");
        assert_eq!(float_ts(7000), "7");
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut s = String::new();
        push_json_str(&mut s, "a\u{2028}<>&\n\u{1}\"\\é");
        assert_eq!(s, r#""a\u2028\u003c\u003e\u0026\n\u0001\"\\é""#);
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration_param("15s").unwrap(), 15_000_000_000);
        assert_eq!(parse_duration_param("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_param("0.5").unwrap(), 500_000_000);
        assert_eq!(parse_duration_param("-1").unwrap(), -1_000_000_000);
        assert_eq!(
            parse_duration_param("").unwrap_err(),
            "cannot parse \"\" to a valid duration"
        );
        assert!(parse_duration_param("1e300").unwrap_err().contains("overflows int64"));
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Params::from_request(&axum::http::Method::GET, Some(&q), &axum::http::HeaderMap::new(), b"")
    }

    fn range_err(pairs: &[(&str, &str)]) -> String {
        range_params(&params(pairs)).unwrap_err().to_string()
    }

    #[test]
    fn range_parameters_fail_with_prometheus_messages() {
        assert_eq!(
            range_params(&params(&[("start", "1"), ("end", "2"), ("step", "15s")])).unwrap(),
            (1000, 2000, 15000)
        );
        assert_eq!(
            range_err(&[("end", "2"), ("step", "1")]),
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"
        );
        assert_eq!(
            range_err(&[("start", "1"), ("end", "0"), ("step", "1")]),
            "invalid parameter \"end\": end timestamp must not be before start time"
        );
        assert_eq!(
            range_err(&[("start", "1"), ("end", "2"), ("step", "0")]),
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
        );
        assert_eq!(
            range_err(&[("start", "1"), ("end", "2")]),
            "invalid parameter \"step\": cannot parse \"\" to a valid duration"
        );
        assert_eq!(
            range_err(&[("start", "0"), ("end", "100000"), ("step", "1")]),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
        );
        assert!(range_params(&params(&[("start", "0"), ("end", "11000"), ("step", "1")])).is_ok());
    }

    #[test]
    fn query_options_from_parameters() {
        let o = query_opts(&params(&[("lookback_delta", "1m"), ("stats", "all")])).unwrap();
        assert_eq!(o.lookback_delta_ms, Some(60_000));
        assert!(o.stats);
        let o = query_opts(&params(&[("lookback_delta", "0")])).unwrap();
        assert_eq!(o.lookback_delta_ms, None);
        assert!(!o.stats);
        assert_eq!(
            query_opts(&params(&[("lookback_delta", "x")]))
                .err()
                .unwrap()
                .to_string(),
            "error parsing lookback delta duration: cannot parse \"x\" to a valid duration"
        );
        assert_eq!(
            time_param(&params(&[("time", "abc")]), "time", 0)
                .unwrap_err()
                .to_string(),
            "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"abc\" to a valid timestamp"
        );
        assert_eq!(time_param(&params(&[("time", "")]), "time", 7).unwrap(), 7);
        assert_eq!(
            timeout_param(&params(&[("timeout", "abc")])).unwrap_err().to_string(),
            "invalid parameter \"timeout\": cannot parse \"abc\" to a valid duration"
        );
    }

    #[test]
    fn retention_like_prometheus() {
        assert_eq!(retention_string(15 * 86_400_000, 0), "15d");
        assert_eq!(retention_string(15 * 86_400_000, 512 << 20), "15d or 512MiB");
        assert_eq!(retention_string(0, 1000), "1000B");
        assert_eq!(retention_string(90 * 60_000, 0), "1h30m");
    }

    #[test]
    fn config_secrets_are_masked() {
        let text = "auth:\n  bearer_tokens:\n    - token: abcdefabcdefabcdef\n      scopes: [read]\n  basic_auth_users:\n    admin: $2y$10$xyz\nscrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    password_file: /x\n";
        let y = redact_config(text);
        assert!(!y.contains("abcdefabcdefabcdef"), "{y}");
        assert!(!y.contains("$2y$"), "{y}");
        assert!(!y.contains("password: p"), "{y}");
        assert!(
            y.contains("username: u") && y.contains("/x") && y.contains("<secret>"),
            "{y}"
        );
        assert_eq!(redact_config(""), "");
    }

    #[test]
    fn results_render_in_prometheus_shapes() {
        use promql::{Point, QueryStats, Sample, Series};
        let l = model::Labels::from_pairs([("__name__", "up"), ("job", "a<b")]);
        let res = |value| QueryResult {
            value,
            warnings: vec![],
            stats: QueryStats::default(),
        };
        assert_eq!(
            render_query_result(&res(ResultValue::Scalar { t: 1500, v: 1e-7 }), false),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.0000001"]}}"#
        );
        assert_eq!(
            render_query_result(&res(ResultValue::String { t: 0, v: "x".into() }), false),
            r#"{"status":"success","data":{"resultType":"string","result":[0,"x"]}}"#
        );
        let v = ResultValue::Vector(vec![Sample {
            labels: l.clone(),
            t: 1000,
            v: f64::INFINITY,
        }]);
        assert_eq!(
            render_query_result(&res(v), false),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\u003cb"},"value":[1,"+Inf"]}]}}"#
        );
        let m = ResultValue::Matrix(vec![Series {
            labels: l,
            points: vec![Point { t: 1, v: 1.0 }, Point { t: 2, v: f64::NAN }],
        }]);
        let mut r = res(m);
        r.warnings.push("careful".into());
        r.stats.peak_samples = 3;
        r.stats.inner_eval_time_s = 9.71e-7;
        let out = render_query_result(&r, true);
        assert_eq!(
            out,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\u003cb"},"values":[[0.001,"1"],[0.002,"NaN"]]}],"stats":{"timings":{"evalTotalTime":9.71e-07,"resultSortTime":0,"queryPreparationTime":0,"innerEvalTime":9.71e-07,"execQueueTime":0,"execTotalTime":0},"samples":{"totalQueryableSamples":0,"peakSamples":3}}},"warnings":["careful"]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["data"]["result"][0]["values"][1][1], "NaN");
    }
}
