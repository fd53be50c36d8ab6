//! The `collectors:` configuration: the YAML shape ([`CollectorsConfig`] and its
//! parts, kept verbatim so a reload can compare them) and the validated forms the
//! collectors run from.
use std::path::PathBuf;
use std::time::Duration;

use model::PromDuration;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// Time between two collections when `interval` is not set.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// Upper bound of one collection (connect and queries), whatever the interval.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// node_exporter's default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// node_exporter's default `--collector.filesystem.fs-types-exclude`: pseudo filesystems.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// node_exporter's default `--collector.diskstats.device-exclude`: partitions and
/// virtual devices, whose I/O is already counted on the whole disk.
pub const DEFAULT_DISK_DEVICES_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// node_exporter's default `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// The `collectors:` section as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorsConfig {
    /// Time between collections (default 15s).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// The host collector (node_exporter's metrics); enabled unless turned off.
    #[serde(default)]
    pub host: HostConfig,
    /// A PostgreSQL server to collect postgres_exporter's metrics from.
    #[serde(default)]
    pub postgres: Option<PostgresConfig>,
    /// A Redis server to collect redis_exporter's metrics from.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
}

impl Default for CollectorsConfig {
    /// Host metrics every 15 seconds; no PostgreSQL, no Redis.
    fn default() -> Self {
        CollectorsConfig {
            interval: None,
            host: HostConfig::default(),
            postgres: None,
            redis: None,
        }
    }
}

/// `host:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Collect host metrics (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Where procfs is mounted (default `/proc`; `/host/proc` in a container).
    #[serde(default = "default_procfs")]
    pub procfs_path: String,
    /// Where sysfs is mounted (default `/sys`).
    #[serde(default = "default_sysfs")]
    pub sysfs_path: String,
    /// Regex of mount points to leave out (default [`DEFAULT_MOUNT_POINTS_EXCLUDE`]).
    #[serde(default)]
    pub mount_points_exclude: Option<String>,
    /// Regex of filesystem types to leave out (default [`DEFAULT_FS_TYPES_EXCLUDE`]).
    #[serde(default)]
    pub fs_types_exclude: Option<String>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            enabled: true,
            procfs_path: default_procfs(),
            sysfs_path: default_sysfs(),
            mount_points_exclude: None,
            fs_types_exclude: None,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_procfs() -> String {
    "/proc".to_string()
}

fn default_sysfs() -> String {
    "/sys".to_string()
}

/// `postgres:` as written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// libpq connection string, URL (`postgres://user:pw@host:5432/db`) or
    /// key=value form. Connected without TLS.
    pub dsn: String,
    /// The `instance` label (default `host:port` of the DSN).
    #[serde(default)]
    pub instance: Option<String>,
}

/// `redis:` as written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[[user]:password@]host[:port][/db]`.
    pub url: String,
    /// The `instance` label (default `host:port` of the URL).
    #[serde(default)]
    pub instance: Option<String>,
}

// Hand-written so a config dump in a log never shows a password.
impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("dsn", &"<redacted>")
            .field("instance", &self.instance)
            .finish()
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("instance", &self.instance)
            .finish()
    }
}

impl CollectorsConfig {
    /// Time between collections.
    pub fn interval(&self) -> Duration {
        self.interval.map(PromDuration::get).unwrap_or(DEFAULT_INTERVAL)
    }

    /// Bound on one collection: connects and queries give up after this long.
    pub fn timeout(&self) -> Duration {
        self.interval().min(MAX_TIMEOUT)
    }

    /// Checks every rule; reports all problems at once, each naming its entry
    /// (`collectors.redis: url: ...`). Messages never contain a password.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.interval().is_zero() {
            problems.push("collectors.interval: must be positive".to_string());
        }
        if let Err(mut p) = self.host.compile() {
            problems.append(&mut p);
        }
        if let Some(pg) = &self.postgres {
            if let Err(mut p) = pg.compile() {
                problems.append(&mut p);
            }
        }
        if let Some(r) = &self.redis {
            if let Err(mut p) = r.compile() {
                problems.append(&mut p);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Validated host settings.
#[derive(Debug, Clone)]
pub(crate) struct HostSettings {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub disk_devices_exclude: Regex,
    pub vmstat_fields: Regex,
}

impl HostConfig {
    pub(crate) fn compile(&self) -> Result<HostSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut regex = |field: &str, value: &Option<String>, default: &str| {
            let pattern = value.as_deref().unwrap_or(default);
            match Regex::new(pattern) {
                Ok(r) => Some(r),
                Err(e) => {
                    problems.push(format!("collectors.host: {field}: invalid regex: {e}"));
                    None
                }
            }
        };
        let mount_points_exclude = regex(
            "mount_points_exclude",
            &self.mount_points_exclude,
            DEFAULT_MOUNT_POINTS_EXCLUDE,
        );
        let fs_types_exclude = regex("fs_types_exclude", &self.fs_types_exclude, DEFAULT_FS_TYPES_EXCLUDE);
        let disk_devices_exclude = regex("disk_devices_exclude", &None, DEFAULT_DISK_DEVICES_EXCLUDE);
        let vmstat_fields = regex("vmstat_fields", &None, DEFAULT_VMSTAT_FIELDS);
        for (field, path) in [("procfs_path", &self.procfs_path), ("sysfs_path", &self.sysfs_path)] {
            if path.trim().is_empty() {
                problems.push(format!("collectors.host: {field}: must not be empty"));
            }
        }
        match (
            mount_points_exclude,
            fs_types_exclude,
            disk_devices_exclude,
            vmstat_fields,
        ) {
            (Some(m), Some(f), Some(d), Some(v)) if problems.is_empty() => Ok(HostSettings {
                procfs: PathBuf::from(&self.procfs_path),
                sysfs: PathBuf::from(&self.sysfs_path),
                mount_points_exclude: m,
                fs_types_exclude: f,
                disk_devices_exclude: d,
                vmstat_fields: v,
            }),
            _ => Err(problems),
        }
    }
}

/// A validated PostgreSQL target.
#[derive(Clone)]
pub(crate) struct PostgresTarget {
    pub config: tokio_postgres::Config,
    /// The `instance` label.
    pub instance: String,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl PostgresConfig {
    pub(crate) fn compile(&self) -> Result<PostgresTarget, Vec<String>> {
        let fail = |msg: String| Err(vec![format!("collectors.postgres: {msg}")]);
        // tokio-postgres' parse errors name the bad option, never its value.
        let config: tokio_postgres::Config = match self.dsn.parse() {
            Ok(c) => c,
            Err(e) => return fail(format!("dsn: {e}")),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => return fail("dsn: names no host".to_string()),
        };
        let instance = match &self.instance {
            Some(i) if i.trim().is_empty() => return fail("instance: must not be empty".to_string()),
            Some(i) => i.clone(),
            None => format!("{host}:{port}"),
        };
        Ok(PostgresTarget { config, instance })
    }
}

/// A validated Redis target.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisTarget {
    /// `host:port` to connect to.
    pub address: String,
    /// `AUTH` arguments: empty, `[password]` or `[user, password]`.
    pub auth: Vec<String>,
    /// Database to `SELECT`, when not 0.
    pub db: Option<u32>,
    /// The `instance` label.
    pub instance: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("address", &self.address)
            .field("auth", &if self.auth.is_empty() { "none" } else { "<redacted>" })
            .field("db", &self.db)
            .field("instance", &self.instance)
            .finish()
    }
}

impl RedisConfig {
    pub(crate) fn compile(&self) -> Result<RedisTarget, Vec<String>> {
        let mut target = parse_redis_url(&self.url).map_err(|e| vec![format!("collectors.redis: url: {e}")])?;
        match &self.instance {
            Some(i) if i.trim().is_empty() => {
                return Err(vec!["collectors.redis: instance: must not be empty".to_string()]);
            }
            Some(i) => target.instance = i.clone(),
            None => {}
        }
        Ok(target)
    }
}

/// Parses `redis://[[user]:password@]host[:port][/db]`. Errors describe the
/// problem without quoting the URL, which may hold a password.
pub(crate) fn parse_redis_url(url: &str) -> Result<RedisTarget, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("want redis://[[user]:password@]host[:port][/db]")?;
    match scheme.to_ascii_lowercase().as_str() {
        "redis" => {}
        "rediss" => return Err("rediss:// (TLS) is not supported; use redis://".to_string()),
        _ => return Err("scheme must be redis://".to_string()),
    }
    if rest.contains(['?', '#']) {
        return Err("query parameters are not supported".to_string());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    // The password may itself contain '@' when not percent-encoded: the host starts after the last one.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let auth = match userinfo.and_then(|u| u.split_once(':')) {
        None => Vec::new(),
        Some(("", pw)) => vec![percent_decode(pw)?],
        Some((user, pw)) => vec![percent_decode(user)?, percent_decode(pw)?],
    };
    let (host, port) = split_host_port(hostport)?;
    let db = match path.trim_end_matches('/') {
        "" => None,
        p => match p.parse::<u32>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return Err("the path must be a database number".to_string()),
        },
    };
    let address = format!("{host}:{port}");
    Ok(RedisTarget {
        instance: address.clone(),
        address,
        auth,
        db,
    })
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or("unclosed '[' in host")?;
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("bracketed host is not an IPv6 address".to_string());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("unexpected text after ']'")?),
        };
        (format!("[{inner}]"), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) || (!host.starts_with('[') && host.contains(':')) {
        return Err("missing or invalid host".to_string());
    }
    let port = match port {
        None => 6379,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err("port must be a number from 1 to 65535".to_string()),
        },
    };
    Ok((host, port))
}

/// Decodes `%XX` escapes of URL user info (passwords often hold reserved characters).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("bad %-escape in user info")?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape in user info")?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "user info is not UTF-8 after %-decoding".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_enable_the_host_every_15s() {
        let c = CollectorsConfig::default();
        assert_eq!(c.interval(), Duration::from_secs(15));
        assert_eq!(c.timeout(), Duration::from_secs(10));
        assert!(c.host.enabled);
        assert_eq!(c.host.procfs_path, "/proc");
        assert_eq!(c.host.sysfs_path, "/sys");
        assert!(c.postgres.is_none() && c.redis.is_none());
        assert_eq!(c.validate(), Ok(()));
        let short = CollectorsConfig {
            interval: Some(PromDuration::from_secs(2)),
            ..Default::default()
        };
        assert_eq!(short.timeout(), Duration::from_secs(2));
    }

    #[test]
    fn redis_urls() {
        let t = parse_redis_url("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!((t.address.as_str(), t.db, t.auth.len()), ("127.0.0.1:6380", Some(2), 0));
        let t = parse_redis_url("redis://:p%40ss@cache").unwrap();
        assert_eq!(t.address, "cache:6379");
        assert_eq!(t.auth, vec!["p@ss".to_string()]);
        let t = parse_redis_url("redis://bob:pw@[::1]:7000/0").unwrap();
        assert_eq!(t.address, "[::1]:7000");
        assert_eq!(t.auth, vec!["bob".to_string(), "pw".to_string()]);
        assert_eq!(t.db, None);
        let t = parse_redis_url("redis://user:a@b@host:1").unwrap();
        assert_eq!(t.auth, vec!["user".to_string(), "a@b".to_string()]);
        assert_eq!(t.address, "host:1");
        for bad in [
            "http://x",
            "rediss://x",
            "redis://",
            "redis://h:0",
            "redis://h:99999",
            "redis://h/x",
            "redis://h?db=1",
            "redis://[zz]:1",
            "localhost:6379",
        ] {
            assert!(parse_redis_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn problems_name_the_entry_and_hide_passwords() {
        let c = CollectorsConfig {
            interval: Some(PromDuration::from_secs(0)),
            host: HostConfig {
                mount_points_exclude: Some("(".to_string()),
                ..Default::default()
            },
            postgres: Some(PostgresConfig {
                dsn: "postgres://u:hunter2@db:notaport/x".to_string(),
                instance: None,
            }),
            redis: Some(RedisConfig {
                url: "redis://:hunter2@cache:notaport".to_string(),
                instance: None,
            }),
        };
        let p = c.validate().unwrap_err();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("collectors.interval"), "{p:?}");
        assert!(p[1].starts_with("collectors.host: mount_points_exclude"), "{p:?}");
        assert!(p[2].starts_with("collectors.postgres: dsn:"), "{p:?}");
        assert!(p[3].starts_with("collectors.redis: url:"), "{p:?}");
        assert!(p.iter().all(|m| !m.contains("hunter2")), "{p:?}");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn instances_default_to_host_port_and_can_be_overridden() {
        let pg = PostgresConfig {
            dsn: "host=db1 port=5433 user=postgres password=x".to_string(),
            instance: None,
        };
        assert_eq!(pg.compile().unwrap().instance, "db1:5433");
        let pg = PostgresConfig {
            dsn: "postgres://postgres@127.0.0.1/postgres".to_string(),
            instance: Some("main-db".to_string()),
        };
        assert_eq!(pg.compile().unwrap().instance, "main-db");
        let pg = PostgresConfig {
            dsn: "postgres://postgres@127.0.0.1/postgres".to_string(),
            instance: None,
        };
        assert_eq!(pg.compile().unwrap().instance, "127.0.0.1:5432");
        let r = RedisConfig {
            url: "redis://cache".to_string(),
            instance: Some("sessions".to_string()),
        };
        assert_eq!(r.compile().unwrap().instance, "sessions");
        let r = RedisConfig {
            url: "redis://cache".to_string(),
            instance: Some(" ".to_string()),
        };
        assert!(r.compile().is_err());
    }

    #[test]
    fn yaml_shape() {
        let c: CollectorsConfig =
            serde_yaml::from_str("interval: 30s\nhost: { enabled: false }\nredis: { url: \"redis://localhost\" }\n")
                .unwrap();
        assert_eq!(c.interval(), Duration::from_secs(30));
        assert!(!c.host.enabled);
        assert_eq!(c.host.procfs_path, "/proc");
        assert!(c.redis.is_some());
        let empty: CollectorsConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(empty, CollectorsConfig::default());
        assert!(serde_yaml::from_str::<CollectorsConfig>("bogus: 1").is_err());
        assert!(serde_yaml::from_str::<CollectorsConfig>("host: { bogus: 1 }").is_err());
    }
}
