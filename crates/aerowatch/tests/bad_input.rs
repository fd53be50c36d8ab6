//! Bad input to remote write: each gets a 4xx that says what is wrong, the
//! server stays up, and nothing already stored is lost.
mod common;

use common::{client, series, Server};
use prost::Message;

fn post(s: &Server, body: Vec<u8>, ct: &str) -> (u16, String) {
    let r = client()
        .post(s.url("/api/v1/write"))
        .header("Content-Type", ct)
        .header("Content-Encoding", "snappy")
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

#[test]
fn every_kind_of_bad_body_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    // The host collector is off: its series would count against max_series.
    let cfg = "collectors:\n  host: { enabled: false }\nlimits:\n  max_series: 40\n  remote_write:\n    max_body_bytes: 65536\n    max_labels_per_series: 5\n    max_label_value_length: 64\n";
    let s = Server::start(Some(cfg), &dir.path().join("data"));
    let good = common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "kept"), ("a", "b")], &[(1000, 7.0)])],
    };
    assert_eq!(s.remote_write(&good).0, 204);

    let pb = "application/x-protobuf";
    let (code, msg) = post(&s, b"this is not snappy".to_vec(), pb);
    assert_eq!(code, 400, "{msg}");
    assert!(msg.contains("snappy") || msg.contains("protobuf"), "{msg}");

    let body = snap::raw::Encoder::new().compress_vec(&good.encode_to_vec()).unwrap();
    let (code, msg) = post(&s, body[..body.len() - 3].to_vec(), pb);
    assert_eq!(code, 400, "truncated snappy: {msg}");

    let (code, msg) = post(&s, body.clone(), "application/json");
    assert_eq!(code, 415, "{msg}");
    assert!(msg.contains("application/x-protobuf"), "{msg}");

    let junk = snap::raw::Encoder::new().compress_vec(&[0xff; 64]).unwrap();
    let (code, msg) = post(&s, junk, pb);
    assert_eq!(code, 400, "{msg}");
    assert!(msg.contains("protobuf"), "{msg}");

    let big: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let (code, msg) = post(&s, big, pb);
    assert_eq!(code, 413, "oversize body");
    assert!(msg.contains("max_body_bytes"), "{msg}");

    let many = common::proto::WriteRequest {
        timeseries: vec![series(
            &[
                ("__name__", "m"),
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
                ("e", "5"),
            ],
            &[(1000, 1.0)],
        )],
    };
    let (code, msg) = s.remote_write(&many);
    assert_eq!(code, 400);
    assert!(msg.contains("max_labels_per_series"), "{msg}");

    let long = "x".repeat(65);
    let long_value = common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "m"), ("a", &long)], &[(1000, 1.0)])],
    };
    let (code, msg) = s.remote_write(&long_value);
    assert_eq!(code, 400);
    assert!(msg.contains("max_label_value_length"), "{msg}");

    let bad_name = common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "m"), ("bad-name", "x")], &[(1000, 1.0)])],
    };
    let (code, msg) = s.remote_write(&bad_name);
    assert_eq!(code, 400);
    assert!(msg.contains("invalid label name"), "{msg}");

    // Invalid UTF-8 in a label value: hand-build the protobuf bytes.
    let mut label = vec![0x0a, 0x08];
    label.extend_from_slice(b"__name__");
    label.extend_from_slice(&[0x12, 0x02, 0xc3, 0x28]);
    let mut ts = vec![0x0a, label.len() as u8];
    ts.extend_from_slice(&label);
    let mut req = vec![0x0a, ts.len() as u8];
    req.extend_from_slice(&ts);
    let (code, msg) = post(&s, snap::raw::Encoder::new().compress_vec(&req).unwrap(), pb);
    assert_eq!(code, 400, "{msg}");

    // Out of order: 400 naming the series, as Prometheus does.
    let ooo = common::proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "kept"), ("a", "b")], &[(500, 1.0)])],
    };
    let (code, msg) = s.remote_write(&ooo);
    assert_eq!(code, 400);
    assert!(msg.contains("out of order sample") && msg.contains("kept"), "{msg}");

    // The series limit refuses new series (the first ones fit) and says so.
    let many_series = common::proto::WriteRequest {
        timeseries: (0..60)
            .map(|i| series(&[("__name__", "card"), ("i", &i.to_string())], &[(1000, 1.0)]))
            .collect(),
    };
    let (code, msg) = s.remote_write(&many_series);
    assert_eq!(code, 400);
    assert!(msg.contains("limits.max_series"), "{msg}");
    let stored = s.get_json("/api/v1/series?match[]=card");
    assert_eq!(
        stored["data"].as_array().unwrap().len(),
        39,
        "40 series in all, one was there before"
    );

    // Still up, and the good sample is still there.
    assert_eq!(client().get(s.url("/-/healthy")).send().unwrap().status(), 200);
    let resp = s.remote_read(s.port, &common::read_query(&[(0, "__name__", "kept")], 0, 10_000));
    assert_eq!(resp.results[0].timeseries[0].samples.len(), 1);
    assert_eq!(resp.results[0].timeseries[0].samples[0].value, 7.0);
    let metrics = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("aerowatch_remote_write_requests_rejected_total{reason=\"malformed\"}"),
        "{metrics}"
    );
}
