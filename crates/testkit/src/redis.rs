use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{find_binary, free_port, on_path, wait_for_port};

/// A `redis-server` with no persistence on a free loopback port.
pub struct Redis {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Redis {
    /// Starts a server, with `requirepass` when `password` is given.
    /// `None` when redis-server is not installed outside CI.
    pub fn start(password: Option<&str>) -> Option<Redis> {
        let mut candidates = on_path("redis-server");
        candidates.push(PathBuf::from("/usr/bin/redis-server"));
        let bin = find_binary("redis-server", "redis-server", &candidates)?;
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some(pw) = password {
            cmd.args(["--requirepass", pw]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start redis-server: {e}"));
        let redis = Redis { child, port };
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "redis-server did not start"
        );
        Some(redis)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
