//! The host collector: node_exporter's default Linux metrics, read by hand from
//! procfs and sysfs (and `statfs(2)` for filesystems). Every part runs on its own, so an
//! unreadable file costs only that part's series; each reports
//! `node_scrape_collector_success` and `node_scrape_collector_duration_seconds`
//! like node_exporter does. All of it is blocking I/O: run it on a blocking thread.
mod cpu;
mod diskstats;
mod filesystem;
mod loadavg;
mod meminfo;
mod netclass;
mod netdev;
mod stat;
mod uname;
mod vmstat;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::HostSettings;
use crate::sample::{Outcome, Samples};

/// The `job` label of host samples.
pub(crate) const JOB: &str = "node";

/// Why one part of the host collection failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    /// A procfs/sysfs file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but held nothing usable.
    #[error("{}: {what}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
}

/// Reads a whole procfs/sysfs file.
pub(crate) fn read(path: &Path) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|source| HostError::Read {
        path: path.to_path_buf(),
        source,
    })
}

type Part = fn(&HostCollector, &mut Samples) -> Result<(), HostError>;

/// node_exporter's collector names, which become the `collector` label.
const PARTS: &[(&str, Part)] = &[
    ("cpu", cpu::collect),
    ("diskstats", diskstats::collect),
    ("filesystem", filesystem::collect),
    ("loadavg", loadavg::collect),
    ("meminfo", meminfo::collect),
    ("netclass", netclass::collect),
    ("netdev", netdev::collect),
    ("stat", stat::collect),
    ("time", collect_time),
    ("uname", uname::collect),
    ("vmstat", vmstat::collect),
];

/// Collects host metrics; cheap to share between collections.
#[derive(Debug)]
pub(crate) struct HostCollector {
    settings: HostSettings,
    instance: String,
    statfs: filesystem::Statfs,
}

impl HostCollector {
    /// `timeout` bounds the whole collection; one hung mount gets a share of it.
    pub fn new(settings: HostSettings, timeout: Duration) -> Self {
        let instance = hostname(&settings.procfs);
        HostCollector {
            statfs: filesystem::Statfs::new(timeout.min(filesystem::MOUNT_TIMEOUT)),
            settings,
            instance,
        }
    }

    /// The `instance` label: the host name.
    #[cfg(test)]
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn procfs(&self, file: &str) -> PathBuf {
        self.settings.procfs.join(file)
    }

    /// Runs every part once. Blocking.
    pub fn collect(&self) -> Outcome {
        let mut out = Samples::new(JOB, self.instance.as_str());
        let mut parts = Vec::with_capacity(PARTS.len());
        for (name, part) in PARTS {
            let started = Instant::now();
            let result = part(self, &mut out);
            let labels = [("collector", *name)];
            out.push(
                "node_scrape_collector_duration_seconds",
                &labels,
                started.elapsed().as_secs_f64(),
            );
            out.push(
                "node_scrape_collector_success",
                &labels,
                if result.is_ok() { 1.0 } else { 0.0 },
            );
            parts.push((name.to_string(), result.map_err(|e| e.to_string())));
        }
        Outcome {
            samples: out.into_vec(),
            parts,
        }
    }
}

fn collect_time(_: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.push("node_time_seconds", &[], now);
    Ok(())
}

/// The kernel's host name (what `uname -n` says), read through the configured
/// procfs so a containerised server reports the host's name.
fn hostname(procfs: &Path) -> String {
    read(&procfs.join("sys/kernel/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the parts' tests.
    use super::*;
    use crate::config::HostConfig;

    /// A collector over a fixture procfs under `tests/fixtures/proc`.
    pub fn fixture_collector() -> HostCollector {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let cfg = HostConfig {
            procfs_path: dir.join("proc").display().to_string(),
            sysfs_path: dir.join("sys").display().to_string(),
            ..Default::default()
        };
        HostCollector::new(
            cfg.compile().expect("default host config compiles"),
            Duration::from_secs(5),
        )
    }

    /// Runs one part against the fixtures and returns `(series, value)` pairs.
    pub fn run(part: Part) -> Vec<(String, f64)> {
        let c = fixture_collector();
        let mut out = Samples::new(JOB, "test");
        part(&c, &mut out).expect("fixture part collects");
        out.into_compact()
    }

    /// The value of one series, by its compact form.
    pub fn value(samples: &[(String, f64)], series: &str) -> Option<f64> {
        samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostConfig;

    #[test]
    fn fixture_procfs_gives_every_part_and_the_hostname() {
        let c = testing::fixture_collector();
        assert_eq!(c.instance(), "fixture-host");
        let o = c.collect();
        for (name, result) in &o.parts {
            // The fixture tree has no real mounts to statfs, but mounts parse.
            assert!(result.is_ok(), "{name}: {result:?}");
        }
        let success: Vec<_> = o
            .samples
            .iter()
            .filter(|(l, _)| l.metric_name() == Some("node_scrape_collector_success"))
            .collect();
        assert_eq!(success.len(), PARTS.len());
        assert!(o.samples.iter().all(|(l, _)| l.get("job") == Some("node")));
    }

    #[test]
    fn a_missing_procfs_fails_parts_without_panicking() {
        let cfg = HostConfig {
            procfs_path: "/nonexistent/proc".to_string(),
            ..Default::default()
        };
        let c = HostCollector::new(cfg.compile().unwrap(), Duration::from_secs(1));
        let o = c.collect();
        let failed: Vec<&str> = o
            .parts
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(failed.contains(&"cpu") && failed.contains(&"meminfo"), "{failed:?}");
        assert!(!failed.contains(&"time"));
        let cpu_ok = o.samples.iter().find(|(l, _)| {
            l.metric_name() == Some("node_scrape_collector_success") && l.get("collector") == Some("cpu")
        });
        assert_eq!(cpu_ok.map(|s| s.1), Some(0.0));
    }

    /// The real /proc of this machine: a few series exist and are sane.
    #[test]
    fn real_procfs_is_sane() {
        let c = HostCollector::new(HostConfig::default().compile().unwrap(), Duration::from_secs(10));
        let o = c.collect();
        let find = |name: &str| -> Vec<&crate::sample::Sample> {
            o.samples
                .iter()
                .filter(|(l, _)| l.metric_name() == Some(name))
                .collect()
        };
        for (name, result) in &o.parts {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
        let total = find("node_memory_MemTotal_bytes");
        assert_eq!(total.len(), 1);
        assert!(total[0].1 > 64.0 * 1024.0 * 1024.0, "{}", total[0].1);
        let avail = find("node_memory_MemAvailable_bytes");
        assert!(avail[0].1 <= total[0].1);
        let cpu = find("node_cpu_seconds_total");
        for mode in ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] {
            assert!(
                cpu.iter()
                    .any(|(l, _)| l.get("mode") == Some(mode) && l.get("cpu") == Some("0")),
                "mode {mode}"
            );
        }
        assert!(cpu.iter().all(|(_, v)| *v >= 0.0));
        assert!(cpu.len() >= 8 && cpu.len() % 8 == 0, "{}", cpu.len());
        assert!(find("node_load1")[0].1 >= 0.0);
        let boot = find("node_boot_time_seconds")[0].1;
        let now = find("node_time_seconds")[0].1;
        assert!(boot > 1e9 && boot < now, "boot {boot} now {now}");
        assert!(find("node_context_switches_total")[0].1 > 0.0);
        assert!(find("node_procs_running")[0].1 >= 1.0);
        let lo = find("node_network_receive_bytes_total");
        assert!(lo.iter().any(|(l, _)| l.get("device") == Some("lo")), "lo missing");
        let root = find("node_filesystem_size_bytes");
        assert!(
            root.iter().any(|(l, v)| l.get("mountpoint") == Some("/") && *v > 0.0),
            "no / filesystem: {root:?}"
        );
        let uname = find("node_uname_info");
        assert_eq!(uname.len(), 1);
        assert_eq!(uname[0].0.get("sysname"), Some("Linux"));
        assert_eq!(uname[0].0.get("nodename"), Some(c.instance()));
        assert!(o.samples.iter().all(|(l, v)| {
            l.get("instance") == Some(c.instance())
                && model::is_valid_metric_name(l.metric_name().unwrap_or(""))
                && !v.is_nan()
        }));
    }
}
