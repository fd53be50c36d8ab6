//! The dataset both servers receive: one hour of 15 s "scrapes" of a small
//! web fleet, generated from a fixed seed and sent as one remote-write
//! request per round, every series of the round in it, in time order.
//!
//! What it holds, and why:
//! - counters with random increments and a process restart (`api-1` resets
//!   every counter and histogram at round 150), a series that starts late
//!   and one that ends with a staleness marker;
//! - gauges (memory, temperatures going negative, integer queue lengths);
//! - classic histograms `_bucket{le}` with `_sum` and `_count`;
//! - gaps longer than the 5 m lookback, a series on a 1 m interval, a gauge
//!   that goes stale and comes back, an info metric whose `version` label
//!   changes mid-way;
//! - awkward values: tiny, huge, NaN, ±Inf, negative;
//! - two metrics with identical labels apart from the name, so that
//!   dropping `__name__` collides;
//! - per-instance scrape offsets and a few ms of jitter.
//!
//! The data starts at 2023-12-31 23:40:00 UTC so that time functions see
//! an hour, day, month and year boundary.
use crate::common::proto;
use crate::rng::Rng;

/// First round's time (ms): 2023-12-31T23:40:00Z.
pub const BASE_MS: i64 = 1_704_066_000_000;
/// Scrape interval.
pub const INTERVAL_MS: i64 = 15_000;
/// Rounds 0..=ROUNDS-1 cover one hour.
pub const ROUNDS: usize = 241;
/// Time of the last round.
pub const END_MS: i64 = BASE_MS + (ROUNDS as i64 - 1) * INTERVAL_MS;

const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const RESTART_ROUND: usize = 150;
const RESTARTED: &str = "api-1:8080";

struct Instance {
    job: &'static str,
    name: &'static str,
    offset_ms: i64,
}

const INSTANCES: [Instance; 8] = [
    Instance {
        job: "api",
        name: "api-0:8080",
        offset_ms: 0,
    },
    Instance {
        job: "api",
        name: "api-1:8080",
        offset_ms: 3_217,
    },
    Instance {
        job: "api",
        name: "api-2:8080",
        offset_ms: 7_500,
    },
    Instance {
        job: "web",
        name: "web-0:80",
        offset_ms: 1_003,
    },
    Instance {
        job: "web",
        name: "web-1:80",
        offset_ms: 11_999,
    },
    Instance {
        job: "node",
        name: "node-0:9100",
        offset_ms: 250,
    },
    Instance {
        job: "node",
        name: "node-1:9100",
        offset_ms: 14_000,
    },
    Instance {
        job: "batch",
        name: "batch-0:9091",
        offset_ms: 5_000,
    },
];

/// One series being generated: labels, its state and its samples for the
/// round being built.
struct Series {
    labels: Vec<(String, String)>,
    pending: Option<(i64, f64)>,
}

/// Builds the remote-write requests, one per round.
pub fn requests(seed: u64) -> Vec<proto::WriteRequest> {
    let mut g = Generator::new(seed);
    (0..ROUNDS).map(|r| g.round(r)).collect()
}

/// Number of distinct series in the dataset (for sanity checks).
pub fn series_count(reqs: &[proto::WriteRequest]) -> usize {
    let mut all = std::collections::BTreeSet::new();
    for r in reqs {
        for ts in &r.timeseries {
            all.insert(ts.labels.clone());
        }
    }
    all.len()
}

struct Histogram {
    counts: [f64; 12],
    sum: f64,
    count: f64,
}

struct Generator {
    rng: Rng,
    counters: std::collections::BTreeMap<String, f64>,
    hists: std::collections::BTreeMap<String, Histogram>,
    out: Vec<Series>,
}

fn labels(name: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    l.push(("__name__".into(), name.into()));
    l.sort();
    l
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            counters: Default::default(),
            hists: Default::default(),
            out: Vec::new(),
        }
    }

    fn emit(&mut self, labels: Vec<(String, String)>, t: i64, v: f64) {
        self.out.push(Series {
            labels,
            pending: Some((t, v)),
        });
    }

    /// Timestamp of instance `i` in round `r`: its offset plus a few ms of
    /// jitter — except `api-0` and `batch-0`, whose samples sit exactly on
    /// the 15 s grid (plus 5 s for batch-0), so that query times and range
    /// boundaries fall exactly on samples (2.42's range selectors include
    /// a sample at exactly `t - range`).
    fn ts(&mut self, inst: &Instance, r: usize) -> i64 {
        let jitter = self.rng.below(7) as i64 - 3;
        let jitter = if inst.name == "api-0:8080" || inst.job == "batch" {
            0
        } else {
            jitter
        };
        (BASE_MS + r as i64 * INTERVAL_MS + inst.offset_ms + jitter).max(BASE_MS)
    }

    fn counter(&mut self, key: &str, r: usize, inst: &Instance, inc: f64) -> f64 {
        let reset = r == RESTART_ROUND && inst.name == RESTARTED;
        let c = self.counters.entry(key.to_string()).or_insert(0.0);
        if reset {
            *c = 0.0;
        }
        *c += inc;
        *c
    }

    fn round(&mut self, r: usize) -> proto::WriteRequest {
        self.out.clear();
        for inst in &INSTANCES {
            let t = self.ts(inst, r);
            let (job, instance) = (inst.job, inst.name);
            let base = [("job", job), ("instance", instance)];

            // up: api-2 is down for five minutes.
            let up = if instance == "api-2:8080" && (100..120).contains(&r) {
                0.0
            } else {
                1.0
            };
            self.emit(labels("up", &base), t, up);

            // build_info: api-0 upgrades at round 120 (old series goes stale).
            let version = if instance == "api-0:8080" && r >= 120 {
                "1.1.0"
            } else {
                "1.0.0"
            };
            self.emit(
                labels(
                    "build_info",
                    &[("job", job), ("instance", instance), ("version", version)],
                ),
                t,
                1.0,
            );
            if instance == "api-0:8080" && r == 120 {
                self.emit(
                    labels(
                        "build_info",
                        &[("job", job), ("instance", instance), ("version", "1.0.0")],
                    ),
                    t,
                    STALE_NAN,
                );
            }

            if job == "api" || job == "web" {
                self.http(inst, r, t);
            }
            if job == "api" {
                // Same label sets under two names.
                let inc = self.rng.below(3) as f64;
                let key = format!("errors_total{instance}");
                let v = self.counter(&key, r, inst, inc);
                self.emit(labels("errors_total", &base), t, v);
                let inc = self.rng.below(2) as f64;
                let key = format!("failures_total{instance}");
                let v = self.counter(&key, r, inst, inc);
                self.emit(labels("failures_total", &base), t, v);
            }
            if job == "web" && instance == "web-0:80" {
                // Present 20 rounds, stale, absent 20 rounds, back.
                let phase = (r / 20) % 2;
                if phase == 0 {
                    let v = 50.0 + 10.0 * ((r as f64) / 5.0).sin();
                    self.emit(labels("flappy_gauge", &base), t, v);
                } else if r.is_multiple_of(20) {
                    self.emit(labels("flappy_gauge", &base), t, STALE_NAN);
                }
            }
            if job == "node" {
                self.node(inst, r, t);
            }
            if job == "batch" {
                self.batch(inst, r, t);
            }
        }
        let mut req = proto::WriteRequest::default();
        for s in self.out.drain(..) {
            let (t, v) = s.pending.unwrap();
            req.timeseries.push(proto::TimeSeries {
                labels: s
                    .labels
                    .into_iter()
                    .map(|(name, value)| proto::Label { name, value })
                    .collect(),
                samples: vec![proto::Sample { value: v, timestamp: t }],
            });
        }
        req
    }

    fn http(&mut self, inst: &Instance, r: usize, t: i64) {
        let (job, instance) = (inst.job, inst.name);
        for method in ["GET", "POST"] {
            for code in ["200", "404", "500", "503"] {
                // 503 only on web-1, and only from round 80 on (a late series).
                if code == "503" && (instance != "web-1:80" || r < 80) {
                    continue;
                }
                // api-0's GET 404s stop at round 200 with a staleness marker.
                let ended = instance == "api-0:8080" && method == "GET" && code == "404" && r > 200;
                let key = format!("{instance}{method}{code}");
                let l = labels(
                    "http_requests_total",
                    &[("job", job), ("instance", instance), ("method", method), ("code", code)],
                );
                if ended {
                    if r == 201 {
                        self.emit(l, t, STALE_NAN);
                    }
                    continue;
                }
                let scale = match code {
                    "200" => 40,
                    "404" => 5,
                    _ => 3,
                } * if method == "GET" { 3 } else { 1 };
                let inc = self.rng.below(scale + 1) as f64;
                let v = self.counter(&key, r, inst, inc);
                self.emit(l, t, v);
            }
        }
        // Latency histogram per instance.
        let n = self.rng.below(25);
        let reset = r == RESTART_ROUND && instance == RESTARTED;
        let mut obs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            // Log-uniform between 1 ms and ~12 s, skewed towards fast.
            let u = self.rng.float();
            obs.push(0.001 * (u * u * 9.4).exp());
        }
        let h = self.hists.entry(instance.to_string()).or_insert(Histogram {
            counts: [0.0; 12],
            sum: 0.0,
            count: 0.0,
        });
        if reset {
            *h = Histogram {
                counts: [0.0; 12],
                sum: 0.0,
                count: 0.0,
            };
        }
        for o in obs {
            for (i, le) in BUCKETS.iter().enumerate() {
                let bound: f64 = if *le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                if o <= bound {
                    h.counts[i] += 1.0;
                }
            }
            h.sum += o;
            h.count += 1.0;
        }
        let (counts, sum, count) = (h.counts, h.sum, h.count);
        for (i, le) in BUCKETS.iter().enumerate() {
            self.emit(
                labels(
                    "http_request_duration_seconds_bucket",
                    &[("job", job), ("instance", instance), ("le", le)],
                ),
                t,
                counts[i],
            );
        }
        let base = [("job", job), ("instance", instance)];
        self.emit(labels("http_request_duration_seconds_sum", &base), t, sum);
        self.emit(labels("http_request_duration_seconds_count", &base), t, count);
    }

    fn node(&mut self, inst: &Instance, r: usize, t: i64) {
        let (job, instance) = (inst.job, inst.name);
        let base = [("job", job), ("instance", instance)];
        let phase = if instance == "node-0:9100" { 0.0 } else { 1.7 };
        let mem = 4e9 + 5e8 * ((r as f64) / 17.0 + phase).sin() + self.rng.float() * 1e7;
        self.emit(labels("node_memory_usage_bytes", &base), t, mem.round());
        for cpu in ["0", "1"] {
            for (mode, share) in [("idle", 0.7), ("user", 0.2), ("system", 0.1)] {
                let key = format!("{instance}{cpu}{mode}");
                let inc = 15.0 * share * (0.8 + 0.4 * self.rng.float());
                let v = self.counter(&key, r, inst, inc);
                self.emit(
                    labels(
                        "node_cpu_seconds_total",
                        &[("job", job), ("instance", instance), ("cpu", cpu), ("mode", mode)],
                    ),
                    t,
                    v,
                );
            }
        }
        for (sensor, mid) in [("a", 20.0), ("b", -5.0)] {
            let v = mid + 8.0 * ((r as f64) / 30.0 + phase).cos() + self.rng.float() - 0.5;
            self.emit(
                labels(
                    "temperature_celsius",
                    &[("job", job), ("instance", instance), ("sensor", sensor)],
                ),
                t,
                (v * 100.0).round() / 100.0,
            );
        }
    }

    fn batch(&mut self, inst: &Instance, r: usize, t: i64) {
        let (job, instance) = (inst.job, inst.name);
        for queue in ["q1", "q2", "q3"] {
            // q2 has a 10-minute gap; q3 is scraped every minute.
            if queue == "q2" && (60..100).contains(&r) {
                continue;
            }
            if queue == "q3" && !r.is_multiple_of(4) {
                continue;
            }
            let v = self.rng.below(40) as f64;
            self.emit(
                labels(
                    "queue_length",
                    &[("job", job), ("instance", instance), ("queue", queue)],
                ),
                t,
                v,
            );
        }
        let last = (BASE_MS / 1000 + (r as i64 / 20) * 300) as f64;
        self.emit(
            labels(
                "batch_last_success_timestamp_seconds",
                &[("job", job), ("instance", instance)],
            ),
            t,
            last,
        );
        let u = self.rng.float();
        for kind in ["tiny", "huge", "nan", "inf", "neg"] {
            let v = match kind {
                "tiny" => 1e-9 * (1.0 + u),
                "huge" => 1e22 * (1.0 + u),
                "nan" => {
                    if r % 10 == 3 {
                        f64::NAN
                    } else {
                        u
                    }
                }
                "inf" => {
                    if r.is_multiple_of(7) {
                        f64::INFINITY
                    } else if r.is_multiple_of(11) {
                        f64::NEG_INFINITY
                    } else {
                        u * 100.0
                    }
                }
                _ => -(r as f64) * 1.5 - u,
            };
            self.emit(
                labels("weird_values", &[("job", job), ("instance", instance), ("kind", kind)]),
                t,
                v,
            );
        }
    }
}
