//! Starting the real `aerowatch` binary on a free loopback port.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prost::Message;

pub mod browser;
pub mod capture;

/// Polls `f` until it returns something, failing the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `aerowatch check-config FILE`: whether it passed, and its stderr.
pub fn check_config(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aerowatch"))
        .arg("check-config")
        .arg(file)
        .output()
        .expect("run check-config");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    pub config: Option<PathBuf>,
    pub log: PathBuf,
    /// PEM root to trust when the server speaks HTTPS.
    pub ca: Option<Vec<u8>>,
}

/// Percent-encodes a query parameter (RFC 3986 unreserved characters kept).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A test's config with the host collector off unless it has a
/// `collectors:` section of its own: most tests write samples at fixed old
/// timestamps (1970), which the head refuses as out of bounds once live
/// host samples have moved its time forward — as Prometheus would.
pub fn without_host_collector(config: &str) -> String {
    if config.contains("collectors:") {
        config.to_string()
    } else {
        format!("{config}\ncollectors:\n  host: {{ enabled: false }}\n")
    }
}

impl Server {
    /// Starts with the given config text (None: embedded defaults) and data dir.
    pub fn start(config: Option<&str>, data: &Path) -> Server {
        Self::start_on(config, data, free_port())
    }

    pub fn start_on(config: Option<&str>, data: &Path, port: u16) -> Server {
        let config_path = config.map(|text| {
            let p = data.with_extension(format!("{port}.yml"));
            std::fs::write(&p, without_host_collector(text)).unwrap();
            p
        });
        let mut s = Server {
            child: None,
            port,
            data: data.to_path_buf(),
            config: config_path,
            log: data.with_extension(format!("{port}.log")),
            ca: None,
        };
        s.spawn();
        s
    }

    pub fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerowatch"));
        cmd.arg("--web.listen-address").arg(format!("127.0.0.1:{}", self.port));
        cmd.arg("--storage.path").arg(&self.data);
        if let Some(c) = &self.config {
            cmd.arg("--config.file").arg(c);
        }
        let log = std::fs::File::create(&self.log).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        self.child = Some(cmd.spawn().expect("start aerowatch"));
        self.wait_ready();
    }

    /// Starts an HTTPS server whose certificate is signed by `ca_pem`.
    pub fn start_tls(config: &str, data: &Path, ca_pem: Vec<u8>) -> Server {
        let port = free_port();
        let p = data.with_extension(format!("{port}.yml"));
        std::fs::write(&p, without_host_collector(config)).unwrap();
        let mut s = Server {
            child: None,
            port,
            data: data.to_path_buf(),
            config: Some(p),
            log: data.with_extension(format!("{port}.log")),
            ca: Some(ca_pem),
        };
        s.spawn();
        s
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{}", self.port, path)
    }

    /// A client that trusts this server.
    pub fn client(&self) -> reqwest::blocking::Client {
        let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
        if let Some(ca) = &self.ca {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(ca).unwrap());
        }
        b.build().unwrap()
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = self.client();
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("aerowatch exited early with {status}: {}", self.logs());
            }
            if let Ok(r) = client.get(self.url("/-/ready")).send() {
                if r.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aerowatch not ready within 20s: {}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("aerowatch did not exit within 20s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = client().get(self.url(path)).send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path} → {status}: not JSON ({e}): {text}"))
    }

    pub fn remote_write(&self, req: &proto::WriteRequest) -> (u16, String) {
        let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
        let r = client()
            .post(self.url("/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    pub fn remote_read(&self, port: u16, req: &proto::ReadRequest) -> proto::ReadResponse {
        remote_read_at(&format!("http://127.0.0.1:{port}/api/v1/read"), req)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn remote_read_at(url: &str, req: &proto::ReadRequest) -> proto::ReadResponse {
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
    let r = client()
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "remote read {url}: {}", r.status());
    let bytes = r.bytes().unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&bytes).unwrap();
    proto::ReadResponse::decode(raw.as_slice()).unwrap()
}

pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| proto::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| proto::Sample {
                timestamp: *t,
                value: *v,
            })
            .collect(),
    }
}

pub fn read_query(matchers: &[(i32, &str, &str)], start: i64, end: i64) -> proto::ReadRequest {
    proto::ReadRequest {
        queries: vec![proto::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: matchers
                .iter()
                .map(|(t, n, v)| proto::LabelMatcher {
                    r#type: *t,
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        }],
        accepted_response_types: vec![],
    }
}

pub fn write_file(path: &Path, text: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Prometheus's remote protobuf messages (the binary's own copy is in the
/// ingest crate; tests keep theirs so a wire-format mistake there shows).
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadRequest {
        #[prost(message, repeated, tag = "1")]
        pub queries: Vec<Query>,
        #[prost(int32, repeated, tag = "2")]
        pub accepted_response_types: Vec<i32>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Query {
        #[prost(int64, tag = "1")]
        pub start_timestamp_ms: i64,
        #[prost(int64, tag = "2")]
        pub end_timestamp_ms: i64,
        #[prost(message, repeated, tag = "3")]
        pub matchers: Vec<LabelMatcher>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelMatcher {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(string, tag = "3")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadResponse {
        #[prost(message, repeated, tag = "1")]
        pub results: Vec<QueryResult>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QueryResult {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }
}
