//! WAL throughput: `cargo bench -p tsdb --bench wal`.
//!
//! Appends ~4 KiB records with `FsyncPolicy::Never` and `FsyncPolicy::Always`
//! (one thread, and eight threads sharing fsyncs through group commit), then
//! measures replay. The WAL lives in a temporary directory under
//! `$WAL_BENCH_DIR` (default: the system temp dir) — point it at the disk you
//! care about, since fsync cost is a property of the device.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tsdb::wal::{FsyncPolicy, Wal, WalOptions};

const RECORD_SIZE: usize = 4096;
const NEVER_RECORDS: u64 = 65_536; // 256 MiB of payload
const ALWAYS_DURATION: Duration = Duration::from_secs(3);
const THREADS: u64 = 8;

fn record(i: u64) -> Vec<u8> {
    let mut v = vec![0u8; RECORD_SIZE];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in v.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    v
}

fn report(what: &str, records: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let mb = (records * RECORD_SIZE as u64) as f64 / (1024.0 * 1024.0);
    println!(
        "{what:<44} {records:>8} records in {secs:>6.2}s  {:>10.0} records/s  {:>8.1} MiB/s",
        records as f64 / secs,
        mb / secs
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, so a
    // test run only checks that this compiles and starts.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let base = std::env::var_os("WAL_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::tempdir_in(&base)?;
    println!("wal bench in {} ({} byte records)", tmp.path().display(), RECORD_SIZE);
    let records: Vec<Vec<u8>> = (0..1024).map(record).collect();

    // Never: page cache only.
    let never_dir = tmp.path().join("never");
    {
        let (wal, _) = Wal::open(&never_dir, WalOptions::default(), |_| Ok(()))?;
        let start = Instant::now();
        for i in 0..NEVER_RECORDS {
            wal.log(&[&records[(i % 1024) as usize]])?;
        }
        report("log, FsyncPolicy::Never, 1 thread", NEVER_RECORDS, start.elapsed());
        wal.sync()?;
        report("  … including a final sync()", NEVER_RECORDS, start.elapsed());
        let st = wal.stats();
        println!("  segments created: {}, fsyncs: {}", st.segments_created, st.fsyncs);
    }

    // Replay of what Never wrote (page-cache warm).
    {
        let start = Instant::now();
        let mut n = 0u64;
        let (_wal, stats) = Wal::open(&never_dir, WalOptions::default(), |r| {
            n += r.len() as u64 / RECORD_SIZE as u64;
            Ok(())
        })?;
        report("replay (open), page cache warm", stats.records, start.elapsed());
        assert_eq!(stats.records, NEVER_RECORDS);
        assert_eq!(n, NEVER_RECORDS);
    }

    // Always, one thread: one fsync per log().
    {
        let dir = tmp.path().join("always1");
        let opts = WalOptions {
            fsync: FsyncPolicy::Always,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(&dir, opts, |_| Ok(()))?;
        let before = wal.stats();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < ALWAYS_DURATION {
            wal.log(&[&records[(n % 1024) as usize]])?;
            n += 1;
        }
        let elapsed = start.elapsed();
        report("log, FsyncPolicy::Always, 1 thread", n, elapsed);
        let st = wal.stats();
        let fsyncs = st.fsyncs - before.fsyncs;
        let avg_us = (st.fsync_duration_ns - before.fsync_duration_ns) as f64 / fsyncs.max(1) as f64 / 1000.0;
        println!(
            "  fsyncs: {fsyncs} ({:.2} log calls per fsync, avg fsync {avg_us:.0} µs)",
            n as f64 / fsyncs.max(1) as f64
        );
    }

    // Always, eight threads: group commit.
    {
        let dir = tmp.path().join("always8");
        let opts = WalOptions {
            fsync: FsyncPolicy::Always,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(&dir, opts, |_| Ok(()))?;
        let wal = Arc::new(wal);
        let records = Arc::new(records);
        let total = Arc::new(AtomicU64::new(0));
        let before = wal.stats();
        let start = Instant::now();
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (wal, records, total) = (Arc::clone(&wal), Arc::clone(&records), Arc::clone(&total));
                std::thread::spawn(move || -> Result<(), tsdb::wal::WalError> {
                    let mut n = t;
                    while start.elapsed() < ALWAYS_DURATION {
                        wal.log(&[&records[(n % 1024) as usize]])?;
                        n += THREADS;
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "bench thread panicked")??;
        }
        let elapsed = start.elapsed();
        let n = total.load(Ordering::Relaxed);
        report("log, FsyncPolicy::Always, 8 threads", n, elapsed);
        let st = wal.stats();
        let fsyncs = st.fsyncs - before.fsyncs;
        println!(
            "  fsyncs: {fsyncs} ({:.2} log calls per fsync)",
            n as f64 / fsyncs.max(1) as f64
        );
    }
    Ok(())
}
