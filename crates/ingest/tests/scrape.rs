//! The scrape manager against real HTTP servers on 127.0.0.1 (axum) with an
//! in-memory sink that records every commit and refuses out-of-order and
//! duplicate samples like the storage does. Every wait is bounded.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Router;
use ingest::exposition::MetricType;
use ingest::scrape::{ScrapeConfig, ScrapeManager, TargetHealth, SCRAPE_ACCEPT_HEADER};
use ingest::sink::{BatchAppender, CommitError, SampleRefusal, SampleSink};
use model::{is_stale_nan, Labels};
use parking_lot::Mutex;

// ---------------------------------------------------------------- sink

type Sample = (Labels, i64, f64);

#[derive(Default)]
struct MemState {
    commits: Vec<Vec<Sample>>,
    last: HashMap<Labels, (i64, u64)>,
}

/// Records commits; refuses samples older than (or at the same time with
/// another value than) the newest committed one of their series.
#[derive(Clone, Default)]
struct MemSink(Arc<Mutex<MemState>>);

struct MemAppender {
    state: Arc<Mutex<MemState>>,
    batch: Vec<Sample>,
    pending: HashMap<Labels, (i64, u64)>,
}

impl SampleSink for MemSink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(MemAppender {
            state: self.0.clone(),
            batch: Vec::new(),
            pending: HashMap::new(),
        })
    }
}

impl BatchAppender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        let last = self
            .pending
            .get(labels)
            .copied()
            .or_else(|| self.state.lock().last.get(labels).copied());
        if let Some((lt, lv)) = last {
            if t < lt {
                return Err(SampleRefusal::OutOfOrder);
            }
            if t == lt {
                return if lv == v.to_bits() {
                    Ok(())
                } else {
                    Err(SampleRefusal::DuplicateTimestamp)
                };
            }
        }
        self.pending.insert(labels.clone(), (t, v.to_bits()));
        self.batch.push((labels.clone(), t, v));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        let mut st = self.state.lock();
        let mut created = 0;
        for (l, t, v) in &self.batch {
            if st.last.insert(l.clone(), (*t, v.to_bits())).is_none() {
                created += 1;
            }
        }
        st.commits.push(self.batch);
        Ok(created)
    }
}

impl MemSink {
    fn commits(&self) -> Vec<Vec<Sample>> {
        self.0.lock().commits.clone()
    }

    fn all(&self) -> Vec<Sample> {
        self.0.lock().commits.iter().flatten().cloned().collect()
    }

    /// Samples of metric `name` whose labels include `with`.
    fn series(&self, name: &str, with: &[(&str, &str)]) -> Vec<(i64, f64)> {
        self.all()
            .into_iter()
            .filter(|(l, _, _)| l.metric_name() == Some(name) && with.iter().all(|(k, v)| l.get(k) == Some(*v)))
            .map(|(_, t, v)| (t, v))
            .collect()
    }

    fn stale_count(&self, name: &str, with: &[(&str, &str)]) -> usize {
        self.series(name, with).iter().filter(|(_, v)| is_stale_nan(*v)).count()
    }

    fn live_values(&self, name: &str, with: &[(&str, &str)]) -> Vec<f64> {
        self.series(name, with)
            .into_iter()
            .filter(|(_, v)| !is_stale_nan(*v))
            .map(|(_, v)| v)
            .collect()
    }
}

// ---------------------------------------------------------------- server

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    gzip: bool,
    delay: Duration,
}

/// What the endpoint answers, and the requests it saw.
type EndpointState = (Reply, Vec<(Uri, HeaderMap)>);

#[derive(Clone)]
struct Endpoint(Arc<Mutex<EndpointState>>);

impl Endpoint {
    fn text(body: &str) -> Endpoint {
        Endpoint(Arc::new(Mutex::new((
            Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8".to_string(),
                body: body.as_bytes().to_vec(),
                gzip: false,
                delay: Duration::ZERO,
            },
            Vec::new(),
        ))))
    }

    fn set(&self, f: impl FnOnce(&mut Reply)) {
        f(&mut self.0.lock().0);
    }

    fn set_body(&self, body: &str) {
        self.set(|r| r.body = body.as_bytes().to_vec());
    }

    fn requests(&self) -> Vec<(Uri, HeaderMap)> {
        self.0.lock().1.clone()
    }
}

async fn handle(State(ep): State<Endpoint>, uri: Uri, headers: HeaderMap) -> Response {
    let reply = {
        let mut st = ep.0.lock();
        st.1.push((uri, headers));
        st.0.clone()
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut b = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    let body = if reply.gzip {
        b = b.header("content-encoding", "gzip");
        gzip_stored(&reply.body)
    } else {
        reply.body
    };
    b.body(Body::from(body)).unwrap()
}

/// Serves `ep` on 127.0.0.1 at a free port for the rest of the test.
async fn serve(ep: &Endpoint) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(ep.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A gzip stream of stored (uncompressed) deflate blocks: valid gzip that
/// needs no compression library.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i == chunks.len() - 1));
        let len = c.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let mut crc = !0u32;
    for b in data {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend((!crc).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

// ---------------------------------------------------------------- helpers

fn configs(yaml: &str) -> Vec<ScrapeConfig> {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("bad test config: {e}\n{yaml}"))
}

fn job(name: &str, targets: &[SocketAddr], extra: &str) -> String {
    let targets: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
    format!(
        "- job_name: {name}\n  scrape_interval: 100ms\n  scrape_timeout: 80ms\n  static_configs: [{{targets: [{}]}}]\n{extra}",
        targets.join(", ")
    )
}

async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn manager(sink: &MemSink) -> ScrapeManager {
    ScrapeManager::new(Arc::new(sink.clone()), "aerowatch-test/1.0".to_string())
}

const WAIT: Duration = Duration::from_secs(5);

fn get<'a>(commit: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    commit
        .iter()
        .filter(|(l, _, _)| l.metric_name() == Some(name))
        .collect()
}

fn report_value(commit: &[Sample], name: &str) -> f64 {
    let s = get(commit, name);
    assert_eq!(s.len(), 1, "one {name} per commit");
    s[0].2
}

mod scrape_manager {
    use super::*;

    const TEXT_BODY: &str = "# HELP http_requests_total Total requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"get\",code=\"200\"} 1027\n\
http_requests_total{method=\"post\",code=\"200\"} 3 1395066363000\n\
# TYPE temp gauge\n\
temp 21.5\n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scrapes_text_format_with_report_series_in_one_commit() {
        let ep = Endpoint::text(TEXT_BODY);
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        let yaml = format!(
            "- job_name: node\n  scrape_interval: 100ms\n  scrape_timeout: 80ms\n  static_configs: [{{targets: ['{addr}'], labels: {{env: test}}}}]\n"
        );
        m.apply_config(configs(&yaml)).await.unwrap();
        wait_for("two scrapes", WAIT, || sink.commits().len() >= 2).await;
        let commits = sink.commits();
        let instance = addr.to_string();

        let first = &commits[0];
        assert_eq!(first.len(), 3 + 5, "{first:#?}");
        let ts = get(first, "up")[0].1;
        let get_req = get(first, "http_requests_total")
            .into_iter()
            .find(|(l, _, _)| l.get("method") == Some("get"))
            .unwrap();
        assert_eq!(
            get_req.0,
            Labels::from_pairs([
                ("__name__", "http_requests_total"),
                ("code", "200"),
                ("env", "test"),
                ("instance", instance.as_str()),
                ("job", "node"),
                ("method", "get"),
            ])
        );
        assert_eq!((get_req.1, get_req.2), (ts, 1027.0));
        let post = get(first, "http_requests_total")
            .into_iter()
            .find(|(l, _, _)| l.get("method") == Some("post"))
            .unwrap();
        assert_eq!(post.1, 1395066363000, "honor_timestamps keeps the exposed timestamp");
        assert_eq!(get(first, "temp")[0].2, 21.5);

        assert_eq!(report_value(first, "up"), 1.0);
        assert_eq!(report_value(first, "scrape_samples_scraped"), 3.0);
        assert_eq!(report_value(first, "scrape_samples_post_metric_relabeling"), 3.0);
        assert_eq!(report_value(first, "scrape_series_added"), 3.0);
        let dur = report_value(first, "scrape_duration_seconds");
        assert!(dur > 0.0 && dur < 1.0, "{dur}");
        let up = get(first, "up")[0];
        assert_eq!(
            up.0,
            Labels::from_pairs([
                ("__name__", "up"),
                ("env", "test"),
                ("instance", instance.as_str()),
                ("job", "node")
            ])
        );
        for c in &commits {
            for name in [
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
            ] {
                assert_eq!(get(c, name).len(), 1, "every commit reports {name}");
            }
        }
        assert_eq!(report_value(&commits[1], "scrape_series_added"), 0.0);
        assert!(get(&commits[1], "up")[0].1 > ts);

        let (uri, headers) = ep.requests()[0].clone();
        assert_eq!(uri.path(), "/metrics");
        assert_eq!(headers["accept"], SCRAPE_ACCEPT_HEADER);
        assert_eq!(headers["user-agent"], "aerowatch-test/1.0");
        assert_eq!(headers["x-prometheus-scrape-timeout-seconds"], "0.08");
        assert!(headers["accept-encoding"].to_str().unwrap().contains("gzip"));

        let targets = m.targets();
        assert_eq!(targets.len(), 1);
        let t = &targets[0];
        assert_eq!(t.health, TargetHealth::Up);
        assert_eq!(t.last_error, "");
        assert_eq!(t.scrape_pool, "node");
        assert_eq!(t.scrape_url, format!("http://{addr}/metrics"));
        assert_eq!(t.global_url, t.scrape_url);
        assert_eq!(
            t.labels,
            Labels::from_pairs([("env", "test"), ("instance", instance.as_str()), ("job", "node")])
        );
        assert_eq!(t.discovered_labels.get("__address__"), Some(instance.as_str()));
        assert_eq!(t.discovered_labels.get("env"), Some("test"));
        assert_eq!(
            (t.scrape_interval.as_str(), t.scrape_timeout.as_str()),
            ("100ms", "80ms")
        );
        assert!(t.last_scrape.is_some());
        assert!(m.dropped_targets().is_empty());

        let meta = m.metadata();
        let req = meta.iter().find(|(n, _)| n == "http_requests_total").expect("metadata");
        assert_eq!(
            (req.1.kind, req.1.help.as_str()),
            (MetricType::Counter, "Total requests.")
        );
        assert_eq!(
            meta.iter().find(|(n, _)| n == "temp").unwrap().1.kind,
            MetricType::Gauge
        );
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scrapes_gzipped_openmetrics() {
        let ep = Endpoint::text(
            "# TYPE temperature_celsius gauge\n\
# UNIT temperature_celsius celsius\n\
# HELP temperature_celsius Room temperature.\n\
temperature_celsius{room=\"a\"} 21.5\n\
temperature_celsius{room=\"b\"} 19.0 1700000000.250\n\
# EOF\n",
        );
        ep.set(|r| {
            r.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8".to_string();
            r.gzip = true;
        });
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("om", &[addr], ""))).await.unwrap();
        wait_for("a scrape", WAIT, || !sink.commits().is_empty()).await;
        let first = sink.commits()[0].clone();
        assert_eq!(report_value(&first, "up"), 1.0, "{:?}", m.targets()[0].last_error);
        assert_eq!(report_value(&first, "scrape_samples_scraped"), 2.0);
        let temps = get(&first, "temperature_celsius");
        let a = temps.iter().find(|(l, _, _)| l.get("room") == Some("a")).unwrap();
        let b = temps.iter().find(|(l, _, _)| l.get("room") == Some("b")).unwrap();
        assert_eq!(a.2, 21.5);
        assert_eq!((b.1, b.2), (1_700_000_000_250, 19.0));
        assert_eq!(a.0.get("job"), Some("om"));
        let meta = m.metadata();
        let t = &meta.iter().find(|(n, _)| n == "temperature_celsius").unwrap().1;
        assert_eq!(
            (t.kind, t.unit.as_str(), t.help.as_str()),
            (MetricType::Gauge, "celsius", "Room temperature.")
        );
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_target_is_down_and_its_series_go_stale_exactly_once() {
        let ep = Endpoint::text("a 1\nb 2\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("flaky", &[addr], ""))).await.unwrap();
        wait_for("a good scrape", WAIT, || !sink.live_values("a", &[]).is_empty()).await;

        ep.set(|r| r.status = 500);
        let failed = || sink.series("up", &[]).iter().filter(|(_, v)| *v == 0.0).count();
        wait_for("three failed scrapes", WAIT, || failed() >= 3).await;
        let t = m.targets().remove(0);
        assert_eq!(t.health, TargetHealth::Down);
        assert_eq!(t.last_error, "server returned HTTP status 500 Internal Server Error");

        let first_down = sink.series("up", &[]).into_iter().find(|(_, v)| *v == 0.0).unwrap().0;
        for name in ["a", "b"] {
            let stale: Vec<i64> = sink
                .series(name, &[])
                .into_iter()
                .filter(|(_, v)| is_stale_nan(*v))
                .map(|(t, _)| t)
                .collect();
            assert_eq!(
                stale,
                vec![first_down],
                "{name}: one marker, at the first failed scrape"
            );
        }
        let down_commit = sink
            .commits()
            .into_iter()
            .find(|c| get(c, "up").first().is_some_and(|s| s.2 == 0.0))
            .unwrap();
        assert_eq!(report_value(&down_commit, "scrape_samples_scraped"), 0.0);
        assert_eq!(
            get(&down_commit, "a").len(),
            1,
            "the marker is in the failed scrape's commit"
        );

        // Recovery: samples again, no further markers.
        ep.set(|r| r.status = 200);
        let live_before = sink.live_values("a", &[]).len();
        wait_for("recovery", WAIT, || sink.live_values("a", &[]).len() > live_before).await;
        assert_eq!(m.targets()[0].health, TargetHealth::Up);
        assert_eq!(sink.stale_count("a", &[]), 1);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vanished_series_gets_one_staleness_marker() {
        let ep = Endpoint::text("a 1\nb 2\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("j", &[addr], ""))).await.unwrap();
        wait_for("b scraped twice", WAIT, || sink.live_values("b", &[]).len() >= 2).await;
        ep.set_body("a 1\n");
        let commits_then = sink.commits().len();
        wait_for("four more scrapes", WAIT, || sink.commits().len() >= commits_then + 4).await;
        assert_eq!(sink.stale_count("b", &[]), 1);
        assert_eq!(sink.stale_count("a", &[]), 0);
        // The marker is at the first scrape without b, together with a.
        let marker_commit = sink
            .commits()
            .into_iter()
            .find(|c| get(c, "b").iter().any(|s| is_stale_nan(s.2)))
            .unwrap();
        assert_eq!(get(&marker_commit, "b")[0].1, get(&marker_commit, "a")[0].1);
        assert_eq!(report_value(&marker_commit, "scrape_samples_scraped"), 1.0);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn removed_target_and_removed_job_get_staleness_markers() {
        let ep1 = Endpoint::text("one 1\n");
        let ep2 = Endpoint::text("two 2\n");
        let (a1, a2) = (serve(&ep1).await, serve(&ep2).await);
        let (i1, i2) = (a1.to_string(), a2.to_string());
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("j", &[a1, a2], ""))).await.unwrap();
        wait_for("both scraped", WAIT, || {
            !sink.live_values("one", &[]).is_empty() && !sink.live_values("two", &[]).is_empty()
        })
        .await;
        assert_eq!(m.targets().len(), 2);

        m.apply_config(configs(&job("j", &[a1], ""))).await.unwrap();
        assert_eq!(m.targets().len(), 1);
        let requests_then = ep1.requests().len();
        wait_for("two's marker", WAIT, || sink.stale_count("two", &[]) == 1).await;
        assert_eq!(
            sink.stale_count("up", &[("instance", i2.as_str())]),
            1,
            "report series go stale too"
        );
        let one_live = sink.live_values("one", &[]).len();
        wait_for("one still scraped", WAIT, || {
            sink.live_values("one", &[]).len() >= one_live + 3
        })
        .await;
        assert_eq!(sink.stale_count("one", &[]), 0, "the kept target's loop went on");
        assert_eq!(sink.stale_count("up", &[("instance", i1.as_str())]), 0);
        assert!(ep1.requests().len() > requests_then);
        // No gap: the kept target was scraped on every interval.
        let ups: Vec<i64> = sink
            .series("up", &[("instance", i1.as_str())])
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        for w in ups.windows(2) {
            assert!(w[1] - w[0] <= 250, "gap between scrapes: {:?}", ups);
        }

        // Removing the whole job marks its series stale as well.
        m.apply_config(Vec::new()).await.unwrap();
        assert!(m.targets().is_empty());
        wait_for("one's marker", WAIT, || sink.stale_count("one", &[]) == 1).await;
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sample_limit_fails_the_whole_scrape() {
        let ep = Endpoint::text("a 1\nb 2\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("lim", &[addr], "  sample_limit: 2\n")))
            .await
            .unwrap();
        wait_for("a good scrape", WAIT, || !sink.live_values("a", &[]).is_empty()).await;
        assert_eq!(m.targets()[0].health, TargetHealth::Up);

        ep.set_body("a 1\nb 2\nc 3\n");
        let failed = || sink.series("up", &[]).iter().filter(|(_, v)| *v == 0.0).count();
        wait_for("two failed scrapes", WAIT, || failed() >= 2).await;
        let t = m.targets().remove(0);
        assert_eq!(
            (t.health, t.last_error.as_str()),
            (TargetHealth::Down, "sample limit exceeded")
        );
        assert!(
            sink.series("c", &[]).is_empty(),
            "nothing of an over-limit scrape is stored"
        );
        assert_eq!(sink.stale_count("a", &[]), 1);
        assert_eq!(sink.stale_count("b", &[]), 1);
        let down = sink
            .commits()
            .into_iter()
            .find(|c| get(c, "up").first().is_some_and(|s| s.2 == 0.0))
            .unwrap();
        assert_eq!(report_value(&down, "scrape_samples_scraped"), 3.0);
        assert_eq!(report_value(&down, "scrape_samples_post_metric_relabeling"), 3.0);
        assert_eq!(report_value(&down, "scrape_series_added"), 0.0);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_sd_file_edits_add_change_and_remove_targets() {
        let ep = Endpoint::text("x 1\n");
        let addr = serve(&ep).await;
        let dir = std::env::temp_dir().join(format!("aerowatch-scrape-file-sd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sink = MemSink::default();
        let m = manager(&sink);
        m.set_file_sd_poll_interval(Duration::from_millis(50));
        let yaml = format!(
            "- job_name: files\n  scrape_interval: 100ms\n  scrape_timeout: 80ms\n  file_sd_configs: [{{files: ['{}/*.json']}}]\n",
            dir.display()
        );
        m.apply_config(configs(&yaml)).await.unwrap();
        assert!(m.targets().is_empty());

        let file = dir.join("targets.json");
        std::fs::write(
            &file,
            format!(r#"[{{"targets": ["{addr}"], "labels": {{"env": "dev"}}}}]"#),
        )
        .unwrap();
        wait_for("the target to appear", WAIT, || m.targets().len() == 1).await;
        let t = m.targets().remove(0);
        assert_eq!(t.labels.get("env"), Some("dev"));
        assert_eq!(t.discovered_labels.get("__meta_filepath"), Some(file.to_str().unwrap()));
        wait_for("samples", WAIT, || !sink.live_values("x", &[("env", "dev")]).is_empty()).await;

        // New labels make a new target; the old one's series go stale.
        std::fs::write(
            &file,
            format!("[{{\"targets\": [\"{addr}\"], \"labels\": {{\"env\": \"prod\"}}}}]\n"),
        )
        .unwrap();
        wait_for("relabelled samples", WAIT, || {
            !sink.live_values("x", &[("env", "prod")]).is_empty()
        })
        .await;
        assert_eq!(m.targets().len(), 1);
        wait_for("old series marked stale", WAIT, || {
            sink.stale_count("x", &[("env", "dev")]) == 1
        })
        .await;

        std::fs::remove_file(&file).unwrap();
        wait_for("the target to go", WAIT, || m.targets().is_empty()).await;
        m.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stop_writes_no_staleness_markers() {
        let ep = Endpoint::text("a 1\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("j", &[addr], ""))).await.unwrap();
        wait_for("two scrapes", WAIT, || sink.commits().len() >= 2).await;
        tokio::time::timeout(Duration::from_secs(2), m.stop())
            .await
            .expect("stop is quick");
        let commits = sink.commits().len();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sink.commits().len(), commits, "nothing is written after stop");
        assert!(sink.all().iter().all(|(_, _, v)| !is_stale_nan(*v)));
        assert!(m.apply_config(Vec::new()).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_target_times_out() {
        let ep = Endpoint::text("a 1\n");
        ep.set(|r| r.delay = Duration::from_millis(500));
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        let yaml = format!(
            "- job_name: slow\n  scrape_interval: 200ms\n  scrape_timeout: 50ms\n  static_configs: [{{targets: ['{addr}']}}]\n"
        );
        m.apply_config(configs(&yaml)).await.unwrap();
        wait_for("a failed scrape", WAIT, || !sink.commits().is_empty()).await;
        let t = m.targets().remove(0);
        assert_eq!(t.health, TargetHealth::Down);
        assert_eq!(
            t.last_error,
            format!("Get \"http://{addr}/metrics\": context deadline exceeded")
        );
        assert!(t.last_scrape_duration < 0.4, "{}", t.last_scrape_duration);
        assert_eq!(report_value(&sink.commits()[0], "up"), 0.0);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn honor_labels_and_metric_relabelling() {
        let ep = Endpoint::text("m{job=\"other\",instance=\"x\"} 1\ngo_gc 5\n");
        let addr = serve(&ep).await;
        let instance = addr.to_string();
        let sink = MemSink::default();
        let m = manager(&sink);
        let drop_go =
            "  metric_relabel_configs:\n    - source_labels: [__name__]\n      regex: go_.*\n      action: drop\n";
        let mut yaml = job("renamed", &[addr], drop_go);
        yaml.push_str(&job("honored", &[addr], "  honor_labels: true\n"));
        m.apply_config(configs(&yaml)).await.unwrap();
        wait_for("both jobs scraped", WAIT, || {
            !sink.series("m", &[("exported_job", "other")]).is_empty()
                && !sink.series("m", &[("job", "other")]).is_empty()
        })
        .await;
        let all = sink.all();
        let renamed = all
            .iter()
            .find(|(l, _, _)| l.metric_name() == Some("m") && l.get("exported_job").is_some())
            .unwrap();
        assert_eq!(
            renamed.0,
            Labels::from_pairs([
                ("__name__", "m"),
                ("exported_instance", "x"),
                ("exported_job", "other"),
                ("instance", instance.as_str()),
                ("job", "renamed"),
            ])
        );
        let honored = all
            .iter()
            .find(|(l, _, _)| l.metric_name() == Some("m") && l.get("job") == Some("other"))
            .unwrap();
        assert_eq!(
            honored.0,
            Labels::from_pairs([("__name__", "m"), ("instance", "x"), ("job", "other")])
        );
        assert!(sink.series("go_gc", &[("job", "renamed")]).is_empty());
        assert!(!sink.series("go_gc", &[("job", "honored")]).is_empty());
        let c = sink
            .commits()
            .into_iter()
            .find(|c| get(c, "up").first().is_some_and(|s| s.0.get("job") == Some("renamed")))
            .unwrap();
        assert_eq!(report_value(&c, "scrape_samples_scraped"), 2.0);
        assert_eq!(report_value(&c, "scrape_samples_post_metric_relabeling"), 1.0);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auth_params_path_and_body_limit() {
        let ep = Endpoint::text("a 1\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        let token = std::env::temp_dir().join(format!("aerowatch-scrape-token-{}", std::process::id()));
        std::fs::write(&token, "s3cret\n").unwrap();
        let mut yaml = job(
            "basic",
            &[addr],
            "  metrics_path: /probe\n  params: {module: [if_mib]}\n  basic_auth: {username: u, password: p}\n",
        );
        yaml.push_str(&job(
            "bearer",
            &[addr],
            &format!("  bearer_token_file: {}\n", token.display()),
        ));
        yaml.push_str(&job("small", &[addr], "  metrics_path: /small\n  body_size_limit: 2\n"));
        m.apply_config(configs(&yaml)).await.unwrap();
        wait_for("all three scraped", WAIT, || {
            m.targets().iter().all(|t| t.health != TargetHealth::Unknown)
        })
        .await;

        let reqs = ep.requests();
        let probe = reqs.iter().find(|(u, _)| u.path() == "/probe").unwrap();
        assert_eq!(probe.0.query(), Some("module=if_mib"));
        assert_eq!(probe.1["authorization"], "Basic dTpw");
        let bearer = reqs
            .iter()
            .find(|(u, h)| u.path() == "/metrics" && h.contains_key("authorization"))
            .unwrap();
        assert_eq!(bearer.1["authorization"], "Bearer s3cret");
        let targets = m.targets();
        let basic = targets.iter().find(|t| t.scrape_pool == "basic").unwrap();
        assert_eq!(basic.scrape_url, format!("http://{addr}/probe?module=if_mib"));
        assert_eq!(basic.health, TargetHealth::Up);
        let small = targets.iter().find(|t| t.scrape_pool == "small").unwrap();
        assert_eq!(
            (small.health, small.last_error.as_str()),
            (TargetHealth::Down, "body size limit exceeded")
        );
        m.stop().await;
        let _ = std::fs::remove_file(&token);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn out_of_order_refusals_are_counted_not_fatal() {
        let ep = Endpoint::text("m 1 1000\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("ooo", &[addr], ""))).await.unwrap();
        wait_for("m stored", WAIT, || !sink.series("m", &[]).is_empty()).await;
        ep.set_body("m 2 500\n");
        wait_for("refusals counted", WAIT, || m.targets()[0].samples_out_of_order >= 2).await;
        let t = m.targets().remove(0);
        assert_eq!(t.health, TargetHealth::Up);
        assert_eq!(sink.series("m", &[]), vec![(1000, 1.0)]);
        let last = sink.commits().last().cloned().unwrap();
        assert_eq!(report_value(&last, "up"), 1.0);
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_configs_change_nothing_and_relabel_drops_are_listed() {
        let ep = Endpoint::text("a 1\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        let keep_only_prod = "  relabel_configs:\n    - source_labels: [env]\n      regex: prod\n      action: keep\n";
        let yaml = format!(
            "- job_name: r\n  scrape_interval: 100ms\n  scrape_timeout: 80ms\n  static_configs:\n    - targets: ['{addr}']\n      labels: {{env: prod}}\n    - targets: ['127.0.0.1:1']\n      labels: {{env: dev}}\n{keep_only_prod}"
        );
        m.apply_config(configs(&yaml)).await.unwrap();
        assert_eq!(m.targets().len(), 1);
        let dropped = m.dropped_targets();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].discovered_labels.get("__address__"), Some("127.0.0.1:1"));

        let mut bad = configs(&yaml);
        bad.push(bad[0].clone());
        bad[0].scrape_timeout = Some(model::PromDuration::from_secs(5));
        let err = m.apply_config(bad).await.unwrap_err();
        assert_eq!(err.errors.len(), 2, "{err}");
        assert_eq!(m.targets().len(), 1);
        wait_for("scraping goes on", WAIT, || sink.commits().len() >= 2).await;

        // A job whose HTTP client cannot be built is reported; the rest applies.
        let mut with_tls = configs(&yaml);
        with_tls.extend(configs(&job(
            "tls",
            &[addr],
            "  scheme: https\n  tls_config: {ca_file: /nonexistent/ca.pem}\n",
        )));
        let err = m.apply_config(with_tls).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("scrape config with job name \"tls\": unable to load specified CA cert"),
            "{err}"
        );
        assert_eq!(m.targets().len(), 1);
        assert_eq!(m.targets()[0].scrape_pool, "r");
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changed_settings_restart_loops_handing_over_the_cache_when_possible() {
        let ep = Endpoint::text("a 1\nb 2\n");
        let addr = serve(&ep).await;
        let sink = MemSink::default();
        let m = manager(&sink);
        m.apply_config(configs(&job("j", &[addr], ""))).await.unwrap();
        wait_for("two scrapes", WAIT, || sink.commits().len() >= 2).await;

        // Only the sample limit changes: the new loop continues from the old
        // one's cache, so no series counts as added and nothing goes stale.
        m.apply_config(configs(&job("j", &[addr], "  sample_limit: 100\n")))
            .await
            .unwrap();
        let n = sink.commits().len();
        wait_for("scrapes after the reload", WAIT, || sink.commits().len() >= n + 4).await;
        assert!(
            sink.all().iter().all(|(_, _, v)| !is_stale_nan(*v)),
            "no staleness markers"
        );
        let after: Vec<f64> = sink.commits()[n..]
            .iter()
            .map(|c| report_value(c, "scrape_series_added"))
            .collect();
        assert!(after.iter().all(|v| *v == 0.0), "{after:?}");

        // Metric relabelling changes: a fresh cache; the old loop's series,
        // no longer produced, get their end-of-run staleness markers.
        let add_label = "  metric_relabel_configs:\n    - target_label: v\n      replacement: '2'\n";
        m.apply_config(configs(&job("j", &[addr], add_label))).await.unwrap();
        wait_for("relabelled series", WAIT, || {
            !sink.live_values("a", &[("v", "2")]).is_empty()
        })
        .await;
        let old_a_stale = || {
            sink.all()
                .iter()
                .filter(|(l, _, v)| l.metric_name() == Some("a") && l.get("v").is_none() && is_stale_nan(*v))
                .count()
        };
        wait_for("old series marked stale", WAIT, || old_a_stale() == 1).await;
        assert_eq!(sink.stale_count("a", &[("v", "2")]), 0);
        assert_eq!(m.targets().len(), 1);
        m.stop().await;
    }
}
