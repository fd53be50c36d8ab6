//! Throughput of the exposition parsers.
//!
//! `cargo bench -p ingest --bench exposition` (add `-- --quick` for a short
//! run). Prints MB/s and samples/s per body.
use std::hint::black_box;
use std::time::{Duration, Instant};

use ingest::exposition::{parse, Format};

const NODE_EXPORTER: &str = include_str!("../tests/fixtures/exposition/node_exporter.prom");
const PROM_CLIENT: &str = include_str!("../tests/fixtures/exposition/prom_client.prom");
const OM_SPEC: &str = include_str!("../tests/fixtures/exposition/openmetrics_spec.om");

/// `body` repeated `n` times.
fn repeat(body: &str, n: usize) -> String {
    body.repeat(n)
}

/// An OpenMetrics body repeated `n` times with a single final `# EOF`.
fn repeat_om(body: &str, n: usize) -> String {
    let without_eof = body.strip_suffix("# EOF\n").expect("fixture ends with # EOF");
    let mut s = without_eof.repeat(n);
    s.push_str("# EOF\n");
    s
}

/// A prom-client style service: many label combinations of one histogram.
fn many_series(om: bool) -> String {
    let mut s = String::new();
    s.push_str("# HELP http_request_duration_seconds Duration of HTTP requests in seconds\n");
    s.push_str("# TYPE http_request_duration_seconds histogram\n");
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    for route in 0..100 {
        for (method, code) in [("GET", "200"), ("POST", "201"), ("GET", "404"), ("DELETE", "500")] {
            let labels = format!("method=\"{method}\",route=\"/api/v1/resource{route}/:id\",status_code=\"{code}\"");
            for (i, le) in les.iter().enumerate() {
                s.push_str(&format!(
                    "http_request_duration_seconds_bucket{{le=\"{le}\",{labels}}} {}\n",
                    i * 7 + route
                ));
            }
            s.push_str(&format!(
                "http_request_duration_seconds_sum{{{labels}}} {}.{}\n",
                route * 3,
                route
            ));
            s.push_str(&format!(
                "http_request_duration_seconds_count{{{labels}}} {}\n",
                11 * 7 + route
            ));
        }
    }
    if om {
        s.push_str("# EOF\n");
    }
    s
}

fn bench(name: &str, body: &str, format: Format, budget: Duration) {
    let bytes = body.as_bytes();
    let samples = match parse(bytes, format) {
        Ok(e) => e.samples.len(),
        Err(e) => panic!("{name}: {e}"),
    };
    // Warm up, then run for the time budget.
    for _ in 0..3 {
        black_box(parse(black_box(bytes), format).ok());
    }
    let start = Instant::now();
    let mut iters = 0u64;
    while start.elapsed() < budget || iters < 5 {
        black_box(parse(black_box(bytes), format).ok());
        iters += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let per_iter = secs / iters as f64;
    let mb_s = bytes.len() as f64 / per_iter / 1e6;
    let samples_s = samples as f64 / per_iter;
    println!(
        "{name:<34} {:>8.1} KB {:>7} samples {:>8.1} MB/s {:>7.2} M samples/s {:>7.0} ns/sample ({iters} iters)",
        bytes.len() as f64 / 1e3,
        samples,
        mb_s,
        samples_s / 1e6,
        per_iter * 1e9 / samples as f64,
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    };
    let cases: Vec<(&str, String, Format)> = vec![
        (
            "text/node_exporter x50",
            repeat(NODE_EXPORTER, 50),
            Format::PrometheusText,
        ),
        ("text/prom_client x50", repeat(PROM_CLIENT, 50), Format::PrometheusText),
        ("text/histogram 5600 series", many_series(false), Format::PrometheusText),
        (
            "openmetrics/spec examples x50",
            repeat_om(OM_SPEC, 50),
            Format::OpenMetrics,
        ),
        (
            "openmetrics/histogram 5600 series",
            many_series(true),
            Format::OpenMetrics,
        ),
    ];
    for (name, body, format) in &cases {
        bench(name, body, *format, budget);
    }
}
