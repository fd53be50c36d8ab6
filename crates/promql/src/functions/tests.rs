//! Tests through [`call`], as the evaluator uses it.
//!
//! Cases marked "functions.test" are ported from Prometheus 2.42's
//! `promql/testdata/functions.test` (same data, same expected values).
//! Cases marked "2.42" have their expected values taken from a real
//! Prometheus 2.42.0 (Debian's build, linux/amd64, Go 1.19.8) answering the
//! same query over the same data: these pin down last bits, NaN and
//! infinity handling, orders and error messages.

#![allow(clippy::excessive_precision, clippy::approx_constant)]

use model::{Labels, Sample};

use super::call;
use crate::error::QueryError;
use crate::value::{Point, RangeVector, Series, Steps, Value};

const S: i64 = 1000;
const M: i64 = 60 * S;

type Data = Vec<(Labels, Vec<Sample>)>;

/// Labels from `name{a="b"}`-style pairs; a leading `("__name__", n)` is the metric name.
fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Values in the test language's expanding notation: `1 2 _ NaN 0+10x3 8-2x2`.
fn expand(spec: &str) -> Vec<Option<f64>> {
    let num = |s: &str| -> f64 {
        match s {
            "NaN" => f64::NAN,
            "Inf" | "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            _ => s.parse().unwrap_or_else(|_| panic!("bad number {s}")),
        }
    };
    let mut out = Vec::new();
    for tok in spec.split_whitespace() {
        if tok == "_" {
            out.push(None);
        } else if let Some((head, n)) = tok.split_once('x') {
            let n: usize = n.parse().unwrap();
            // head is a+b or a-b (a may itself be negative).
            let split = head[1..].find(['+', '-']).map(|i| i + 1).expect("a+bxn");
            let (a, b) = (num(&head[..split]), num(&head[split..]));
            for i in 0..=n {
                out.push(Some(a + b * i as f64));
            }
        } else {
            out.push(Some(num(tok)));
        }
    }
    out
}

/// `load <interval>`: samples at 0, interval, 2 × interval, ...
fn load(interval: i64, defs: &[(Labels, &str)]) -> Data {
    defs.iter()
        .map(|(labels, spec)| {
            let samples = expand(spec)
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|v| Sample {
                        t: i as i64 * interval,
                        v,
                    })
                })
                .collect();
            (labels.clone(), samples)
        })
        .collect()
}

/// A range-vector argument `data[range] offset off` over `steps`.
fn range(data: &Data, range_ms: i64, offset: i64, steps: &Steps) -> Value {
    Value::Range(RangeVector {
        series: data.clone(),
        range_ms,
        window_ends: steps.iter().map(|t| t - offset).collect(),
    })
}

/// An instant-vector argument: each series' latest sample in `[t - 5m, t]`.
fn instant(data: &Data, steps: &Steps) -> Value {
    Value::Vector(
        data.iter()
            .filter_map(|(labels, samples)| {
                let points: Vec<Point> = steps
                    .iter()
                    .filter_map(|t| {
                        samples
                            .iter()
                            .rev()
                            .find(|s| s.t <= t && s.t >= t - 5 * M)
                            .map(|s| Point { t, v: s.v })
                    })
                    .collect();
                (!points.is_empty()).then(|| Series {
                    labels: labels.clone(),
                    points,
                })
            })
            .collect(),
    )
}

fn scalar(v: f64, steps: &Steps) -> Value {
    Value::Scalar(vec![v; steps.len()])
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

/// Evaluates at one time; the result's series with their single value, in output order.
fn eval(name: &str, t: i64, args: impl FnOnce(&Steps) -> Vec<Value>) -> Vec<(Labels, f64)> {
    let steps = Steps::instant(t);
    match call(name, &steps, args(&steps)).unwrap() {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| {
                assert_eq!(s.points.len(), 1);
                assert_eq!(s.points[0].t, t);
                (s.labels, s.points[0].v)
            })
            .collect(),
        other => panic!("expected a vector, got {other:?}"),
    }
}

fn eval_err(name: &str, t: i64, args: impl FnOnce(&Steps) -> Vec<Value>) -> QueryError {
    let steps = Steps::instant(t);
    call(name, &steps, args(&steps)).unwrap_err()
}

/// Bit-for-bit equality (NaN equals NaN).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Asserts the result, in any order, bit for bit.
#[track_caller]
fn expect(got: Vec<(Labels, f64)>, want: &[(Labels, f64)]) {
    let mut got = got;
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = want.to_vec();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0, "got {got:?}, want {want:?}");
        assert!(same(g.1, w.1), "{}: got {:?}, want {:?}", g.0, g.1, w.1);
    }
}

/// Asserts a single unlabelled-or-not result value within `rel` relative error.
#[track_caller]
fn expect_approx(got: Vec<(Labels, f64)>, want: f64, rel: f64) {
    assert_eq!(got.len(), 1, "{got:?}");
    let g = got[0].1;
    assert!((g - want).abs() <= rel * want.abs(), "got {g}, want {want}");
}

fn one(v: f64) -> [(Labels, f64); 1] {
    [(Labels::empty(), v)]
}

// ---------------------------------------------------------------- rate.rs

fn http_requests_foo_bar() -> Data {
    load(
        5 * M,
        &[
            (l(&[("__name__", "http_requests"), ("path", "/foo")]), "0+10x10"),
            (l(&[("__name__", "http_requests"), ("path", "/bar")]), "0+10x5 0+10x5"),
        ],
    )
}

#[test]
fn increase_functions_test() {
    let d = http_requests_foo_bar();
    for r in [50 * M, 100 * M] {
        expect(
            eval("increase", 50 * M, |s| vec![range(&d, r, 0, s)]),
            &[(l(&[("path", "/foo")]), 100.0), (l(&[("path", "/bar")]), 90.0)],
        );
    }
    // A decrease is a reset to 0: 3 2 counts as 3 0 1 2.
    let d = load(
        5 * M,
        &[(l(&[("__name__", "http_requests"), ("path", "/foo")]), "0 1 2 3 2 3 4")],
    );
    expect(
        eval("increase", 30 * M, |s| vec![range(&d, 30 * M, 0, s)]),
        &[(l(&[("path", "/foo")]), 7.0)],
    );
}

#[test]
fn irate_functions_test() {
    let d = http_requests_foo_bar();
    let third = 0.03333333333333333333;
    expect(
        eval("irate", 50 * M, |s| vec![range(&d, 50 * M, 0, s)]),
        &[(l(&[("path", "/foo")]), third), (l(&[("path", "/bar")]), third)],
    );
    // Counter reset between the last two samples: the last value over the interval.
    expect(
        eval("irate", 30 * M, |s| vec![range(&d, 50 * M, 0, s)]),
        &[(l(&[("path", "/foo")]), third), (l(&[("path", "/bar")]), 0.0)],
    );
}

#[test]
fn delta_and_idelta_functions_test() {
    let d = load(
        5 * M,
        &[
            (
                l(&[("__name__", "http_requests"), ("path", "/foo")]),
                "0 50 100 150 200",
            ),
            (
                l(&[("__name__", "http_requests"), ("path", "/bar")]),
                "200 150 100 50 0",
            ),
        ],
    );
    expect(
        eval("delta", 20 * M, |s| vec![range(&d, 20 * M, 0, s)]),
        &[(l(&[("path", "/foo")]), 200.0), (l(&[("path", "/bar")]), -200.0)],
    );
    let d = load(
        5 * M,
        &[
            (l(&[("__name__", "http_requests"), ("path", "/foo")]), "0 50 100 150"),
            (l(&[("__name__", "http_requests"), ("path", "/bar")]), "0 50 100 50"),
        ],
    );
    expect(
        eval("idelta", 20 * M, |s| vec![range(&d, 20 * M, 0, s)]),
        &[(l(&[("path", "/foo")]), 50.0), (l(&[("path", "/bar")]), -50.0)],
    );
}

#[test]
fn rate_equals_deriv_on_a_line_functions_test() {
    let labels = l(&[("group", "canary"), ("instance", "1"), ("job", "app-server")]);
    let mut named = labels.to_builder();
    named.set("__name__", "http_requests");
    let d = load(5 * M, &[(named.build(), "0+80x10")]);
    for f in ["rate", "deriv"] {
        expect(
            eval(f, 50 * M, |s| vec![range(&d, 50 * M, 0, s)]),
            &[(labels.clone(), 0.26666666666666666)],
        );
    }
}

/// Irregular counter with a gap and a reset: `0 10 20 30 40 _ 5 15` every minute (2.42).
fn gappy_counter() -> Data {
    load(M, &[(l(&[("__name__", "c")]), "0 10 20 30 40 _ 5 15")])
}

#[test]
fn rate_family_on_irregular_data_2_42() {
    let d = gappy_counter();
    expect(eval("increase", 7 * M, |s| vec![range(&d, 5 * M, 0, s)]), &one(35.0));
    expect(
        eval("rate", 7 * M, |s| vec![range(&d, 3 * M, 0, s)]),
        &one(8.333333333333334e-02),
    );
    expect(eval("delta", 7 * M, |s| vec![range(&d, 150 * S, 0, s)]), &one(15.0));
    expect(
        eval("irate", 6 * M, |s| vec![range(&d, 5 * M, 0, s)]),
        &one(4.1666666666666664e-02),
    );
    // The window is closed: the sample at 2m counts at 4m for [2m].
    expect(
        eval("count_over_time", 4 * M, |s| vec![range(&d, 2 * M, 0, s)]),
        &one(3.0),
    );
    expect(
        eval("rate", 4 * M, |s| vec![range(&d, 2 * M, 0, s)]),
        &one(1.6666666666666666e-01),
    );
}

#[test]
fn rate_is_computed_in_go_operation_order_2_42() {
    // Samples whose extrapolation factor rounds differently when applied
    // before or after dividing by the range (2.42 divides the factor).
    let ts = [98, 119, 240, 276, 281];
    let vs = [150.616, 476.353, 634.861, 639.068, 868.045];
    let d: Data = vec![(
        l(&[("__name__", "x")]),
        ts.iter().zip(vs).map(|(&t, v)| Sample { t: t * S, v }).collect(),
    )];
    // Literal transcription of 2.42's extrapolatedRate for this input.
    let (first, last) = (98_000i64, 281_000i64);
    let (range_start, range_end) = (0i64, 300_000i64);
    let result = 868.045 - 150.616;
    let mut duration_to_start = (first - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last) as f64 / 1000.0;
    let sampled = (last - first) as f64 / 1000.0;
    let avg = sampled / 4.0;
    let to_zero = sampled * (150.616 / result);
    if to_zero < duration_to_start {
        duration_to_start = to_zero;
    }
    let mut extrapolate = sampled;
    extrapolate += if duration_to_start < avg * 1.1 {
        duration_to_start
    } else {
        avg / 2.0
    };
    extrapolate += if duration_to_end < avg * 1.1 {
        duration_to_end
    } else {
        avg / 2.0
    };
    let mut factor = extrapolate / sampled;
    factor /= 300.0;
    let go = result * factor;
    assert_eq!(go, 3.1417738797814203, "value 2.42 returns");
    assert_ne!(go, result * (extrapolate / sampled) / 300.0, "the other order differs");
    expect(eval("rate", 300 * S, |s| vec![range(&d, 5 * M, 0, s)]), &one(go));
    expect(
        eval("increase", 300 * S, |s| vec![range(&d, 5 * M, 0, s)]),
        &one(9.425321639344262e+02),
    );
    expect(
        eval("delta", 300 * S, |s| vec![range(&d, 5 * M, 0, s)]),
        &one(8.815947889344261e+02),
    );
}

#[test]
fn rate_needs_two_samples_and_drops_the_name() {
    let d = load(M, &[(l(&[("__name__", "x"), ("a", "b")]), "5 _ _ _ 7")]);
    for f in ["rate", "increase", "delta", "irate", "idelta"] {
        assert!(eval(f, 2 * M, |s| vec![range(&d, M, 0, s)]).is_empty(), "{f}");
        let got = eval(f, 4 * M, |s| vec![range(&d, 5 * M, 0, s)]);
        assert_eq!(got.len(), 1, "{f}");
        assert_eq!(got[0].0, l(&[("a", "b")]), "{f}");
    }
}

#[test]
fn range_functions_slide_over_a_grid() {
    // Every step of a range evaluation equals an instant evaluation at that step.
    let d = load(
        15 * S,
        &[
            (l(&[("__name__", "a")]), "0+3x40 2+1x30 _ _ _ 9 NaN 11"),
            (l(&[("__name__", "b")]), "_ _ _ 1 -2 Inf 3 _ _ 5 5 5 6"),
        ],
    );
    let steps = Steps {
        start: 0,
        end: 20 * M,
        step: 25 * S,
    };
    for f in [
        "rate",
        "increase",
        "delta",
        "irate",
        "idelta",
        "avg_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "changes",
        "resets",
        "deriv",
        "stdvar_over_time",
    ] {
        for (r, off) in [(M, 0), (2 * M + 1, 0), (3 * M, 40 * S)] {
            let Value::Vector(grid) = call(f, &steps, vec![range(&d, r, off, &steps)]).unwrap() else {
                panic!()
            };
            for t in steps.iter() {
                let single = eval(f, t, |s| vec![range(&d, r, off, s)]);
                let from_grid: Vec<(Labels, f64)> = grid
                    .iter()
                    .filter_map(|s| s.points.iter().find(|p| p.t == t).map(|p| (s.labels.clone(), p.v)))
                    .collect();
                expect(from_grid, &single);
            }
        }
    }
}

/// 2.42's `extrapolatedRate`, transcribed literally (loop over the window).
fn naive_rate(w: &[Sample], start: i64, end: i64, range_s: f64, is_counter: bool, is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let mut result = w[w.len() - 1].v - w[0].v;
    if is_counter {
        let mut prev = w[0].v;
        for s in &w[1..] {
            if s.v < prev {
                result += prev;
            }
            prev = s.v;
        }
    }
    let mut to_start = (w[0].t - start) as f64 / 1000.0;
    let to_end = (end - w[w.len() - 1].t) as f64 / 1000.0;
    let sampled = (w[w.len() - 1].t - w[0].t) as f64 / 1000.0;
    let avg = sampled / (w.len() - 1) as f64;
    if is_counter && result > 0.0 && w[0].v >= 0.0 {
        let to_zero = sampled * (w[0].v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut to = sampled;
    to += if to_start < threshold { to_start } else { avg / 2.0 };
    to += if to_end < threshold { to_end } else { avg / 2.0 };
    let mut factor = to / sampled;
    if is_rate {
        factor /= range_s;
    }
    result *= factor;
    Some(result)
}

#[test]
fn sliding_rate_changes_resets_match_a_literal_per_window_loop() {
    // Pseudo-random counters with frequent resets, NaNs and irregular spacing.
    let mut seed = 42u64;
    let mut rnd = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut samples = Vec::new();
    let (mut t, mut c) = (0i64, 0.0f64);
    for _ in 0..600 {
        t += 1000 + (rnd() * 20_000.0) as i64;
        c = if rnd() < 0.05 {
            rnd() * 10.0
        } else if rnd() < 0.03 {
            f64::NAN
        } else {
            (if c.is_nan() { 0.0 } else { c }) + rnd() * 100.0
        };
        samples.push(Sample { t, v: c });
    }
    let d: Data = vec![(l(&[("__name__", "c")]), samples.clone())];
    let steps = Steps {
        start: 0,
        end: t,
        step: 7_001,
    };
    for range_ms in [30_000, 5 * M, 17 * M + 3] {
        for (f, counter, rate) in [("rate", true, true), ("increase", true, false), ("delta", false, false)] {
            let Value::Vector(out) = call(f, &steps, vec![range(&d, range_ms, 0, &steps)]).unwrap() else {
                panic!()
            };
            let got: Vec<Point> = out.into_iter().flat_map(|s| s.points).collect();
            let want: Vec<Point> = steps
                .iter()
                .filter_map(|end| {
                    let w: Vec<Sample> = samples
                        .iter()
                        .copied()
                        .filter(|s| s.t >= end - range_ms && s.t <= end)
                        .collect();
                    naive_rate(&w, end - range_ms, end, range_ms as f64 / 1000.0, counter, rate)
                        .map(|v| Point { t: end, v })
                })
                .collect();
            assert_eq!(got.len(), want.len(), "{f}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.t == w.t && same(g.v, w.v), "{f} at {}: {} vs {}", g.t, g.v, w.v);
            }
        }
        for f in ["changes", "resets"] {
            let Value::Vector(out) = call(f, &steps, vec![range(&d, range_ms, 0, &steps)]).unwrap() else {
                panic!()
            };
            let got: Vec<Point> = out.into_iter().flat_map(|s| s.points).collect();
            let want: Vec<Point> = steps
                .iter()
                .filter_map(|end| {
                    let w: Vec<f64> = samples
                        .iter()
                        .filter(|s| s.t >= end - range_ms && s.t <= end)
                        .map(|s| s.v)
                        .collect();
                    (!w.is_empty()).then(|| {
                        let n = w
                            .windows(2)
                            .filter(|p| {
                                if f == "changes" {
                                    p[1] != p[0] && !(p[1].is_nan() && p[0].is_nan())
                                } else {
                                    p[1] < p[0]
                                }
                            })
                            .count();
                        Point { t: end, v: n as f64 }
                    })
                })
                .collect();
            assert_eq!(got, want, "{f}");
        }
    }
}

// ----------------------------------------------------------- over_time.rs

fn http_requests_resets() -> Data {
    load(
        5 * M,
        &[
            (
                l(&[("__name__", "http_requests"), ("path", "/foo")]),
                "1 2 3 0 1 0 0 1 2 0",
            ),
            (
                l(&[("__name__", "http_requests"), ("path", "/bar")]),
                "1 2 3 4 5 1 2 3 4 5",
            ),
            (
                l(&[("__name__", "http_requests"), ("path", "/biz")]),
                "0 0 0 0 0 1 1 1 1 1",
            ),
        ],
    )
}

#[test]
fn resets_and_changes_functions_test() {
    let d = http_requests_resets();
    let p = |path| l(&[("path", path)]);
    for (r, foo, bar, biz) in [
        (5, 0.0, 0.0, 0.0),
        (20, 1.0, 0.0, 0.0),
        (30, 2.0, 1.0, 0.0),
        (50, 3.0, 1.0, 0.0),
    ] {
        expect(
            eval("resets", 50 * M, |s| vec![range(&d, r * M, 0, s)]),
            &[(p("/foo"), foo), (p("/bar"), bar), (p("/biz"), biz)],
        );
    }
    for (r, foo, bar, biz) in [
        (5, 0.0, 0.0, 0.0),
        (20, 3.0, 3.0, 0.0),
        (30, 4.0, 5.0, 1.0),
        (50, 8.0, 9.0, 1.0),
    ] {
        expect(
            eval("changes", 50 * M, |s| vec![range(&d, r * M, 0, s)]),
            &[(p("/foo"), foo), (p("/bar"), bar), (p("/biz"), biz)],
        );
    }
    assert!(eval("resets", 50 * M, |s| vec![range(&vec![], 50 * M, 0, s)]).is_empty());
    // NaN to NaN is no change.
    let d = load(
        5 * M,
        &[
            (l(&[("__name__", "x"), ("a", "b")]), "NaN NaN NaN"),
            (l(&[("__name__", "x"), ("a", "c")]), "0 NaN 0"),
        ],
    );
    expect(
        eval("changes", 15 * M, |s| vec![range(&d, 15 * M, 0, s)]),
        &[(l(&[("a", "b")]), 0.0), (l(&[("a", "c")]), 2.0)],
    );
}

#[test]
fn avg_over_time_infinities_functions_test() {
    let big = "9.988465674311579e+307";
    let cases: &[(&str, String, f64)] = &[
        ("metric", "1 2 3 4 5".into(), 3.0),
        ("metric2", "1 2 3 4 Inf".into(), f64::INFINITY),
        ("metric3", "1 2 3 4 -Inf".into(), f64::NEG_INFINITY),
        ("metric4", "1 2 3 Inf -Inf".into(), f64::NAN),
        ("metric5", "Inf 0 Inf".into(), f64::INFINITY),
        ("metric5c", "Inf Inf Inf -Inf".into(), f64::NAN),
        ("metric6", "1 2 3 -Inf -Inf".into(), f64::NEG_INFINITY),
        ("metric6b", "-Inf 0 -Inf".into(), f64::NEG_INFINITY),
        ("metric6c", "-Inf -Inf -Inf Inf".into(), f64::NAN),
        ("metric7", "1 2 -Inf -Inf Inf".into(), f64::NAN),
        ("metric8", format!("{big} {big}"), 9.988465674311579e+307),
        ("metric9", format!("-{big} -{big} -{big}"), -9.988465674311579e+307),
        ("metric10", format!("-{big} {big}"), 0.0),
    ];
    for (name, spec, want) in cases {
        let d = load(10 * S, &[(l(&[("__name__", name)]), spec)]);
        expect(eval("avg_over_time", M, |s| vec![range(&d, M, 0, s)]), &one(*want));
    }
    // sum_over_time overflows where the incremental mean does not.
    let d = load(10 * S, &[(l(&[("__name__", "m")]), &format!("{big} {big}"))]);
    expect(
        eval("sum_over_time", M, |s| vec![range(&d, M, 0, s)]),
        &one(f64::INFINITY),
    );
}

#[test]
fn stddev_stdvar_functions_test() {
    let d = load(10 * S, &[(l(&[("__name__", "metric")]), "0 8 8 2 3")]);
    // functions.test says 10.56 and 3.249615 (compared approximately);
    // 2.42 answers exactly these.
    expect(
        eval("stdvar_over_time", M, |s| vec![range(&d, M, 0, s)]),
        &one(1.0559999999999999e+01),
    );
    expect(
        eval("stddev_over_time", M, |s| vec![range(&d, M, 0, s)]),
        &one(3.249615361854384),
    );
    expect_approx(
        eval("stddev_over_time", M, |s| vec![range(&d, M, 0, s)]),
        3.249615,
        1e-6,
    );
    // prometheus#4927: a constant series has no spread.
    let d = load(
        10 * S,
        &[(
            l(&[("__name__", "metric")]),
            "1.5990505637277868 1.5990505637277868 1.5990505637277868",
        )],
    );
    expect(eval("stdvar_over_time", M, |s| vec![range(&d, M, 0, s)]), &one(0.0));
    expect(eval("stddev_over_time", M, |s| vec![range(&d, M, 0, s)]), &one(0.0));
}

#[test]
fn quantile_over_time_functions_test() {
    let d = load(
        10 * S,
        &[
            (l(&[("__name__", "data"), ("test", "two samples")]), "0 1"),
            (l(&[("__name__", "data"), ("test", "three samples")]), "0 1 2"),
            (l(&[("__name__", "data"), ("test", "uneven samples")]), "0 1 4"),
        ],
    );
    let t = |name| l(&[("test", name)]);
    for (q, two, three, uneven) in [
        (0.0, 0.0, 0.0, 0.0),
        (0.5, 0.5, 1.0, 1.0),
        (0.75, 0.75, 1.5, 2.5),
        // functions.test: 2.8 (approximately); 2.42: 2.8000000000000003.
        (0.8, 0.8, 1.6, 2.8000000000000003),
        (1.0, 1.0, 2.0, 4.0),
        (-1.0, f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
        (2.0, f64::INFINITY, f64::INFINITY, f64::INFINITY),
    ] {
        expect(
            eval("quantile_over_time", M, |s| vec![scalar(q, s), range(&d, M, 0, s)]),
            &[
                (t("two samples"), two),
                (t("three samples"), three),
                (t("uneven samples"), uneven),
            ],
        );
    }
}

#[test]
fn quantile_over_time_with_nans_2_42() {
    // NaN sorts below everything, and where Go's sort leaves it decides the result.
    let d = load(M, &[(l(&[("__name__", "x")]), "NaN 1 2")]);
    expect(
        eval("quantile_over_time", 2 * M, |s| {
            vec![scalar(0.5, s), range(&d, 5 * M, 0, s)]
        }),
        &one(1.0),
    );
    let d = load(M, &[(l(&[("__name__", "y")]), "3 NaN 1 NaN 2 0 1 5 NaN 4 7 6 8 NaN")]);
    for (q, want) in [(0.5, 1.5), (0.3, f64::NAN), (0.9, 6.700000000000001)] {
        expect(
            eval("quantile_over_time", 13 * M, |s| {
                vec![scalar(q, s), range(&d, 20 * M, 0, s)]
            }),
            &one(want),
        );
    }
    let mut v = [3.0, 1.0, 2.0];
    assert!(super::quantile(f64::NAN, &mut v).is_nan());
    assert!(super::quantile(0.5, &mut []).is_nan());
}

#[test]
fn min_max_over_time_nans_functions_test() {
    let d = load(
        10 * S,
        &[
            (l(&[("__name__", "data"), ("type", "numbers")]), "2 0 3"),
            (l(&[("__name__", "data"), ("type", "some_nan")]), "2 0 NaN"),
            (l(&[("__name__", "data"), ("type", "some_nan2")]), "2 NaN 1"),
            (l(&[("__name__", "data"), ("type", "some_nan3")]), "NaN 0 1"),
            (l(&[("__name__", "data"), ("type", "only_nan")]), "NaN NaN NaN"),
        ],
    );
    let t = |name| l(&[("type", name)]);
    expect(
        eval("min_over_time", M, |s| vec![range(&d, M, 0, s)]),
        &[
            (t("numbers"), 0.0),
            (t("some_nan"), 0.0),
            (t("some_nan2"), 1.0),
            (t("some_nan3"), 0.0),
            (t("only_nan"), f64::NAN),
        ],
    );
    expect(
        eval("max_over_time", M, |s| vec![range(&d, M, 0, s)]),
        &[
            (t("numbers"), 3.0),
            (t("some_nan"), 2.0),
            (t("some_nan2"), 2.0),
            (t("some_nan3"), 1.0),
            (t("only_nan"), f64::NAN),
        ],
    );
}

#[test]
fn deriv_and_predict_linear_functions_test() {
    let d = load(
        5 * M,
        &[(l(&[("__name__", "testcounter_reset_middle")]), "0+10x4 0+10x5")],
    );
    expect(
        eval("deriv", 50 * M, |s| vec![range(&d, 100 * M, 0, s)]),
        &one(0.010606060606060607),
    );
    expect(
        eval("predict_linear", 50 * M, |s| {
            vec![range(&d, 100 * M, 0, s), scalar(3600.0, s)]
        }),
        &one(76.81818181818181),
    );
}

#[test]
fn regression_edge_cases_2_42() {
    let d = gappy_counter();
    expect(
        eval("predict_linear", 7 * M, |s| {
            vec![range(&d, 5 * M, 0, s), scalar(60.0, s)]
        }),
        &one(9.651162790697674),
    );
    // With an offset the line is still evaluated from the step time.
    expect(
        eval("predict_linear", 7 * M, |s| {
            vec![range(&d, 5 * M, M, s), scalar(60.0, s)]
        }),
        &one(19.054054054054053),
    );
    let g = load(M, &[(l(&[("__name__", "g")]), "1 1 1")]);
    expect(eval("deriv", 2 * M, |s| vec![range(&g, 5 * M, 0, s)]), &one(0.0));
    let inf = load(M, &[(l(&[("__name__", "g")]), "Inf Inf Inf")]);
    expect(eval("deriv", 2 * M, |s| vec![range(&inf, 5 * M, 0, s)]), &one(f64::NAN));
    expect(
        eval("predict_linear", 2 * M, |s| {
            vec![range(&inf, 5 * M, 0, s), scalar(10.0, s)]
        }),
        &one(f64::NAN),
    );
    expect(
        eval("predict_linear", 2 * M, |s| {
            vec![range(&g, 5 * M, 0, s), scalar(10.0, s)]
        }),
        &one(1.0),
    );
}

#[test]
fn over_time_values_2_42() {
    let d = gappy_counter();
    let r = |s: &Steps| vec![range(&d, 10 * M, 0, s)];
    expect(eval("stddev_over_time", 7 * M, r), &one(1.305404777321219e+01));
    expect(eval("stdvar_over_time", 7 * M, r), &one(1.7040816326530611e+02));
    expect(eval("avg_over_time", 7 * M, r), &one(1.7142857142857142e+01));
    expect(eval("sum_over_time", 7 * M, r), &one(120.0));
    expect(eval("count_over_time", 7 * M, r), &one(7.0));
    expect(eval("present_over_time", 7 * M, r), &one(1.0));
    expect(
        eval("holt_winters", 7 * M, |s| {
            vec![range(&d, 10 * M, 0, s), scalar(0.3, s), scalar(0.6, s)]
        }),
        &one(3.138e+01),
    );
    // Compensated summation: 1e100 + 1 - 1e100 + 3 + 5 is 9, not 8.
    let k = load(M, &[(l(&[("__name__", "k")]), "1e100 1 -1e100 3 5")]);
    expect(
        eval("sum_over_time", 4 * M, |s| vec![range(&k, 5 * M, 0, s)]),
        &one(9.0),
    );
}

#[test]
fn last_over_time_keeps_the_name_others_drop_it() {
    let d = load(M, &[(l(&[("__name__", "x"), ("a", "b")]), "1 2 3")]);
    for f in ["last_over_time", "avg_over_time", "present_over_time", "changes"] {
        let got = eval(f, 2 * M, |s| vec![range(&d, 5 * M, 0, s)]);
        let want = if f == "last_over_time" {
            l(&[("__name__", "x"), ("a", "b")])
        } else {
            l(&[("a", "b")])
        };
        assert_eq!(got[0].0, want, "{f}");
    }
    expect(
        eval("last_over_time", 2 * M, |s| vec![range(&d, 5 * M, 0, s)]),
        &[(l(&[("__name__", "x"), ("a", "b")]), 3.0)],
    );
    // Empty windows give no point; a single sample is enough for most.
    assert!(eval("avg_over_time", 10 * M, |s| vec![range(&d, M, 0, s)]).is_empty());
    expect(
        eval("stdvar_over_time", 2 * M, |s| vec![range(&d, 30 * S, 0, s)]),
        &[(l(&[("a", "b")]), 0.0)],
    );
    assert!(eval("deriv", 2 * M, |s| vec![range(&d, 30 * S, 0, s)]).is_empty());
}

#[test]
fn holt_winters_functions_test() {
    let hr = |job: &str, instance: &str, group: &str| {
        l(&[
            ("__name__", "http_requests"),
            ("job", job),
            ("instance", instance),
            ("group", group),
        ])
    };
    let out = |job: &str, instance: &str, group: &str| l(&[("job", job), ("instance", instance), ("group", group)]);
    let d = load(
        10 * S,
        &[
            (hr("api-server", "0", "production"), "0+10x1000 100+30x1000"),
            (hr("api-server", "1", "production"), "0+20x1000 200+30x1000"),
            (hr("api-server", "0", "canary"), "0+30x1000 300+80x1000"),
            (hr("api-server", "1", "canary"), "0+40x2000"),
        ],
    );
    expect(
        eval("holt_winters", 8000 * S, |s| {
            vec![range(&d, M, 0, s), scalar(0.01, s), scalar(0.1, s)]
        }),
        &[
            (out("api-server", "0", "production"), 8000.0),
            (out("api-server", "1", "production"), 16000.0),
            (out("api-server", "0", "canary"), 24000.0),
            (out("api-server", "1", "canary"), 32000.0),
        ],
    );
    let d = load(
        10 * S,
        &[
            (hr("api-server", "0", "production"), "8000-10x1000"),
            (hr("api-server", "1", "production"), "0-20x1000"),
            (hr("api-server", "0", "canary"), "0+30x1000 300-80x1000"),
            (hr("api-server", "1", "canary"), "0-40x1000 0+40x1000"),
        ],
    );
    expect(
        eval("holt_winters", 8000 * S, |s| {
            vec![range(&d, M, 0, s), scalar(0.01, s), scalar(0.1, s)]
        }),
        &[
            (out("api-server", "0", "production"), 0.0),
            (out("api-server", "1", "production"), -16000.0),
            (out("api-server", "0", "canary"), 24000.0),
            (out("api-server", "1", "canary"), -32000.0),
        ],
    );
}

#[test]
fn holt_winters_factor_errors_2_42() {
    let d = gappy_counter();
    let err = |sf: f64, tf: f64, data: &Data| {
        let data = data.clone();
        eval_err("holt_winters", 7 * M, move |s| {
            vec![range(&data, 5 * M, 0, s), scalar(sf, s), scalar(tf, s)]
        })
    };
    assert_eq!(
        err(1.0, 0.5, &d),
        QueryError::Execution("invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000".into())
    );
    assert_eq!(
        err(0.5, 2.5, &d),
        QueryError::Execution("invalid trend factor. Expected: 0 < tf < 1, got: 2.500000".into())
    );
    assert_eq!(
        err(f64::NEG_INFINITY, 2.5, &d),
        QueryError::Execution("invalid smoothing factor. Expected: 0 < sf < 1, got: -Inf".into())
    );
    assert_eq!(
        err(1e20, 0.5, &d),
        QueryError::Execution(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 100000000000000000000.000000".into()
        )
    );
    // No samples, no call, no error (2.42 answers an empty vector).
    let steps = Steps::instant(7 * M);
    let ok = call(
        "holt_winters",
        &steps,
        vec![
            range(&vec![], 5 * M, 0, &steps),
            scalar(1.0, &steps),
            scalar(0.5, &steps),
        ],
    );
    assert_eq!(ok, Ok(Value::Vector(vec![])));
}

// ---------------------------------------------------------------- math.rs

#[test]
fn clamp_functions_test() {
    let d = load(
        5 * M,
        &[
            (l(&[("__name__", "test_clamp"), ("src", "clamp-a")]), "-50"),
            (l(&[("__name__", "test_clamp"), ("src", "clamp-b")]), "0"),
            (l(&[("__name__", "test_clamp"), ("src", "clamp-c")]), "100"),
        ],
    );
    let src = |s| l(&[("src", s)]);
    expect(
        eval("clamp_max", 0, |s| vec![instant(&d, s), scalar(75.0, s)]),
        &[(src("clamp-a"), -50.0), (src("clamp-b"), 0.0), (src("clamp-c"), 75.0)],
    );
    expect(
        eval("clamp_min", 0, |s| vec![instant(&d, s), scalar(-25.0, s)]),
        &[(src("clamp-a"), -25.0), (src("clamp-b"), 0.0), (src("clamp-c"), 100.0)],
    );
    expect(
        eval("clamp", 0, |s| vec![instant(&d, s), scalar(-20.0, s), scalar(70.0, s)]),
        &[(src("clamp-a"), -20.0), (src("clamp-b"), 0.0), (src("clamp-c"), 70.0)],
    );
    // max < min: nothing; NaN bounds: Go's Max/Min.
    assert!(eval("clamp", 0, |s| vec![instant(&d, s), scalar(5.0, s), scalar(1.0, s)]).is_empty());
    let got = eval("clamp", 0, |s| {
        vec![instant(&d, s), scalar(f64::NAN, s), scalar(1.0, s)]
    });
    assert!(got.iter().all(|(_, v)| v.is_nan()));
    let got = eval("clamp_min", 0, |s| vec![instant(&d, s), scalar(f64::INFINITY, s)]);
    assert!(got.iter().all(|(_, v)| *v == f64::INFINITY));
}

#[test]
fn round_sgn_deg_rad_2_42() {
    let v = |x: f64| {
        move |s: &Steps| {
            vec![Value::Vector(vec![Series {
                labels: l(&[("__name__", "v")]),
                points: vec![Point { t: s.start, v: x }],
            }])]
        }
    };
    expect(eval("round", 0, v(2.5)), &one(3.0));
    expect(eval("round", 0, v(-2.5)), &one(-2.0));
    let with = |x: f64, n: f64| {
        move |s: &Steps| {
            let mut a = v(x)(s);
            a.push(scalar(n, s));
            a
        }
    };
    expect(eval("round", 0, with(1.005, 0.01)), &one(1.0));
    expect(eval("round", 0, with(7.0, 0.0)), &one(f64::NAN));
    expect(eval("round", 0, with(17.0, 5.0)), &one(15.0));
    let got = eval("sgn", 0, v(-0.0));
    assert!(got[0].1 == 0.0 && got[0].1.is_sign_negative(), "sgn(-0) is -0");
    expect(eval("sgn", 0, v(-3.0)), &one(-1.0));
    expect(eval("sgn", 0, v(f64::NAN)), &one(f64::NAN));
    expect(eval("deg", 0, v(1.0)), &one(5.729577951308232e+01));
    expect(eval("rad", 0, v(180.0)), &one(std::f64::consts::PI));
    let steps = Steps::instant(0);
    assert_eq!(
        call("pi", &steps, vec![]),
        Ok(Value::Scalar(vec![std::f64::consts::PI]))
    );
}

#[test]
fn math_functions_match_go_to_the_last_bit_2_42() {
    // (function, input, Prometheus 2.42's answer). The platform libm answers
    // differently in the last bit for each of these.
    let cases: &[(&str, f64, f64)] = &[
        ("ln", 0.624152016718013, -0.4713613237471217),
        ("log2", 4.471758029454044, 2.160842124864625),
        ("log10", 0.00010589128459752043, -3.9751397831122017),
        ("sin", -10.486143613453143, 0.8730222981335494),
        ("cos", -0.06933967245966444, 0.9975969679559691),
        ("tan", 4.471758029454044, 4.075219715992204),
        ("asin", -0.05682899088025173, -0.05685962394821896),
        ("acos", -0.05682899088025173, 1.6276559507431154),
        ("atan", -393.3465699658096, -1.5682540449448552),
        ("sinh", -0.6132797964167485, -0.6524529203301672),
        ("cosh", -0.06933967245966444, 1.0024049584415193),
        ("tanh", -0.36529831635981047, -0.3498723717367876),
        ("asinh", -10.486143613453143, -3.0454677660056877),
        ("acosh", 6.134588763707386, 2.5003799609311255),
        ("atanh", -0.6132797964167485, -0.7141615415309641),
        // Go's quirks, kept: early overflow, unnormalised subnormal logs,
        // Payne-Hanek reduction for huge arguments.
        ("exp", 709.5, f64::INFINITY),
        ("exp", -740.0, 4.2e-322),
        ("ln", 5e-324, -7.090895657128241e+02),
        ("ln", 0.7071067811865476, -3.465735902799726e-01),
        ("sin", 1e22, -8.522008497671889e-01),
        ("cos", 1e300, -5.753861119575491e-01),
        ("tan", 1e10, -5.583496378112419e-01),
        ("log2", 1e-310, -1.0297977094150824e+03),
    ];
    for &(f, x, want) in cases {
        let got = eval(f, 0, |s| {
            vec![Value::Vector(vec![Series {
                labels: l(&[("__name__", "x"), ("i", "1")]),
                points: vec![Point { t: s.start, v: x }],
            }])]
        });
        assert_eq!(got[0].0, l(&[("i", "1")]), "{f} drops the name");
        assert!(same(got[0].1, want), "{f}({x:?}) = {:?}, 2.42 says {want:?}", got[0].1);
    }
}

#[test]
fn math_over_a_grid_keeps_points_and_steps() {
    let steps = Steps {
        start: 0,
        end: 2 * M,
        step: M,
    };
    let v = Value::Vector(vec![Series {
        labels: l(&[("__name__", "x")]),
        points: vec![Point { t: 0, v: 4.0 }, Point { t: 2 * M, v: 9.0 }],
    }]);
    let Value::Vector(out) = call("sqrt", &steps, vec![v]).unwrap() else {
        panic!()
    };
    assert_eq!(out[0].points, vec![Point { t: 0, v: 2.0 }, Point { t: 2 * M, v: 3.0 }]);
    // A per-step scalar argument.
    let v = Value::Vector(vec![Series {
        labels: l(&[("__name__", "x")]),
        points: vec![
            Point { t: 0, v: 4.0 },
            Point { t: M, v: 5.0 },
            Point { t: 2 * M, v: 9.0 },
        ],
    }]);
    let lo = Value::Scalar(vec![5.0, 0.0, 10.0]);
    let hi = Value::Scalar(vec![6.0, -1.0, 11.0]);
    let Value::Vector(out) = call("clamp", &steps, vec![v, lo, hi]).unwrap() else {
        panic!()
    };
    assert_eq!(out[0].points, vec![Point { t: 0, v: 5.0 }, Point { t: 2 * M, v: 10.0 }]);
}

// ----------------------------------------------------------- histogram.rs

fn bucket(name: &str, g: &str, le: &str) -> Labels {
    l(&[("__name__", name), ("g", g), ("le", le)])
}

#[test]
fn histogram_quantile_classic_buckets() {
    let d = load(
        M,
        &[
            (bucket("h_bucket", "a", "0.1"), "10"),
            (bucket("h_bucket", "a", "0.5"), "20"),
            (bucket("h_bucket", "a", "1"), "30"),
            (bucket("h_bucket", "a", "+Inf"), "40"),
            // Same labels under another name: a separate histogram.
            (bucket("other_bucket", "b", "1"), "10"),
            (bucket("other_bucket", "b", "+Inf"), "10"),
            // No `le`: ignored.
            (l(&[("__name__", "h_bucket"), ("g", "a")]), "1000"),
            // Unparseable `le`: ignored.
            (bucket("h_bucket", "a", "abc"), "1000"),
        ],
    );
    let g = |g| l(&[("g", g)]);
    for (q, a, b) in [
        (0.5, 0.5, 0.5),
        (0.25, 0.1, 0.25),
        (0.99, 1.0, 0.99),
        (0.0, 0.0, 0.0),
        (-0.5, f64::NEG_INFINITY, f64::NEG_INFINITY),
        (1.5, f64::INFINITY, f64::INFINITY),
        (f64::NAN, f64::NAN, f64::NAN),
    ] {
        expect(
            eval("histogram_quantile", 0, |s| vec![scalar(q, s), instant(&d, s)]),
            &[(g("a"), a), (g("b"), b)],
        );
    }
}

#[test]
fn histogram_quantile_edge_cases_2_42() {
    let nan = "NaN";
    let d = load(
        M,
        &[
            // A NaN first count stops monotonicity repair altogether (8.56, not 7.45).
            (bucket("h", "nanfirst", ".5"), "43.50865482191079"),
            (bucket("h", "nanfirst", "-1"), nan),
            (bucket("h", "nanfirst", "+Inf"), "88.11185983983852"),
            (bucket("h", "nanfirst", "inf"), "91.36821532866391"),
            (bucket("h", "nanfirst", "1e-400"), "67.27655208412381"),
            (bucket("h", "nanfirst", "10"), "97.99949043190213"),
            // le parsed as Go's ParseFloat: underscores, hex floats.
            (bucket("h", "underscore", "1_0"), "10"),
            (bucket("h", "underscore", "+Inf"), "20"),
            (bucket("h", "hex", "0x1.8p1"), "10"),
            (bucket("h", "hex", "+Inf"), "20"),
            // Overflowing bounds are errors in Go: only +Inf is left.
            (bucket("h", "overflow", "1e400"), "10"),
            (bucket("h", "overflow", "+Inf"), "20"),
            // A NaN bound sorts (by Go's sort) after +Inf here: no +Inf last, NaN.
            (bucket("h", "nanle", "1"), "10"),
            (bucket("h", "nanle", "NaN"), "20"),
            (bucket("h", "nanle", "+Inf"), "40"),
            // Non-monotonic counts are repaired.
            (bucket("h", "dip", "0.1"), "10"),
            (bucket("h", "dip", "0.5"), "5"),
            (bucket("h", "dip", "1"), "30"),
            (bucket("h", "dip", "+Inf"), "40"),
            // Zero observations.
            (bucket("h", "empty", "1"), "0"),
            (bucket("h", "empty", "+Inf"), "0"),
            // A non-positive lowest bound is returned as it is.
            (bucket("h", "neg", "-1"), "10"),
            (bucket("h", "neg", "0"), "20"),
            (bucket("h", "neg", "+Inf"), "40"),
        ],
    );
    // The evaluator hands buckets over in label order, as 2.42's block queriers do.
    let mut d = d;
    d.sort_by(|a, b| a.0.cmp(&b.0));
    let g = |g| l(&[("g", g)]);
    expect(
        eval("histogram_quantile", 0, |s| vec![scalar(0.5, s), instant(&d, s)]),
        &[
            (g("nanfirst"), 8.560036725913292),
            (g("underscore"), 10.0),
            (g("hex"), 3.0),
            (g("overflow"), f64::NAN),
            (g("nanle"), f64::NAN),
            (g("dip"), 0.75),
            (g("empty"), f64::NAN),
            (g("neg"), 0.0),
        ],
    );
    expect(
        eval("histogram_quantile", 0, |s| vec![scalar(0.2, s), instant(&d, s)]),
        &[
            (g("nanfirst"), f64::NAN),
            (g("underscore"), 4.0),
            (g("hex"), 1.2000000000000002),
            (g("overflow"), f64::NAN),
            (g("nanle"), f64::NAN),
            (g("dip"), 0.08000000000000002),
            (g("empty"), f64::NAN),
            (g("neg"), -1.0),
        ],
    );
}

#[test]
fn histogram_quantile_over_a_grid() {
    // A group has a point wherever one of its buckets has one.
    let steps = Steps {
        start: 0,
        end: 2 * M,
        step: M,
    };
    let s = |le: &str, points: Vec<Point>| Series {
        labels: bucket("h_bucket", "a", le),
        points,
    };
    let v = Value::Vector(vec![
        s("1", vec![Point { t: 0, v: 5.0 }, Point { t: M, v: 5.0 }]),
        s("+Inf", vec![Point { t: 0, v: 10.0 }, Point { t: 2 * M, v: 10.0 }]),
    ]);
    let q = Value::Scalar(vec![0.5, 0.5, 0.5]);
    let Value::Vector(out) = call("histogram_quantile", &steps, vec![q, v]).unwrap() else {
        panic!()
    };
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].labels, l(&[("g", "a")]));
    assert_eq!(out[0].points[0], Point { t: 0, v: 1.0 });
    assert!(out[0].points[1].v.is_nan(), "one bucket: NaN");
    assert!(out[0].points[2].v.is_nan(), "no finite bucket: NaN");
    assert_eq!(out[0].points.iter().map(|p| p.t).collect::<Vec<_>>(), [0, M, 2 * M]);
}

#[test]
fn native_histogram_functions_see_no_floats() {
    let d = load(M, &[(l(&[("__name__", "x")]), "1")]);
    assert!(eval("histogram_count", 0, |s| vec![instant(&d, s)]).is_empty());
    assert!(eval("histogram_sum", 0, |s| vec![instant(&d, s)]).is_empty());
    assert!(eval("histogram_fraction", 0, |s| vec![
        scalar(0.0, s),
        scalar(1.0, s),
        instant(&d, s)
    ])
    .is_empty());
}

// -------------------------------------------------------------- labels.rs

fn testmetric() -> Data {
    load(
        5 * M,
        &[
            (
                l(&[
                    ("__name__", "testmetric"),
                    ("src", "source-value-10"),
                    ("dst", "original-destination-value"),
                ]),
                "0",
            ),
            (
                l(&[
                    ("__name__", "testmetric"),
                    ("src", "source-value-20"),
                    ("dst", "original-destination-value"),
                ]),
                "1",
            ),
        ],
    )
}

fn replace(d: &Data, dst: &str, repl: &str, src: &str, re: &str) -> Result<Vec<(Labels, f64)>, QueryError> {
    let steps = Steps::instant(0);
    let args = vec![instant(d, &steps), string(dst), string(repl), string(src), string(re)];
    match call("label_replace", &steps, args)? {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.points[0].v)).collect()),
        _ => unreachable!(),
    }
}

#[test]
fn label_replace_functions_test() {
    let d = testmetric();
    let tm = |src: &str, dst: Option<&str>| {
        let mut b = l(&[("__name__", "testmetric"), ("src", src)]).to_builder();
        if let Some(dst) = dst {
            b.set("dst", dst);
        }
        b.build()
    };
    let orig = Some("original-destination-value");
    // Full-string match and replace.
    expect(
        replace(&d, "dst", "destination-value-$1", "src", "source-value-(.*)").unwrap(),
        &[
            (tm("source-value-10", Some("destination-value-10")), 0.0),
            (tm("source-value-20", Some("destination-value-20")), 1.0),
        ],
    );
    // No sub-string match.
    expect(
        replace(&d, "dst", "destination-value-$1", "src", "value-(.*)").unwrap(),
        &[(tm("source-value-10", orig), 0.0), (tm("source-value-20", orig), 1.0)],
    );
    // Several groups.
    expect(
        replace(&d, "dst", "$1-value-$2", "src", "(.*)-value-(.*)").unwrap(),
        &[
            (tm("source-value-10", Some("source-value-10")), 0.0),
            (tm("source-value-20", Some("source-value-20")), 1.0),
        ],
    );
    // A missing source is the empty string: no match here, a match there.
    expect(
        replace(&d, "dst", "value-$1", "nonexistent-src", "source-value-(.*)").unwrap(),
        &[(tm("source-value-10", orig), 0.0), (tm("source-value-20", orig), 1.0)],
    );
    expect(
        replace(&d, "dst", "value-$1", "nonexistent-src", "(.*)").unwrap(),
        &[
            (tm("source-value-10", Some("value-")), 0.0),
            (tm("source-value-20", Some("value-")), 1.0),
        ],
    );
    expect(
        replace(&d, "dst", "value-$1", "src", "non-matching-regex").unwrap(),
        &[(tm("source-value-10", orig), 0.0), (tm("source-value-20", orig), 1.0)],
    );
    // An empty result deletes the label.
    expect(
        replace(&d, "dst", "", "dst", ".*").unwrap(),
        &[(tm("source-value-10", None), 0.0), (tm("source-value-20", None), 1.0)],
    );
    // Errors, with 2.42's messages; raised even for an empty vector.
    assert_eq!(
        replace(&d, "dst", "value-$1", "src", "(.*").unwrap_err(),
        QueryError::Execution("invalid regular expression in label_replace(): (.*".into())
    );
    assert_eq!(
        replace(&d, "invalid-label-name", "", "src", "(.*)").unwrap_err(),
        QueryError::Execution("invalid destination label name in label_replace(): invalid-label-name".into())
    );
    assert_eq!(
        replace(&vec![], "1a", "", "", "").unwrap_err(),
        QueryError::Execution("invalid destination label name in label_replace(): 1a".into())
    );
    // Duplicate output label sets are left for the evaluator to refuse.
    let dup = replace(&d, "src", "", "", "").unwrap();
    assert_eq!(dup[0].0, dup[1].0);
}

#[test]
fn label_replace_go_regex_and_template_semantics_2_42() {
    let d = load(
        M,
        &[
            (l(&[("__name__", "m"), ("src", "web-01:8080")]), "0"),
            (l(&[("__name__", "m"), ("src", "ünïcödé:١٢٣")]), "1"),
        ],
    );
    let port = |re: &str, repl: &str| -> Vec<Option<String>> {
        let mut got = replace(&d, "port", repl, "src", re).unwrap();
        got.sort_by(|a, b| a.1.total_cmp(&b.1));
        got.iter().map(|(l, _)| l.get("port").map(str::to_string)).collect()
    };
    // \d is ASCII in Go.
    assert_eq!(port(".*:(\\d+)", "$1"), [Some("8080".into()), None]);
    // $2x names a group "2x"; ${2}x is group 2 then x.
    assert_eq!(port("([^:]+):(.+)", "$2x"), [None, None]);
    assert_eq!(
        port("([^:]+):(.+)", "${2}x"),
        [Some("8080x".into()), Some("١٢٣x".into())]
    );
    assert_eq!(
        port("(?P<host>[\\w-]+):.*", "${host}$$"),
        [Some("web-01$".into()), None]
    );
    // Go 1.19 refuses (?<name>) groups.
    assert!(replace(&d, "port", "", "src", "(?<x>a)").is_err());
    // A brace that is no repetition is a literal.
    assert_eq!(port("web-01:80{", "x"), [None, None]);
}

#[test]
fn label_join_functions_test() {
    let d = load(
        5 * M,
        &[
            (
                l(&[
                    ("__name__", "testmetric"),
                    ("src", "a"),
                    ("src1", "b"),
                    ("src2", "c"),
                    ("dst", "original"),
                ]),
                "0",
            ),
            (
                l(&[
                    ("__name__", "testmetric"),
                    ("src", "d"),
                    ("src1", "e"),
                    ("src2", "f"),
                    ("dst", "original"),
                ]),
                "1",
            ),
        ],
    );
    let join = |dst: &str, sep: &str, srcs: &[&str]| {
        let steps = Steps::instant(0);
        let mut args = vec![instant(&d, &steps), string(dst), string(sep)];
        args.extend(srcs.iter().map(|s| string(s)));
        match call("label_join", &steps, args) {
            Ok(Value::Vector(v)) => Ok(v
                .into_iter()
                .map(|s| {
                    (
                        s.labels.get("dst").map(str::to_string),
                        s.labels.get("__name__").is_some(),
                    )
                })
                .collect::<Vec<_>>()),
            Ok(_) => unreachable!(),
            Err(e) => Err(e),
        }
    };
    assert_eq!(
        join("dst", "-", &["src", "src1", "src2"]).unwrap(),
        [(Some("a-b-c".into()), true), (Some("d-e-f".into()), true)]
    );
    assert_eq!(
        join("dst", "-", &["src", "src3", "src1"]).unwrap(),
        [(Some("a--b".into()), true), (Some("d--e".into()), true)]
    );
    assert_eq!(
        join("dst", "", &["emptysrc", "emptysrc1"]).unwrap(),
        [(None, true), (None, true)]
    );
    assert_eq!(join("dst", ", ", &[]).unwrap(), [(None, true), (None, true)]);
    assert_eq!(
        join("dst", "-", &["src", "1bad"]).unwrap_err(),
        QueryError::Execution("invalid source label name in label_join(): 1bad".into())
    );
    assert_eq!(
        join("1a", "-", &["src"]).unwrap_err(),
        QueryError::Execution("invalid destination label name in label_join(): 1a".into())
    );
}

// ---------------------------------------------------------------- time.rs

#[test]
fn time_functions_functions_test() {
    let at = |f: &str, v: Option<f64>| -> f64 {
        let got = eval(f, 0, |s| match v {
            Some(v) => vec![Value::Vector(vec![Series {
                labels: l(&[("__name__", "t")]),
                points: vec![Point { t: s.start, v }],
            }])],
            None => vec![],
        });
        assert_eq!(got[0].0, Labels::empty());
        got[0].1
    };
    assert_eq!(at("year", None), 1970.0);
    assert_eq!(at("year", Some(1136239445.0)), 2006.0);
    assert_eq!(at("month", None), 1.0);
    assert_eq!(at("month", Some(1136239445.0)), 1.0);
    assert_eq!(at("day_of_month", None), 1.0);
    assert_eq!(at("day_of_month", Some(1136239445.0)), 2.0);
    assert_eq!(at("day_of_week", None), 4.0);
    assert_eq!(at("day_of_week", Some(1136239445.0)), 1.0);
    assert_eq!(at("hour", None), 0.0);
    assert_eq!(at("hour", Some(1136239445.0)), 22.0);
    assert_eq!(at("minute", None), 0.0);
    assert_eq!(at("minute", Some(1136239445.0)), 4.0);
    assert_eq!(at("year", Some(1230767999.0)), 2008.0);
    assert_eq!(at("year", Some(1230768000.0)), 2009.0);
    assert_eq!(at("month", Some(1456790399.0)), 2.0);
    assert_eq!(at("day_of_month", Some(1456790399.0)), 29.0);
    assert_eq!(at("month", Some(1456790400.0)), 3.0);
    assert_eq!(at("day_of_month", Some(1456790400.0)), 1.0);
    assert_eq!(at("days_in_month", Some(1454284800.0)), 29.0);
    assert_eq!(at("days_in_month", Some(1485907200.0)), 28.0);
    // Absurd inputs, as Go's int64 conversion and calendar arithmetic give them (2.42).
    assert_eq!(at("year", Some(f64::NAN)), 292277026596.0);
    assert_eq!(at("month", Some(f64::NAN)), 12.0);
    assert_eq!(at("day_of_month", Some(f64::INFINITY)), 4.0);
    assert_eq!(at("days_in_month", Some(1e20)), 31.0);
    assert_eq!(at("day_of_week", Some(f64::NEG_INFINITY)), 0.0);
    assert_eq!(at("hour", Some(-1e15)), 22.0);
    assert_eq!(at("day_of_year", Some(1e18)), 297.0);
    assert_eq!(at("minute", Some(-0.5)), 0.0);
}

#[test]
fn time_and_default_vector_over_a_grid() {
    let steps = Steps {
        start: 1500,
        end: 3 * M + 1500,
        step: M,
    };
    assert_eq!(
        call("time", &steps, vec![]),
        Ok(Value::Scalar(vec![1.5, 61.5, 121.5, 181.5]))
    );
    let Value::Vector(out) = call("minute", &steps, vec![]).unwrap() else {
        panic!()
    };
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].labels, Labels::empty());
    assert_eq!(
        out[0].points.iter().map(|p| p.v).collect::<Vec<_>>(),
        [0.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(
        out[0].points.iter().map(|p| p.t).collect::<Vec<_>>(),
        steps.iter().collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------- misc.rs

#[test]
fn sort_functions_test() {
    let hr = |job: &str, instance: &str, group: &str| {
        l(&[
            ("__name__", "http_requests"),
            ("job", job),
            ("instance", instance),
            ("group", group),
        ])
    };
    let d = load(
        5 * M,
        &[
            (hr("api-server", "0", "production"), "0+10x10"),
            (hr("api-server", "1", "production"), "0+20x10"),
            (hr("api-server", "0", "canary"), "0+30x10"),
            (hr("api-server", "1", "canary"), "0+40x10"),
            (
                hr("api-server", "2", "canary"),
                "NaN NaN NaN NaN NaN NaN NaN NaN NaN NaN",
            ),
            (hr("app-server", "0", "production"), "0+50x10"),
            (hr("app-server", "1", "production"), "0+60x10"),
            (hr("app-server", "0", "canary"), "0+70x10"),
            (hr("app-server", "1", "canary"), "0+80x10"),
        ],
    );
    let mut d = d;
    d.sort_by(|a, b| a.0.cmp(&b.0));
    let asc = eval("sort", 50 * M, |s| vec![instant(&d, s)]);
    let want = [
        (hr("api-server", "0", "production"), 100.0),
        (hr("api-server", "1", "production"), 200.0),
        (hr("api-server", "0", "canary"), 300.0),
        (hr("api-server", "1", "canary"), 400.0),
        (hr("app-server", "0", "production"), 500.0),
        (hr("app-server", "1", "production"), 600.0),
        (hr("app-server", "0", "canary"), 700.0),
        (hr("app-server", "1", "canary"), 800.0),
        (hr("api-server", "2", "canary"), f64::NAN),
    ];
    assert_eq!(asc.len(), want.len());
    for (g, w) in asc.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert!(same(g.1, w.1));
    }
    let desc = eval("sort_desc", 50 * M, |s| vec![instant(&d, s)]);
    let want_desc: Vec<_> = want[..8].iter().rev().chain(&want[8..]).collect();
    for (g, w) in desc.iter().zip(want_desc) {
        assert_eq!(g.0, w.0);
        assert!(same(g.1, w.1));
    }
}

#[test]
fn sort_places_ties_and_nans_as_go_does_2_42() {
    // s{i="00".."15"} in label order; orders answered by Prometheus 2.42.
    let vals = [1, -1, 1, 0, -1, 2, 1, 0, 3, -1, 1, 2, 0, 1, 5, 1];
    let d: Data = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let v = if v < 0 { f64::NAN } else { v as f64 };
            (
                l(&[("__name__", "s"), ("i", &format!("{i:02}"))]),
                vec![Sample { t: 0, v }],
            )
        })
        .collect();
    let order = |f: &str, data: &Data| -> Vec<String> {
        eval(f, 0, |s| vec![instant(data, s)])
            .iter()
            .map(|(l, _)| l.get("i").unwrap().to_string())
            .collect()
    };
    // 16 series: pdqsort proper.
    assert_eq!(
        order("sort", &d),
        ["03", "07", "12", "15", "02", "13", "06", "00", "10", "11", "05", "08", "14", "01", "04", "09"]
    );
    assert_eq!(
        order("sort_desc", &d),
        ["14", "08", "05", "11", "10", "15", "02", "13", "06", "00", "12", "07", "03", "01", "04", "09"]
    );
    // 7 series: insertion sort (NaNs end up in reverse input order).
    let small: Data = d[..7].to_vec();
    assert_eq!(order("sort", &small), ["03", "00", "02", "06", "05", "04", "01"]);
    assert_eq!(order("sort_desc", &small), ["05", "00", "02", "06", "03", "04", "01"]);
}

#[test]
fn scalar_and_vector() {
    let steps = Steps {
        start: 0,
        end: 2 * M,
        step: M,
    };
    let v = Value::Vector(vec![
        Series {
            labels: l(&[("__name__", "a")]),
            points: vec![Point { t: 0, v: 1.0 }, Point { t: M, v: 2.0 }],
        },
        Series {
            labels: l(&[("__name__", "b")]),
            points: vec![Point { t: M, v: 3.0 }],
        },
    ]);
    let Value::Scalar(s) = call("scalar", &steps, vec![v]).unwrap() else {
        panic!()
    };
    assert_eq!(s[0], 1.0);
    assert!(s[1].is_nan(), "two series");
    assert!(s[2].is_nan(), "none");
    let out = call("vector", &steps, vec![Value::Scalar(vec![1.0, f64::NAN, 3.0])]).unwrap();
    let Value::Vector(out) = out else { panic!() };
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].labels, Labels::empty());
    assert_eq!(out[0].points.len(), 3);
    assert!(out[0].points[1].v.is_nan());
}

// ------------------------------------------------------------- dispatcher

#[test]
fn not_ours_and_wrong_arguments() {
    let steps = Steps::instant(0);
    for f in ["absent", "absent_over_time", "timestamp", "no_such_function"] {
        assert_eq!(
            call(f, &steps, vec![]),
            Err(QueryError::BadData(format!("function {f} is not handled here")))
        );
    }
    assert!(matches!(
        call("rate", &steps, vec![Value::Vector(vec![])]),
        Err(QueryError::BadData(_))
    ));
    assert!(matches!(call("abs", &steps, vec![]), Err(QueryError::BadData(_))));
    assert!(matches!(
        call(
            "clamp",
            &steps,
            vec![Value::Vector(vec![]), Value::Scalar(vec![1.0, 2.0])]
        ),
        Err(QueryError::BadData(_))
    ));
}

#[test]
fn points_off_the_grid_are_ignored_not_trusted() {
    let steps = Steps {
        start: 0,
        end: 2 * M,
        step: M,
    };
    let v = || {
        Value::Vector(vec![Series {
            labels: l(&[("__name__", "x"), ("le", "+Inf")]),
            points: vec![
                Point { t: -M, v: 1.0 },
                Point { t: 30 * S, v: 2.0 },
                Point { t: 9 * M, v: 3.0 },
            ],
        }])
    };
    let sc = || Value::Scalar(vec![0.5; 3]);
    for (f, args) in [
        ("clamp_min", vec![v(), sc()]),
        ("round", vec![v(), sc()]),
        ("histogram_quantile", vec![sc(), v()]),
        ("scalar", vec![v()]),
    ] {
        match call(f, &steps, args).unwrap() {
            Value::Vector(out) => assert!(out.is_empty(), "{f}"),
            Value::Scalar(s) => assert!(s.iter().all(|v| v.is_nan()), "{f}"),
            other => panic!("{other:?}"),
        }
    }
}
