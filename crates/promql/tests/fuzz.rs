//! Random and mangled expressions must never panic the evaluator or hang a
//! query: each one returns a result or an error, within the engine timeout.
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::Labels;
use promql::{Engine, EngineOptions, QueryError, QueryOptions, Queryable};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const RANGE_FNS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
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
];
const VEC_FNS: &[&str] = &[
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
    "sort",
    "sort_desc",
    "timestamp",
    "absent",
    "minute",
    "hour",
    "month",
    "year",
    "day_of_week",
    "days_in_month",
    "scalar",
    "sin",
    "cos",
    "tanh",
    "deg",
    "rad",
    "clamp_min",
    "clamp_max",
];
const AGGS: &[&str] = &["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"];
const OPS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless", "atan2",
];
const SELECTORS: &[&str] = &[
    "m",
    "m{a=\"x\"}",
    "m{a=~\"x|y\"}",
    "m{a!=\"x\"}",
    "n",
    "{__name__=~\"m|n\"}",
    "nope",
];
const DURATIONS: &[&str] = &["1m", "5m", "30s", "1h", "0s", "10m"];

fn expr(r: &mut Rng, depth: u32) -> String {
    if depth == 0 {
        return match r.below(3) {
            0 => r.pick(SELECTORS).to_string(),
            1 => format!("{}", r.below(1000) as f64 / 7.0),
            _ => r.pick(SELECTORS).to_string(),
        };
    }
    match r.below(10) {
        0 => format!("{}({}[{}])", r.pick(RANGE_FNS), r.pick(SELECTORS), r.pick(DURATIONS)),
        1 => format!("{}({})", r.pick(VEC_FNS), expr(r, depth - 1)),
        2 => format!("{} by (a) ({})", r.pick(AGGS), expr(r, depth - 1)),
        3 => format!("({} {} {})", expr(r, depth - 1), r.pick(OPS), expr(r, depth - 1)),
        4 => format!("topk({}, {})", r.below(5), expr(r, depth - 1)),
        5 => format!("quantile(0.{}, {})", r.below(10), expr(r, depth - 1)),
        6 => format!(
            "max_over_time(({})[{}:{}])",
            expr(r, depth - 1),
            r.pick(DURATIONS),
            r.pick(&["1m", "15s", ""])
        ),
        7 => format!("{} offset {}", r.pick(SELECTORS), r.pick(DURATIONS)),
        8 => format!("histogram_quantile(0.9, rate(h_bucket[{}]))", r.pick(DURATIONS)),
        _ => format!("label_replace({}, \"b\", \"$1\", \"a\", \"(.*)\")", expr(r, depth - 1)),
    }
}

fn mangle(r: &mut Rng, s: &str) -> String {
    let mut b: Vec<char> = s.chars().collect();
    for _ in 0..1 + r.below(3) {
        if b.is_empty() {
            break;
        }
        let i = r.below(b.len() as u64) as usize;
        match r.below(3) {
            0 => {
                b.remove(i);
            }
            1 => b.insert(
                i,
                ['(', ')', '{', '}', '[', ']', '"', ',', '@', '-', '9'][r.below(11) as usize],
            ),
            _ => {
                let j = (i + 1).min(b.len() - 1);
                b.swap(i, j)
            }
        }
    }
    b.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mangled_expressions_never_panic_or_hang() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = tsdb::Db::open(dir.path(), tsdb::Options::default()).unwrap();
    let mut app = db.appender();
    for i in 0..6i64 {
        for t in 0..120i64 {
            let v = if t % 17 == 0 { f64::NAN } else { (t * (i + 1)) as f64 };
            for (name, a) in [("m", ["x", "y", "z"][(i % 3) as usize]), ("n", "x")] {
                let l = Labels::from_pairs([("__name__", name), ("a", a), ("i", &i.to_string())]);
                app.append(&l, t * 15_000, v).unwrap();
            }
            let l = Labels::from_pairs([
                ("__name__", "h_bucket"),
                ("le", ["0.1", "1", "+Inf"][(i % 3) as usize]),
                ("i", "0"),
            ]);
            let _ = app.append(&l, t * 15_000, (t * (i % 3 + 1)) as f64);
        }
    }
    app.commit().unwrap();
    let db: Arc<dyn Queryable> = Arc::new(db);
    let engine = Engine::new(EngineOptions {
        timeout: Duration::from_secs(5),
        ..EngineOptions::default()
    });
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ran = 0;
    let mut answered = 0;
    while ran < 2000 && Instant::now() < deadline {
        let depth = 1 + r.below(3) as u32;
        let mut q = expr(&mut r, depth);
        if r.below(3) == 0 {
            q = mangle(&mut r, &q);
        }
        let started = Instant::now();
        let res = if r.below(2) == 0 {
            engine
                .instant(db.clone(), &q, 1_200_000, QueryOptions::default())
                .await
                .map(|_| ())
        } else {
            engine
                .range(db.clone(), &q, 0, 1_800_000, 60_000, QueryOptions::default())
                .await
                .map(|_| ())
        };
        answered += usize::from(res.is_ok());
        if let Err(QueryError::Execution(msg)) = &res {
            assert!(
                !msg.starts_with("unexpected error"),
                "{q:?} panicked the evaluator: {msg}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{q:?} took {:?}",
            started.elapsed()
        );
        ran += 1;
    }
    assert!(ran >= 200, "only {ran} expressions ran in time");
    // Enough of them are valid for evaluation (not just parsing) to be exercised.
    assert!(answered >= ran / 4, "only {answered} of {ran} expressions evaluated");
}
