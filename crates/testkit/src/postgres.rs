use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{find_binary, free_port, on_path, wait_for_port, wait_for_port_closed};

/// A throwaway PostgreSQL cluster (Debian's `postgresql` package) on a free
/// loopback port, trust authentication, superuser `postgres`, no fsync.
///
/// PostgreSQL refuses to run as root, so when the tests run as root every
/// server command goes through `runuser -u postgres` (the package creates
/// that user) and the cluster's directories belong to it.
pub struct Postgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<String>,
    /// The port it listens on.
    pub port: u16,
    // Dropped last: removes the cluster's files.
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates and starts a cluster. `None` when PostgreSQL is not installed
    /// outside CI.
    pub fn start() -> Option<Postgres> {
        let mut candidates = on_path("pg_ctl");
        candidates.extend(debian_bin_dirs().into_iter().map(|d| d.join("pg_ctl")));
        let pg_ctl = find_binary("PostgreSQL (pg_ctl)", "postgresql", &candidates)?;
        // initdb and pg_ctl must be the same version: take the real
        // directory behind a symlink on PATH.
        let pg_ctl = std::fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl);
        let bin_dir = pg_ctl.parent().map(Path::to_path_buf).unwrap_or_default();
        let run_as = is_root().then(|| "postgres".to_string());

        let dir = tempfile::Builder::new()
            .prefix("aerowatch-pg")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        // The postgres user must be able to reach its directories.
        set_mode(dir.path(), 0o755);
        let data_dir = dir.path().join("data");
        let socket_dir = dir.path().join("run");
        for d in [&data_dir, &socket_dir] {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
            set_mode(d, 0o700);
            if let Some(user) = &run_as {
                chown_to(d, user);
            }
        }
        let pg = Postgres {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            port: free_port(),
            _dir: dir,
        };
        let data = pg.data_dir.display().to_string();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(pg.start_again(), "PostgreSQL did not start; log:\n{}", pg.log());
        Some(pg)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn dsn(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The argv that starts this cluster again after [`Postgres::stop`] —
    /// what a recovery strategy would run.
    pub fn start_command(&self) -> Vec<String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_stat_statements",
            self.port,
            self.socket_dir.display()
        );
        let mut argv = self.prefix();
        argv.extend([
            self.bin_dir.join("pg_ctl").display().to_string(),
            "-D".into(),
            self.data_dir.display().to_string(),
            "-l".into(),
            self.log_path().display().to_string(),
            "-w".into(),
            "-t".into(),
            "30".into(),
            "-o".into(),
            options,
            "start".into(),
        ]);
        argv
    }

    /// Starts the stopped cluster; true once it accepts connections.
    pub fn start_again(&self) -> bool {
        let argv = self.start_command();
        let ok = Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok && wait_for_port(self.port, Duration::from_secs(30))
    }

    /// Stops the cluster at once (like a crash) and waits for the port to close.
    pub fn stop(&self) {
        let data = self.data_dir.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        assert!(
            wait_for_port_closed(self.port, Duration::from_secs(10)),
            "PostgreSQL still listening after stop"
        );
    }

    /// Runs SQL through psql as the superuser; returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin_dir.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("run psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.socket_dir.join("postgres.log")
    }

    fn prefix(&self) -> Vec<String> {
        match &self.run_as {
            Some(user) => vec!["runuser".into(), "-u".into(), user.clone(), "--".into()],
            None => Vec::new(),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let mut argv = self.prefix();
        argv.push(self.bin_dir.join(tool).display().to_string());
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            let data = self.data_dir.display().to_string();
            let mut argv = self.prefix();
            argv.push(self.bin_dir.join("pg_ctl").display().to_string());
            let _ = Command::new(&argv[0])
                .args(&argv[1..])
                .args(["-D", &data, "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, p)| p).collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn chown_to(path: &Path, user: &str) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .unwrap_or_else(|e| panic!("id {flag} {user}: {e}"));
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no user {user:?} (the postgresql package creates it)"))
    };
    std::os::unix::fs::chown(path, Some(id("-u")), Some(id("-g")))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_stops_and_starts_again() {
        let Some(pg) = Postgres::start() else { return };
        assert_eq!(pg.psql("SELECT 1"), "1");
        pg.stop();
        assert!(pg.start_again(), "{}", pg.log());
        assert_eq!(pg.psql("SELECT 2"), "2");
    }
}
