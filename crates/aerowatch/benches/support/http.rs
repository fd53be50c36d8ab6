//! A minimal HTTP/1.1 keep-alive client over `std::net::TcpStream`.
//!
//! The sender loop must cost the 2-core machine as little CPU as possible so
//! that the server under test gets it; a blocking reqwest client runs a
//! tokio runtime per client and hops threads per request. This client
//! writes the request with two `write_all`s (TCP_NODELAY) and parses status,
//! `Content-Length` / chunked bodies. Loopback only.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Conn {
    port: u16,
    io: Option<(TcpStream, BufReader<TcpStream>)>,
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub fn new(port: u16) -> Conn {
        Conn { port, io: None }
    }

    fn connect(&mut self) -> io::Result<&mut (TcpStream, BufReader<TcpStream>)> {
        if self.io.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            let r = BufReader::with_capacity(16 << 10, s.try_clone()?);
            self.io = Some((s, r));
        }
        Ok(self.io.as_mut().expect("connected"))
    }

    /// Sends one request; reconnects once if a kept-alive connection was
    /// closed by the server before the answer started.
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", self.port);
        for (n, v) in headers {
            head.push_str(n);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let reused = self.io.is_some();
        match self.exchange(head.as_bytes(), body) {
            Ok(r) => Ok(r),
            Err(e) if reused && is_stale(&e) => {
                self.io = None;
                self.exchange(head.as_bytes(), body)
            }
            Err(e) => {
                self.io = None;
                Err(e)
            }
        }
    }

    fn exchange(&mut self, head: &[u8], body: &[u8]) -> io::Result<Response> {
        let (s, r) = self.connect()?;
        s.write_all(head)?;
        if !body.is_empty() {
            s.write_all(body)?;
        }
        let (resp, close) = read_response(r)?;
        if close {
            self.io = None;
        }
        Ok(resp)
    }
}

fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

fn read_line(r: &mut BufReader<TcpStream>, line: &mut String) -> io::Result<()> {
    line.clear();
    if r.read_line(line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(())
}

/// Reads one response; the flag says whether the connection must be closed.
fn read_response(r: &mut BufReader<TcpStream>) -> io::Result<(Response, bool)> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut line = String::new();
    read_line(r, &mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        read_line(r, &mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                length = Some(v.parse().map_err(|_| bad(format!("bad content-length {v:?}")))?);
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if n.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            }
        }
    }
    let mut body = Vec::new();
    if status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if chunked {
        loop {
            read_line(r, &mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    read_line(r, &mut line)?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            read_line(r, &mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        close = true;
    }
    Ok((Response { status, body }, close))
}

/// One GET on a fresh connection; `None` if the server does not answer.
pub fn get(port: u16, path: &str) -> Option<Response> {
    let mut c = Conn::new(port);
    c.request("GET", path, &[("Connection", "close")], &[]).ok()
}

/// The value of an unlabelled sample in a text exposition.
pub fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let v = rest.strip_prefix(' ')?;
        v.split_whitespace().next()?.parse().ok()
    })
}
