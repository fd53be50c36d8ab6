//! Block tests, and [`check_querier`]: a conformance check any [`Querier`]
//! (head, block, merged) can be run against.
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{Labels, MatchType, Matcher, Sample, STALE_NAN};

use super::reader::to_xor_chunks;
use super::*;
use crate::querier::Querier;

/// What a querier is expected to hold: series and all their samples.
pub(crate) type Expected = [(Labels, Vec<Sample>)];

fn m(kind: MatchType, n: &str, v: &str) -> Matcher {
    Matcher::new(kind, n, v).expect("test matcher compiles")
}

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Brute-force matching with Prometheus semantics (missing label = "").
fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|mt| mt.matches(labels.get(&mt.name).unwrap_or("")))
}

/// Matcher sets exercising every operator, missing labels, set and prefix
/// regexes, built from the names and values present in `data`.
pub(crate) fn matcher_cases(data: &Expected) -> Vec<Vec<Matcher>> {
    let mut cases: Vec<Vec<Matcher>> = vec![
        vec![],
        vec![m(MatchType::Regex, "__name__", ".+")],
        vec![m(MatchType::Regex, "__name__", ".*")],
        vec![m(MatchType::Equal, "nolabel", "x")],
        vec![m(MatchType::NotEqual, "nolabel", "x")],
        vec![m(MatchType::Equal, "nolabel", "")],
        vec![m(MatchType::NotEqual, "nolabel", "")],
        vec![m(MatchType::Regex, "nolabel", "x|")],
        vec![m(MatchType::NotRegex, "nolabel", ".+")],
    ];
    let names: BTreeSet<&str> = data
        .iter()
        .flat_map(|(l, _)| l.iter().map(|x| x.name.as_str()))
        .collect();
    for name in names.iter().take(8) {
        let values: BTreeSet<&str> = data.iter().filter_map(|(l, _)| l.get(name)).collect();
        let vals: Vec<&str> = values.into_iter().collect();
        let (first, last) = (vals[0], vals[vals.len() - 1]);
        let prefix: String = first.chars().take(2).collect();
        let escaped_prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        cases.extend([
            vec![m(MatchType::Equal, name, first)],
            vec![m(MatchType::NotEqual, name, first)],
            vec![m(MatchType::Equal, name, "")],
            vec![m(MatchType::NotEqual, name, "")],
            vec![m(MatchType::Regex, name, &regex_quote_set(&[first, last, "absent"]))],
            vec![m(MatchType::NotRegex, name, &regex_quote_set(&[first]))],
            vec![m(MatchType::Regex, name, ".+")],
            vec![m(MatchType::Regex, name, &format!("{escaped_prefix}.*"))],
            vec![m(MatchType::NotRegex, name, &format!("{escaped_prefix}.*"))],
            vec![m(
                MatchType::Regex,
                name,
                &format!("(?:{}).?", regex_quote_set(&[first])),
            )],
            vec![
                m(MatchType::Regex, "__name__", ".+"),
                m(MatchType::NotEqual, name, last),
            ],
            vec![m(MatchType::Equal, name, last), m(MatchType::Equal, "nolabel", "")],
        ]);
    }
    cases
}

fn regex_quote_set(vals: &[&str]) -> String {
    let quote = |v: &str| {
        v.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == ' ' {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect::<String>()
    };
    vals.iter().map(|v| quote(v)).collect::<Vec<_>>().join("|")
}

/// Checks `q`, created over `[mint, maxt]`, against `data` (every series and
/// all its samples, in any order) for every case of [`matcher_cases`]:
/// `select` returns exactly the matching series with samples in range, bit
/// for bit; `series`, `label_names` and `label_values` agree with it; with
/// no matchers, names and values are those of all of `data`.
///
/// (Series whose samples straddle the range without one inside it are
/// ambiguous for `series`/`label_*`; keep them out of `data`.)
pub(crate) fn check_querier(q: &dyn Querier, data: &Expected, mint: i64, maxt: i64) {
    for matchers in matcher_cases(data) {
        let ctx = format!("matchers {matchers:?} range [{mint}, {maxt}]");
        let mut want: Vec<(Labels, Vec<Sample>)> = data
            .iter()
            .filter(|(l, _)| matches_all(l, &matchers))
            .map(|(l, s)| {
                (
                    l.clone(),
                    s.iter()
                        .copied()
                        .filter(|x| x.t >= mint && x.t <= maxt)
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let got = q.select(&matchers).unwrap_or_else(|e| panic!("{ctx}: select: {e}"));
        let got_labels: Vec<&Labels> = got.iter().map(|s| &s.labels).collect();
        let want_labels: Vec<&Labels> = want.iter().map(|s| &s.0).collect();
        assert_eq!(got_labels, want_labels, "{ctx}: select labels");
        for (g, (l, w)) in got.iter().zip(&want) {
            assert_eq!(g.samples.len(), w.len(), "{ctx}: {l}: sample count");
            for (a, b) in g.samples.iter().zip(w) {
                assert!(a.bit_eq(b), "{ctx}: {l}: got {a:?} want {b:?}");
            }
        }
        let series = q.series(&matchers).unwrap_or_else(|e| panic!("{ctx}: series: {e}"));
        assert_eq!(series.iter().collect::<Vec<_>>(), want_labels, "{ctx}: series");

        let names: Vec<String> = if matchers.is_empty() {
            data.iter()
                .flat_map(|(l, _)| l.iter().map(|x| x.name.to_string()))
                .collect::<BTreeSet<_>>()
        } else {
            want.iter()
                .flat_map(|(l, _)| l.iter().map(|x| x.name.to_string()))
                .collect::<BTreeSet<_>>()
        }
        .into_iter()
        .collect();
        assert_eq!(q.label_names(&matchers).unwrap(), names, "{ctx}: label_names");
        for name in ["__name__", "job", "instance", "nolabel"] {
            let source: Vec<&Labels> = if matchers.is_empty() {
                data.iter().map(|(l, _)| l).collect()
            } else {
                want_labels.clone()
            };
            let values: Vec<String> = source
                .iter()
                .filter_map(|l| l.get(name).map(str::to_string))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(
                q.label_values(name, &matchers).unwrap(),
                values,
                "{ctx}: label_values({name})"
            );
        }
    }
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A small data set: two jobs × instances sharing scrape timestamps, a few
/// metric shapes, special values and negative timestamps.
fn fixture() -> Vec<(Labels, Vec<Sample>)> {
    let mut rng = Rng(7);
    let mut out = Vec::new();
    for (job, instances) in [("node", 3), ("api", 2)] {
        for inst in 0..instances {
            let instance = format!("host-{inst}:9100");
            let mut ts = Vec::new();
            let mut t = -3_600_000 + inst * 1000;
            for _ in 0..600 {
                ts.push(t);
                t += 15_000 + rng.below(7) as i64 - 3;
            }
            let metrics: [(&str, &[(&str, &str)]); 5] = [
                ("up", &[]),
                ("cpu_seconds_total", &[("mode", "idle")]),
                ("cpu_seconds_total", &[("mode", "user")]),
                ("http_requests_total", &[("method", "GET"), ("status_code", "200")]),
                ("temperature", &[("sensor", "a\nb")]),
            ];
            for (k, (name, extra)) in metrics.iter().enumerate() {
                let mut pairs = vec![("__name__", *name), ("job", job), ("instance", instance.as_str())];
                pairs.extend(extra.iter().copied());
                if job == "api" && k == 3 {
                    pairs.push(("env", "prod"));
                }
                let mut v = 0.0f64;
                let samples: Vec<Sample> = ts
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| {
                        v = match k {
                            0 => 1.0,
                            1 => ((v + 14.9 + rng.below(10) as f64 / 100.0) * 100.0).round() / 100.0,
                            2 => v + rng.below(100_000) as f64,
                            3 => (v + rng.below(5) as f64).max(0.0),
                            _ => 40.0 + (i as f64 * 0.1).sin(),
                        };
                        Sample { t, v }
                    })
                    .collect();
                out.push((lbl(&pairs), samples));
            }
        }
    }
    // Special values, and a series with timestamps of its own.
    let special = [
        f64::NAN,
        STALE_NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    let samples = (0..40)
        .map(|i| Sample {
            t: -2_000_000 + i * 7_777 + (i * i) % 13,
            v: special[i as usize % special.len()],
        })
        .collect();
    out.push((
        lbl(&[("__name__", "weird"), ("job", "node"), ("note", "special values")]),
        samples,
    ));
    // A series that went stale half way.
    let ts: Vec<i64> = out[0].1.iter().map(|s| s.t).take(300).collect();
    let mut samples: Vec<Sample> = ts.iter().map(|&t| Sample { t, v: 3.0 }).collect();
    samples.push(Sample {
        t: out[0].1[300].t,
        v: STALE_NAN,
    });
    out.push((
        lbl(&[("__name__", "gone"), ("job", "node"), ("instance", "host-0:9100")]),
        samples,
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn as_block_series(data: &Expected) -> Vec<BlockSeries> {
    data.iter()
        .map(|(l, s)| BlockSeries {
            labels: l.clone(),
            chunks: to_xor_chunks(s),
        })
        .collect()
}

fn span(data: &Expected) -> (i64, i64) {
    let min = data.iter().flat_map(|(_, s)| s.first()).map(|s| s.t).min().unwrap_or(0);
    let max = data.iter().flat_map(|(_, s)| s.last()).map(|s| s.t).max().unwrap_or(0);
    (min, max + 1)
}

fn write(root: &Path, data: &Expected) -> (BlockMeta, Arc<Block>) {
    let (min, max) = span(data);
    let meta = write_block(root, as_block_series(data).into_iter(), min, max, 1, vec![]).unwrap();
    let block = Arc::new(Block::open(&root.join(&meta.id)).unwrap());
    (meta, block)
}

#[test]
fn round_trip_select_and_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture();
    let (meta, block) = write(dir.path(), &data);
    assert_eq!(block.meta(), &meta);
    assert_eq!(block.dir(), dir.path().join(&meta.id));
    assert_eq!(meta.stats.num_series, data.len() as u64);
    assert_eq!(
        meta.stats.num_samples,
        data.iter().map(|(_, s)| s.len() as u64).sum::<u64>()
    );
    assert_eq!(
        meta.compaction,
        Compaction {
            level: 1,
            sources: vec![meta.id.clone()]
        }
    );
    assert_eq!(meta.version, META_VERSION);
    let (min, max) = span(&data);
    assert_eq!((meta.min_time, meta.max_time), (min, max));
    assert!(!dir.path().join(format!("{}.tmp", meta.id)).exists());

    for (mint, maxt) in [
        (i64::MIN, i64::MAX),
        (min, max),
        (-1_000_000, 1_000_000),
        (0, 5_000_000),
        (-3_000_000, -2_980_000),
    ] {
        check_querier(&block.querier(mint, maxt), &data, mint, maxt);
    }
}

#[test]
fn head_style_matcher_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture();
    let (_, block) = write(dir.path(), &data);
    let q = block.querier(i64::MIN, i64::MAX);
    let count = |ms: Vec<Matcher>| q.select(&ms).unwrap().len();
    assert_eq!(count(vec![m(MatchType::Equal, "__name__", "http_requests_total")]), 5);
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "http_requests_total"),
            m(MatchType::Equal, "env", "")
        ]),
        3
    );
    assert_eq!(
        count(vec![
            m(MatchType::Equal, "__name__", "http_requests_total"),
            m(MatchType::NotEqual, "env", "")
        ]),
        2
    );
    assert_eq!(count(vec![m(MatchType::Regex, "__name__", "up|nope")]), 5);
    assert_eq!(count(vec![m(MatchType::Regex, "__name__", "cpu_.*")]), 10);
    assert_eq!(
        count(vec![
            m(MatchType::Regex, "__name__", "cpu_.*"),
            m(MatchType::NotRegex, "mode", "idle|x")
        ]),
        5
    );
    assert_eq!(
        count(vec![
            m(MatchType::Regex, "instance", "host-[01]:.*"),
            m(MatchType::Equal, "job", "api")
        ]),
        10
    );
    assert_eq!(count(vec![m(MatchType::Equal, "nolabel", "x")]), 0);
    assert_eq!(count(vec![m(MatchType::NotEqual, "nolabel", "x")]), data.len());
    // A regex ".*" must not match a value containing a newline (as Prometheus).
    assert_eq!(count(vec![m(MatchType::Regex, "sensor", ".*")]), data.len() - 5);
    assert_eq!(q.label_values("job", &[]).unwrap(), vec!["api", "node"]);
    assert_eq!(
        q.label_values("mode", &[m(MatchType::Equal, "instance", "host-2:9100")])
            .unwrap(),
        vec!["idle", "user"]
    );
    assert_eq!(
        q.label_names(&[m(MatchType::Equal, "__name__", "up")]).unwrap(),
        vec!["__name__", "instance", "job"]
    );
    assert!(q.label_names(&[]).unwrap().contains(&"note".to_string()));
    assert!(q.label_values("nolabel", &[]).unwrap().is_empty());
}

#[test]
fn special_values_and_negative_timestamps_round_trip_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let nan_payload = f64::from_bits(0x7ff8_dead_beef_0001);
    let vals = [
        f64::NAN,
        STALE_NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        nan_payload,
        1.5,
        -1e-300,
        f64::MAX,
    ];
    let data: Vec<(Labels, Vec<Sample>)> = (0..4)
        .map(|k| {
            let samples = (0..300)
                .map(|i| Sample {
                    t: -10_000_000_000 + i * 60_000 + k,
                    v: if k == 0 {
                        vals[i as usize % vals.len()]
                    } else {
                        vals[(i as usize * k as usize) % vals.len()]
                    },
                })
                .collect();
            (lbl(&[("__name__", "special"), ("k", &k.to_string())]), samples)
        })
        .collect();
    let (_, block) = write(dir.path(), &data);
    check_querier(&block.querier(i64::MIN, i64::MAX), &data, i64::MIN, i64::MAX);
    check_querier(
        &block.querier(-9_999_000_000, -9_990_000_000),
        &data,
        -9_999_000_000,
        -9_990_000_000,
    );
    let chunks = block.series_chunks(&[], i64::MIN, i64::MAX).unwrap();
    for (bs, (l, s)) in chunks.iter().zip(&data) {
        assert_eq!(&bs.labels, l);
        let got: Vec<Sample> = bs
            .chunks
            .iter()
            .flat_map(|c| crate::chunk::XorIter::new(&c.data))
            .collect();
        assert!(got.len() == s.len() && got.iter().zip(s).all(|(a, b)| a.bit_eq(b)));
        assert!(bs.chunks.iter().all(|c| c.data.len() >= 2 && c.min_time <= c.max_time));
    }
}

#[test]
fn random_series_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    let mut data = Vec::new();
    for k in 0..60u64 {
        let n = 1 + rng.below(700) as usize;
        let mut t = rng.next() as i64 >> 20;
        let mut v = 0.0f64;
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push(Sample { t, v });
            t += match k % 4 {
                0 => 1,
                1 => 1 + rng.below(1 << 20) as i64,
                2 => 10_000 + (rng.below(3) as i64 - 1) * (rng.below(50) as i64),
                _ => 1 + rng.below(1 << 40) as i64,
            };
            v = match k % 5 {
                0 => f64::from_bits(rng.next()),
                1 => (rng.below(1000) as f64 - 500.0) / 1000.0,
                2 => v + rng.below(3) as f64,
                3 => rng.below(1 << 60) as f64 * if rng.below(2) == 0 { -1.0 } else { 1.0 },
                _ => [0.0, 1.0, STALE_NAN, 0.25][rng.below(4) as usize],
            };
        }
        data.push((lbl(&[("__name__", "r"), ("k", &format!("{k:03}"))]), samples));
    }
    let (min, max) = span(&data);
    let meta = write_block(dir.path(), as_block_series(&data).into_iter(), min, max, 1, vec![]).unwrap();
    let block = Arc::new(Block::open(&dir.path().join(&meta.id)).unwrap());
    let got = block.querier(i64::MIN, i64::MAX).select(&[]).unwrap();
    assert_eq!(got.len(), data.len());
    for (g, (l, s)) in got.iter().zip(&data) {
        assert_eq!(&g.labels, l);
        assert_eq!(g.samples.len(), s.len(), "{l}");
        assert!(g.samples.iter().zip(s).all(|(a, b)| a.bit_eq(b)), "{l}");
    }
}

#[test]
fn writer_trims_sorts_dedups_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let a = lbl(&[("__name__", "a")]);
    let b = lbl(&[("__name__", "b")]);
    let s = |ts: &[i64]| ts.iter().map(|&t| Sample { t, v: t as f64 }).collect::<Vec<_>>();
    // Unsorted series, overlapping chunks, samples outside [100, 200).
    let series = vec![
        BlockSeries {
            labels: b.clone(),
            chunks: to_xor_chunks(&s(&[50, 100, 150, 199, 200, 250])),
        },
        BlockSeries {
            labels: a.clone(),
            chunks: [to_xor_chunks(&s(&[120, 130, 140])), to_xor_chunks(&s(&[110, 130, 160]))].concat(),
        },
        BlockSeries {
            labels: lbl(&[("__name__", "c")]),
            chunks: to_xor_chunks(&s(&[10, 20])),
        },
    ];
    let meta = write_block(
        dir.path(),
        series.into_iter(),
        100,
        200,
        1,
        vec!["x".into(), "x".into()],
    )
    .unwrap();
    assert_eq!(meta.stats.num_series, 2);
    assert_eq!(meta.stats.num_samples, 8);
    assert_eq!(meta.compaction.sources, vec!["x"]);
    let block = Arc::new(Block::open(&dir.path().join(&meta.id)).unwrap());
    let got = block.querier(i64::MIN, i64::MAX).select(&[]).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, a);
    assert_eq!(
        got[0].samples.iter().map(|x| x.t).collect::<Vec<_>>(),
        vec![110, 120, 130, 140, 160]
    );
    assert_eq!(
        got[1].samples.iter().map(|x| x.t).collect::<Vec<_>>(),
        vec![100, 150, 199]
    );

    let dup = vec![
        BlockSeries {
            labels: a.clone(),
            chunks: to_xor_chunks(&s(&[1]))
        };
        2
    ];
    let err = write_block(dir.path(), dup.into_iter(), 0, 10, 1, vec![]).unwrap_err();
    assert!(matches!(err, BlockError::InvalidInput(_)), "{err}");
    let bad = BlockSeries {
        labels: a,
        chunks: vec![ChunkData {
            min_time: 0,
            max_time: 1,
            data: vec![0, 5, 1],
        }],
    };
    let err = write_block(dir.path(), std::iter::once(bad), 0, 10, 1, vec![]).unwrap_err();
    assert!(matches!(err, BlockError::InvalidInput(_)), "{err}");
    // Failed writes leave nothing behind; an empty block is fine.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    let meta = write_block(dir.path(), std::iter::empty(), 0, 10, 1, vec![]).unwrap();
    let block = Arc::new(Block::open(&dir.path().join(&meta.id)).unwrap());
    assert!(block.querier(i64::MIN, i64::MAX).select(&[]).unwrap().is_empty());
    assert!(block.querier(i64::MIN, i64::MAX).label_names(&[]).unwrap().is_empty());
}

#[test]
fn shared_timestamps_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(3);
    let ts: Vec<i64> = (0..480)
        .map(|i| 1_700_000_000_000 + i * 15_000 + rng.below(7) as i64 - 3)
        .collect();
    let data: Vec<(Labels, Vec<Sample>)> = (0..50)
        .map(|k| {
            // Some series start late or end early: sub-ranges of the column.
            let (from, to) = match k % 5 {
                0 => (100, 480),
                1 => (0, 300),
                _ => (0, 480),
            };
            let samples = ts[from..to].iter().map(|&t| Sample { t, v: 1.0 }).collect();
            (lbl(&[("__name__", "c"), ("k", &format!("{k:02}"))]), samples)
        })
        .collect();
    let (meta, block) = write(dir.path(), &data);
    // Constant values and one shared column: about 100 bytes of fixed cost
    // per series. Timestamps of their own would take at least 3 bits per
    // sample (8 KB) on their own.
    assert!(meta.stats.size_bytes < 5_000, "{:?}", meta.stats);
    check_querier(&block.querier(i64::MIN, i64::MAX), &data, i64::MIN, i64::MAX);
    check_querier(&block.querier(ts[200], ts[350]), &data, ts[200], ts[350]);
}

fn merged(inputs: &[&Expected]) -> Vec<(Labels, Vec<Sample>)> {
    let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
    for input in inputs {
        for (l, s) in input.iter() {
            match out.iter_mut().find(|(x, _)| x == l) {
                Some((_, have)) => {
                    for smp in s {
                        if !have.iter().any(|h| h.t == smp.t) {
                            have.push(*smp);
                        }
                    }
                    have.sort_by_key(|x| x.t);
                }
                None => out.push((l.clone(), s.clone())),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn compaction_merges_overlapping_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let series = |name: &str, k: u32| lbl(&[("__name__", name), ("k", &k.to_string())]);
    let run = |from: i64, to: i64, step: i64, v: f64| -> Vec<Sample> {
        (from..to)
            .step_by(step as usize)
            .map(|t| Sample { t, v: v + t as f64 })
            .collect()
    };
    // Block 1: [0, 1000); block 2 overlaps it in time and shares series
    // (with different values at equal timestamps); block 3 is later.
    let b1: Vec<(Labels, Vec<Sample>)> = vec![
        (series("a", 1), run(0, 1000, 10, 0.0)),
        (series("a", 2), run(0, 500, 10, 0.0)),
        (series("b", 1), run(0, 1000, 7, 0.0)),
    ];
    let b2: Vec<(Labels, Vec<Sample>)> = vec![
        (series("a", 1), run(500, 1500, 5, 0.5)),
        (series("c", 1), run(600, 1400, 10, 0.0)),
        (series("b", 1), run(3, 700, 7, 0.5)),
    ];
    let b3: Vec<(Labels, Vec<Sample>)> = vec![
        (series("a", 1), run(1500, 2000, 10, 0.0)),
        (series("a", 2), run(1500, 1600, 10, 0.0)),
    ];
    let mut blocks = Vec::new();
    for (i, data) in [&b1, &b2, &b3].into_iter().enumerate() {
        let mut sorted = data.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let (min, max) = span(&sorted);
        let level = [1, 2, 1][i];
        let meta = write_block(
            dir.path(),
            as_block_series(&sorted).into_iter(),
            min,
            max,
            level,
            vec![],
        )
        .unwrap();
        blocks.push(Arc::new(Block::open(&dir.path().join(&meta.id)).unwrap()));
    }
    let meta = compact(dir.path(), &blocks).unwrap();
    assert_eq!(meta.compaction.level, 3);
    let mut sources: Vec<String> = blocks.iter().map(|b| b.meta().id.clone()).collect();
    sources.sort();
    assert_eq!(meta.compaction.sources, sources);
    assert_eq!((meta.min_time, meta.max_time), (0, 1991));
    let out = Arc::new(Block::open(&dir.path().join(&meta.id)).unwrap());
    let want = merged(&[&b1, &b2, &b3]);
    assert_eq!(
        meta.stats.num_samples,
        want.iter().map(|(_, s)| s.len() as u64).sum::<u64>()
    );
    // Equal timestamps keep the first block's sample.
    let a1 = &want.iter().find(|(l, _)| *l == series("a", 1)).unwrap().1;
    assert_eq!(a1.iter().find(|s| s.t == 500).unwrap().v, 500.0);
    assert_eq!(a1.iter().find(|s| s.t == 505).unwrap().v, 505.5);
    check_querier(&out.querier(i64::MIN, i64::MAX), &want, i64::MIN, i64::MAX);
    check_querier(&out.querier(450, 1550), &want, 450, 1550);

    // Compacting the compacted block with an input again is idempotent on data.
    let again = compact(dir.path(), &[out.clone(), blocks[1].clone()]).unwrap();
    assert_eq!(again.compaction.level, 4);
    let again = Arc::new(Block::open(&dir.path().join(&again.id)).unwrap());
    check_querier(&again.querier(i64::MIN, i64::MAX), &want, i64::MIN, i64::MAX);
    assert!(matches!(compact(dir.path(), &[]), Err(BlockError::InvalidInput(_))));
}

fn copy_block(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Opens the block at `dir` and reads everything; `Err` if anything fails.
fn open_and_read_all(dir: &Path) -> Result<(), String> {
    let block = Arc::new(Block::open(dir).map_err(|e| e.to_string())?);
    let q = block.querier(i64::MIN, i64::MAX);
    q.select(&[]).map_err(|e| e.to_string())?;
    q.select(&[m(MatchType::Equal, "__name__", "up")])
        .map_err(|e| e.to_string())?;
    block
        .series_chunks(&[], i64::MIN, i64::MAX)
        .map_err(|e| e.to_string())?;
    q.label_names(&[m(MatchType::Regex, "job", ".+")])
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn small_block(root: &Path) -> PathBuf {
    let data: Vec<(Labels, Vec<Sample>)> = fixture()
        .into_iter()
        .filter(|(l, _)| l.get("instance") == Some("host-0:9100") || l.get("__name__") == Some("weird"))
        .map(|(l, s)| (l, s.into_iter().take(20).collect()))
        .collect();
    let (meta, _) = write(root, &data);
    root.join(meta.id)
}

#[test]
fn truncated_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_block(dir.path());
    open_and_read_all(&src).unwrap();
    let work = dir.path().join("work");
    for name in [INDEX_FILE, CHUNKS_FILE, META_FILE] {
        let full = fs::read(src.join(name)).unwrap();
        for len in 0..full.len() {
            let _ = fs::remove_dir_all(&work);
            copy_block(&src, &work);
            fs::write(work.join(name), &full[..len]).unwrap();
            let res = open_and_read_all(&work);
            if name != META_FILE {
                assert!(
                    res.is_err(),
                    "{name} truncated to {len} of {} bytes was accepted",
                    full.len()
                );
            }
        }
    }
}

#[test]
fn flipped_bytes_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_block(dir.path());
    let work = dir.path().join("work");
    for name in [INDEX_FILE, CHUNKS_FILE, META_FILE] {
        let full = fs::read(src.join(name)).unwrap();
        for at in 0..full.len() {
            let _ = fs::remove_dir_all(&work);
            copy_block(&src, &work);
            let mut bytes = full.clone();
            bytes[at] ^= 0x20;
            fs::write(work.join(name), &bytes).unwrap();
            let res = open_and_read_all(&work);
            // A reserved header byte may change freely; meta.json may still
            // parse (a digit of a count changed). Otherwise: an error.
            let reserved = name != META_FILE && (5..8).contains(&at);
            if name != META_FILE && !reserved {
                let err = res.expect_err(&format!("{name} with byte {at} flipped was accepted"));
                assert!(err.contains(name), "{err}");
            }
        }
    }
    // Errors name the file and the offset.
    let mut bytes = fs::read(src.join(CHUNKS_FILE)).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    fs::write(src.join(CHUNKS_FILE), &bytes).unwrap();
    let err = open_and_read_all(&src).unwrap_err();
    assert!(
        err.contains("chunks: corrupt at byte") && err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn unknown_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_block(dir.path());
    let meta = fs::read_to_string(src.join(META_FILE)).unwrap();
    let work = dir.path().join("w1");
    copy_block(&src, &work);
    fs::write(work.join(META_FILE), meta.replace("\"version\": 1", "\"version\": 2")).unwrap();
    let err = Block::open(&work).unwrap_err();
    assert!(
        matches!(
            err,
            BlockError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("meta.json") && err.to_string().contains("version 2"),
        "{err}"
    );
    for name in [INDEX_FILE, CHUNKS_FILE] {
        let work = dir.path().join(format!("w-{name}"));
        copy_block(&src, &work);
        let mut bytes = fs::read(work.join(name)).unwrap();
        bytes[4] = 9;
        fs::write(work.join(name), &bytes).unwrap();
        let err = Block::open(&work).unwrap_err();
        assert!(
            matches!(err, BlockError::UnsupportedVersion { found: 9, .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn open_all_cleans_up_and_skips_unreadable_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = fixture();
    let late: Vec<(Labels, Vec<Sample>)> = data
        .iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter()
                    .map(|x| Sample {
                        t: x.t + 1_000_000_000,
                        v: x.v,
                    })
                    .collect(),
            )
        })
        .collect();
    let (m_late, _) = write(root, &late);
    let (m_early, _) = write(root, &data);
    let (m_bad, _) = write(root, &data);
    fs::write(root.join(&m_bad.id).join(INDEX_FILE), b"garbage").unwrap();
    let tmp = root.join(format!("{}.tmp", new_block_id()));
    fs::create_dir(&tmp).unwrap();
    fs::write(tmp.join(CHUNKS_FILE), b"partial").unwrap();
    fs::create_dir(root.join("not-a-block")).unwrap();
    fs::write(root.join("lock"), b"").unwrap();

    let (blocks, failed) = open_all(root);
    assert!(!tmp.exists());
    assert!(root.join("not-a-block").exists());
    let ids: Vec<&str> = blocks.iter().map(|b| b.meta().id.as_str()).collect();
    assert_eq!(ids, vec![m_early.id.as_str(), m_late.id.as_str()]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, root.join(&m_bad.id));
    assert!(matches!(failed[0].1, BlockError::Corrupt { .. }), "{}", failed[0].1);
    let (none, errs) = open_all(&root.join("missing"));
    assert!(none.is_empty() && errs.is_empty());
}

#[test]
fn blocks_are_send_sync_and_readable_concurrently() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Block>();
    assert_send_sync::<BlockQuerier>();
    let dir = tempfile::tempdir().unwrap();
    let data = fixture();
    let (_, block) = write(dir.path(), &data);
    std::thread::scope(|s| {
        for i in 0..4 {
            let block = block.clone();
            let data = &data;
            s.spawn(move || {
                let (mint, maxt) = (-3_000_000 + i * 500_000, 5_000_000);
                check_querier(&block.querier(mint, maxt), data, mint, maxt);
            });
        }
    });
}

/// An in-memory [`BlockDir`], standing in for an object store.
#[derive(Debug)]
struct MemDir(std::collections::HashMap<String, Vec<u8>>);

impl BlockDir for MemDir {
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }
    fn read_range(&self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let b = self.0.get(name).ok_or(std::io::ErrorKind::NotFound)?;
        let from = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        Ok(b.get(from..from + len)
            .ok_or(std::io::ErrorKind::UnexpectedEof)?
            .to_vec())
    }
    fn size(&self, name: &str) -> std::io::Result<u64> {
        Ok(self.0.get(name).ok_or(std::io::ErrorKind::NotFound)?.len() as u64)
    }
    fn describe(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("mem://block/{name}"))
    }
}

#[test]
fn blocks_read_through_any_block_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture();
    let (meta, _) = write(dir.path(), &data);
    let files = [META_FILE, INDEX_FILE, CHUNKS_FILE]
        .iter()
        .map(|n| (n.to_string(), fs::read(dir.path().join(&meta.id).join(n)).unwrap()))
        .collect();
    let block = Arc::new(Block::open_with(Path::new("mem://block"), Box::new(MemDir(files))).unwrap());
    assert_eq!(block.meta(), &meta);
    check_querier(&block.querier(i64::MIN, i64::MAX), &data, i64::MIN, i64::MAX);
    let mut files: std::collections::HashMap<String, Vec<u8>> = [META_FILE, INDEX_FILE, CHUNKS_FILE]
        .iter()
        .map(|n| (n.to_string(), fs::read(dir.path().join(&meta.id).join(n)).unwrap()))
        .collect();
    files.remove(CHUNKS_FILE);
    let err = Block::open_with(Path::new("mem://block"), Box::new(MemDir(files))).unwrap_err();
    assert!(err.to_string().starts_with("mem://block/chunks"), "{err}");
}

/// The conformance check is querier-agnostic: the head passes it on the same
/// data, which also pins block and head to the same matcher semantics.
#[test]
fn head_querier_passes_the_same_conformance_check() {
    let head = Arc::new(crate::Head::new(None, crate::HeadOptions::default()));
    let data = fixture();
    let mut app = head.appender();
    for (l, samples) in &data {
        for s in samples {
            app.append(l, s.t, s.v).unwrap();
        }
    }
    app.commit().unwrap();
    for (mint, maxt) in [(i64::MIN, i64::MAX), (-1_000_000, 1_000_000)] {
        check_querier(&head.querier(mint, maxt), &data, mint, maxt);
    }
}
