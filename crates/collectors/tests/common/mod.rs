//! Shared test helpers: an in-memory sink, sample lookups, a bounded wait and
//! a tiny blocking Redis client for driving the server under test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collectors::{CollectorsConfig, HostConfig, Sample};
use ingest::sink::{BatchAppender, CommitError, SampleRefusal, SampleSink};
use model::Labels;

/// One committed batch: `(labels, timestamp ms, value)`.
pub type Batch = Vec<(Labels, i64, f64)>;

/// A sink that keeps every committed batch.
#[derive(Clone, Default)]
pub struct MemorySink {
    pub batches: Arc<Mutex<Vec<Batch>>>,
}

impl MemorySink {
    pub fn batches(&self) -> Vec<Batch> {
        self.batches.lock().unwrap().clone()
    }

    /// Batches whose samples carry `job`.
    pub fn batches_of(&self, job: &str) -> Vec<Batch> {
        self.batches()
            .into_iter()
            .filter(|b| b.first().is_some_and(|(l, _, _)| l.get("job") == Some(job)))
            .collect()
    }
}

struct MemoryAppender {
    pending: Batch,
    batches: Arc<Mutex<Vec<Batch>>>,
}

impl SampleSink for MemorySink {
    fn appender(&self) -> Box<dyn BatchAppender> {
        Box::new(MemoryAppender {
            pending: Vec::new(),
            batches: self.batches.clone(),
        })
    }
}

impl BatchAppender for MemoryAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
        self.pending.push((labels.clone(), t, v));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64, CommitError> {
        self.batches.lock().unwrap().push(self.pending);
        Ok(0)
    }
}

/// A config with only the given sections (the host collector off).
pub fn only(postgres: Option<collectors::PostgresConfig>, redis: Option<collectors::RedisConfig>) -> CollectorsConfig {
    CollectorsConfig {
        interval: None,
        host: HostConfig {
            enabled: false,
            ..Default::default()
        },
        postgres,
        redis,
    }
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(l, _)| l.metric_name() == Some(name) && labels.iter().all(|(k, v)| l.get(k) == Some(*v)))
        .map(|(_, v)| *v)
        .collect();
    assert!(found.len() <= 1, "{name}{labels:?} matches {} series", found.len());
    found.first().copied()
}

/// Every sample named `name`.
pub fn series<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|(l, _)| l.metric_name() == Some(name)).collect()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `within`.
pub async fn wait_for<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends commands to a Redis server on one connection and returns the first
/// line of each reply (enough for `+OK`, `$n`, `:n`, `-ERR`).
pub fn redis_cmds(port: u16, commands: &[&[&str]]) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut replies = Vec::new();
    for args in commands {
        let mut cmd = format!("*{}\r\n", args.len());
        for a in *args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(cmd.as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        // Drain a bulk string's payload before the next reply.
        if let Some(n) = line.trim_end().strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            let mut payload = vec![0; n + 2];
            r.read_exact(&mut payload).unwrap();
        }
        replies.push(line.trim_end().to_string());
    }
    replies
}

/// One command (after `AUTH` when `password` is given); the first line of its reply.
pub fn redis_cmd(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut commands: Vec<&[&str]> = Vec::new();
    let auth;
    if let Some(pw) = password {
        auth = ["AUTH", pw];
        commands.push(&auth);
    }
    commands.push(args);
    let replies = redis_cmds(port, &commands);
    if password.is_some() {
        assert_eq!(replies[0], "+OK", "AUTH");
    }
    replies.last().cloned().unwrap_or_default()
}
