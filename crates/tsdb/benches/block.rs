//! Block benchmark: bytes per sample of persisted blocks against plain XOR
//! chunks (and against Prometheus itself when `promtool` is installed), plus
//! write, open and select times.
//!
//! Data: node_exporter-like targets (20 × 500 series = 10 000 series), 2 h
//! scraped every 15 s with ±3 ms jitter; integer counters (bursty or idle),
//! cpu-seconds counters, byte gauges, noisy float gauges and constants; a
//! few series start late or end with a staleness marker. All series of a
//! target share the scrape timestamps, as they do in Prometheus; a second
//! run gives every series its own jitter (the worst case for the block
//! encoding).
//!
//! Run with `cargo bench -p tsdb --bench block`.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::{Labels, MatchType, Matcher, Sample, STALE_NAN};
use tsdb::block::{write_block, Block, BlockSeries, ChunkData};
use tsdb::chunk::{XorChunk, MAX_SAMPLES_PER_CHUNK};
use tsdb::Querier;

const TARGETS: usize = 20;
const SERIES_PER_TARGET: usize = 500;
const SAMPLES: usize = 480;
const SCRAPE_MS: i64 = 15_000;
/// A 2 h-aligned start, so that promtool writes a single block.
const START: i64 = 1_699_999_200_000;

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
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    CounterInt,
    CounterSeconds,
    GaugeBytes,
    GaugeFloat,
    Constant,
}

const KINDS: [Kind; 5] = [
    Kind::CounterInt,
    Kind::CounterSeconds,
    Kind::GaugeBytes,
    Kind::GaugeFloat,
    Kind::Constant,
];

fn pick_kind(rng: &mut Rng) -> Kind {
    match rng.below(100) {
        0..=29 => Kind::CounterInt,
        30..=49 => Kind::CounterSeconds,
        50..=64 => Kind::GaugeBytes,
        65..=79 => Kind::GaugeFloat,
        _ => Kind::Constant,
    }
}

fn scrape_times(rng: &mut Rng, offset: i64) -> Vec<i64> {
    (0..SAMPLES as i64)
        .map(|i| START + offset + i * SCRAPE_MS + rng.below(7) as i64 - 3)
        .collect()
}

fn values(rng: &mut Rng, kind: Kind, n: usize) -> Vec<f64> {
    let mut v = match kind {
        Kind::CounterInt => rng.below(1 << 40) as f64,
        Kind::CounterSeconds => (rng.unit() * 1e7 * 100.0).round() / 100.0,
        Kind::GaugeBytes => (rng.below(4_000_000) * 4096) as f64,
        Kind::GaugeFloat => (rng.unit() * 80.0 * 100.0).round() / 100.0,
        Kind::Constant => [0.0, 1.0, 1.0, 4.0e11, 16.0][rng.below(5) as usize],
    };
    let idle = rng.below(3) == 0;
    let rate = rng.unit() * 2.0;
    (0..n)
        .map(|_| {
            let out = v;
            v = match kind {
                Kind::CounterInt if idle && rng.below(4) != 0 => v,
                Kind::CounterInt => v + rng.below(200_000) as f64,
                Kind::CounterSeconds => ((v + rate * 15.0 * rng.unit()) * 100.0).round() / 100.0,
                Kind::GaugeBytes => (v + (rng.below(2001) as f64 - 1000.0) * 4096.0).max(0.0),
                Kind::GaugeFloat => ((v + (rng.unit() - 0.5) * 0.2) * 100.0).round() / 100.0,
                Kind::Constant => v,
            };
            out
        })
        .collect()
}

struct Series {
    labels: Labels,
    kind: Kind,
    samples: Vec<Sample>,
}

/// The data set; `shared` gives all series of a target the same timestamps.
fn generate(shared: bool) -> Vec<Series> {
    let mut rng = Rng(0x5EED);
    let mut out = Vec::with_capacity(TARGETS * SERIES_PER_TARGET);
    for target in 0..TARGETS {
        let instance = format!("10.0.{}.{}:9100", target / 250, target % 250);
        let offset = 1000 + (target as i64 * 577) % 14_000;
        let target_ts = scrape_times(&mut rng, offset);
        for j in 0..SERIES_PER_TARGET {
            let kind = pick_kind(&mut rng);
            let ts = if shared {
                target_ts.clone()
            } else {
                scrape_times(&mut rng, offset)
            };
            let vals = values(&mut rng, kind, SAMPLES);
            let mut samples: Vec<Sample> = ts.iter().zip(&vals).map(|(&t, &v)| Sample { t, v }).collect();
            match rng.below(50) {
                // Went away: a staleness marker, then nothing.
                0 => {
                    let end = 100 + rng.below(300) as usize;
                    samples.truncate(end + 1);
                    samples[end].v = STALE_NAN;
                }
                // Appeared late.
                1 => {
                    samples.drain(..rng.below(400) as usize);
                }
                _ => {}
            }
            let name = format!("node_{:?}_{}", kind, j % 40).to_lowercase();
            let labels = Labels::from_pairs([
                ("__name__", name.as_str()),
                ("instance", instance.as_str()),
                ("job", "node"),
                ("id", &(j / 40).to_string()),
            ]);
            out.push(Series { labels, kind, samples });
        }
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn xor_chunks(samples: &[Sample]) -> Vec<ChunkData> {
    samples
        .chunks(usize::from(MAX_SAMPLES_PER_CHUNK))
        .map(|part| {
            let mut c = XorChunk::new();
            for s in part {
                c.append(s.t, s.v);
            }
            ChunkData {
                min_time: part[0].t,
                max_time: part[part.len() - 1].t,
                data: c.bytes().to_vec(),
            }
        })
        .collect()
}

fn best<F: FnMut() -> Duration>(rounds: usize, mut f: F) -> Duration {
    (0..rounds).map(|_| f()).min().unwrap_or_default()
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let md = e.metadata().map(|m| (m.is_dir(), m.len())).unwrap_or((false, 0));
                    if md.0 {
                        dir_size(&e.path())
                    } else {
                        md.1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn block_input(series: &[Series], kind: Option<Kind>) -> Vec<BlockSeries> {
    series
        .iter()
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .map(|s| BlockSeries {
            labels: s.labels.clone(),
            chunks: xor_chunks(&s.samples),
        })
        .collect()
}

/// Bytes of a Prometheus 2.x block written by `promtool tsdb
/// create-blocks-from openmetrics`, if promtool is installed.
fn prometheus_block_bytes(series: &[Series], scratch: &Path) -> Option<u64> {
    let version = Command::new("promtool").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let mut text = String::with_capacity(series.len() * SAMPLES * 80);
    for s in series {
        let labels: Vec<String> = s
            .labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| format!("{}=\"{}\"", l.name, l.value))
            .collect();
        let head = format!("{}{{{}}}", s.labels.get("__name__").unwrap_or("x"), labels.join(","));
        for smp in &s.samples {
            // Staleness markers cannot be written in OpenMetrics: plain NaN.
            let v = if smp.v.is_nan() {
                "NaN".to_string()
            } else {
                format!("{:?}", smp.v)
            };
            text.push_str(&format!("{head} {v} {}.{:03}\n", smp.t / 1000, smp.t % 1000));
        }
    }
    text.push_str("# EOF\n");
    let input = scratch.join("data.om");
    std::fs::write(&input, text).ok()?;
    let out = scratch.join("prom");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&out)
        .output()
        .ok()?;
    if !status.status.success() {
        eprintln!("promtool failed: {}", String::from_utf8_lossy(&status.stderr));
        return None;
    }
    println!("  ({version})");
    Some(dir_size(&out))
}

fn run(shared: bool, with_prometheus: bool) {
    let series = generate(shared);
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    println!(
        "\n== {} series, {} samples ({}) ==",
        series.len(),
        total,
        if shared {
            "timestamps shared per target, as scraped"
        } else {
            "every series with its own jitter"
        }
    );
    let per = |b: u64| b as f64 / total as f64;

    // (a) plain XOR chunks of 120 samples: chunk bytes only (header included).
    let input = block_input(&series, None);
    let xor_bytes: u64 = input.iter().flat_map(|s| &s.chunks).map(|c| c.data.len() as u64).sum();
    println!("(a) XOR chunks (data only)       {:>7.3} bytes/sample", per(xor_bytes));

    let tmp = tempfile::tempdir().expect("tempdir");
    if with_prometheus {
        match prometheus_block_bytes(&series, tmp.path()) {
            Some(bytes) => println!(
                "    Prometheus block (promtool)  {:>7.3} bytes/sample (index + chunks)",
                per(bytes)
            ),
            None => println!("    Prometheus block: promtool not available, skipped"),
        }
    }

    // (b) our block.
    let (min, max) = (START, START + 2 * 3_600_000 + SCRAPE_MS);
    let mut meta = None;
    let write = best(3, || {
        let input = block_input(&series, None);
        let start = Instant::now();
        let m = write_block(tmp.path(), input.into_iter(), min, max, 1, vec![]).expect("write");
        let el = start.elapsed();
        meta = Some(m);
        el
    });
    let meta = meta.expect("written");
    let dir = tmp.path().join(&meta.id);
    let chunks_bytes = std::fs::metadata(dir.join("chunks")).map(|m| m.len()).unwrap_or(0);
    let index_bytes = std::fs::metadata(dir.join("index")).map(|m| m.len()).unwrap_or(0);
    println!(
        "(b) block (index + chunks)       {:>7.3} bytes/sample  (chunks {:.3}, index {:.3})",
        per(meta.stats.size_bytes),
        per(chunks_bytes),
        per(index_bytes)
    );
    println!(
        "    ratio b/a                    {:>7.3}",
        meta.stats.size_bytes as f64 / xor_bytes as f64
    );
    for kind in KINDS {
        let input = block_input(&series, Some(kind));
        let n: usize = input
            .iter()
            .flat_map(|s| &s.chunks)
            .map(|c| u16::from_be_bytes([c.data[0], c.data[1]]) as usize)
            .sum();
        let xor: u64 = input.iter().flat_map(|s| &s.chunks).map(|c| c.data.len() as u64).sum();
        let kdir = tempfile::tempdir().expect("tempdir");
        let m = write_block(kdir.path(), input.into_iter(), min, max, 1, vec![]).expect("write");
        let chunks = std::fs::metadata(kdir.path().join(&m.id).join("chunks"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "      {:<16} XOR {:>6.3}  block chunks {:>6.3} bytes/sample",
            format!("{kind:?}"),
            xor as f64 / n as f64,
            chunks as f64 / n as f64
        );
    }

    let mut block = None;
    let open = best(5, || {
        let start = Instant::now();
        let b = Block::open(&dir).expect("open");
        let el = start.elapsed();
        block = Some(Arc::new(b));
        el
    });
    let block = block.expect("opened");
    println!(
        "    write {:>8.1} ms   open {:>6.2} ms",
        write.as_secs_f64() * 1e3,
        open.as_secs_f64() * 1e3
    );

    // Select latencies.
    let last_30m = (START + 90 * 60_000, START + 120 * 60_000);
    let cases: Vec<(&str, Vec<Matcher>, (i64, i64))> = vec![
        ("all series, last 30 min (120 samples each)", vec![], last_30m),
        ("all series, 2 h", vec![], (min, max)),
        (
            "one metric name, 2 h",
            vec![Matcher::new(MatchType::Equal, "__name__", "node_counterint_0").expect("matcher")],
            (min, max),
        ),
        (
            "one target, regex, 2 h",
            vec![Matcher::new(MatchType::Regex, "instance", "10\\.0\\.0\\.7:.*").expect("matcher")],
            (min, max),
        ),
    ];
    for (name, matchers, (mint, maxt)) in cases {
        let q = block.querier(mint, maxt);
        let mut got = (0, 0);
        let d = best(5, || {
            let start = Instant::now();
            let r = q.select(&matchers).expect("select");
            let el = start.elapsed();
            got = (r.len(), r.iter().map(|s| s.samples.len()).sum::<usize>());
            black_box(r);
            el
        });
        println!(
            "    select {:<44} {:>8.2} ms  ({} series, {} samples)",
            name,
            d.as_secs_f64() * 1e3,
            got.0,
            got.1
        );
    }

    // Sanity: everything reads back bit for bit.
    let all = block.querier(i64::MIN, i64::MAX).select(&[]).expect("select");
    assert_eq!(all.len(), series.len());
    for (g, s) in all.iter().zip(&series) {
        assert_eq!(g.labels, s.labels);
        assert!(g.samples.len() == s.samples.len() && g.samples.iter().zip(&s.samples).all(|(a, b)| a.bit_eq(b)));
    }
}

fn main() {
    run(true, true);
    run(false, false);
}
