//! The `checks:` configuration: the YAML shape (`*Config` types, kept verbatim so a
//! reload can tell unchanged checks apart) and its validated, compiled form ([`Check`]).
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use model::PromDuration;
use regex::Regex;

use crate::tls::TlsTrust;
use serde::{Deserialize, Serialize};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;
const DEFAULT_CERT_EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86_400);

/// The `checks:` section as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesConfig {
    /// Every configured check.
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
}

impl ProbesConfig {
    /// Parses YAML text. Only syntax and shape are checked here; call
    /// [`ProbesConfig::validate`] for the semantic rules.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        serde_yaml::from_str(text).map_err(|e| ConfigError {
            problems: vec![e.to_string()],
        })
    }

    /// Checks every rule and compiles the checks; reports all problems at once
    /// so an operator fixes the file in one go.
    pub fn validate(&self) -> Result<Vec<Check>, ConfigError> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.checks.len());
        for c in &self.checks {
            if c.name.trim().is_empty() {
                problems.push("check with an empty name".to_string());
            } else if !seen.insert(c.name.as_str()) {
                problems.push(format!("check {:?}: duplicate name", c.name));
            }
            let before = problems.len();
            let check = c.compile(&mut problems);
            if problems.len() == before {
                if let Some(check) = check {
                    out.push(check);
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// Every problem found in a configuration, each naming its check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid checks configuration: {}", problems.join("; "))]
pub struct ConfigError {
    /// One human-readable message per problem.
    pub problems: Vec<String>,
}

/// One check as written. Exactly one of the kind fields must be set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name; becomes the `check` label.
    pub name: String,
    /// An HTTP(S) request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfig>,
    /// A TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpConfig>,
    /// A program run without a shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandConfig>,
    /// A Redis PING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisConfig>,
    /// A name resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsConfig>,
    /// A PostgreSQL connection and query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresConfig>,
    /// How often to probe (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<PromDuration>,
    /// Bound on one probe including its retries (default 10s, below `interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// Immediate re-tries inside one probe before it counts as failed.
    #[serde(default)]
    pub retries: u32,
    /// Consecutive failed probes before the check goes down (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Consecutive successful probes before the check goes up (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
}

/// `http:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Absolute http or https URL.
    pub url: String,
    /// Request method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body; empty sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted status codes; empty means any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// The body must match this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// The body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The body must be JSON with this field equal to a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_field: Option<JsonFieldConfig>,
    /// The probe fails when slower than this, even if everything else matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<PromDuration>,
    /// Follow 3xx redirects (default true).
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// For https URLs: raise a `CertificateExpiringSoon` warning alert when
    /// the certificate chain expires within this long (default 14d; `0s` turns
    /// it off). The probe itself keeps passing until the certificate is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiry_warning: Option<PromDuration>,
    /// Whom to trust for https: a private CA, or nobody in particular.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<HttpTlsConfig>,
}

/// `tls:` of an http check, as written (Prometheus' `tls_config` names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTlsConfig {
    /// PEM file of CA certificates trusted besides the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any certificate (expiry is still recorded).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn default_true() -> bool {
    true
}

/// `json_field:` — a dotted path (`a.b.0.c`, numbers index arrays) and the expected value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFieldConfig {
    /// Dotted path into the JSON body.
    pub path: String,
    /// Expected value; a string also matches the same text of a number or bool.
    pub equals: serde_json::Value,
}

/// `tcp:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// `host:port`; host may be a name, an IPv4 or a bracketed IPv6 address.
    pub address: String,
}

/// `dns:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The name to resolve.
    pub name: String,
    /// Addresses that must all be among the answers (empty: any answer).
    #[serde(default)]
    pub expect: Vec<String>,
}

/// `redis:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[[user]:password@]host:port[/db]`.
    pub url: String,
}

/// `postgres:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// libpq-style URL (`postgres://user:pass@host:port/db?...`) or
    /// key/value string (`host=... user=...`).
    pub dsn: String,
    /// The statement to run (default `SELECT 1`); any error fails the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `command:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Program and arguments, executed directly (no shell).
    pub argv: Vec<String>,
    /// Extra environment variables, added to the server's own.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory.
    #[serde(default)]
    pub dir: Option<String>,
    /// Expected exit code (default 0).
    #[serde(default)]
    pub expect_exit: i32,
    /// Standard output must match this regex.
    #[serde(default)]
    pub stdout_regex: Option<String>,
}

/// A validated check, ready to run.
#[derive(Debug, Clone)]
pub struct Check {
    /// Unique name.
    pub name: String,
    /// What to probe.
    pub kind: Kind,
    /// Time between probe starts.
    pub interval: Duration,
    /// Bound on one probe, retries included.
    pub timeout: Duration,
    /// Immediate re-tries inside one probe.
    pub retries: u32,
    /// Consecutive failures to go down.
    pub failure_threshold: u32,
    /// Consecutive successes to go up.
    pub success_threshold: u32,
    /// The source, compared on reload to keep state of unchanged checks.
    pub source: CheckConfig,
}

/// What a check probes. New kinds (postgres, redis, dns) add a variant here,
/// a module with a `probe` function, and a line in [`crate::Prober::probe_once`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Kind {
    /// An HTTP(S) request (boxed: it is several times larger than the others).
    Http(Box<HttpCheck>),
    /// A TCP connect.
    Tcp(TcpCheck),
    /// A program run without a shell.
    Command(CommandCheck),
    /// A Redis PING (after AUTH and SELECT when the URL asks for them).
    Redis(RedisCheck),
    /// A name resolution through the system resolver.
    Dns(DnsCheck),
    /// A PostgreSQL connection running one statement.
    Postgres(Box<PostgresCheck>),
}

impl Kind {
    /// The `kind` label value.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Http(_) => "http",
            Kind::Tcp(_) => "tcp",
            Kind::Command(_) => "command",
            Kind::Redis(_) => "redis",
            Kind::Dns(_) => "dns",
            Kind::Postgres(_) => "postgres",
        }
    }
}

/// A compiled `http:` check.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// Target.
    pub url: reqwest::Url,
    /// Request method.
    pub method: reqwest::Method,
    /// Request headers.
    pub headers: reqwest::header::HeaderMap,
    /// Request body, if any.
    pub body: Option<String>,
    /// Accepted statuses; empty means 2xx.
    pub expect_status: Vec<u16>,
    /// Body regex.
    pub body_regex: Option<Regex>,
    /// Body substring.
    pub body_contains: Option<String>,
    /// JSON field assertion.
    pub json_field: Option<JsonFieldConfig>,
    /// Latency ceiling.
    pub max_latency: Option<Duration>,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Warn this long before the certificate expires (https only; `None`: off).
    pub cert_expiry_warning: Option<Duration>,
    /// Trust other than the public roots.
    pub tls: Option<Arc<TlsTrust>>,
}

/// A compiled `dns:` check.
#[derive(Debug, Clone)]
pub struct DnsCheck {
    /// The name.
    pub name: String,
    /// Addresses that must be answered.
    pub expect: Vec<std::net::IpAddr>,
}

/// A compiled `redis:` check.
#[derive(Debug, Clone)]
pub struct RedisCheck {
    /// `host:port`.
    pub address: String,
    /// `AUTH` arguments: `[password]` or `[user, password]`.
    pub auth: Vec<String>,
    /// Database to `SELECT`, if not 0.
    pub db: Option<u32>,
}

/// A compiled `postgres:` check.
#[derive(Debug, Clone)]
pub struct PostgresCheck {
    /// Parsed connection settings (password included, never printed).
    pub config: tokio_postgres::Config,
    /// `host:port` of the first host, for messages.
    pub address: String,
    /// Statement to run.
    pub query: String,
}

/// A compiled `tcp:` check.
#[derive(Debug, Clone)]
pub struct TcpCheck {
    /// `host:port`.
    pub address: String,
}

/// A compiled `command:` check.
#[derive(Debug, Clone)]
pub struct CommandCheck {
    /// Program and arguments; never empty.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub dir: Option<String>,
    /// Expected exit code.
    pub expect_exit: i32,
    /// Stdout regex.
    pub stdout_regex: Option<Regex>,
}

impl CheckConfig {
    fn compile(&self, problems: &mut Vec<String>) -> Option<Check> {
        let name = &self.name;
        let mut p = |msg: String| problems.push(format!("check {name:?}: {msg}"));
        let interval = self.interval.map(PromDuration::get).unwrap_or(DEFAULT_INTERVAL);
        let timeout = self.timeout.map(PromDuration::get).unwrap_or(DEFAULT_TIMEOUT);
        if interval.is_zero() {
            p("interval must be positive".into());
        }
        if timeout.is_zero() {
            p("timeout must be positive".into());
        } else if timeout >= interval {
            p("timeout must be shorter than interval".into());
        }
        let failure_threshold = self.failure_threshold.unwrap_or(DEFAULT_FAILURE_THRESHOLD);
        let success_threshold = self.success_threshold.unwrap_or(DEFAULT_SUCCESS_THRESHOLD);
        if failure_threshold == 0 {
            p("failure_threshold must be at least 1".into());
        }
        if success_threshold == 0 {
            p("success_threshold must be at least 1".into());
        }
        let kinds = [
            self.http.is_some(),
            self.tcp.is_some(),
            self.command.is_some(),
            self.redis.is_some(),
            self.dns.is_some(),
            self.postgres.is_some(),
        ];
        let kind = match kinds.iter().filter(|k| **k).count() {
            0 => {
                p("exactly one of http, tcp, command, redis, dns, postgres is required, found none".into());
                None
            }
            1 => {
                if let Some(h) = &self.http {
                    compile_http(h, &mut p).map(|h| Kind::Http(Box::new(h)))
                } else if let Some(t) = &self.tcp {
                    compile_tcp(t, &mut p).map(Kind::Tcp)
                } else if let Some(c) = &self.command {
                    compile_command(c, &mut p).map(Kind::Command)
                } else if let Some(r) = &self.redis {
                    compile_redis(r, &mut p).map(Kind::Redis)
                } else if let Some(d) = &self.dns {
                    compile_dns(d, &mut p).map(Kind::Dns)
                } else if let Some(pg) = &self.postgres {
                    compile_postgres(pg, &mut p).map(|c| Kind::Postgres(Box::new(c)))
                } else {
                    None
                }
            }
            _ => {
                p("exactly one of http, tcp, command, redis, dns, postgres is allowed, found several".into());
                None
            }
        };
        Some(Check {
            name: self.name.clone(),
            kind: kind?,
            interval,
            timeout,
            retries: self.retries,
            failure_threshold,
            success_threshold,
            source: self.clone(),
        })
    }
}

fn compile_regex(field: &str, re: &Option<String>, p: &mut impl FnMut(String)) -> Option<Option<Regex>> {
    match re {
        None => Some(None),
        Some(s) => match Regex::new(s) {
            Ok(r) => Some(Some(r)),
            Err(e) => {
                p(format!("invalid {field}: {e}"));
                None
            }
        },
    }
}

fn compile_http(h: &HttpConfig, p: &mut impl FnMut(String)) -> Option<HttpCheck> {
    let mut ok = true;
    let url = match reqwest::Url::parse(&h.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(_) => {
            p(format!(
                "invalid url {:?}: scheme must be http or https with a host",
                h.url
            ));
            None
        }
        Err(e) => {
            p(format!("invalid url {:?}: {e}", h.url));
            None
        }
    };
    let method = match reqwest::Method::from_bytes(h.method.as_deref().unwrap_or("GET").as_bytes()) {
        Ok(m) => Some(m),
        Err(_) => {
            p(format!("invalid method {:?}", h.method.as_deref().unwrap_or("")));
            None
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &h.headers {
        match (
            reqwest::header::HeaderName::from_bytes(k.as_bytes()),
            reqwest::header::HeaderValue::from_str(v),
        ) {
            (Ok(k), Ok(v)) => {
                headers.insert(k, v);
            }
            _ => {
                p(format!("invalid header {k:?}"));
                ok = false;
            }
        }
    }
    for s in &h.expect_status {
        if !(100..=599).contains(s) {
            p(format!("invalid expect_status {s}"));
            ok = false;
        }
    }
    let body_regex = compile_regex("body_regex", &h.body_regex, p);
    if let Some(j) = &h.json_field {
        if j.path.is_empty() {
            p("json_field.path must not be empty".into());
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let tls = match &h.tls {
        None => None,
        Some(t) => {
            let extra_roots = match t.ca_file.as_deref().map(TlsTrust::from_ca_file) {
                None => Vec::new(),
                Some(Ok(certs)) => certs,
                Some(Err(e)) => {
                    p(format!("tls.ca_file: {e}"));
                    return None;
                }
            };
            Some(Arc::new(TlsTrust {
                extra_roots,
                insecure_skip_verify: t.insecure_skip_verify,
            }))
        }
    };
    let cert_expiry_warning = url
        .as_ref()
        .filter(|u| u.scheme() == "https")
        .map(|_| {
            h.cert_expiry_warning
                .map_or(DEFAULT_CERT_EXPIRY_WARNING, PromDuration::get)
        })
        .filter(|d| !d.is_zero());
    Some(HttpCheck {
        url: url?,
        method: method?,
        headers,
        body: h.body.clone().filter(|b| !b.is_empty()),
        expect_status: h.expect_status.clone(),
        body_regex: body_regex?,
        body_contains: h.body_contains.clone(),
        json_field: h.json_field.clone(),
        max_latency: h.max_latency.map(PromDuration::get),
        follow_redirects: h.follow_redirects,
        cert_expiry_warning,
        tls,
    })
}

fn compile_postgres(c: &PostgresConfig, p: &mut impl FnMut(String)) -> Option<PostgresCheck> {
    // tokio-postgres' parse errors name the bad key, never the password.
    let config: tokio_postgres::Config = match c.dsn.parse() {
        Ok(config) => config,
        Err(e) => {
            p(format!("invalid postgres dsn: {e}"));
            return None;
        }
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => {
            p("postgres dsn names no host".into());
            return None;
        }
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let query = c.query.clone().unwrap_or_else(|| "SELECT 1".to_string());
    if query.trim().is_empty() {
        p("postgres query must not be empty".into());
        return None;
    }
    Some(PostgresCheck {
        config,
        address: format!("{host}:{port}"),
        query,
    })
}

fn compile_tcp(t: &TcpConfig, p: &mut impl FnMut(String)) -> Option<TcpCheck> {
    // Names are resolved at probe time (DNS may change); here only the shape is checked.
    let valid = match t.address.rsplit_once(':') {
        Some((host, port)) => {
            let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                inner.parse::<std::net::Ipv6Addr>().is_ok()
            } else {
                !host.is_empty() && !host.contains(':') && !host.contains(char::is_whitespace)
            };
            host_ok && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    };
    if !valid {
        p(format!("invalid address {:?}: want host:port", t.address));
        return None;
    }
    Some(TcpCheck {
        address: t.address.clone(),
    })
}

fn compile_dns(d: &DnsConfig, p: &mut impl FnMut(String)) -> Option<DnsCheck> {
    let mut ok = true;
    if d.name.trim().is_empty() || d.name.contains(char::is_whitespace) || d.name.contains(':') {
        p(format!("dns name {:?} is not a host name", d.name));
        ok = false;
    }
    let mut expect = Vec::with_capacity(d.expect.len());
    for a in &d.expect {
        match a.parse::<std::net::IpAddr>() {
            Ok(ip) => expect.push(ip),
            Err(_) => {
                p(format!("dns expect {a:?} is not an IP address"));
                ok = false;
            }
        }
    }
    ok.then(|| DnsCheck {
        name: d.name.clone(),
        expect,
    })
}

fn compile_redis(r: &RedisConfig, p: &mut impl FnMut(String)) -> Option<RedisCheck> {
    let Ok(url) = reqwest::Url::parse(&r.url) else {
        p(format!("invalid redis url {:?}", r.url));
        return None;
    };
    if url.scheme() != "redis" {
        p(format!(
            "redis url {:?}: scheme must be redis (rediss/TLS is not supported yet)",
            r.url
        ));
        return None;
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        p(format!("redis url {:?} has no host", r.url));
        return None;
    };
    let port = url.port().unwrap_or(6379);
    let address = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let decode = |s: &str| {
        // Percent-decoding of user info, which may hold reserved characters.
        let mut out = Vec::with_capacity(s.len());
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let auth = match (url.username(), url.password()) {
        (_, None) => Vec::new(),
        ("", Some(pw)) => vec![decode(pw)],
        (user, Some(pw)) => vec![decode(user), decode(pw)],
    };
    let path = url.path().trim_start_matches('/');
    let db = if path.is_empty() {
        None
    } else {
        match path.parse::<u32>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                p(format!("redis url {:?}: the path must be a database number", r.url));
                return None;
            }
        }
    };
    Some(RedisCheck { address, auth, db })
}

fn compile_command(c: &CommandConfig, p: &mut impl FnMut(String)) -> Option<CommandCheck> {
    let mut ok = true;
    if c.argv.first().is_none_or(|a| a.is_empty()) {
        p("command.argv must not be empty".into());
        ok = false;
    }
    for k in c.env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            p(format!("invalid env name {k:?}"));
            ok = false;
        }
    }
    let stdout_regex = compile_regex("stdout_regex", &c.stdout_regex, p);
    if !ok {
        return None;
    }
    Some(CommandCheck {
        argv: c.argv.clone(),
        env: c.env.clone(),
        dir: c.dir.clone(),
        expect_exit: c.expect_exit,
        stdout_regex: stdout_regex?,
    })
}
