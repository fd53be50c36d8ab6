//! Real servers for tests: PostgreSQL and Redis from Debian's packages,
//! started on a free loopback port and stopped when dropped.
//!
//! Under CI (`AEROWATCH_CI` set) a missing server binary is a failure;
//! elsewhere the launchers return `None` so a developer without the package
//! sees the test skip with a hint instead of a confusing error.
mod postgres;
mod redis;

pub use postgres::Postgres;
pub use redis::Redis;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits until nothing accepts TCP connections on `port`.
pub fn wait_for_port_closed(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The first of `candidates` that exists, or `None` after telling why the
/// test skips (a panic under CI, where every package is installed).
fn find_binary(what: &str, package: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Some(found.clone());
    }
    assert!(
        std::env::var_os("AEROWATCH_CI").is_none(),
        "{what} missing under CI (apt-get install {package})"
    );
    eprintln!("skipping: {what} not installed (apt-get install {package})");
    None
}

/// `name` in every directory of `$PATH`, in order.
fn on_path(name: &str) -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default()
}

/// A self-signed certificate for `localhost` and 127.0.0.1 (not a CA, so
/// it can serve as a leaf and be trusted as its own root), valid for `days`,
/// made by `openssl` (Debian's `openssl`, installed by `.ci/run`). Returns
/// the PEM paths `(cert, key)` in `dir`.
pub fn self_signed_cert(dir: &std::path::Path, days: u32) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            &days.to_string(),
        ])
        .args(["-subj", "/CN=aerowatch-test"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("openssl (apt-get install openssl) makes test certificates: {e}"));
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}
