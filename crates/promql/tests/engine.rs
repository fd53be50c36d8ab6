//! Engine tests: a runner for PromQL test scripts in Prometheus' promqltest
//! format (`tests/testdata/*.test`, expected values checked against a real
//! Prometheus 2.42), plus unit tests of selectors, `offset`/`@`, matching
//! errors and limits.
//!
//! Script format (as Prometheus 2.42's `promql/test.go`):
//! ```text
//! load 5m
//!     metric{a="b"} 0+10x10 _ stale 3x2
//! eval instant at 50m expr        # expected series follow, one per line
//!     {a="b"} 100
//! eval_ordered instant at 50m ... # result order checked too
//! eval_fail instant at 50m ...    # must fail
//! eval range from 0 to 10m step 5m expr   # (extension) values per step, `_` = none
//!     {a="b"} 1 _ 3
//! clear
//! ```
//! Every `eval instant` is also run as a range query around the evaluation
//! time (as 2.42's test framework does), and the middle step must agree.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use model::{Labels, STALE_NAN};
use promql::{Engine, EngineOptions, QueryError, QueryOptions, Queryable, ResultValue};

// ---------------------------------------------------------------------------
// Script parsing.

fn parse_duration_ms(s: &str) -> i64 {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return n * 1000;
    }
    model::parse_duration(s)
        .unwrap_or_else(|e| panic!("bad duration {s:?}: {e}"))
        .as_millis() as i64
}

fn parse_number(s: &str) -> f64 {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => f64::INFINITY,
        "-Inf" | "-inf" => f64::NEG_INFINITY,
        "NaN" | "nan" => f64::NAN,
        "stale" => STALE_NAN,
        _ => {
            if let Some(hex) = s.strip_prefix("0x") {
                return i64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad number {s:?}")) as f64;
            }
            s.parse::<f64>().unwrap_or_else(|_| panic!("bad number {s:?}"))
        }
    }
}

/// Expands one value token of a series description (`_`, `_x3`, `stale`,
/// `1`, `1x3`, `1+2x3`, `-1-2x3`); `None` is a missing value.
fn expand_token(tok: &str, out: &mut Vec<Option<f64>>) {
    if tok == "_" {
        out.push(None);
        return;
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().expect("blank count");
        out.extend(std::iter::repeat_n(None, n));
        return;
    }
    let (base, times) = match tok.rfind('x') {
        Some(i) if tok[i + 1..].chars().all(|c| c.is_ascii_digit()) && i + 1 < tok.len() => {
            (&tok[..i], Some(tok[i + 1..].parse::<usize>().expect("times")))
        }
        _ => (tok, None),
    };
    let Some(times) = times else {
        out.push(Some(parse_number(base)));
        return;
    };
    // Split `start(+|-)increment`: the last sign not at the start and not
    // part of an exponent.
    let bytes = base.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    match split {
        None => {
            let v = parse_number(base);
            out.extend(std::iter::repeat_n(Some(v), times + 1));
        }
        Some(i) => {
            let mut v = parse_number(&base[..i]);
            let inc = parse_number(&base[i..]);
            out.push(Some(v));
            for _ in 0..times {
                v += inc;
                out.push(Some(v));
            }
        }
    }
}

fn expand_values(s: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        expand_token(tok, &mut out);
    }
    out
}

/// Parses `name{a="b", c='d'}` at the start of `s`; returns the labels and
/// the rest of the line.
fn parse_metric(s: &str) -> (Labels, &str) {
    let s = s.trim_start();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut pairs: Vec<(String, String)> = Vec::new();
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
        i += 1;
    }
    if i > 0 {
        pairs.push(("__name__".into(), s[..i].to_string()));
    }
    if i < bytes.len() && bytes[i] == b'{' {
        i += 1;
        loop {
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b',' || bytes[i] == b'\t') {
                i += 1;
            }
            if bytes[i] == b'}' {
                i += 1;
                break;
            }
            let start = i;
            while bytes[i] != b'=' && bytes[i] != b' ' {
                i += 1;
            }
            let name = s[start..i].trim().to_string();
            while bytes[i] == b' ' || bytes[i] == b'=' {
                i += 1;
            }
            let quote = bytes[i];
            i += 1;
            let mut value = String::new();
            loop {
                let c = s[i..].chars().next().expect("unterminated label value");
                i += c.len_utf8();
                if c as u32 == quote as u32 {
                    break;
                }
                if c == '\\' {
                    let e = s[i..].chars().next().expect("escape");
                    i += e.len_utf8();
                    value.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    value.push(c);
                }
            }
            pairs.push((name, value));
        }
    }
    (Labels::from_pairs(pairs), &s[i..])
}

#[derive(Debug)]
enum Expected {
    Sample(Labels, f64),
    Scalar(f64),
    /// Range evaluation: values per step (`None`: no point).
    Series(Labels, Vec<Option<f64>>),
}

#[derive(Debug)]
enum Cmd {
    Load {
        interval: i64,
        series: Vec<(Labels, Vec<Option<f64>>)>,
    },
    Clear,
    Eval {
        line: usize,
        expr: String,
        at: i64,
        range: Option<(i64, i64, i64)>,
        fail: bool,
        ordered: bool,
        expected: Vec<Expected>,
    },
}

fn parse_script(text: &str) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let is_body = |l: &str| l.starts_with(' ') || l.starts_with('\t');
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut body = Vec::new();
        while i < lines.len() && is_body(lines[i]) && !lines[i].trim().is_empty() {
            if !lines[i].trim().starts_with('#') {
                body.push(lines[i].trim());
            }
            i += 1;
        }
        if let Some(rest) = trimmed.strip_prefix("load ") {
            let interval = parse_duration_ms(rest);
            let series = body
                .iter()
                .map(|l| {
                    let (labels, rest) = parse_metric(l);
                    (labels, expand_values(rest))
                })
                .collect();
            cmds.push(Cmd::Load { interval, series });
        } else if trimmed == "clear" {
            cmds.push(Cmd::Clear);
        } else if trimmed.starts_with("eval") {
            let (kind, rest) = trimmed.split_once(' ').expect("eval line");
            let fail = kind == "eval_fail";
            let ordered = kind == "eval_ordered";
            let (at, range, expr) = if let Some(rest) = rest.strip_prefix("instant at ") {
                let (t, expr) = rest.split_once(' ').expect("eval instant at <t> <expr>");
                (parse_duration_ms(t), None, expr.to_string())
            } else if let Some(rest) = rest.strip_prefix("range from ") {
                let (start, rest) = rest.split_once(" to ").expect("range from .. to");
                let (end, rest) = rest.split_once(" step ").expect("step");
                let (step, expr) = rest.split_once(' ').expect("range expr");
                let r = (
                    parse_duration_ms(start),
                    parse_duration_ms(end),
                    parse_duration_ms(step),
                );
                (r.0, Some(r), expr.to_string())
            } else {
                panic!("line {i}: cannot parse {trimmed:?}");
            };
            let expected = body
                .iter()
                .map(|l| {
                    let first = l.split_whitespace().next().unwrap_or("");
                    let numeric = first
                        .trim_start_matches(['-', '+'])
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '.')
                        || ["Inf", "+Inf", "-Inf", "NaN"].contains(&first);
                    if numeric && range.is_none() {
                        Expected::Scalar(parse_number(first))
                    } else {
                        let (labels, rest) = parse_metric(l);
                        if range.is_some() {
                            Expected::Series(labels, expand_values(rest))
                        } else {
                            Expected::Sample(labels, parse_number(rest.trim()))
                        }
                    }
                })
                .collect();
            cmds.push(Cmd::Eval {
                line: i - body.len(),
                expr,
                at,
                range,
                fail,
                ordered,
                expected,
            });
        } else {
            panic!("line {i}: unknown command {trimmed:?}");
        }
    }
    cmds
}

// ---------------------------------------------------------------------------
// Storage.

struct TestDb {
    _dir: tempfile::TempDir,
    db: tsdb::Db,
}

type Data = BTreeMap<Labels, BTreeMap<i64, f64>>;

fn db_options() -> tsdb::Options {
    let mut opts = tsdb::Options::default();
    opts.head.out_of_bounds_window_ms = i64::MAX / 4;
    opts.retention_ms = 0;
    opts
}

/// A fresh store holding `data`, appended in time order across series.
fn build_db(data: &Data) -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = tsdb::Db::open(dir.path(), db_options()).expect("open db");
    let mut all: Vec<(i64, &Labels, f64)> = data
        .iter()
        .flat_map(|(l, s)| s.iter().map(move |(t, v)| (*t, l, *v)))
        .collect();
    all.sort_by_key(|x| x.0);
    let mut app = db.appender();
    for (t, l, v) in all {
        app.append(l, t, v).unwrap_or_else(|e| panic!("append {l} @{t}: {e}"));
    }
    app.commit().expect("commit");
    TestDb { _dir: dir, db }
}

// ---------------------------------------------------------------------------
// Comparison.

/// Prometheus' test `almostEqual` (relative 1e-6, NaN equals NaN). The
/// expected values of the scripts are Prometheus 2.42's, printed exactly;
/// with `PROMQL_TEST_EXACT=1` they must match to the bit (sums over series
/// can differ in the last bit because 2.42 adds series in the order the head
/// created them, and this store returns them sorted by labels).
fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    if std::env::var_os("PROMQL_TEST_EXACT").is_some() {
        return false;
    }
    let min_normal = f64::MIN_POSITIVE;
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < min_normal {
        return diff < 1e-6 * min_normal;
    }
    diff / (a.abs() + b.abs()) < 1e-6
}

fn fmt_samples(s: &[(Labels, f64)]) -> String {
    s.iter().map(|(l, v)| format!("\n    {l} {v}")).collect()
}

fn compare_instant(got: &[(Labels, f64)], expected: &[Expected], ordered: bool) -> Result<(), String> {
    let want: Vec<(Labels, f64)> = expected
        .iter()
        .map(|e| match e {
            Expected::Sample(l, v) => (l.clone(), *v),
            Expected::Scalar(v) => (Labels::empty(), *v),
            Expected::Series(..) => unreachable!(),
        })
        .collect();
    let err = || format!("expected:{}\n  got:{}", fmt_samples(&want), fmt_samples(got));
    if got.len() != want.len() {
        return Err(err());
    }
    if ordered {
        for (g, w) in got.iter().zip(&want) {
            if g.0 != w.0 || !almost_equal(g.1, w.1) {
                return Err(err());
            }
        }
        return Ok(());
    }
    for (l, v) in &want {
        match got.iter().find(|g| &g.0 == l) {
            Some(g) if almost_equal(g.1, *v) => {}
            _ => return Err(err()),
        }
    }
    Ok(())
}

fn instant_samples(v: &ResultValue) -> Result<Vec<(Labels, f64)>, String> {
    match v {
        ResultValue::Vector(s) => Ok(s.iter().map(|s| (s.labels.clone(), s.v)).collect()),
        ResultValue::Scalar { v, .. } => Ok(vec![(Labels::empty(), *v)]),
        other => Err(format!("unexpected result {other:?}")),
    }
}

// ---------------------------------------------------------------------------
// Running.

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn testdata(name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata").join(name)
}

fn run_script(name: &str) {
    let text = std::fs::read_to_string(testdata(name)).expect("read script");
    let cmds = parse_script(&text);
    let eng = engine();
    let mut data: Data = BTreeMap::new();
    let mut store: Option<(TestDb, Arc<dyn Queryable>)> = None;
    let mut failures = Vec::new();
    let mut evals = 0;
    for cmd in cmds {
        match cmd {
            Cmd::Clear => {
                data.clear();
                store = None;
            }
            Cmd::Load { interval, series } => {
                for (labels, values) in series {
                    // A later definition of the same series replaces the earlier one.
                    let m = data.entry(labels).or_default();
                    m.clear();
                    for (i, v) in values.into_iter().enumerate() {
                        if let Some(v) = v {
                            m.insert(i as i64 * interval, v);
                        }
                    }
                }
                store = None;
            }
            Cmd::Eval {
                line,
                expr,
                at,
                range,
                fail,
                ordered,
                expected,
            } => {
                evals += 1;
                if store.is_none() {
                    let t = build_db(&data);
                    let q: Arc<dyn Queryable> = Arc::new(t.db.clone());
                    store = Some((t, q));
                }
                let q = store.as_ref().map(|s| s.1.clone()).expect("store");
                let ctx = format!("{name}:{line}: {expr}");
                if let Some((start, end, step)) = range {
                    let res = block_on(eng.range(q, &expr, start, end, step, QueryOptions::default()));
                    match (res, fail) {
                        (Err(_), true) => {}
                        (Ok(_), true) => failures.push(format!("{ctx}\n  expected an error")),
                        (Err(e), false) => failures.push(format!("{ctx}\n  error: {e}")),
                        (Ok(r), false) => {
                            if let Err(e) = compare_range(&r.value, &expected, start, step) {
                                failures.push(format!("{ctx}\n  {e}"));
                            }
                        }
                    }
                    continue;
                }
                let res = block_on(eng.instant(q.clone(), &expr, at, QueryOptions::default()));
                let got = match (res, fail) {
                    (Err(_), true) => continue,
                    (Ok(r), true) => {
                        failures.push(format!("{ctx}\n  expected an error, got {:?}", r.value));
                        continue;
                    }
                    (Err(e), false) => {
                        failures.push(format!("{ctx}\n  error: {e}"));
                        continue;
                    }
                    (Ok(r), false) => r,
                };
                let samples = match instant_samples(&got.value) {
                    Ok(s) => s,
                    Err(e) => {
                        failures.push(format!("{ctx}\n  {e}"));
                        continue;
                    }
                };
                if let Err(e) = compare_instant(&samples, &expected, ordered) {
                    failures.push(format!("{ctx}\n  {e}"));
                    continue;
                }
                if ordered {
                    continue;
                }
                // The same query as a range query around `at` must agree at `at`.
                let rr = block_on(eng.range(q, &expr, at - 60_000, at + 60_000, 60_000, QueryOptions::default()));
                match rr {
                    Err(QueryError::BadData(m)) if m.contains("invalid expression type") => {}
                    // Neighbouring steps may legitimately fail (e.g. matching errors).
                    Err(QueryError::Execution(_)) => {}
                    Err(e) => failures.push(format!("{ctx}\n  range mode error: {e}")),
                    Ok(r) => {
                        let ResultValue::Matrix(m) = &r.value else {
                            failures.push(format!("{ctx}\n  range mode: not a matrix"));
                            continue;
                        };
                        let at_t: Vec<(Labels, f64)> = m
                            .iter()
                            .filter_map(|s| s.points.iter().find(|p| p.t == at).map(|p| (s.labels.clone(), p.v)))
                            .collect();
                        if let Err(e) = compare_instant(&at_t, &expected, false) {
                            failures.push(format!("{ctx}\n  range mode: {e}"));
                        }
                    }
                }
            }
        }
    }
    assert!(evals > 0, "{name}: no evaluations");
    if !failures.is_empty() {
        panic!(
            "{} of {evals} evaluations failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

fn compare_range(v: &ResultValue, expected: &[Expected], start: i64, step: i64) -> Result<(), String> {
    let ResultValue::Matrix(m) = v else {
        return Err(format!("not a matrix: {v:?}"));
    };
    let got: Vec<String> = m
        .iter()
        .map(|s| {
            let pts: Vec<String> = s.points.iter().map(|p| format!("{}@{}", p.v, p.t)).collect();
            format!("{} {}", s.labels, pts.join(" "))
        })
        .collect();
    let err = |why: &str| format!("{why}\n  got:\n    {}", got.join("\n    "));
    if m.len() != expected.len() {
        return Err(err("wrong number of series"));
    }
    for e in expected {
        let Expected::Series(labels, values) = e else {
            return Err(err("range evaluations expect series"));
        };
        let Some(s) = m.iter().find(|s| &s.labels == labels) else {
            return Err(err(&format!("missing {labels}")));
        };
        let want: Vec<(i64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (start + i as i64 * step, v)))
            .collect();
        if want.len() != s.points.len()
            || want
                .iter()
                .zip(&s.points)
                .any(|(w, p)| w.0 != p.t || !almost_equal(w.1, p.v))
        {
            return Err(err(&format!("wrong points for {labels}")));
        }
    }
    Ok(())
}

#[test]
fn script_operators() {
    run_script("operators.test");
}

#[test]
fn script_aggregators() {
    run_script("aggregators.test");
}

#[test]
fn script_selectors() {
    run_script("selectors.test");
}

#[test]
fn script_staleness() {
    run_script("staleness.test");
}

#[test]
fn script_subquery() {
    run_script("subquery.test");
}

#[test]
fn script_at_modifier() {
    run_script("at_modifier.test");
}

#[test]
fn script_range_queries() {
    run_script("range.test");
}

/// Runs the script named by `PROMQL_SCRIPT` (an absolute path), if set.
#[test]
fn script_from_env() {
    if let Some(path) = std::env::var_os("PROMQL_SCRIPT") {
        run_script(&path.to_string_lossy());
    }
}

// ---------------------------------------------------------------------------
// Unit tests.

fn store(series: &[(&str, &[(i64, f64)])]) -> (TestDb, Arc<dyn Queryable>) {
    let mut data: Data = BTreeMap::new();
    for (desc, samples) in series {
        let (labels, _) = parse_metric(desc);
        data.entry(labels).or_default().extend(samples.iter().copied());
    }
    let t = build_db(&data);
    let q: Arc<dyn Queryable> = Arc::new(t.db.clone());
    (t, q)
}

fn instant(q: &Arc<dyn Queryable>, expr: &str, at: i64) -> Result<Vec<(Labels, f64)>, QueryError> {
    instant_with(&engine(), q, expr, at, QueryOptions::default())
}

fn instant_with(
    eng: &Engine,
    q: &Arc<dyn Queryable>,
    expr: &str,
    at: i64,
    opts: QueryOptions,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let r = block_on(eng.instant(q.clone(), expr, at, opts))?;
    Ok(instant_samples(&r.value).expect("vector or scalar"))
}

fn values(r: &[(Labels, f64)]) -> Vec<f64> {
    r.iter().map(|x| x.1).collect()
}

#[test]
fn lookback_window_is_closed_at_both_ends() {
    let (_t, q) = store(&[("m", &[(0, 1.0), (60_000, 2.0)])]);
    // Exactly at the sample and exactly lookback (5m) after it: visible.
    assert_eq!(values(&instant(&q, "m", 60_000).unwrap()), [2.0]);
    assert_eq!(values(&instant(&q, "m", 360_000).unwrap()), [2.0]);
    // One millisecond later: gone.
    assert!(instant(&q, "m", 360_001).unwrap().is_empty());
    // Before the first sample: nothing.
    assert!(instant(&q, "m", -1).unwrap().is_empty());
}

#[test]
fn per_query_lookback_override() {
    let (_t, q) = store(&[("m", &[(0, 1.0)])]);
    let opts = QueryOptions {
        lookback_delta_ms: Some(30_000),
        ..Default::default()
    };
    assert!(instant_with(&engine(), &q, "m", 31_000, opts.clone())
        .unwrap()
        .is_empty());
    assert_eq!(values(&instant_with(&engine(), &q, "m", 30_000, opts).unwrap()), [1.0]);
    let eng = Engine::new(EngineOptions {
        lookback_delta_ms: 10_000,
        ..EngineOptions::default()
    });
    assert!(instant_with(&eng, &q, "m", 11_000, QueryOptions::default())
        .unwrap()
        .is_empty());
}

#[test]
fn staleness_marker_ends_the_series() {
    let (_t, q) = store(&[("m", &[(0, 1.0), (30_000, 2.0), (60_000, STALE_NAN), (120_000, 3.0)])]);
    assert_eq!(values(&instant(&q, "m", 59_999).unwrap()), [2.0]);
    assert!(instant(&q, "m", 60_000).unwrap().is_empty());
    assert!(instant(&q, "m", 119_999).unwrap().is_empty());
    assert_eq!(values(&instant(&q, "m", 120_000).unwrap()), [3.0]);
    // Markers are not samples of a range vector.
    assert_eq!(values(&instant(&q, "count_over_time(m[10m])", 600_000).unwrap()), [3.0]);
}

#[test]
fn range_selector_window_includes_both_ends() {
    let (_t, q) = store(&[("m", &[(0, 1.0), (60_000, 2.0), (120_000, 3.0)])]);
    let r = block_on(engine().instant(q.clone(), "m[1m]", 120_000, QueryOptions::default())).unwrap();
    let ResultValue::Matrix(m) = r.value else {
        panic!("{:?}", r.value)
    };
    assert_eq!(m[0].points.iter().map(|p| p.t).collect::<Vec<_>>(), [60_000, 120_000]);
    assert_eq!(values(&instant(&q, "count_over_time(m[2m])", 120_000).unwrap()), [3.0]);
}

#[test]
fn offset_and_at_modifiers() {
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 10_000, i as f64)).collect();
    let (_t, q) = store(&[("m", &samples)]);
    assert_eq!(values(&instant(&q, "m offset 100s", 500_000).unwrap()), [40.0]);
    assert_eq!(values(&instant(&q, "m offset -100s", 500_000).unwrap()), [60.0]);
    assert_eq!(values(&instant(&q, "m @ 200", 900_000).unwrap()), [20.0]);
    assert_eq!(values(&instant(&q, "m @ 200 offset 50s", 900_000).unwrap()), [15.0]);
    assert_eq!(values(&instant(&q, "timestamp(m @ 200)", 900_000).unwrap()), [200.0]);
    assert_eq!(values(&instant(&q, "timestamp(m)", 905_000).unwrap()), [900.0]);
    assert_eq!(values(&instant(&q, "timestamp(-m)", 905_000).unwrap()), [905.0]);
    // @ start() / end() in a range query: every step sees the same sample.
    let r = block_on(engine().range(
        q.clone(),
        "m @ end()",
        100_000,
        300_000,
        100_000,
        QueryOptions::default(),
    ))
    .unwrap();
    let ResultValue::Matrix(m) = r.value else { panic!() };
    assert_eq!(m[0].points.iter().map(|p| p.v).collect::<Vec<_>>(), [30.0, 30.0, 30.0]);
    let r = block_on(engine().range(
        q.clone(),
        "m @ start()",
        100_000,
        300_000,
        100_000,
        QueryOptions::default(),
    ))
    .unwrap();
    let ResultValue::Matrix(m) = r.value else { panic!() };
    assert_eq!(m[0].points.iter().map(|p| p.v).collect::<Vec<_>>(), [10.0, 10.0, 10.0]);
}

#[test]
fn matching_errors() {
    let (_t, q) = store(&[
        ("a{x=\"1\",y=\"1\"}", &[(0, 1.0)]),
        ("a{x=\"1\",y=\"2\"}", &[(0, 2.0)]),
        ("b{x=\"1\"}", &[(0, 3.0)]),
        ("b{x=\"1\",z=\"1\"}", &[(0, 4.0)]),
        ("c{x=\"1\"}", &[(0, 5.0)]),
    ]);
    let e = instant(&q, "a + on(x) b", 0).unwrap_err();
    assert!(matches!(e, QueryError::Execution(_)));
    assert!(
        e.to_string()
            .contains("found duplicate series for the match group {x=\"1\"} on the right hand-side")
            && e.to_string()
                .ends_with("many-to-many matching not allowed: matching labels must be unique on one side"),
        "{e}"
    );
    let e = instant(&q, "b + on(x) group_right a", 0).unwrap_err();
    assert!(e.to_string().contains("on the left hand-side"), "{e}");
    let e = instant(&q, "a + on(x) c", 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    let (_t2, q2) = store(&[("a{x=\"1\"}", &[(0, 1.0)]), ("b{x=\"1\"}", &[(0, 2.0)])]);
    let e = instant(&q2, "-{__name__=~\"a|b\"}", 0).unwrap_err();
    assert_eq!(e.to_string(), "vector cannot contain metrics with the same labelset");
    let e = instant(&q2, "{__name__=~\"a|b\"} * 2", 0).unwrap_err();
    assert_eq!(e.to_string(), "vector cannot contain metrics with the same labelset");
    // Comparisons without `bool` keep the name, so no clash.
    assert_eq!(instant(&q2, "{__name__=~\"a|b\"} > 0", 0).unwrap().len(), 2);
}

#[test]
fn arithmetic_edge_cases() {
    let (_t, q) = store(&[("m", &[(0, 0.0)]), ("n", &[(0, -1.0)])]);
    assert_eq!(values(&instant(&q, "1 / m", 0).unwrap()), [f64::INFINITY]);
    assert_eq!(values(&instant(&q, "n / m", 0).unwrap()), [f64::NEG_INFINITY]);
    assert!(values(&instant(&q, "m / m", 0).unwrap())[0].is_nan());
    assert!(values(&instant(&q, "m % m", 0).unwrap())[0].is_nan());
    assert_eq!(values(&instant(&q, "2 ^ 10", 0).unwrap()), [1024.0]);
    assert_eq!(values(&instant(&q, "-7 % 3", 0).unwrap()), [-1.0]);
    assert_eq!(values(&instant(&q, "2 * 3 + 4 ^ 2 / 8", 0).unwrap()), [8.0]);
    let r = values(&instant(&q, "1 atan2 1", 0).unwrap());
    assert_eq!(r, [std::f64::consts::FRAC_PI_4]);
}

#[test]
fn results_are_shaped_like_prometheus() {
    let (_t, q) = store(&[("m{a=\"2\"}", &[(0, 1.0), (60_000, 2.0)]), ("m{a=\"1\"}", &[(0, 3.0)])]);
    let eng = engine();
    let r = block_on(eng.instant(q.clone(), "1 + 2", 60_000, QueryOptions::default())).unwrap();
    assert_eq!(r.value, ResultValue::Scalar { t: 60_000, v: 3.0 });
    let r = block_on(eng.instant(q.clone(), "\"hello\"", 60_000, QueryOptions::default())).unwrap();
    assert_eq!(
        r.value,
        ResultValue::String {
            t: 60_000,
            v: "hello".into()
        }
    );
    let r = block_on(eng.range(q.clone(), "m", 0, 120_000, 60_000, QueryOptions::default())).unwrap();
    let ResultValue::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m.len(), 2);
    assert!(m[0].labels < m[1].labels, "sorted by labels");
    let r = block_on(eng.range(q.clone(), "time()", 0, 120_000, 60_000, QueryOptions::default())).unwrap();
    let ResultValue::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(m[0].points.iter().map(|p| p.v).collect::<Vec<_>>(), [0.0, 60.0, 120.0]);
    let r = block_on(eng.instant(q.clone(), "m[5m:1m]", 120_000, QueryOptions::default())).unwrap();
    let ResultValue::Matrix(m) = &r.value else { panic!() };
    assert_eq!(m.len(), 2);
    assert!(r.stats.total_queryable_samples > 0);
}

#[test]
fn range_query_checks() {
    let (_t, q) = store(&[("m", &[(0, 1.0)])]);
    let eng = engine();
    let e = block_on(eng.range(q.clone(), "m", 0, 11_001, 1, QueryOptions::default())).unwrap_err();
    assert_eq!(
        e,
        QueryError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                .into()
        )
    );
    assert!(block_on(eng.range(q.clone(), "m", 0, 11_000, 1, QueryOptions::default())).is_ok());
    let e = block_on(eng.range(q.clone(), "m", 10, 0, 1, QueryOptions::default())).unwrap_err();
    assert!(matches!(e, QueryError::BadData(_)));
    let e = block_on(eng.range(q.clone(), "m", 0, 10, 0, QueryOptions::default())).unwrap_err();
    assert!(matches!(e, QueryError::BadData(_)));
    let e = block_on(eng.range(q.clone(), "m[5m]", 0, 10, 1, QueryOptions::default())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
    let e = block_on(eng.instant(q.clone(), "sum(m", 0, QueryOptions::default())).unwrap_err();
    assert!(
        matches!(e, QueryError::Parse(ref m) if m.contains("parse error")),
        "{e:?}"
    );
}

#[test]
fn too_many_samples() {
    let samples: Vec<(i64, f64)> = (0..1000).map(|i| (i * 1000, i as f64)).collect();
    let (_t, q) = store(&[("m{a=\"1\"}", &samples), ("m{a=\"2\"}", &samples)]);
    // Loaded samples count while they are held: 2 series x 1000 samples
    // for the range query, 2 x 601 for the 10m windows, 2 x 301 for the
    // lookback of the instant selector.
    let eng = Engine::new(EngineOptions {
        max_samples: 1000,
        ..EngineOptions::default()
    });
    let e = block_on(eng.range(q.clone(), "m", 0, 999_000, 1000, QueryOptions::default())).unwrap_err();
    assert_eq!(e, QueryError::TooManySamples);
    let e = block_on(eng.instant(q.clone(), "sum_over_time(m[10m])", 999_000, QueryOptions::default())).unwrap_err();
    assert_eq!(e, QueryError::TooManySamples);
    assert!(block_on(eng.instant(q.clone(), "m", 999_000, QueryOptions::default())).is_ok());
}

#[test]
fn timeout_stops_a_big_query() {
    let samples: Vec<(i64, f64)> = (0..20_000).map(|i| (i * 1000, i as f64)).collect();
    let owned: Vec<String> = (0..50).map(|i| format!("m{{i=\"{i}\"}}")).collect();
    let series: Vec<(&str, &[(i64, f64)])> = owned.iter().map(|s| (s.as_str(), &samples[..])).collect();
    let (_t, q) = store(&series);
    let eng = Engine::new(EngineOptions {
        timeout: Duration::from_millis(1),
        ..EngineOptions::default()
    });
    let e = block_on(eng.range(
        q.clone(),
        "sum(rate(m[1h])) + count_over_time(m[30m:1s])",
        0,
        19_999_000,
        2000,
        QueryOptions::default(),
    ))
    .unwrap_err();
    assert!(matches!(e, QueryError::Timeout(_)), "{e:?}");
}

/// The request's own `timeout` bounds evaluation too, also when the query
/// runs on the request's worker thread (the multi-threaded runtime).
#[test]
fn the_request_timeout_stops_a_big_query_on_the_worker_thread() {
    let samples: Vec<(i64, f64)> = (0..20_000).map(|i| (i * 1000, i as f64)).collect();
    let owned: Vec<String> = (0..50).map(|i| format!("m{{i=\"{i}\"}}")).collect();
    let series: Vec<(&str, &[(i64, f64)])> = owned.iter().map(|s| (s.as_str(), &samples[..])).collect();
    let (_t, q) = store(&series);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let eng = engine();
    let expr = "sum(rate(m[1h])) + count_over_time(m[30m:1s])";
    let opts = QueryOptions {
        timeout: Some(Duration::from_millis(1)),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let e = rt
        .block_on(eng.range(q.clone(), expr, 0, 19_999_000, 2000, opts))
        .unwrap_err();
    assert_eq!(e, QueryError::Timeout("expression evaluation".into()));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped early, not after finishing"
    );
    let ok = rt.block_on(eng.instant(q, "count(m)", 19_999_000, QueryOptions::default()));
    assert!(ok.is_ok(), "the same engine answers without the short timeout: {ok:?}");
}

/// A store whose queriers take a while to open, to hold a query slot.
struct Slow(Arc<dyn Queryable>);

impl Queryable for Slow {
    fn querier(&self, mint: i64, maxt: i64) -> Box<dyn tsdb::Querier + Send + Sync> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.querier(mint, maxt)
    }
}

#[test]
fn queries_queue_for_a_slot() {
    let (_t, q) = store(&[("m", &[(0, 1.0)])]);
    let slow: Arc<dyn Queryable> = Arc::new(Slow(q));
    let eng = Arc::new(Engine::new(EngineOptions {
        max_concurrent: 1,
        timeout: Duration::from_millis(150),
        ..EngineOptions::default()
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = {
            let (eng, slow) = (eng.clone(), slow.clone());
            tokio::spawn(async move { eng.instant(slow, "m", 0, QueryOptions::default()).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = eng.instant(slow.clone(), "m", 0, QueryOptions::default()).await;
        assert_eq!(second.unwrap_err(), QueryError::Timeout("query queue".into()));
        let _ = first.await.unwrap();
    });
    // With room, queued queries run after one another and report queue time.
    let eng = Arc::new(Engine::new(EngineOptions {
        max_concurrent: 1,
        ..EngineOptions::default()
    }));
    rt.block_on(async {
        let a = {
            let (eng, slow) = (eng.clone(), slow.clone());
            tokio::spawn(async move { eng.instant(slow, "m", 0, QueryOptions::default()).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = eng
            .instant(slow.clone(), "m", 0, QueryOptions::default())
            .await
            .unwrap();
        assert!(b.stats.queue_time_s > 0.1, "{:?}", b.stats);
        a.await.unwrap().unwrap();
    });
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
}

/// Timings of typical dashboard queries over 200 series x 1 day at 15 s
/// (`cargo test --release -p promql --test engine perf_smoke -- --ignored --nocapture`).
#[test]
#[ignore]
fn perf_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = tsdb::Db::open(dir.path(), db_options()).unwrap();
    let day = 86_400_000i64;
    let series: Vec<Labels> = (0..200)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", "m".to_string()),
                ("i", i.to_string()),
                ("x", (i % 10).to_string()),
            ])
        })
        .collect();
    let mut t = 0;
    while t <= day {
        let mut app = db.appender();
        for (k, l) in series.iter().enumerate() {
            app.append(l, t, (t / 15_000 * (k as i64 + 1)) as f64).unwrap();
        }
        app.commit().unwrap();
        t += 15_000;
    }
    let q: Arc<dyn Queryable> = Arc::new(db.clone());
    let eng = engine();
    for expr in [
        "m",
        "sum(rate(m[5m]))",
        "sum by (x) (rate(m[5m]))",
        "topk(5, m)",
        "m / on(i) group_left sum by (i) (m)",
        "max_over_time(m[10m:1m])",
        "quantile(0.9, m)",
        "m > 1000",
    ] {
        let start = std::time::Instant::now();
        let r = block_on(eng.range(q.clone(), expr, 0, day, 60_000, QueryOptions::default())).unwrap();
        let n = match &r.value {
            ResultValue::Matrix(m) => m.len(),
            _ => 0,
        };
        println!(
            "{expr:40} {:>8.1} ms  {n} series",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}
