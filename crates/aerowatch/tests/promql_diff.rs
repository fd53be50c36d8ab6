//! The PromQL differential suite: a real Prometheus 2.42 and Aerowatch get
//! the same remote-write stream (`promql_diff/data.rs`), then answer the
//! same corpus of expressions (`promql_diff/corpus.rs` + `corpus.txt`) as
//! instant queries at several times and range queries at several steps;
//! the answers must agree (`promql_diff/compare.rs`) except for the
//! documented entries of `promql_diff/known_differences.txt`.
//!
//! ```sh
//! cargo test -p aerowatch --test promql_diff                      # CI slice (600 expressions)
//! PROMQL_DIFF_FULL=1 cargo test --release -p aerowatch --test promql_diff -- --nocapture   # >= 1,000
//! PROMQL_DIFF_FILTER=histogram cargo test -p aerowatch --test promql_diff -- --nocapture  # a subset
//! PROMQL_DIFF_SEED=7 PROMQL_DIFF_EXPRESSIONS=5000 cargo test …  # explore: another corpus seed, more expressions
//! ```
//! The report (every failure with both answers) is written to
//! `target/tmp/promql_diff_report.txt`.
mod common;
#[path = "common/promql.rs"]
mod prom;

#[path = "promql_diff/compare.rs"]
mod compare;
#[path = "promql_diff/corpus.rs"]
mod corpus;
#[path = "promql_diff/data.rs"]
mod data;
#[path = "promql_diff/rng.rs"]
mod rng;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Server;
use compare::Kind;
use data::{BASE_MS, END_MS};
use prom::{api_time, post_form, remote_write_to, Prometheus};

/// Seed of the dataset and of the generated corpus.
const SEED: u64 = 0x5eed_2042;
/// Expressions in the CI slice: the hand-written part, the sweep of every
/// function and operator, then generated ones (a few seconds in debug builds).
const CI_EXPRESSIONS: usize = 600;
/// Expressions in the full corpus.
const FULL_EXPRESSIONS: usize = 1_200;

const MIN: i64 = 60_000;

/// Instant query times: inside the data, on the new-year boundary, at the
/// edges, after the data within and beyond the lookback, before it.
fn instant_times() -> Vec<i64> {
    vec![
        BASE_MS + 5 * MIN,
        BASE_MS + 12 * MIN + 30_000,
        BASE_MS + 20 * MIN,
        BASE_MS + 33 * MIN + 20_500,
        BASE_MS + 45 * MIN,
        END_MS,
        END_MS + 4 * MIN,
        END_MS + 10 * MIN,
        BASE_MS - MIN,
    ]
}

/// Range queries: (start, end, step).
fn ranges() -> Vec<(i64, i64, i64)> {
    vec![
        (BASE_MS, END_MS, MIN),
        (BASE_MS + 5 * MIN, BASE_MS + 35 * MIN, 15_000),
        (BASE_MS + 10 * MIN + 3_000, END_MS + 6 * MIN, 7_000),
        (BASE_MS - 5 * MIN, END_MS + 5 * MIN, 5 * MIN),
        (BASE_MS + 18 * MIN, BASE_MS + 22 * MIN, 1_000),
    ]
}

#[derive(Clone)]
struct Query {
    kind: Kind,
    params: Vec<(&'static str, String)>,
}

impl Query {
    fn describe(&self) -> String {
        let p: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| *k != "query")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{} {}",
            if self.kind == Kind::Instant { "instant" } else { "range" },
            p.join(" ")
        )
    }

    fn path(&self) -> &'static str {
        match self.kind {
            Kind::Instant => "/api/v1/query",
            Kind::Range => "/api/v1/query_range",
        }
    }
}

/// The queries run for expression `i`: a few instant times and range
/// configurations, rotating so that the corpus covers all of them.
fn schedule(i: usize, expr: &str, full: bool) -> Vec<Query> {
    let times = instant_times();
    let rs = ranges();
    let (n_instant, n_range) = if full { (4, 2) } else { (2, 1) };
    let mut out = Vec::new();
    for k in 0..n_instant {
        let t = times[(i * 7 + k * 3) % times.len()];
        out.push(Query {
            kind: Kind::Instant,
            params: vec![("query", expr.to_string()), ("time", api_time(t))],
        });
    }
    for k in 0..n_range {
        let (s, e, step) = rs[(i * 3 + k * 2) % rs.len()];
        out.push(Query {
            kind: Kind::Range,
            params: vec![
                ("query", expr.to_string()),
                ("start", api_time(s)),
                ("end", api_time(e)),
                ("step", format!("{}", step as f64 / 1000.0)),
            ],
        });
    }
    out
}

/// One entry of `known_differences.txt`.
struct Known {
    format_only: bool,
    pattern: String,
    reason: String,
    used: AtomicUsize,
}

fn known_differences() -> Vec<Known> {
    include_str!("promql_diff/known_differences.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (pattern, reason) = l
                .split_once(" => ")
                .unwrap_or_else(|| panic!("known_differences.txt: `{l}` has no ` => reason`"));
            assert!(
                !reason.trim().is_empty(),
                "known_differences.txt: `{l}` gives no reason"
            );
            let (format_only, pattern) = match pattern.strip_prefix("format: ") {
                Some(p) => (true, p),
                None => (false, pattern),
            };
            Known {
                format_only,
                pattern: pattern.trim().to_string(),
                reason: reason.trim().to_string(),
                used: AtomicUsize::new(0),
            }
        })
        .collect()
}

/// `*`-glob match of the whole text.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn allowed<'a>(known: &'a [Known], expr: &str, format_only: bool) -> Option<&'a Known> {
    let k = known
        .iter()
        .find(|k| k.format_only == format_only && glob(&k.pattern, expr))?;
    k.used.fetch_add(1, Ordering::Relaxed);
    Some(k)
}

fn cut(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

struct Failure {
    expr: String,
    query: String,
    why: String,
    prometheus: String,
    aerowatch: String,
}

/// Loads the dataset into both servers.
fn load(prom: &Prometheus, aw: &Server) -> usize {
    let reqs = data::requests(SEED);
    let client = common::client();
    let mut samples = 0;
    for (i, r) in reqs.iter().enumerate() {
        samples += r.timeseries.len();
        for (who, url) in [
            ("prometheus", prom.url("/api/v1/write")),
            ("aerowatch", aw.url("/api/v1/write")),
        ] {
            let (status, body) = remote_write_to(&client, &url, r);
            assert!((200..300).contains(&status), "{who} refused round {i}: {status} {body}");
        }
    }
    let series = data::series_count(&reqs);
    assert!(series > 100, "dataset too small: {series} series");
    println!("promql diff: loaded {series} series, {samples} samples into both servers");
    samples
}

#[test]
fn promql_matches_prometheus() {
    let full = std::env::var("PROMQL_DIFF_FULL").is_ok_and(|v| !v.is_empty() && v != "0");
    let filter = std::env::var("PROMQL_DIFF_FILTER").ok().filter(|f| !f.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(&dir.path().join("prometheus"));
    let aw = Server::start(Some(""), &dir.path().join("aerowatch"));
    load(&prom, &aw);
    // The dataset puts samples exactly on range boundaries: Prometheus 2.42's
    // range selectors are closed on the left, so a 1m window at a grid time
    // holds 5 samples of api-0 (4 with a left-open window).
    let boundary = [
        ("query", "count_over_time(up{instance=\"api-0:8080\"}[1m])".to_string()),
        ("time", api_time(BASE_MS + 20 * MIN)),
    ];
    let (_, body) = post_form(&common::client(), &prom.url(""), "/api/v1/query", &boundary);
    assert!(
        body.contains(r#","5"]"#),
        "dataset no longer exercises range boundaries: {body}"
    );

    // Exploration beyond the fixed corpus: another seed, more expressions.
    let seed = std::env::var("PROMQL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let size = std::env::var("PROMQL_DIFF_EXPRESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { FULL_EXPRESSIONS } else { CI_EXPRESSIONS });
    let mut exprs = corpus::corpus(seed, size.max(FULL_EXPRESSIONS));
    exprs.truncate(size);
    let exprs: Vec<(usize, String)> = exprs
        .into_iter()
        .enumerate()
        .filter(|(_, e)| filter.as_ref().is_none_or(|f| e.contains(f.as_str())))
        .collect();
    let known = known_differences();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let queries_run = AtomicUsize::new(0);
    let tie_accepted = AtomicUsize::new(0);
    let unstable: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // What Prometheus answered: errors, empty results, results with data.
    let (answers_error, answers_empty) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failures: Mutex<BTreeMap<usize, Vec<Failure>>> = Mutex::new(BTreeMap::new());
    let (prom_base, aw_base) = (prom.url(""), aw.url(""));
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, expr)) = exprs.get(n) else { break };
                    for q in schedule(*i, expr, full) {
                        let want = post_form(&client, &prom_base, q.path(), &q.params);
                        let got = post_form(&client, &aw_base, q.path(), &q.params);
                        queries_run.fetch_add(1, Ordering::Relaxed);
                        if want.1.starts_with(r#"{"status":"error""#) {
                            answers_error.fetch_add(1, Ordering::Relaxed);
                        } else if want.1.ends_with(r#""result":[]}}"#) {
                            answers_empty.fetch_add(1, Ordering::Relaxed);
                        }
                        let Err(why) = compare::compare(expr, q.kind, &want, &got) else {
                            continue;
                        };
                        // Prometheus is not deterministic everywhere: which of several
                        // equal values topk/bottomk keep in a range query follows Go's
                        // map order. A repeated answer of Prometheus may match ours;
                        // with topk/bottomk, equal values per step are enough; when
                        // Prometheus keeps changing its own answer there is nothing
                        // stable to compare with.
                        let mut prometheus_varies = false;
                        let mut repeated = false;
                        for _ in 0..3 {
                            let again = post_form(&client, &prom_base, q.path(), &q.params);
                            if again != want {
                                prometheus_varies = true;
                                if compare::compare(expr, q.kind, &again, &got).is_ok() {
                                    repeated = true;
                                    break;
                                }
                            }
                        }
                        let ties = (expr.contains("topk") || expr.contains("bottomk"))
                            && compare::compare_ignoring_ties(&want, &got).is_ok();
                        if repeated || ties {
                            tie_accepted.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        if prometheus_varies {
                            unstable.lock().unwrap().push(format!("{expr}   ({})", q.describe()));
                            continue;
                        }
                        failures.lock().unwrap().entry(n).or_default().push(Failure {
                            expr: expr.to_string(),
                            query: q.describe(),
                            why,
                            prometheus: format!("{} {}", want.0, want.1),
                            aerowatch: format!("{} {}", got.0, got.1),
                        });
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let unstable = unstable.into_inner().unwrap();

    // format_query: the same pretty-printing as Prometheus.
    let client = common::client();
    let mut format_failures = Vec::new();
    for (_, expr) in &exprs {
        let form = [("query", expr.clone())];
        let want = post_form(&client, &prom_base, "/api/v1/format_query", &form);
        let got = post_form(&client, &aw_base, "/api/v1/format_query", &form);
        let data = |r: &(u16, String)| -> Option<String> {
            let v: serde_json::Value = serde_json::from_str(&r.1).ok()?;
            v["data"].as_str().map(String::from)
        };
        let same = match (data(&want), data(&got)) {
            (Some(a), Some(b)) => a == b,
            (None, None) => want.0 == got.0,
            _ => false,
        };
        if !same {
            format_failures.push((expr.clone(), want, got));
        }
    }

    // Report.
    let mut report = String::new();
    let mut unexpected = 0;
    let mut allowed_count = 0;
    for fs in failures.values() {
        let expr = &fs[0].expr;
        let allow = allowed(&known, expr, false);
        if allow.is_some() {
            allowed_count += 1;
        } else {
            unexpected += 1;
        }
        let _ = writeln!(
            report,
            "\n✗ {expr}{}",
            allow.map(|k| format!("   [known: {}]", k.reason)).unwrap_or_default()
        );
        for f in fs {
            let _ = writeln!(report, "    {}: {}", f.query, f.why);
            let _ = writeln!(report, "      prometheus: {}", cut(&f.prometheus, 700));
            let _ = writeln!(report, "      aerowatch:  {}", cut(&f.aerowatch, 700));
        }
    }
    let mut format_unexpected = 0;
    for (expr, want, got) in &format_failures {
        let allow = allowed(&known, expr, true);
        if allow.is_none() {
            format_unexpected += 1;
        }
        let _ = writeln!(
            report,
            "\n✗ format_query {expr}{}\n      prometheus: {} {}\n      aerowatch:  {} {}",
            allow.map(|k| format!("   [known: {}]", k.reason)).unwrap_or_default(),
            want.0,
            cut(&want.1, 400),
            got.0,
            cut(&got.1, 400)
        );
    }
    let total = exprs.len();
    let passed = total - failures.len();
    let summary = format!(
        "promql diff ({}): {passed}/{total} expressions identical ({:.1}%), {} queries in {:.1}s \
         ({} with data, {} empty, {} errors; {} matched only up to topk/bottomk ties or another of Prometheus's answers, {} where Prometheus's own answer changes from run to run); \
         {unexpected} failing, {allowed_count} known differences; format_query: {}/{total} identical, {format_unexpected} failing",
        if full { "full corpus" } else { "CI slice" },
        100.0 * passed as f64 / total.max(1) as f64,
        queries_run.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        queries_run.load(Ordering::Relaxed) - answers_empty.load(Ordering::Relaxed) - answers_error.load(Ordering::Relaxed),
        answers_empty.load(Ordering::Relaxed),
        answers_error.load(Ordering::Relaxed),
        tie_accepted.load(Ordering::Relaxed),
        unstable.len(),
        total - format_failures.len(),
    );
    let unused: Vec<&str> = known
        .iter()
        .filter(|k| k.used.load(Ordering::Relaxed) == 0)
        .map(|k| k.pattern.as_str())
        .collect();
    if !unstable.is_empty() {
        let _ = writeln!(report, "\nNot compared, Prometheus answers differently on every run:");
        for u in &unstable {
            let _ = writeln!(report, "  {u}");
        }
    }
    let report_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("promql_diff_report.txt");
    let _ = std::fs::write(&report_path, format!("{summary}\n{report}"));
    println!("{summary}");
    if !unused.is_empty() && filter.is_none() {
        println!("known differences that matched nothing in this run: {unused:?}");
    }
    println!("full report: {}", report_path.display());
    if unexpected > 0 || format_unexpected > 0 {
        panic!("{summary}\n{}", cut(&report, 30_000));
    }
}

/// Exact bodies for parameter errors and number formatting: these do not
/// depend on the engine, only on the API layer.
#[test]
fn query_api_answers_byte_for_byte_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(&dir.path().join("prometheus"));
    let aw = Server::start(Some(""), &dir.path().join("aerowatch"));
    let client = common::client();
    let t = api_time(BASE_MS);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("/api/v1/query", vec![("query", "1e-7".into()), ("time", t.clone())]),
        ("/api/v1/query", vec![("query", "-1e21".into()), ("time", t.clone())]),
        (
            "/api/v1/query",
            vec![("query", "vector(1e-7)".into()), ("time", t.clone())],
        ),
        (
            "/api/v1/query",
            vec![("query", "vector(1e21)".into()), ("time", t.clone())],
        ),
        (
            "/api/v1/query",
            vec![("query", "vector(0.1+0.2)".into()), ("time", "1435781451.781".into())],
        ),
        (
            "/api/v1/query",
            vec![("query", "vector(1/0)".into()), ("time", "-1.5".into())],
        ),
        (
            "/api/v1/query",
            vec![("query", "-vector(1/0)".into()), ("time", "0".into())],
        ),
        (
            "/api/v1/query",
            vec![("query", "vector(0/0)".into()), ("time", "1.0001".into())],
        ),
        (
            "/api/v1/query",
            vec![("query", "\"a<b>&\\u2028\\n\\u0001\"".into()), ("time", t.clone())],
        ),
        (
            "/api/v1/query",
            vec![
                ("query", "label_replace(vector(1), \"x\", \"<&>\", \"\", \"\")".into()),
                ("time", t.clone()),
            ],
        ),
        (
            "/api/v1/query",
            vec![("query", "1".into()), ("time", "2015-07-01T20:10:51.781Z".into())],
        ),
        ("/api/v1/query", vec![("query", "1".into()), ("time", "abc".into())]),
        ("/api/v1/query", vec![("query", "1".into()), ("timeout", "abc".into())]),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "0".into()),
                ("end", "2".into()),
                ("step", "1".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "vector(1e-9)".into()),
                ("start", "0".into()),
                ("end", "30".into()),
                ("step", "15s".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "1".into()),
                ("end", "0".into()),
                ("step", "1".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "1".into()),
                ("end", "2".into()),
                ("step", "0".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "1".into()),
                ("end", "2".into()),
                ("step", "-1m".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![("query", "1".into()), ("start", "1".into()), ("end", "2".into())],
        ),
        (
            "/api/v1/query_range",
            vec![("query", "1".into()), ("end", "2".into()), ("step", "1".into())],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "x".into()),
                ("end", "2".into()),
                ("step", "1".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "0".into()),
                ("end", "100000".into()),
                ("step", "1".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1".into()),
                ("start", "0".into()),
                ("end", "11000".into()),
                ("step", "1".into()),
            ],
        ),
        ("/api/v1/query_exemplars", vec![("query", "up".into())]),
        (
            "/api/v1/query_exemplars",
            vec![("query", "up".into()), ("start", "x".into())],
        ),
        (
            "/api/v1/query_exemplars",
            vec![("query", "up".into()), ("start", "2".into()), ("end", "1".into())],
        ),
        (
            "/api/v1/format_query",
            vec![("query", "sum(rate(x[5m]))by(job)".into())],
        ),
        ("/api/v1/format_query", vec![("query", "a+on(b)group_left c".into())]),
    ];
    let mut diffs = Vec::new();
    for (path, form) in &cases {
        let want = post_form(&client, &prom.url(""), path, form);
        let got = post_form(&client, &aw.url(""), path, form);
        if want != got {
            diffs.push(format!(
                "{path} {form:?}\n  prometheus: {want:?}\n  aerowatch:  {got:?}"
            ));
        }
    }
    assert!(diffs.is_empty(), "{} differences:\n{}", diffs.len(), diffs.join("\n"));
    // Query with time omitted: now.
    let r: serde_json::Value = client
        .get(aw.url("/api/v1/query?query=time()"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let now = r["data"]["result"][0].as_f64().unwrap_or_default();
    assert!((now - model::now_millis() as f64 / 1000.0).abs() < 60.0, "{r}");
}

/// Prometheus's own CLI queries Aerowatch.
#[test]
fn promtool_queries_aerowatch() {
    let promtool = prom::promtool_binary();
    let dir = tempfile::tempdir().unwrap();
    let aw = Server::start(Some(""), &dir.path().join("aerowatch"));
    let t0 = BASE_MS;
    let samples: Vec<(i64, f64)> = (0..5).map(|i| (t0 + i * 15_000, 1.0 + i as f64)).collect();
    let req = common::proto::WriteRequest {
        timeseries: vec![
            common::series(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")], &samples),
            common::series(&[("__name__", "up"), ("job", "web"), ("instance", "b:2")], &[(t0, 0.5)]),
        ],
    };
    let (status, body) = aw.remote_write(&req);
    assert!((200..300).contains(&status), "{status} {body}");
    let url = aw.url("");
    let run = |args: &[&str]| -> String {
        let out = Command::new(&promtool).args(args).output().expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let at = format!("--time={}", api_time(t0 + 60_000));
    let out = run(&["query", "instant", &at, &url, "up"]);
    assert_eq!(
        out,
        "up{instance=\"a:1\", job=\"api\"} => 5 @[1704066060]\nup{instance=\"b:2\", job=\"web\"} => 0.5 @[1704066060]\n"
    );
    let out = run(&["query", "instant", &at, &url, "sum(up)"]);
    assert_eq!(out, "{} => 5.5 @[1704066060]\n");
    let out = run(&["query", "instant", &at, &url, "scalar(sum(up))"]);
    assert_eq!(out, "scalar: 5.5 @[1704066060]\n");
    let out = run(&[
        "query",
        "range",
        &format!("--start={}", api_time(t0)),
        &format!("--end={}", api_time(t0 + 30_000)),
        "--step=15s",
        &url,
        "up{job=\"api\"}",
    ]);
    assert_eq!(
        out,
        "up{instance=\"a:1\", job=\"api\"} =>\n1 @[1704066000]\n2 @[1704066015]\n3 @[1704066030]\n"
    );
    // A bad query: promtool reports Prometheus's error and fails.
    let out = Command::new(&promtool)
        .args(["query", "instant", &url, "up{"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad_data"), "{err}");
}

#[test]
fn corpus_is_big_varied_and_stable() {
    let c = corpus::corpus(SEED, FULL_EXPRESSIONS);
    assert!(c.len() >= 1_000, "{}", c.len());
    assert_eq!(c, corpus::corpus(SEED, FULL_EXPRESSIONS), "not deterministic");
    // The CI slice alone covers every construct and function.
    let all = c[..CI_EXPRESSIONS].join("\n");
    for needle in [
        " by (",
        " without (",
        " on(",
        " ignoring(",
        "group_left",
        "group_right",
        " offset ",
        " @ ",
        ":1m]",
        " bool ",
        "=~",
        "!~",
        "!=",
        "histogram_quantile(",
        "label_replace(",
        "label_join(",
        "count_values(",
        "quantile(",
        "topk(",
        "bottomk(",
        "absent(",
        "holt_winters(",
        "predict_linear(",
        "quantile_over_time(",
        "sort_desc(",
        "scalar(",
        "vector(",
        "timestamp(",
        "days_in_month(",
        "atan2",
        " unless ",
        " and ",
        " or ",
    ] {
        assert!(all.contains(needle), "corpus lacks {needle:?}");
    }
    for f in [
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "resets",
        "changes",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "last_over_time",
        "present_over_time",
        "absent_over_time",
        "abs",
        "ceil",
        "floor",
        "exp",
        "ln",
        "log2",
        "log10",
        "sqrt",
        "sgn",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "cos",
        "cosh",
        "sin",
        "sinh",
        "tan",
        "tanh",
        "deg",
        "rad",
        "pi",
        "time",
        "minute",
        "hour",
        "day_of_week",
        "day_of_month",
        "day_of_year",
        "month",
        "year",
        "sort",
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
    ] {
        assert!(
            [
                format!("{f}("),
                format!("{f} ("),
                format!("{f} by"),
                format!("{f} without")
            ]
            .iter()
            .any(|p| all.contains(p.as_str())),
            "corpus lacks {f}"
        );
    }
    let data = data::requests(SEED);
    assert_eq!(data.len(), data::ROUNDS);
    assert_eq!(
        data[10].timeseries.len(),
        data::requests(SEED)[10].timeseries.len(),
        "dataset not deterministic"
    );
    assert!(glob("rate(*[1m])", "rate(x{a=\"b\"}[1m])"));
    assert!(!glob("rate(*[1m])", "irate(x[1m])"));
    assert!(glob("*", "anything"));
}

/// `/api/v1/metadata` and `/api/v1/status/{config,flags,runtimeinfo}` have
/// Prometheus's shapes; the config is shown with secrets masked.
#[test]
fn status_endpoints_have_prometheus_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(&dir.path().join("prometheus"));
    let port = common::free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nquery:\n  timeout: 30s\n\
         scrape_configs:\n  - job_name: self\n    basic_auth: {{username: watcher, password: hunter2-secret}}\n\
         \x20   static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let aw = Server::start_on(Some(&config), &dir.path().join("aerowatch"), port);
    let client = common::client();
    let get = |base: &str, path: &str| -> serde_json::Value {
        client.get(format!("{base}{path}")).send().unwrap().json().unwrap()
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v["data"].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };

    let (ours, theirs) = (
        get(&aw.url(""), "/api/v1/status/runtimeinfo"),
        get(&prom.url(""), "/api/v1/status/runtimeinfo"),
    );
    assert_eq!(keys(&ours), keys(&theirs), "{ours}");
    assert_eq!(ours["data"]["reloadConfigSuccess"], true);
    assert_eq!(ours["data"]["storageRetention"], theirs["data"]["storageRetention"]);
    assert!(ours["data"]["startTime"].as_str().unwrap().ends_with('Z'));

    let flags = get(&aw.url(""), "/api/v1/status/flags");
    assert_eq!(flags["data"]["query.timeout"], "30s", "{flags}");
    assert_eq!(flags["data"]["query.lookback-delta"], "5m", "{flags}");
    assert_eq!(
        flags["data"]["query.max-samples"],
        get(&prom.url(""), "/api/v1/status/flags")["data"]["query.max-samples"]
    );

    let cfg = get(&aw.url(""), "/api/v1/status/config");
    let yaml = cfg["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("job_name: self") && yaml.contains("watcher"), "{yaml}");
    assert!(!yaml.contains("hunter2") && yaml.contains("<secret>"), "{yaml}");
    assert_eq!(keys(&cfg), keys(&get(&prom.url(""), "/api/v1/status/config")));

    // Metadata from Aerowatch's scrape of itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    let md = loop {
        let md = get(&aw.url(""), "/api/v1/metadata");
        if md["data"].get("http_requests_total").is_some() {
            break md;
        }
        assert!(Instant::now() < deadline, "no scrape metadata: {md}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        md["data"]["http_requests_total"][0]["type"], "counter",
        "{}",
        md["data"]["http_requests_total"]
    );
    assert!(md["data"]["http_requests_total"][0]["help"].is_string());
    assert_eq!(md["data"]["http_requests_total"][0]["unit"], "");
    let one = get(&aw.url(""), "/api/v1/metadata?metric=http_requests_total");
    assert_eq!(one["data"].as_object().unwrap().len(), 1, "{one}");
    let limited = get(&aw.url(""), "/api/v1/metadata?limit=2");
    assert_eq!(limited["data"].as_object().unwrap().len(), 2);
    let bad = client.get(aw.url("/api/v1/metadata?limit=x")).send().unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.text().unwrap(),
        client
            .get(prom.url("/api/v1/metadata?limit=x"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    );

    // A reload that fails is reported.
    std::fs::write(aw.config.as_ref().unwrap(), "bogus: [").unwrap();
    let r = client.post(aw.url("/-/reload")).send().unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        get(&aw.url(""), "/api/v1/status/runtimeinfo")["data"]["reloadConfigSuccess"],
        false
    );
}
