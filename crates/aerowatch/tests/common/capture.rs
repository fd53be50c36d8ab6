//! A local HTTP server standing in for Slack, PagerDuty and webhooks:
//! records every request and answers with a programmable status.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Captured {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Programmed answers: per path prefix, `(status, body)` in turn.
type Answers = Arc<Mutex<Vec<(String, Vec<(u16, String)>)>>>;

/// Answers: `(status, body)` per request path prefix, in order; the last
/// answer repeats. Status 0 never answers (a hanging receiver).
pub struct Capture {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Captured>>>,
    answers: Answers,
    stop: Arc<AtomicBool>,
}

impl Capture {
    pub fn start() -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answers: Answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, a, s) = (requests.clone(), answers.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, a) = (r.clone(), a.clone());
                        std::thread::spawn(move || serve(stream, r, a));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Capture {
            port,
            requests,
            answers,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests under `prefix` get these answers in turn (the last repeats).
    pub fn answer(&self, prefix: &str, answers: &[(u16, &str)]) {
        self.answers.lock().unwrap().push((
            prefix.to_string(),
            answers.iter().map(|(c, b)| (*c, b.to_string())).collect(),
        ));
    }

    /// Replaces whatever was programmed for `prefix`.
    pub fn set_answer(&self, prefix: &str, answers: &[(u16, &str)]) {
        self.answers.lock().unwrap().retain(|(p, _)| p != prefix);
        self.answer(prefix, answers);
    }

    pub fn received(&self, prefix: &str) -> Vec<Captured> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests arrived under `prefix`.
    pub fn wait(&self, prefix: &str, n: usize, limit: Duration) -> Vec<Captured> {
        let start = Instant::now();
        loop {
            let got = self.received(prefix);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {n} request(s) to {prefix}, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: std::net::TcpStream, requests: Arc<Mutex<Vec<Captured>>>, answers: Answers) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, path) = (method.to_string(), path.to_string());
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = {
            let mut a = answers.lock().unwrap();
            match a.iter_mut().find(|(p, _)| path.starts_with(p.as_str())) {
                Some((_, list)) if list.len() > 1 => list.remove(0),
                Some((_, list)) if list.len() == 1 => list[0].clone(),
                _ => (200, "{\"ok\":true}".to_string()),
            }
        };
        requests.lock().unwrap().push(Captured {
            method,
            path,
            headers,
            body,
            at: Instant::now(),
        });
        if status == 0 {
            // A receiver that hangs.
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
