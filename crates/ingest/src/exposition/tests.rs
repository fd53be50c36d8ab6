use super::*;
use model::Labels;

const NODE_EXPORTER: &[u8] = include_bytes!("../../tests/fixtures/exposition/node_exporter.prom");
const PROM_CLIENT: &[u8] = include_bytes!("../../tests/fixtures/exposition/prom_client.prom");
const OM_SPEC: &[u8] = include_bytes!("../../tests/fixtures/exposition/openmetrics_spec.om");

use Format::{OpenMetrics as OM, PrometheusText as TEXT};

fn ok(body: &[u8], format: Format) -> Exposition {
    match parse(body, format) {
        Ok(e) => e,
        Err(e) => panic!("unexpected error: {e}\nbody: {:?}", String::from_utf8_lossy(body)),
    }
}

fn err(body: &[u8], format: Format) -> ParseError {
    match parse(body, format) {
        Ok(e) => panic!(
            "expected an error, parsed {e:?}\nbody: {:?}",
            String::from_utf8_lossy(body)
        ),
        Err(e) => e,
    }
}

fn s(name: &str, labels: &[(&str, &str)], value: f64, ts: Option<i64>) -> ParsedSample {
    let mut pairs = vec![("__name__", name)];
    pairs.extend_from_slice(labels);
    ParsedSample {
        labels: Labels::from_pairs(pairs),
        value,
        timestamp_ms: ts,
    }
}

fn meta(family: &str, kind: MetricType, help: &str, unit: &str) -> MetricMetadata {
    MetricMetadata {
        metric_family: family.into(),
        kind,
        help: help.into(),
        unit: unit.into(),
    }
}

fn find<'a>(e: &'a Exposition, series: &str) -> &'a ParsedSample {
    e.samples
        .iter()
        .find(|s| s.labels.to_string() == series)
        .unwrap_or_else(|| panic!("no sample {series}"))
}

fn find_meta<'a>(e: &'a Exposition, family: &str) -> &'a MetricMetadata {
    e.metadata
        .iter()
        .find(|m| m.metric_family == family)
        .unwrap_or_else(|| panic!("no metadata for {family}"))
}

// ---------------------------------------------------------------- API bits

#[test]
fn format_from_content_type() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        OM
    );
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=0.0.1"),
        OM
    );
    assert_eq!(Format::from_content_type("Application/OpenMetrics-Text"), OM);
    assert_eq!(
        Format::from_content_type("  application/openmetrics-text ;charset=utf-8"),
        OM
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"),
        TEXT
    );
    assert_eq!(Format::from_content_type("text/plain"), TEXT);
    assert_eq!(Format::from_content_type(""), TEXT);
    assert_eq!(Format::from_content_type("application/json"), TEXT);
    assert_eq!(Format::from_content_type("application/openmetrics-textual"), TEXT);
}

#[test]
fn metric_type_names() {
    let all = [
        (MetricType::Counter, "counter"),
        (MetricType::Gauge, "gauge"),
        (MetricType::Histogram, "histogram"),
        (MetricType::GaugeHistogram, "gaugehistogram"),
        (MetricType::Summary, "summary"),
        (MetricType::Info, "info"),
        (MetricType::StateSet, "stateset"),
        (MetricType::Unknown, "unknown"),
    ];
    for (t, name) in all {
        assert_eq!(t.as_str(), name);
    }
}

#[test]
fn error_display() {
    let e = err(b"ok 1\nok 2\nbad{\n", TEXT);
    assert_eq!(
        e.to_string(),
        r#"line 3: expected label name or "}", got end of line: "bad{""#
    );
}

#[test]
fn empty_bodies() {
    let e = ok(b"", TEXT);
    assert!(e.samples.is_empty() && e.metadata.is_empty());
    let e = ok(b"\n\n  \n\t\n", TEXT);
    assert!(e.samples.is_empty());
    let e = ok(b"# EOF\n", OM);
    assert!(e.samples.is_empty());
    let e = ok(b"# EOF", OM);
    assert!(e.samples.is_empty());
}

// ------------------------------------------------------- text format golden

#[test]
fn text_node_exporter() {
    let e = ok(NODE_EXPORTER, TEXT);
    assert_eq!(e.samples.len(), 64);
    assert_eq!(e.metadata.len(), 26);
    assert!(e.samples.iter().all(|s| s.timestamp_ms.is_none()));

    assert_eq!(
        e.samples[0],
        s("go_gc_duration_seconds", &[("quantile", "0")], 2.2209e-05, None)
    );
    assert_eq!(e.samples[6], s("go_gc_duration_seconds_count", &[], 2174.0, None));
    assert_eq!(
        e.metadata[0],
        meta(
            "go_gc_duration_seconds",
            MetricType::Summary,
            "A summary of the pause duration of garbage collection cycles.",
            ""
        )
    );
    assert_eq!(find_meta(&e, "node_cpu_seconds_total").kind, MetricType::Counter);
    assert_eq!(find_meta(&e, "node_load1").kind, MetricType::Gauge);
    assert_eq!(
        find_meta(&e, "node_network_up").help,
        "Value is 1 if operstate is 'up', 0 otherwise."
    );

    assert_eq!(
        *find(&e, r#"node_cpu_seconds_total{cpu="1", mode="idle"}"#),
        s(
            "node_cpu_seconds_total",
            &[("cpu", "1"), ("mode", "idle")],
            1.21401273e+06,
            None
        )
    );
    let fs = find(
        &e,
        r#"node_filesystem_avail_bytes{device="/dev/nvme0n1p1", fstype="vfat", mountpoint="/boot/efi"}"#,
    );
    assert_eq!(fs.value, 5.33286912e+08);
    assert_eq!(find(&e, "node_time_seconds").value, 1.6849880243558562e+09);
    let uname = find(
        &e,
        r##"node_uname_info{domainname="(none)", machine="x86_64", nodename="web-01", release="6.1.0-9-amd64", sysname="Linux", version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1 (2023-05-08)"}"##,
    );
    assert_eq!(uname.labels.len(), 7);
    assert_eq!(
        find(&e, r#"promhttp_metric_handler_requests_total{code="200"}"#).value,
        71523.0
    );
    assert_eq!(
        e.samples.last().unwrap(),
        &s("promhttp_metric_handler_requests_total", &[("code", "503")], 0.0, None)
    );
}

#[test]
fn text_prom_client_histogram() {
    let e = ok(PROM_CLIENT, TEXT);
    assert_eq!(e.samples.len(), 50);
    assert_eq!(e.metadata.len(), 11);
    let h = find_meta(&e, "http_request_duration_seconds");
    assert_eq!(
        *h,
        meta(
            "http_request_duration_seconds",
            MetricType::Histogram,
            "Duration of HTTP requests in seconds",
            ""
        )
    );

    let get = [("method", "GET"), ("route", "/api/users"), ("status_code", "200")];
    let buckets: Vec<&ParsedSample> = e
        .samples
        .iter()
        .filter(|s| {
            s.labels.metric_name() == Some("http_request_duration_seconds_bucket")
                && s.labels.get("method") == Some("GET")
        })
        .collect();
    let les: Vec<&str> = buckets.iter().map(|s| s.labels.get("le").unwrap()).collect();
    assert_eq!(
        les,
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
    );
    let mut first = get.to_vec();
    first.push(("le", "0.005"));
    assert_eq!(
        *buckets[0],
        s("http_request_duration_seconds_bucket", &first, 12.0, None)
    );
    // labels come out sorted whatever the exposition order (prom-client puts le first)
    let names: Vec<&str> = buckets[0].labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["__name__", "le", "method", "route", "status_code"]);
    assert_eq!(buckets[11].value, 45.0);
    assert_eq!(
        *find(
            &e,
            r#"http_request_duration_seconds_sum{method="GET", route="/api/users", status_code="200"}"#
        ),
        s("http_request_duration_seconds_sum", &get, 0.4713289, None)
    );
    assert_eq!(
        find(
            &e,
            r#"http_request_duration_seconds_count{method="POST", route="/api/orders/:id", status_code="500"}"#
        )
        .value,
        3.0
    );
    let v = find(
        &e,
        r#"nodejs_version_info{major="18", minor="17", patch="1", version="v18.17.1"}"#,
    );
    assert_eq!(v.value, 1.0);
}

/// Prometheus's own `TestPromParse` input (minus the later UTF-8 name
/// syntax), with the same expectations.
#[test]
fn text_prometheus_testdata() {
    let mut input = String::from(
        r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# 	TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25",} 7.424100000000001e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
go_gc_duration_seconds{quantile="0.8", a="b"} 8.3835e-05
go_gc_duration_seconds{ quantile="0.9", a="b"} 8.3835e-05
# Hrandom comment starting with prefix of HELP
#
wind_speed{A="2",c="3"} 12345
# comment with escaped \n newline
# comment with escaped \ escape character
# HELP nohelp1
# HELP nohelp2 
go_gc_duration_seconds{ quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile="1.0", a="b" } 8.3835e-05
go_gc_duration_seconds { quantile= "1.0", a= "b", } 8.3835e-05
go_gc_duration_seconds { quantile = "1.0", a = "b" } 8.3835e-05
go_gc_duration_seconds { quantile = "2.0" a = "b" } 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"}	1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33  	123123
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore="foo"} 1
testmetric{label="\"bar\""} 1"#,
    );
    input += "\n# HELP metric foo\x00bar";
    input += "\nnull_byte_metric{a=\"abc\x00\"} 1";
    let e = ok(input.as_bytes(), TEXT);

    let q = |q: &str, a: &str| s("go_gc_duration_seconds", &[("quantile", q), ("a", a)], 8.3835e-05, None);
    let expected = vec![
        s("go_gc_duration_seconds", &[("quantile", "0")], 4.9351e-05, None),
        s(
            "go_gc_duration_seconds",
            &[("quantile", "0.25")],
            7.424100000000001e-05,
            None,
        ),
        q("0.5", "b"),
        q("0.8", "b"),
        q("0.9", "b"),
        s("wind_speed", &[("A", "2"), ("c", "3")], 12345.0, None),
        q("1.0", "b"),
        q("1.0", "b"),
        q("1.0", "b"),
        q("1.0", "b"),
        q("2.0", "b"),
        s("go_gc_duration_seconds_count", &[], 99.0, None),
        s("some:aggregate:rate5m", &[("a_b", "c")], 1.0, None),
        s("go_goroutines", &[], 33.0, Some(123123)),
        s("_metric_starting_with_underscore", &[], 1.0, None),
        s("testmetric", &[("_label_starting_with_underscore", "foo")], 1.0, None),
        s("testmetric", &[("label", "\"bar\"")], 1.0, None),
        s("null_byte_metric", &[("a", "abc\x00")], 1.0, None),
    ];
    assert_eq!(e.samples, expected);
    assert_eq!(
        e.metadata,
        vec![
            meta(
                "go_gc_duration_seconds",
                MetricType::Summary,
                "A summary of the GC invocation durations.",
                ""
            ),
            meta("nohelp1", MetricType::Unknown, "", ""),
            meta("nohelp2", MetricType::Unknown, "", ""),
            meta(
                "go_goroutines",
                MetricType::Gauge,
                "Number of goroutines that currently exist.",
                ""
            ),
            meta("metric", MetricType::Unknown, "foo\x00bar", ""),
        ]
    );
}

#[test]
fn text_metadata_lines() {
    let body = "# HELP a one\n# HELP  b  two \n#\tHELP\tc\tthree\n# HELP\n#HELP d x\n# HELPe x\n# TYPE e untyped\n\
                # TYPE f histogram\n# TYPE g counter\n# HELP g later\n# UNIT g seconds\n# EOF\n# HELP a again\n";
    let e = ok(body.as_bytes(), TEXT);
    assert!(e.samples.is_empty());
    assert_eq!(
        e.metadata,
        vec![
            meta("a", MetricType::Unknown, "again", ""),
            meta("b", MetricType::Unknown, " two ", ""),
            meta("c", MetricType::Unknown, "three", ""),
            meta("e", MetricType::Unknown, "", ""),
            meta("f", MetricType::Histogram, "", ""),
            meta("g", MetricType::Counter, "later", ""),
        ]
    );
}

#[test]
fn text_help_escapes() {
    // The text format unescapes only \\ and \n in HELP; \" stays as is.
    let e = ok(br#"# HELP m a\\b \"q\" \n x \t"#, TEXT);
    assert_eq!(e.metadata[0].help, "a\\b \\\"q\\\" \n x \\t");
    // OpenMetrics also unescapes \".
    let e = ok(b"# HELP m a\\\\b \\\"q\\\" \\n x \\t\n# EOF\n", OM);
    assert_eq!(e.metadata[0].help, "a\\b \"q\" \n x \\t");
}

#[test]
fn label_value_escapes() {
    let body = r#"m{a="x\\y",b="say \"hi\"",c="l1\nl2",d="\t\u",e="ünï©ødé ✓"} 1"#.as_bytes();
    let om: Vec<u8> = [body, b"\n# EOF\n"].concat();
    for (format, body) in [(TEXT, body), (OM, &om[..])] {
        let e = ok(body, format);
        let l = &e.samples[0].labels;
        assert_eq!(l.get("a"), Some("x\\y"));
        assert_eq!(l.get("b"), Some("say \"hi\""));
        assert_eq!(l.get("c"), Some("l1\nl2"));
        assert_eq!(l.get("d"), Some("\\t\\u"));
        assert_eq!(l.get("e"), Some("ünï©ødé ✓"));
    }
}

#[test]
fn text_raw_newline_in_label_value() {
    // promlex accepts a raw line feed inside a label value.
    let e = ok(b"m{a=\"x\ny\"} 1\nn 2\n", TEXT);
    assert_eq!(e.samples[0].labels.get("a"), Some("x\ny"));
    assert_eq!(e.samples[1], s("n", &[], 2.0, None));
    // Line numbers still count it.
    let e = err(b"m{a=\"x\ny\"} 1\nn 2\nbad\n", TEXT);
    assert_eq!(e.line, 4);
}

#[test]
fn empty_label_values_are_dropped() {
    let e = ok(b"m{a=\"\",b=\"1\"} 1\nm{} 2\n", TEXT);
    assert_eq!(e.samples[0], s("m", &[("b", "1")], 1.0, None));
    assert_eq!(e.samples[0].labels.len(), 2);
    assert_eq!(e.samples[1], s("m", &[], 2.0, None));
    let e = ok(b"m{a=\"\"} 1\n# EOF\n", OM);
    assert_eq!(e.samples[0].labels.len(), 1);
}

#[test]
fn values() {
    let cases: &[(&str, f64)] = &[
        ("1", 1.0),
        ("-1", -1.0),
        ("+1", 1.0),
        ("0", 0.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("1e+3", 1000.0),
        ("2.5e-3", 0.0025),
        (".5", 0.5),
        ("5.", 5.0),
        ("+.5e1", 5.0),
        ("00012", 12.0),
        ("1.6849880243558562e+09", 1.6849880243558562e+09),
        ("7.424100000000001e-05", 7.424100000000001e-05),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("0.1000000000000000055511151231257827", 0.1),
        ("1e-400", 0.0),
        ("1.7976931348623157e308", f64::MAX),
        ("4.9406564584124654e-324", 5e-324),
        ("+Inf", f64::INFINITY),
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("-infinity", f64::NEG_INFINITY),
        ("+Infinity", f64::INFINITY),
    ];
    for &(text, want) in cases {
        let body = format!("m {text}\n");
        let got = ok(body.as_bytes(), TEXT).samples[0].value;
        assert_eq!(got, want, "{text}");
        let body = format!("m {text}\n# EOF\n");
        assert_eq!(ok(body.as_bytes(), OM).samples[0].value, want, "{text}");
    }
    for nan in ["NaN", "nan", "NAN"] {
        assert!(ok(format!("m {nan}").as_bytes(), TEXT).samples[0].value.is_nan());
    }
    assert!(ok(b"m -0", TEXT).samples[0].value.is_sign_negative());

    let bad: &[(&str, &str)] = &[
        ("true", "invalid sample value \"true\""),
        ("1_000", "invalid sample value \"1_000\""),
        ("0x1p-3", "invalid sample value \"0x1p-3\""),
        ("0x10", "invalid sample value \"0x10\""),
        ("+NaN", "invalid sample value \"+NaN\""),
        ("-nan", "invalid sample value \"-nan\""),
        ("infinit", "invalid sample value \"infinit\""),
        ("1e", "invalid sample value \"1e\""),
        ("e1", "invalid sample value \"e1\""),
        (".", "invalid sample value \".\""),
        ("-", "invalid sample value \"-\""),
        ("1.2.3", "invalid sample value \"1.2.3\""),
        ("1e400", "sample value \"1e400\" out of range"),
        ("-1e400", "sample value \"-1e400\" out of range"),
    ];
    for &(text, message) in bad {
        let e = err(format!("m {text}\n").as_bytes(), TEXT);
        assert_eq!((e.line, e.message.as_str()), (1, message), "{text}");
        let e = err(format!("m {text}\n# EOF\n").as_bytes(), OM);
        assert_eq!((e.line, e.message.as_str()), (1, message), "{text}");
    }
}

#[test]
fn text_timestamps() {
    let e = ok(
        b"a 1 1700000000000\nb 2 0\nc 3\t 42 \t\nd 4 9223372036854775807\n",
        TEXT,
    );
    let ts: Vec<Option<i64>> = e.samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(ts, [Some(1_700_000_000_000), Some(0), Some(42), Some(i64::MAX)]);
}

#[test]
fn text_crlf_is_tolerated() {
    let crlf: Vec<u8> = String::from_utf8_lossy(NODE_EXPORTER)
        .replace('\n', "\r\n")
        .into_bytes();
    let a = ok(NODE_EXPORTER, TEXT);
    let b = ok(&crlf, TEXT);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.metadata, b.metadata);
    let e = ok(b"# TYPE m counter\r\n# HELP m h\r\nm{a=\"b\"} 1 123\r\n\r\nn 2\r", TEXT);
    assert_eq!(
        e.samples,
        vec![s("m", &[("a", "b")], 1.0, Some(123)), s("n", &[], 2.0, None)]
    );
    assert_eq!(e.metadata, vec![meta("m", MetricType::Counter, "h", "")]);
}

#[test]
fn text_whitespace_and_final_newline() {
    let e = ok(b"  a 1\n\t\tb{x=\"1\"}\t2\t\n\nc{x=\"1\"}3", TEXT);
    assert_eq!(
        e.samples,
        vec![
            s("a", &[], 1.0, None),
            s("b", &[("x", "1")], 2.0, None),
            s("c", &[("x", "1")], 3.0, None)
        ]
    );
}

#[test]
fn text_comments_are_not_validated() {
    // Prometheus ignores comment bytes entirely, invalid UTF-8 included.
    let e = ok(b"# \xff\xfe comment\n#\x00\nm 1\n", TEXT);
    assert_eq!(e.samples.len(), 1);
}

#[test]
fn text_types() {
    let e = ok(
        b"# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n",
        TEXT,
    );
    let kinds: Vec<MetricType> = e.metadata.iter().map(|m| m.kind).collect();
    use MetricType::*;
    assert_eq!(kinds, [Counter, Gauge, Histogram, Summary, Unknown]);
}

// ---------------------------------------------------------- OpenMetrics golden

#[test]
fn openmetrics_spec_examples() {
    let e = ok(OM_SPEC, OM);
    assert_eq!(e.samples.len(), 49);
    assert_eq!(
        e.metadata[0],
        meta(
            "acme_http_router_request_seconds",
            MetricType::Summary,
            "Latency though all of ACME's HTTP request router.",
            "seconds"
        )
    );
    assert_eq!(
        *find_meta(&e, "foo_seconds"),
        meta(
            "foo_seconds",
            MetricType::Counter,
            "Some text and \n some \" escaping",
            "seconds"
        )
    );
    assert_eq!(find_meta(&e, "queue").kind, MetricType::GaugeHistogram);
    assert_eq!(find_meta(&e, "ss").kind, MetricType::StateSet);
    assert_eq!(find_meta(&e, "build").kind, MetricType::Info);
    assert_eq!(find_meta(&e, "unk").kind, MetricType::Unknown);
    assert_eq!(find_meta(&e, "go_goroutines").unit, "");

    let ep = [("path", "/api/v1"), ("method", "GET")];
    assert_eq!(
        e.samples[0],
        s("acme_http_router_request_seconds_sum", &ep, 9036.32, None)
    );
    // _created samples are kept as ordinary samples
    assert_eq!(
        e.samples[2],
        s("acme_http_router_request_seconds_created", &ep, 1605281325.0, None)
    );
    assert_eq!(
        *find(&e, "process_cpu_seconds_total"),
        s("process_cpu_seconds_total", &[], 4.20072246e+06, None)
    );
    // float seconds -> milliseconds
    assert_eq!(
        *find(&e, "foo_seconds_total"),
        s("foo_seconds_total", &[], 17.0, Some(1520879607789))
    );
    assert_eq!(
        *find(&e, "foo_seconds_created"),
        s("foo_seconds_created", &[], 1520430000.123, Some(1520879607789))
    );
    let counts: Vec<Option<i64>> = e
        .samples
        .iter()
        .filter(|s| s.labels.metric_name() == Some("summ_seconds_count"))
        .map(|s| s.timestamp_ms)
        .collect();
    assert_eq!(counts, [Some(123_000), Some(456_000)]);
    // exemplars are validated and dropped
    assert_eq!(
        *find(&e, r#"ex_bucket{le="10"}"#),
        s("ex_bucket", &[("le", "10")], 17.0, None)
    );
    assert_eq!(find(&e, r#"ex_bucket{le="0.1"}"#).labels.len(), 2);
    assert_eq!(find(&e, r#"lat_bucket{le="1e+23"}"#).value, 16.0);
    assert_eq!(find(&e, "queue_gsum").value, 3289.3);
    assert_eq!(find(&e, r#"ss{entity="replica", ss="ccc"}"#).value, 1.0);
    assert_eq!(
        find(
            &e,
            r#"build_info{entity="controller", name="pretty name", version="8.2.7"}"#
        )
        .value,
        1.0
    );
    assert_eq!(e.samples.last().unwrap(), &s("unk", &[], 42.23, None));
}

/// Prometheus's own `TestOpenMetricsParse` input as of 2.42.
#[test]
fn openmetrics_prometheus_testdata() {
    let mut input = String::from(
        r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# TYPE go_gc_duration_seconds summary
# UNIT go_gc_duration_seconds seconds
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25"} 7.424100000000001e-05
go_gc_duration_seconds{quantile="0.5",a="b"} 8.3835e-05
# HELP nohelp1 
# HELP help2 escape \ \n \\ \" \x chars
# UNIT nounit 
go_gc_duration_seconds{quantile="1.0",a="b"} 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b="c"} 1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33 123.123
# TYPE hh histogram
hh_bucket{le="+Inf"} 1
# TYPE gh gaugehistogram
gh_bucket{le="+Inf"} 1
# TYPE hhh histogram
hhh_bucket{le="+Inf"} 1 # {id="histogram-bucket-test"} 4
hhh_count 1 # {id="histogram-count-test"} 4
# TYPE ggh gaugehistogram
ggh_bucket{le="+Inf"} 1 # {id="gaugehistogram-bucket-test",xx="yy"} 4 123.123
ggh_count 1 # {id="gaugehistogram-count-test",xx="yy"} 4 123.123
# TYPE smr_seconds summary
smr_seconds_count 2.0 # {id="summary-count-test"} 1 123.321
smr_seconds_sum 42.0 # {id="summary-sum-test"} 1 123.321
# TYPE ii info
ii{foo="bar"} 1
# TYPE ss stateset
ss{ss="foo"} 1
ss{ss="bar"} 0
ss{A="a"} 0
# TYPE un unknown
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore="foo"} 1
testmetric{label="\"bar\""} 1
# TYPE foo counter
foo_total 17.0 1520879607.789 # {id="counter-test"} 5"#,
    );
    input += "\n# HELP metric foo\x00bar";
    input += "\nnull_byte_metric{a=\"abc\x00\"} 1";
    input += "\n# EOF\n";
    let e = ok(input.as_bytes(), OM);
    let q = |q: &str, a: &str, v: f64| {
        let mut l = vec![("quantile", q)];
        if !a.is_empty() {
            l.push(("a", a));
        }
        s("go_gc_duration_seconds", &l, v, None)
    };
    let expected = vec![
        q("0", "", 4.9351e-05),
        q("0.25", "", 7.424100000000001e-05),
        q("0.5", "b", 8.3835e-05),
        q("1.0", "b", 8.3835e-05),
        s("go_gc_duration_seconds_count", &[], 99.0, None),
        s("some:aggregate:rate5m", &[("a_b", "c")], 1.0, None),
        s("go_goroutines", &[], 33.0, Some(123123)),
        s("hh_bucket", &[("le", "+Inf")], 1.0, None),
        s("gh_bucket", &[("le", "+Inf")], 1.0, None),
        s("hhh_bucket", &[("le", "+Inf")], 1.0, None),
        s("hhh_count", &[], 1.0, None),
        s("ggh_bucket", &[("le", "+Inf")], 1.0, None),
        s("ggh_count", &[], 1.0, None),
        s("smr_seconds_count", &[], 2.0, None),
        s("smr_seconds_sum", &[], 42.0, None),
        s("ii", &[("foo", "bar")], 1.0, None),
        s("ss", &[("ss", "foo")], 1.0, None),
        s("ss", &[("ss", "bar")], 0.0, None),
        s("ss", &[("A", "a")], 0.0, None),
        s("_metric_starting_with_underscore", &[], 1.0, None),
        s("testmetric", &[("_label_starting_with_underscore", "foo")], 1.0, None),
        s("testmetric", &[("label", "\"bar\"")], 1.0, None),
        s("foo_total", &[], 17.0, Some(1520879607789)),
        s("null_byte_metric", &[("a", "abc\x00")], 1.0, None),
    ];
    assert_eq!(e.samples, expected);
    use MetricType::*;
    assert_eq!(
        e.metadata,
        vec![
            meta(
                "go_gc_duration_seconds",
                Summary,
                "A summary of the GC invocation durations.",
                "seconds"
            ),
            meta("nohelp1", Unknown, "", ""),
            meta("help2", Unknown, "escape \\ \n \\ \" \\x chars", ""),
            meta("nounit", Unknown, "", ""),
            meta("go_goroutines", Gauge, "Number of goroutines that currently exist.", ""),
            meta("hh", Histogram, "", ""),
            meta("gh", GaugeHistogram, "", ""),
            meta("hhh", Histogram, "", ""),
            meta("ggh", GaugeHistogram, "", ""),
            meta("smr_seconds", Summary, "", ""),
            meta("ii", Info, "", ""),
            meta("ss", StateSet, "", ""),
            meta("un", Unknown, "", ""),
            meta("foo", Counter, "", ""),
            meta("metric", Unknown, "foo\x00bar", ""),
        ]
    );
}

#[test]
fn openmetrics_timestamps() {
    let e = ok(b"a 1 1520879607.789\nb 1 -1.5\nc 1 1e3\nd 1 0\ne 1 123\n# EOF\n", OM);
    let ts: Vec<Option<i64>> = e.samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(
        ts,
        [
            Some(1520879607789),
            Some(-1500),
            Some(1_000_000),
            Some(0),
            Some(123_000)
        ]
    );
}

#[test]
fn openmetrics_counter_suffixes() {
    let e = ok(
        b"# TYPE c counter\nc_total 1\nc_created 2\nc_total{a=\"b\"} 3 # {x=\"y\"} 1\n# EOF\n",
        OM,
    );
    assert_eq!(e.samples.len(), 3);
    let e = err(b"# TYPE c counter\nc_total 1\nc{a=\"b\"} 2\n# EOF\n", OM);
    assert_eq!(e.line, 3);
    assert_eq!(
        e.message,
        "counter sample \"c\" must have a \"_total\" or \"_created\" suffix"
    );
    // Not a counter: the bare name is fine. And the text format has no such rule.
    assert_eq!(ok(b"# TYPE c gauge\nc 1\n# EOF\n", OM).samples.len(), 1);
    assert_eq!(ok(b"# TYPE c counter\nc 1\n", TEXT).samples.len(), 1);
}

#[test]
fn openmetrics_exemplar_forms() {
    let good: &[&str] = &[
        "m_total 1 # {} 1\n",
        "m_total 1 # {a=\"b\"} 1\n",
        "m_total 1 # {a=\"b\",c=\"d\"} -1.5e3 1520879607.789\n",
        "m_total 1 123 # {a=\"b\"} 1\n",
        "m_total 1 123 # {a=\"\\\"q\\\"\"} NaN 0\n",
    ];
    for g in good {
        let body = format!("{g}# EOF\n");
        let e = ok(body.as_bytes(), OM);
        assert_eq!(e.samples.len(), 1, "{g}");
        assert_eq!(e.samples[0].labels.len(), 1, "{g}");
    }
}

// ------------------------------------------------------------------ failures

/// Each bad input with the exact error it must produce.
#[test]
fn bad_inputs() {
    #[rustfmt::skip]
    let cases: &[(Format, &[u8], usize, &str, &str)] = &[
        // -- Prometheus text format
        (TEXT, b"a", 1, "expected sample value, got end of input", "a"),
        (TEXT, b"a\n", 1, "expected sample value, got end of line", "a"),
        (TEXT, b"a{b='c'} 1\n", 1, "expected quoted label value, got \"'\"", "a{b='c'} 1"),
        (TEXT, b"a{b=\n", 1, "expected quoted label value, got end of line", "a{b="),
        (TEXT, b"a{\xff=\"foo\"} 1\n", 1, "expected label name or \"}\", got byte 0xff", "a{\u{fffd}=\"foo\"} 1"),
        (TEXT, b"ok 1\na{b=\"\xff\"} 1\n", 2, "invalid UTF-8 in label value", "a{b=\"\u{fffd}\"} 1"),
        (TEXT, b"a true\n", 1, "invalid sample value \"true\"", "a true"),
        (TEXT, b"something_weird{problem=\"", 1, "unterminated label value", "something_weird{problem=\""),
        (TEXT, b"empty_label_name{=\"\"} 0", 1, "expected label name or \"}\", got \"=\"", "empty_label_name{=\"\"} 0"),
        (TEXT, b"foo 0 1_2\n", 1, "expected end of line after timestamp, got \"_\"", "foo 0 1_2"),
        (TEXT, b"foo 1 2 3\n", 1, "expected end of line after timestamp, got \"3\"", "foo 1 2 3"),
        (TEXT, b"foo 1 -5\n", 1, "expected timestamp or end of line, got \"-\"", "foo 1 -5"),
        (TEXT, b"foo 1 1.5\n", 1, "expected end of line after timestamp, got \".\"", "foo 1 1.5"),
        (TEXT, b"foo 1 99999999999999999999\n", 1, "timestamp \"99999999999999999999\" out of range", "foo 1 99999999999999999999"),
        (TEXT, b"{a=\"ok\"} 1", 1, "expected metric name or comment, got \"{\"", "{a=\"ok\"} 1"),
        (TEXT, b"-1 foo\n", 1, "expected metric name or comment, got \"-\"", "-1 foo"),
        (TEXT, b"\x00 1\n", 1, "expected metric name or comment, got \"\\0\"", "\0 1"),
        (TEXT, b"# TYPE #\n", 1, "expected metric name after TYPE, got \"#\"", "# TYPE #"),
        (TEXT, b"# HELP #\n", 1, "expected metric name after HELP, got \"#\"", "# HELP #"),
        (TEXT, b"# HELP \n", 1, "expected metric name after HELP, got end of line", "# HELP "),
        (TEXT, b"# TYPE foo bar\n", 1, "invalid metric type \"bar\"", "# TYPE foo bar"),
        (TEXT, b"# TYPE foo\n", 1, "invalid metric type \"\"", "# TYPE foo"),
        (TEXT, b"# TYPE foo counter \n", 1, "invalid metric type \"counter \"", "# TYPE foo counter "),
        (TEXT, b"# TYPE foo gaugehistogram\n", 1, "invalid metric type \"gaugehistogram\"", "# TYPE foo gaugehistogram"),
        (TEXT, b"# TYPE foo unknown\n", 1, "invalid metric type \"unknown\"", "# TYPE foo unknown"),
        (TEXT, b"# HELP foo \xffbar\n", 1, "invalid UTF-8 in help text", "# HELP foo \u{fffd}bar"),
        (TEXT, b"foo 1e400\n", 1, "sample value \"1e400\" out of range", "foo 1e400"),
        (TEXT, b"foo{a=\"1\",a=\"2\"} 1\n", 1, "duplicate label name \"a\"", "foo{a=\"1\",a=\"2\"} 1"),
        (TEXT, b"foo{a=\"\",a=\"2\"} 1\n", 1, "duplicate label name \"a\"", "foo{a=\"\",a=\"2\"} 1"),
        (TEXT, b"foo{__name__=\"bar\"} 1\n", 1, "duplicate label name \"__name__\"", "foo{__name__=\"bar\"} 1"),
        (TEXT, b"foo{a=\"1\"}{b=\"2\"} 1\n", 1, "expected sample value, got \"{\"", "foo{a=\"1\"}{b=\"2\"} 1"),
        (TEXT, b"foo{a=\"1\",,b=\"2\"} 1\n", 1, "expected label name or \"}\", got \",\"", "foo{a=\"1\",,b=\"2\"} 1"),
        (TEXT, b"foo{a=\"1\"\n", 1, "expected label name or \"}\", got end of line", "foo{a=\"1\""),
        (TEXT, b"foo{a \"1\"} 1\n", 1, "expected \"=\" after label name, got \"\\\"\"", "foo{a \"1\"} 1"),
        (TEXT, b"foo{a=\"1\\\n\"} 1\n", 1, "invalid escape sequence at end of line in label value", "foo{a=\"1\\"),
        (TEXT, b"foo{1a=\"1\"} 1\n", 1, "expected label name or \"}\", got \"1\"", "foo{1a=\"1\"} 1"),
        (TEXT, b"foo 1\rbar\n", 1, "expected timestamp or end of line, got \"\\r\"", "foo 1\rbar"),
        (TEXT, b"a 1\n\nb 2\n c 3\n\td 4 5 6\n", 5, "expected end of line after timestamp, got \"6\"", "\td 4 5 6"),
        (TEXT, b"ok 1\r\nbad{\r\n", 2, "expected label name or \"}\", got end of line", "bad{"),
        // -- OpenMetrics
        (OM, b"", 1, "missing \"# EOF\" at end of input", ""),
        (OM, b"foo 1\n", 1, "missing \"# EOF\" at end of input", "foo 1"),
        (OM, b"foo 1", 1, "missing \"# EOF\" at end of input", "foo 1"),
        (OM, b"# HELP foo bar", 1, "missing \"# EOF\" at end of input", "# HELP foo bar"),
        (OM, b"# EOF\nfoo 1\n", 2, "unexpected data after \"# EOF\"", "foo 1"),
        (OM, b"# EOF\n\n", 2, "unexpected data after \"# EOF\"", ""),
        (OM, b"# EOF \n", 1, "unexpected data after \"# EOF\"", "# EOF "),
        (OM, b"\n# EOF\n", 1, "expected metric name, metadata or \"# EOF\", got end of line", ""),
        (OM, b" foo 1\n# EOF\n", 1, "expected metric name, metadata or \"# EOF\", got \" \"", " foo 1"),
        (OM, b"foo  1\n# EOF\n", 1, "expected sample value after metric, got \" \"", "foo  1"),
        (OM, b"foo\t1\n# EOF\n", 1, "expected sample value after metric, got \"\\t\"", "foo\t1"),
        (OM, b"foo {a=\"b\"} 1\n# EOF\n", 1, "invalid sample value \"{a=\\\"b\\\"}\"", "foo {a=\"b\"} 1"),
        (OM, b"foo 1\r\n# EOF\n", 1, "invalid sample value \"1\\r\"", "foo 1"),
        (OM, b"foo{a=\"1\",} 1\n# EOF\n", 1, "expected label name, got \"}\"", "foo{a=\"1\",} 1"),
        (OM, b"foo{a=\"1\" ,b=\"2\"} 1\n# EOF\n", 1, "expected \",\" or \"}\" after label value, got \" \"", "foo{a=\"1\" ,b=\"2\"} 1"),
        (OM, b"foo{ a=\"1\"} 1\n# EOF\n", 1, "expected label name, got \" \"", "foo{ a=\"1\"} 1"),
        (OM, b"foo{a=\"x\ny\"} 1\n# EOF\n", 1, "unterminated label value", "foo{a=\"x"),
        (OM, b"foo{a=\"1\",a=\"2\"} 1\n# EOF\n", 1, "duplicate label name \"a\"", "foo{a=\"1\",a=\"2\"} 1"),
        (OM, b"foo 1 2 3\n# EOF\n", 1, "expected end of line, got \" \"", "foo 1 2 3"),
        (OM, b"foo 1 \n# EOF\n", 1, "expected timestamp or exemplar, got end of line", "foo 1 "),
        (OM, b"foo 1 NaN\n# EOF\n", 1, "invalid timestamp \"NaN\"", "foo 1 NaN"),
        (OM, b"foo 1 +Inf\n# EOF\n", 1, "invalid timestamp \"+Inf\"", "foo 1 +Inf"),
        (OM, b"foo 1 1e999\n# EOF\n", 1, "timestamp \"1e999\" out of range", "foo 1 1e999"),
        (OM, b"foo 1 # a\n# EOF\n", 1, "invalid timestamp \"#\"", "foo 1 # a"),
        (OM, b"foo 1 # {a=\"b\"}\n# EOF\n", 1, "expected exemplar value after exemplar labels, got end of line", "foo 1 # {a=\"b\"}"),
        (OM, b"foo 1 # {a=\"b\"} x\n# EOF\n", 1, "invalid exemplar value \"x\"", "foo 1 # {a=\"b\"} x"),
        (OM, b"foo 1 # {a=\"b\"} 1 Inf\n# EOF\n", 1, "invalid exemplar timestamp \"Inf\"", "foo 1 # {a=\"b\"} 1 Inf"),
        (OM, b"foo 1 # {a=\"b\"} 1 2 3\n# EOF\n", 1, "expected end of line, got \" \"", "foo 1 # {a=\"b\"} 1 2 3"),
        (OM, b"foo 1 # {a=\"b\",} 1\n# EOF\n", 1, "expected label name, got \"}\"", "foo 1 # {a=\"b\",} 1"),
        (OM, b"foo 1 # {a=b} 1\n# EOF\n", 1, "expected quoted label value, got \"b\"", "foo 1 # {a=b} 1"),
        (OM, b"foo 1 # {a=\"\xff\"} 1\n# EOF\n", 1, "invalid UTF-8 in label value", "foo 1 # {a=\"\u{fffd}\"} 1"),
        (OM, b"# HELP foo\n# EOF\n", 1, "expected \" \" after metric name in HELP, got end of line", "# HELP foo"),
        (OM, b"# HELP  foo x\n# EOF\n", 1, "expected metric name after HELP, got \" \"", "# HELP  foo x"),
        (OM, b"# HELP foo \xff\n# EOF\n", 1, "invalid UTF-8 in help text", "# HELP foo \u{fffd}"),
        (OM, b"# random comment\n# EOF\n", 1, "expected HELP, TYPE, UNIT or EOF after \"# \", got \"r\"", "# random comment"),
        (OM, b"#foo\n# EOF\n", 1, "expected \" \" after \"#\", got \"f\"", "#foo"),
        (OM, b"# TYPE foo untyped\n# EOF\n", 1, "invalid metric type \"untyped\"", "# TYPE foo untyped"),
        (OM, b"# TYPE foo counter \n# EOF\n", 1, "invalid metric type \"counter \"", "# TYPE foo counter "),
        (OM, b"# UNIT foo seconds\n# EOF\n", 1, "unit \"seconds\" is not a suffix of metric \"foo\"", "# UNIT foo seconds"),
        (OM, b"# UNIT fooseconds seconds\n# EOF\n", 1, "unit \"seconds\" is not a suffix of metric \"fooseconds\"", "# UNIT fooseconds seconds"),
        (OM, b"# UNIT seconds seconds\n# EOF\n", 1, "unit \"seconds\" is not a suffix of metric \"seconds\"", "# UNIT seconds seconds"),
        (OM, b"# TYPE c counter\nc_total 1\nc 2\n# EOF\n", 3, "counter sample \"c\" must have a \"_total\" or \"_created\" suffix", "c 2"),
    ];
    let mut failures = Vec::new();
    for (i, &(format, body, line, message, excerpt)) in cases.iter().enumerate() {
        match parse(body, format) {
            Ok(e) => failures.push(format!(
                "#{i} {:?}: parsed {} samples",
                String::from_utf8_lossy(body),
                e.samples.len()
            )),
            Err(e) => {
                if (e.line, e.message.as_str(), e.excerpt.as_str()) != (line, message, excerpt) {
                    failures.push(format!(
                        "#{i} {:?}:\n   got  ({}, {:?}, {:?})\n   want ({line}, {message:?}, {excerpt:?})",
                        String::from_utf8_lossy(body),
                        e.line,
                        e.message,
                        e.excerpt
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn one_bad_line_fails_the_whole_body() {
    let mut body = NODE_EXPORTER.to_vec();
    body.extend_from_slice(b"node_load1{ 0.5\n");
    let e = err(&body, TEXT);
    assert_eq!(e.line, 117);
    let mut body = OM_SPEC.to_vec();
    body.truncate(body.len() - "# EOF\n".len());
    let e = err(&body, OM);
    assert_eq!(
        (e.line, e.message.as_str(), e.excerpt.as_str()),
        (69, "missing \"# EOF\" at end of input", "unk 42.23")
    );
}

#[test]
fn excerpt_is_cut() {
    let long = format!("m{{a=\"{}\"}} x\n", "y".repeat(300));
    let e = err(long.as_bytes(), TEXT);
    assert_eq!(e.excerpt.chars().count(), 100);
    assert!(long.starts_with(&e.excerpt));
    // Multi-byte characters are cut at character boundaries.
    let long = format!("m{{a=\"{}\"}} x\n", "é".repeat(300));
    let e = err(long.as_bytes(), TEXT);
    assert_eq!(e.excerpt.chars().count(), 100);
}

// ------------------------------------------------------------- fuzz-ish

/// xorshift64*: deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    const INTERESTING: &[&[u8]] = &[
        b"\"",
        b"{",
        b"}",
        b"\n",
        b"\\",
        b",",
        b"=",
        b" ",
        b"\t",
        b"#",
        b"# ",
        b"# EOF\n",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"\xc3",
        b"e",
        b".",
        b"-",
        b"+Inf",
        b"NaN",
        b"_total",
        b" # {",
        b"\"}",
        b"{a=\"",
        b"9999999999999999999999",
        b"\xe2\x82\xac",
    ];
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let len = body.len();
        match rng.below(6) {
            0 => body.truncate(rng.below(len + 1)),
            1 if len > 0 => {
                let i = rng.below(len);
                body[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                body[i] = rng.next() as u8;
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(16)).min(len);
                body.drain(i..j);
            }
            _ => {
                let i = rng.below(len + 1);
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                body.splice(i..i, ins.iter().copied());
            }
        }
    }
}

fn check_invariants(body: &[u8], result: Result<Exposition, ParseError>) {
    match result {
        Ok(e) => {
            for s in &e.samples {
                let name = s.labels.metric_name().expect("sample without __name__");
                assert!(model::is_valid_metric_name(name), "bad metric name {name:?}");
                for l in s.labels.iter() {
                    assert!(model::is_valid_label_name(&l.name), "bad label name {:?}", l.name);
                    assert!(!l.value.is_empty());
                }
                let names: Vec<&str> = s.labels.iter().map(|l| l.name.as_str()).collect();
                assert!(
                    names.windows(2).all(|w| w[0] < w[1]),
                    "labels not sorted/unique: {names:?}"
                );
            }
            for m in &e.metadata {
                assert!(model::is_valid_metric_name(&m.metric_family));
            }
        }
        Err(e) => {
            let lines = 1 + body.iter().filter(|&&c| c == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(e.excerpt.chars().count() <= EXCERPT_CHARS);
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn fuzz_no_panics() {
    let seeds: Vec<Vec<u8>> = vec![
        NODE_EXPORTER[..2000].to_vec(),
        PROM_CLIENT[PROM_CLIENT.len() - 1500..].to_vec(),
        OM_SPEC.to_vec(),
        b"m{a=\"x\\\\y\",b=\"q\\\"\"} 1 123\n# HELP m h\\n\n".to_vec(),
        b"# TYPE c counter\nc_total{a=\"b\"} 1 1.5 # {t=\"x\"} 2 3\n# EOF\n".to_vec(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = std::time::Instant::now();
    let mut iterations = 0;
    let mut parsed_ok = 0;
    while iterations < 6000 && started.elapsed() < std::time::Duration::from_secs(20) {
        let mut body = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut body);
        for format in [TEXT, OM] {
            let r = parse(&body, format);
            parsed_ok += r.is_ok() as usize;
            check_invariants(&body, r);
        }
        iterations += 1;
    }
    assert!(iterations >= 500, "only {iterations} iterations ran");
    // The mutations must not be so destructive that nothing ever parses.
    assert!(parsed_ok > 0);
}

#[test]
fn every_prefix_of_valid_bodies() {
    for (body, format) in [
        (NODE_EXPORTER, TEXT),
        (PROM_CLIENT, TEXT),
        (OM_SPEC, OM),
        (OM_SPEC, TEXT),
    ] {
        for cut in 0..body.len().min(4000) {
            check_invariants(&body[..cut], parse(&body[..cut], format));
        }
    }
}
