//! XOR chunk benchmark: append and iterate cost per sample, and bytes per
//! sample, over a node_exporter-like set of series (irregular counters,
//! noisy gauges, constants) scraped every 15 s with a few ms of jitter.
//!
//! Run with `cargo bench -p tsdb --bench chunk`. No external harness: times
//! with `std::time::Instant` and reports the best of several rounds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tsdb::chunk::{XorChunk, MAX_SAMPLES_PER_CHUNK};

const SERIES: usize = 3_000;
const ROUNDS: usize = 7;
const SCRAPE_MS: i64 = 15_000;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Byte/packet counters: integers, bursty, sometimes idle.
    CounterInt,
    /// CPU-seconds style counters: two decimals, steady increments.
    CounterSeconds,
    /// Memory/filesystem gauges: large integers moving by pages.
    GaugeBytes,
    /// Load average / temperature style gauges: small float noise.
    GaugeFloat,
    /// Info metrics, sizes, flags.
    Constant,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::CounterInt,
        Kind::CounterSeconds,
        Kind::GaugeBytes,
        Kind::GaugeFloat,
        Kind::Constant,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::CounterInt => "counter (integer, bursty)",
            Kind::CounterSeconds => "counter (cpu seconds)",
            Kind::GaugeBytes => "gauge (bytes)",
            Kind::GaugeFloat => "gauge (float noise)",
            Kind::Constant => "constant",
        }
    }
}

fn pick_kind(rng: &mut Rng) -> Kind {
    // Roughly node_exporter's mix: mostly counters, then gauges, then constants.
    match rng.below(100) {
        0..=29 => Kind::CounterInt,
        30..=49 => Kind::CounterSeconds,
        50..=64 => Kind::GaugeBytes,
        65..=79 => Kind::GaugeFloat,
        _ => Kind::Constant,
    }
}

fn gen_series(rng: &mut Rng, kind: Kind) -> Vec<(i64, f64)> {
    let n = usize::from(MAX_SAMPLES_PER_CHUNK);
    let mut t = 1_700_000_000_000 + rng.below(SCRAPE_MS as u64) as i64;
    let mut out = Vec::with_capacity(n);
    let mut v = match kind {
        Kind::CounterInt => rng.below(1 << 40) as f64,
        Kind::CounterSeconds => (rng.unit() * 1e7 * 100.0).round() / 100.0,
        Kind::GaugeBytes => (rng.below(4_000_000) * 4096) as f64,
        Kind::GaugeFloat => (rng.unit() * 80.0 * 100.0).round() / 100.0,
        Kind::Constant => [0.0, 1.0, 1.0, 4.0e11, 16.0][rng.below(5) as usize],
    };
    let idle = rng.below(3) == 0;
    let rate = rng.unit() * 2.0;
    for _ in 0..n {
        out.push((t, v));
        // 15 s plus a few ms of scrape jitter.
        t += SCRAPE_MS + rng.below(7) as i64 - 3;
        v = match kind {
            Kind::CounterInt => {
                if idle && rng.below(4) != 0 {
                    v
                } else {
                    v + rng.below(200_000) as f64
                }
            }
            Kind::CounterSeconds => ((v + rate * 15.0 * rng.unit()) * 100.0).round() / 100.0,
            Kind::GaugeBytes => {
                let pages = rng.below(2001) as f64 - 1000.0;
                (v + pages * 4096.0).max(0.0)
            }
            Kind::GaugeFloat => {
                let noise = (rng.unit() - 0.5) * 0.2;
                ((v + noise) * 100.0).round() / 100.0
            }
            Kind::Constant => v,
        };
    }
    out
}

fn best<F: FnMut() -> Duration>(mut f: F) -> Duration {
    (0..ROUNDS).map(|_| f()).min().unwrap_or_default()
}

fn main() {
    let mut rng = Rng(0x5EED);
    let series: Vec<(Kind, Vec<(i64, f64)>)> = (0..SERIES)
        .map(|_| {
            let kind = pick_kind(&mut rng);
            (kind, gen_series(&mut rng, kind))
        })
        .collect();
    let total: usize = series.iter().map(|(_, s)| s.len()).sum();

    // Append: build every chunk from scratch.
    let append = best(|| {
        let start = Instant::now();
        let mut chunks = Vec::with_capacity(series.len());
        for (_, s) in &series {
            let mut c = XorChunk::new();
            for &(t, v) in s {
                c.append(t, v);
            }
            chunks.push(c);
        }
        let el = start.elapsed();
        black_box(&chunks);
        el
    });

    let mut chunks: Vec<XorChunk> = series
        .iter()
        .map(|(_, s)| {
            let mut c = XorChunk::new();
            for &(t, v) in s {
                c.append(t, v);
            }
            c
        })
        .collect();

    // Iterate: decode every sample.
    let iterate = best(|| {
        let start = Instant::now();
        let mut acc = 0i64;
        let mut accv = 0.0f64;
        for c in &chunks {
            for s in c.iter() {
                acc = acc.wrapping_add(s.t);
                accv += s.v;
            }
        }
        let el = start.elapsed();
        black_box((acc, accv));
        el
    });

    // Sanity: everything decodes back.
    for (c, (_, s)) in chunks.iter().zip(&series) {
        assert!(c
            .iter()
            .zip(s)
            .all(|(a, &(t, v))| a.t == t && a.v.to_bits() == v.to_bits()));
    }

    let bytes: usize = chunks.iter().map(|c| c.bytes().len()).sum();
    let mem_open: usize = chunks.iter().map(XorChunk::memory_bytes).sum();
    chunks.iter_mut().for_each(XorChunk::shrink_to_fit);
    let mem_closed: usize = chunks.iter().map(XorChunk::memory_bytes).sum();

    let ns = |d: Duration| d.as_nanos() as f64 / total as f64;
    println!(
        "xor chunk: {} series x {} samples = {} samples, best of {} rounds",
        SERIES, MAX_SAMPLES_PER_CHUNK, total, ROUNDS
    );
    println!("  append   {:>7.2} ns/sample", ns(append));
    println!("  iterate  {:>7.2} ns/sample", ns(iterate));
    println!(
        "  size     {:>7.3} bytes/sample (chunk bytes incl. 2-byte header)",
        bytes as f64 / total as f64
    );
    println!(
        "  memory   {:>7.1} bytes/chunk open, {:.1} after shrink_to_fit",
        mem_open as f64 / SERIES as f64,
        mem_closed as f64 / SERIES as f64
    );
    for kind in Kind::ALL {
        let (n, b) = chunks
            .iter()
            .zip(&series)
            .filter(|(_, (k, _))| *k == kind)
            .fold((0usize, 0usize), |(n, b), (c, (_, s))| {
                (n + s.len(), b + c.bytes().len())
            });
        if n > 0 {
            println!(
                "    {:<26} {:>7.3} bytes/sample over {} series",
                kind.name(),
                b as f64 / n as f64,
                n / usize::from(MAX_SAMPLES_PER_CHUNK)
            );
        }
    }
}
