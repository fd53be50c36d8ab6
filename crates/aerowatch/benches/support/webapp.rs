//! A prom-client-like web application's series (request counters and
//! duration histograms by instance, route and status code) next to the
//! node fleet, and loading both into a server in time order. Shared by the
//! query and UI benches.
use prost::Message;

use super::dataset::{self, SCRAPE_MS};
use super::http::Conn;
use super::proc::Server;
use super::proto;

/// prom-client-like series of a web application: 10 instances × routes ×
/// methods × status codes, counters and duration histograms, in rounds.
pub fn web_app_requests(first_ts: i64, rounds: usize) -> Vec<Vec<u8>> {
    let routes = ["/", "/api/orders", "/api/users", "/api/products", "/login"];
    let codes = ["200", "201", "404", "500", "503"];
    let les = ["0.1", "0.3", "0.5", "0.7", "1", "3", "5", "7", "10", "+Inf"];
    let mut rng = dataset::Rng(42);
    let mut counters: Vec<f64> = vec![0.0; 10 * routes.len() * codes.len()];
    let mut buckets: Vec<[f64; 10]> = vec![[0.0; 10]; 10 * routes.len()];
    let mut bodies = Vec::new();
    for round in 0..rounds {
        let t = first_ts + round as i64 * SCRAPE_MS;
        let mut req = proto::WriteRequest { timeseries: Vec::new() };
        let label = |n: &str, v: &str| proto::Label {
            name: n.into(),
            value: v.into(),
        };
        for inst in 0..10 {
            let instance = format!("app-{inst}:3000");
            for (ri, route) in routes.iter().enumerate() {
                for (ci, code) in codes.iter().enumerate() {
                    let i = (inst * routes.len() + ri) * codes.len() + ci;
                    let weight = [50.0, 5.0, 2.0, 0.5, 0.2][ci];
                    counters[i] += (rng.unit() * weight * 15.0).round();
                    req.timeseries.push(proto::TimeSeries {
                        labels: vec![
                            label("__name__", "http_requests_total"),
                            label("instance", &instance),
                            label("job", "web"),
                            label("method", "GET"),
                            label("route", route),
                            label("status_code", code),
                        ],
                        samples: vec![proto::Sample {
                            value: counters[i],
                            timestamp: t,
                        }],
                    });
                }
                let h = &mut buckets[inst * routes.len() + ri];
                let n = (rng.unit() * 200.0) as usize;
                for _ in 0..n {
                    let d = rng.unit() * rng.unit() * 4.0;
                    for (bi, le) in les.iter().enumerate() {
                        if *le == "+Inf" || d <= le.parse::<f64>().unwrap_or(f64::INFINITY) {
                            h[bi] += 1.0;
                        }
                    }
                }
                for (bi, le) in les.iter().enumerate() {
                    req.timeseries.push(proto::TimeSeries {
                        labels: vec![
                            label("__name__", "http_request_duration_seconds_bucket"),
                            label("instance", &instance),
                            label("job", "web"),
                            label("le", le),
                            label("route", route),
                        ],
                        samples: vec![proto::Sample {
                            value: h[bi],
                            timestamp: t,
                        }],
                    });
                }
            }
        }
        bodies.push(
            snap::raw::Encoder::new()
                .compress_vec(&req.encode_to_vec())
                .expect("snappy"),
        );
    }
    bodies
}

pub fn load(server: &Server, node: &dataset::Workload, app: &[Vec<u8>]) {
    let mut conn = Conn::new(server.port);
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
    ];
    // Interleave by round so both stores see samples in time order.
    let mut node_reqs: Vec<&dataset::Request> = node.shards.iter().flatten().collect();
    node_reqs.sort_by_key(|r| r.round);
    let mut next_app = 0;
    for r in node_reqs {
        while next_app < app.len() && next_app <= r.round {
            let resp = conn
                .request("POST", "/api/v1/write", &headers, &app[next_app])
                .expect("write");
            assert!(
                resp.status / 100 == 2,
                "{} refused app data: {}",
                server.flavor.name(),
                String::from_utf8_lossy(&resp.body)
            );
            next_app += 1;
        }
        let resp = conn.request("POST", "/api/v1/write", &headers, &r.body).expect("write");
        assert!(
            resp.status / 100 == 2,
            "{} refused node data: {}",
            server.flavor.name(),
            String::from_utf8_lossy(&resp.body)
        );
    }
    for body in &app[next_app..] {
        conn.request("POST", "/api/v1/write", &headers, body).expect("write");
    }
}
