//! The expression corpus: a hand-written part (`corpus.txt`: dashboard and
//! alerting queries from the seed, edge cases) and a generated part from a
//! fixed seed. The generated part starts with a sweep that puts every
//! function, aggregation and operator in front of varied arguments, then
//! adds random compositions — selectors with every kind of matcher,
//! `by`/`without`, `on`/`ignoring`/`group_left`/`group_right`, `bool`,
//! offsets, `@`, subqueries and range widths — until the corpus is big
//! enough. Order is stable, so the CI slice (a prefix) is too.
use std::collections::BTreeSet;

use crate::data::{BASE_MS, END_MS};
use crate::rng::Rng;

/// Counter selectors (with every kind of matcher).
const COUNTERS: &[&str] = &[
    "http_requests_total",
    "http_requests_total{job=\"api\"}",
    "http_requests_total{code=~\"5..\"}",
    "http_requests_total{code!=\"200\",method=\"GET\"}",
    "http_requests_total{instance!~\"api-.*\"}",
    "http_requests_total{code=~\"4..|5..\",job=\"web\"}",
    "http_requests_total{job=~\"a.*\"}",
    "http_requests_total{nonexistent=\"\"}",
    "http_requests_total{method=\"POST\",code=\"200\"}",
    "http_requests_total{instance=\"api-1:8080\"}",
    "node_cpu_seconds_total",
    "node_cpu_seconds_total{mode=\"idle\"}",
    "node_cpu_seconds_total{mode!=\"idle\",cpu=\"0\"}",
    "errors_total",
    "failures_total{instance=~\"api-[01].*\"}",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum{job=\"web\"}",
    "{__name__=~\"errors_total|failures_total\"}",
    "{__name__=\"http_requests_total\",code=\"503\"}",
];

/// Gauge selectors.
const GAUGES: &[&str] = &[
    "node_memory_usage_bytes",
    "temperature_celsius",
    "temperature_celsius{sensor=\"b\"}",
    "temperature_celsius{instance=~\"node-1.*\"}",
    "queue_length",
    "queue_length{queue=\"q2\"}",
    "queue_length{queue=~\"q[13]\"}",
    "up",
    "up{job=\"api\"}",
    "up{job!~\"api|web\"}",
    "weird_values",
    "weird_values{kind=\"tiny\"}",
    "weird_values{kind=\"huge\"}",
    "weird_values{kind=~\"nan|inf\"}",
    "weird_values{kind!~\"nan|inf\"}",
    "flappy_gauge",
    "batch_last_success_timestamp_seconds",
    "build_info",
    "build_info{version=\"1.0.0\"}",
];

/// Selectors that match nothing.
const EMPTY: &[&str] = &[
    "nonexistent_metric",
    "up{job=\"\"}",
    "http_requests_total{code=\"999\"}",
];

const RANGES: &[&str] = &["15s", "30s", "1m", "90s", "2m", "5m", "10m", "1h", "1m15s", "3m"];
const OFFSETS: &[&str] = &["5m", "1m30s", "-5m", "1h", "30s", "-1m"];
const SUBQUERY: &[&str] = &[
    "[10m:1m]", "[5m:]", "[30m:2m]", "[5m:15s]", "[1h:5m]", "[3m:20s]", "[10m:7s]",
];

const COUNTER_RANGE_FNS: &[&str] = &["rate", "irate", "increase", "resets", "changes"];
const GAUGE_RANGE_FNS: &[&str] = &[
    "delta",
    "idelta",
    "deriv",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "changes",
    "resets",
    "absent_over_time",
];
const MATH_FNS: &[&str] = &[
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
    "timestamp",
];
const TIME_FNS: &[&str] = &[
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
];
const SIMPLE_AGGS: &[&str] = &["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"];
const ARITH: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const CMP: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SET: &[&str] = &["and", "or", "unless"];
const GROUP_LABELS: &[&str] = &[
    "job",
    "instance",
    "job, instance",
    "code",
    "mode",
    "le",
    "nonexistent",
    "",
    "__name__",
    "sensor, job",
];

/// Times (seconds) used by `@`.
fn at_times() -> Vec<String> {
    vec![
        secs(BASE_MS + 20 * 60_000),
        secs(BASE_MS + 47 * 60_000 + 500),
        secs(END_MS + 60_000),
        "start()".into(),
        "end()".into(),
        secs(BASE_MS - 60_000),
    ]
}

fn secs(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
    }
}

/// The hand-written part: one expression per line, `#` comments.
pub fn hand_written() -> Vec<String> {
    include_str!("corpus.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

struct Gen {
    rng: Rng,
}

impl Gen {
    fn pick(&mut self, items: &[&str]) -> String {
        self.rng.pick(items).to_string()
    }

    fn counter(&mut self) -> String {
        if self.rng.chance(0.04) {
            return self.pick(EMPTY);
        }
        self.pick(COUNTERS)
    }

    fn gauge(&mut self) -> String {
        if self.rng.chance(0.04) {
            return self.pick(EMPTY);
        }
        self.pick(GAUGES)
    }

    fn any_selector(&mut self) -> String {
        if self.rng.chance(0.5) {
            self.counter()
        } else {
            self.gauge()
        }
    }

    /// ` offset x`, ` @ t`, both, or nothing.
    fn modifiers(&mut self) -> String {
        let mut s = String::new();
        if self.rng.chance(0.15) {
            let at = self
                .rng
                .pick(&at_times().iter().map(String::as_str).collect::<Vec<_>>())
                .to_string();
            s.push_str(&format!(" @ {at}"));
        }
        if self.rng.chance(0.2) {
            s.push_str(&format!(" offset {}", self.pick(OFFSETS)));
        }
        s
    }

    fn range_of(&mut self, sel: String) -> String {
        let r = self.pick(RANGES);
        let m = self.modifiers();
        format!("{sel}[{r}]{m}")
    }

    /// A range vector over counters: a selector or a subquery.
    fn counter_range(&mut self) -> String {
        if self.rng.chance(0.1) {
            let inner = self.counter();
            let sq = self.pick(SUBQUERY);
            return format!("{inner}{sq}");
        }
        let sel = self.counter();
        self.range_of(sel)
    }

    fn gauge_range(&mut self) -> String {
        if self.rng.chance(0.15) {
            let inner = if self.rng.chance(0.5) {
                let r = self.counter_range();
                format!("rate({r})")
            } else {
                self.vec_expr(1)
            };
            let sq = self.pick(SUBQUERY);
            let m = if self.rng.chance(0.2) {
                self.modifiers()
            } else {
                String::new()
            };
            return format!("({inner}){sq}{m}");
        }
        let sel = self.gauge();
        self.range_of(sel)
    }

    fn scalar_literal(&mut self) -> String {
        self.pick(&[
            "0", "1", "2", "0.5", "-1", "10", "100", "1e3", "3.14", "-0.25", "1e-3", "0.1",
        ])
    }

    fn scalar_expr(&mut self, depth: u32) -> String {
        match self.rng.below(if depth == 0 { 3 } else { 7 }) {
            0 | 1 => self.scalar_literal(),
            2 => self.pick(&["time()", "pi()", "(2 * 3)", "-(4)", "(1 / 0)", "(0 / 0)"]),
            3 => {
                let v = self.vec_expr(depth - 1);
                format!("scalar({v})")
            }
            4 => {
                let a = self.scalar_expr(depth - 1);
                let b = self.scalar_expr(depth - 1);
                let op = self.pick(ARITH);
                format!("({a} {op} {b})")
            }
            5 => {
                let a = self.scalar_expr(depth - 1);
                let b = self.scalar_expr(depth - 1);
                let op = self.pick(CMP);
                format!("({a} {op} bool {b})")
            }
            _ => {
                let sel = self.gauge();
                format!("scalar(sum({sel}))")
            }
        }
    }

    fn grouping(&mut self) -> String {
        match self.rng.below(5) {
            0 => String::new(),
            1 | 2 => format!(" by ({})", self.pick(GROUP_LABELS)),
            _ => format!(" without ({})", self.pick(GROUP_LABELS)),
        }
    }

    fn range_fn(&mut self) -> String {
        match self.rng.below(10) {
            0..=3 => {
                let f = self.pick(COUNTER_RANGE_FNS);
                let r = self.counter_range();
                format!("{f}({r})")
            }
            4..=6 => {
                let f = self.pick(GAUGE_RANGE_FNS);
                let r = self.gauge_range();
                format!("{f}({r})")
            }
            7 => {
                let q = self.pick(&["0", "0.5", "0.9", "0.99", "1", "-0.5", "1.5"]);
                let r = self.gauge_range();
                format!("quantile_over_time({q}, {r})")
            }
            8 => {
                let d = self.pick(&["600", "3600", "-300", "0", "60"]);
                let r = self.gauge_range();
                format!("predict_linear({r}, {d})")
            }
            _ => {
                let sf = self.pick(&["0.1", "0.5", "0.9", "0.3"]);
                let tf = self.pick(&["0.1", "0.5", "0.9", "0.7"]);
                let r = self.gauge_range();
                format!("holt_winters({r}, {sf}, {tf})")
            }
        }
    }

    fn aggregation(&mut self, depth: u32) -> String {
        let inner = self.vec_expr(depth.saturating_sub(1));
        let g = self.grouping();
        let prefix = self.rng.chance(0.5);
        let (op, param) = match self.rng.below(12) {
            0..=6 => (self.pick(SIMPLE_AGGS), None),
            7 => ("topk".to_string(), Some(self.pick(&["1", "2", "3", "0", "100"]))),
            8 => ("bottomk".to_string(), Some(self.pick(&["1", "2", "5"]))),
            9 => (
                "quantile".to_string(),
                Some(self.pick(&["0.5", "0.9", "0", "1", "-1", "2"])),
            ),
            10 => (
                "count_values".to_string(),
                Some(self.pick(&["\"value\"", "\"job\"", "\"v\""])),
            ),
            _ => ("topk".to_string(), Some(self.pick(&["scalar(count(up))", "1 + 1"]))),
        };
        let args = match param {
            Some(p) => format!("{p}, {inner}"),
            None => inner,
        };
        if prefix || g.is_empty() {
            format!("{op}{g} ({args})")
        } else {
            format!("{op} ({args}){g}")
        }
    }

    /// A pair of vectors that share labels, so matching has something to do.
    fn matched_pair(&mut self) -> (String, String) {
        let sel = self.counter();
        let r1 = self.pick(RANGES);
        let r2 = self.pick(RANGES);
        let f1 = self.pick(COUNTER_RANGE_FNS);
        match self.rng.below(4) {
            0 => (format!("{f1}({sel}[{r1}])"), format!("{f1}({sel}[{r2}] offset 5m)")),
            1 => (sel.clone(), format!("{sel} offset 1m")),
            2 => {
                let g = self.gauge();
                (g.clone(), format!("{g} offset 2m"))
            }
            _ => (format!("rate({sel}[{r1}])"), format!("increase({sel}[{r2}])")),
        }
    }

    fn vector_matching(&mut self) -> String {
        let op = match self.rng.below(3) {
            0 => self.pick(ARITH),
            1 => {
                let c = self.pick(CMP);
                if self.rng.chance(0.5) {
                    format!("{c} bool")
                } else {
                    c
                }
            }
            _ => self.pick(SET),
        };
        match self.rng.below(8) {
            0 | 1 => {
                let (a, b) = self.matched_pair();
                format!("{a} {op} {b}")
            }
            2 => {
                let (a, b) = self.matched_pair();
                let on = self.pick(&["job, instance", "instance", "job", "instance, method, code, job"]);
                let kw = if self.rng.chance(0.5) { "on" } else { "ignoring" };
                format!("{a} {op} {kw}({on}) {b}")
            }
            3 => {
                // Many-to-one: per series over per group.
                let f = self.pick(COUNTER_RANGE_FNS);
                let r = self.pick(RANGES);
                let by = self.pick(&["job", "job, instance", "instance"]);
                let sel = self.pick(&[
                    "http_requests_total",
                    "http_requests_total{code=~\"5..\"}",
                    "node_cpu_seconds_total",
                ]);
                let arith = self.pick(ARITH);
                let extra = if self.rng.chance(0.3) { "(job)" } else { "" };
                format!("{f}({sel}[{r}]) {arith} on({by}) group_left{extra} sum by ({by}) ({f}({sel}[{r}]))")
            }
            4 => {
                let by = self.pick(&["job", "job, instance", "instance"]);
                let arith = self.pick(ARITH);
                let right = self.pick(&["up", "http_requests_total", "errors_total", "temperature_celsius"]);
                format!("sum by ({by}) ({right}) {arith} on({by}) group_right {right}")
            }
            5 => {
                let left = self.pick(&[
                    "up",
                    "errors_total",
                    "rate(errors_total[5m])",
                    "node_memory_usage_bytes",
                ]);
                let labels = self.pick(&["version", "", "version, job"]);
                let on = self.pick(&["instance", "instance, job"]);
                let arith = self.pick(&["*", "+", "/"]);
                format!("{left} {arith} on({on}) group_left({labels}) build_info")
            }
            6 => {
                let sel = self.pick(&["http_requests_total", "http_request_duration_seconds_bucket"]);
                let ign = self.pick(&["code", "method, code", "le", "code, method"]);
                let arith = self.pick(ARITH);
                format!("{sel} {arith} ignoring({ign}) group_left sum without({ign}) ({sel})")
            }
            _ => {
                // Unrelated operands: usually empty, sometimes an error.
                let a = self.vec_expr(1);
                let b = self.vec_expr(1);
                format!("({a}) {op} ({b})")
            }
        }
    }

    fn vec_expr(&mut self, depth: u32) -> String {
        let choices = if depth == 0 { 3 } else { 16 };
        match self.rng.below(choices) {
            0 => {
                let s = self.any_selector();
                let m = self.modifiers();
                format!("{s}{m}")
            }
            1 | 2 => self.range_fn(),
            3 | 4 => {
                let f = self.pick(MATH_FNS);
                let v = self.vec_expr(depth - 1);
                format!("{f}({v})")
            }
            5 | 6 => self.aggregation(depth),
            7 => {
                let v = self.vec_expr(depth - 1);
                let s = self.scalar_expr(depth - 1);
                let op = match self.rng.below(3) {
                    0 => self.pick(ARITH),
                    1 => self.pick(CMP),
                    _ => format!("{} bool", self.pick(CMP)),
                };
                if self.rng.chance(0.5) {
                    format!("{v} {op} {s}")
                } else {
                    format!("{s} {op} {v}")
                }
            }
            8 | 9 => self.vector_matching(),
            10 => {
                let v = self.vec_expr(depth - 1);
                match self.rng.below(4) {
                    0 => {
                        let (lo, hi) = (self.scalar_literal(), self.scalar_literal());
                        format!("clamp({v}, {lo}, {hi})")
                    }
                    1 => format!("clamp_min({v}, {})", self.scalar_literal()),
                    2 => format!("clamp_max({v}, {})", self.scalar_literal()),
                    _ => format!("round({v}, {})", self.pick(&["0.1", "5", "0.001", "-1", "3"])),
                }
            }
            11 => {
                let v = self.vec_expr(depth - 1);
                match self.rng.below(4) {
                    0 => format!("label_replace({v}, \"host\", \"$1\", \"instance\", \"(.*):.*\")"),
                    1 => format!("label_replace({v}, \"job\", \"x-$1\", \"job\", \"a(.*)\")"),
                    2 => format!("label_join({v}, \"id\", \"/\", \"job\", \"instance\")"),
                    _ => format!("label_join({v}, \"job\", \"\", \"code\")"),
                }
            }
            12 => {
                let q = self.pick(&["0.5", "0.9", "0.99", "0", "1", "-1", "2", "0.25"]);
                let by = self.pick(&["le", "le, job", "le, instance", "job, le, instance"]);
                let r = self.pick(&["1m", "5m", "10m", "2m"]);
                let sel = self.pick(&[
                    "http_request_duration_seconds_bucket",
                    "http_request_duration_seconds_bucket{job=\"api\"}",
                    "http_request_duration_seconds_bucket{le!=\"0.1\"}",
                ]);
                let m = self.modifiers();
                if self.rng.chance(0.2) {
                    format!("histogram_quantile({q}, {sel}{m})")
                } else {
                    format!("histogram_quantile({q}, sum by ({by}) (rate({sel}[{r}]{m})))")
                }
            }
            13 => {
                let f = self.pick(TIME_FNS);
                if self.rng.chance(0.4) {
                    format!("{f}()")
                } else {
                    let arg = self.pick(&[
                        "batch_last_success_timestamp_seconds",
                        "timestamp(up)",
                        "vector(1704067199)",
                        "vector(1706745600)",
                        "up",
                        "weird_values",
                    ]);
                    format!("{f}({arg})")
                }
            }
            14 => {
                let v = self.vec_expr(depth - 1);
                match self.rng.below(4) {
                    0 => format!("sort({v})"),
                    1 => format!("sort_desc({v})"),
                    2 => format!("absent({v})"),
                    _ => {
                        let s = self.scalar_expr(depth - 1);
                        format!("vector({s})")
                    }
                }
            }
            _ => {
                let v = self.vec_expr(depth - 1);
                format!("-({v})")
            }
        }
    }
}

/// The sweep: every function, aggregation and operator, each a few times
/// with different arguments.
fn sweep(g: &mut Gen, out: &mut Vec<String>) {
    for _ in 0..2 {
        for f in COUNTER_RANGE_FNS {
            let r = g.counter_range();
            out.push(format!("{f}({r})"));
        }
        for f in GAUGE_RANGE_FNS {
            let r = g.gauge_range();
            out.push(format!("{f}({r})"));
        }
        for f in MATH_FNS {
            let s = g.gauge();
            out.push(format!("{f}({s})"));
        }
        for f in TIME_FNS {
            out.push(format!("{f}()"));
            out.push(format!("{f}(batch_last_success_timestamp_seconds)"));
        }
        for a in SIMPLE_AGGS {
            let inner = g.range_fn();
            let grp = g.grouping();
            out.push(format!("{a}{grp} ({inner})"));
        }
        for op in ARITH.iter().chain(CMP).chain(SET) {
            let (a, b) = g.matched_pair();
            out.push(format!("{a} {op} {b}"));
            let s = g.scalar_literal();
            let v = g.gauge();
            out.push(
                format!("{v} {op} {s}")
                    .replace("and 1", "and up")
                    .replace("or 1", "or up")
                    .replace("unless 1", "unless up"),
            );
        }
    }
    for op in ARITH.iter().chain(CMP) {
        let a = g.scalar_literal();
        let b = g.scalar_literal();
        out.push(format!("{a} {op} bool {b}").replace(" bool", if CMP.contains(op) { " bool" } else { "" }));
    }
}

/// The whole corpus, hand-written part first, deduplicated, at least `min` long.
pub fn corpus(seed: u64, min: usize) -> Vec<String> {
    let mut out = hand_written();
    let mut g = Gen { rng: Rng::new(seed) };
    let mut generated = Vec::new();
    sweep(&mut g, &mut generated);
    let mut seen: BTreeSet<String> = out.iter().cloned().collect();
    for e in generated {
        if seen.insert(e.clone()) {
            out.push(e);
        }
    }
    let mut attempts = 0;
    while out.len() < min && attempts < min * 20 {
        attempts += 1;
        let depth = 1 + g.rng.below(3) as u32;
        let e = if g.rng.chance(0.1) {
            g.scalar_expr(depth)
        } else {
            g.vec_expr(depth)
        };
        if e.len() <= 400 && seen.insert(e.clone()) {
            out.push(e);
        }
    }
    out
}
