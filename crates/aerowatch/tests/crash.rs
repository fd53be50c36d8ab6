//! Crash safety: every sample acknowledged with a 2xx survives kill -9.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, series, Server};

#[test]
fn acknowledged_samples_survive_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(Some(""), &dir.path().join("data"));
    let acked: Arc<Mutex<Vec<(String, i64, f64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.port;
    let mut writers = Vec::new();
    for w in 0..2 {
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let url = format!("http://127.0.0.1:{port}/api/v1/write");
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut batch = 0i64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let t = 1_000 + batch * 1000;
                let mut ts = Vec::new();
                let mut sent = Vec::new();
                for i in 0..200 {
                    let name = format!("load_w{w}_s{i}");
                    let v = (batch * 1000 + i) as f64;
                    ts.push(series(&[("__name__", &name), ("writer", &w.to_string())], &[(t, v)]));
                    sent.push((name, t, v));
                }
                let req = common::proto::WriteRequest { timeseries: ts };
                let body = snap::raw::Encoder::new()
                    .compress_vec(&prost::Message::encode_to_vec(&req))
                    .unwrap();
                match client
                    .post(&url)
                    .header("Content-Type", "application/x-protobuf")
                    .header("Content-Encoding", "snappy")
                    .body(body)
                    .send()
                {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().extend(sent),
                    _ => break,
                }
                batch += 1;
            }
        }));
    }
    // Kill at a pseudo-random moment between 0.5 s and 2 s into the load.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(500 + (nanos % 1500) as u64));
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 1000, "load too small to mean anything: {}", acked.len());

    s.spawn();
    let mut missing = 0;
    for w in 0..2 {
        let resp = s.remote_read(
            s.port,
            &common::read_query(&[(0, "writer", &w.to_string())], 0, i64::MAX / 2),
        );
        let mut stored = std::collections::HashSet::new();
        for ts in &resp.results[0].timeseries {
            let name = ts.labels.iter().find(|l| l.name == "__name__").unwrap().value.clone();
            for x in &ts.samples {
                stored.insert((name.clone(), x.timestamp, x.value.to_bits()));
            }
        }
        for (name, t, v) in acked.iter().filter(|(n, _, _)| n.starts_with(&format!("load_w{w}_"))) {
            if !stored.contains(&(name.clone(), *t, v.to_bits())) {
                missing += 1;
            }
        }
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged samples lost after kill -9",
        acked.len()
    );
}

#[test]
fn truncated_last_wal_segment_is_recovered_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::start(Some(""), &data);
    for batch in 0..20i64 {
        let req = common::proto::WriteRequest {
            timeseries: (0..50)
                .map(|i| {
                    series(
                        &[("__name__", &format!("m{i}"))],
                        &[(1000 + batch * 1000, batch as f64)],
                    )
                })
                .collect(),
        };
        assert_eq!(s.remote_write(&req).0, 204);
    }
    s.kill9();
    // Tear the newest non-empty segment in the middle of its last record.
    let mut segs: Vec<_> = std::fs::read_dir(data.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && std::fs::metadata(p).unwrap().len() > 8)
        .collect();
    segs.sort();
    let last = segs.last().expect("a WAL segment").clone();
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    s.spawn();
    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("aerowatch_tsdb_wal_corruptions_total 1"), "{metrics}");
    // Everything before the torn batch is intact; the torn batch is gone whole.
    let resp = s.remote_read(s.port, &common::read_query(&[(2, "__name__", "m.*")], 0, i64::MAX / 2));
    let counts: Vec<usize> = resp.results[0].timeseries.iter().map(|t| t.samples.len()).collect();
    assert_eq!(counts.len(), 50);
    assert!(counts.iter().all(|c| *c == 19), "{counts:?}");
    // And the server takes writes again, continuing after the repaired tail.
    let req = common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "m0")], &[(100_000, 1.0)])],
    };
    assert_eq!(s.remote_write(&req).0, 204);
}
