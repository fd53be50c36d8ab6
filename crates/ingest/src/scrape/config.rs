//! `<scrape_config>`: what to scrape, how often and how, as in Prometheus
//! 2.42's configuration file. Field names, defaults and validation
//! messages follow Prometheus (`config/config.go` and the HTTP client
//! settings of `prometheus/common`).
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use model::{is_valid_label_name, PromDuration};
use serde::{Deserialize, Deserializer};

use crate::relabel::RelabelConfig;

/// The `global:` settings a scrape config falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalScrapeDefaults {
    /// How often to scrape targets by default.
    #[serde(default = "default_global_scrape_interval")]
    pub scrape_interval: PromDuration,
    /// How long until a scrape request times out, by default.
    #[serde(default = "default_global_scrape_timeout")]
    pub scrape_timeout: PromDuration,
}

fn default_global_scrape_interval() -> PromDuration {
    PromDuration::from_secs(60)
}

fn default_global_scrape_timeout() -> PromDuration {
    PromDuration::from_secs(10)
}

impl Default for GlobalScrapeDefaults {
    fn default() -> Self {
        GlobalScrapeDefaults {
            scrape_interval: default_global_scrape_interval(),
            scrape_timeout: default_global_scrape_timeout(),
        }
    }
}

impl GlobalScrapeDefaults {
    /// Prometheus refuses a global timeout longer than the global interval.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.scrape_timeout > self.scrape_interval {
            return Err(ConfigError {
                errors: vec!["global scrape timeout greater than scrape interval".to_string()],
            });
        }
        Ok(())
    }
}

/// A secret string (password, token) that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A size in bytes, written as an integer or as Prometheus writes sizes
/// (`512KB`, `10MB`, `1GiB`; all units are powers of two, like Go's
/// `units.Base2Bytes`). `0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `10MB`, `1GiB`, `512`, `1GB512MB`.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let err = || format!("invalid size {s:?} (expected e.g. 512KB, 10MB, 1GiB)");
        let s = s.trim();
        if s.is_empty() {
            return Err(err());
        }
        if let Ok(n) = s.parse::<u64>() {
            return Ok(ByteSize(n));
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut total: u64 = 0;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(err());
            }
            let n: u64 = s[start..i].parse().map_err(|_| err())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let mult: u64 = match &s[ustart..i] {
                "B" => 1,
                "KB" | "KiB" => 1 << 10,
                "MB" | "MiB" => 1 << 20,
                "GB" | "GiB" => 1 << 30,
                "TB" | "TiB" => 1 << 40,
                "PB" | "PiB" => 1 << 50,
                "EB" | "EiB" => 1 << 60,
                _ => return Err(err()),
            };
            total = n.checked_mul(mult).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
        }
        Ok(ByteSize(total))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Str(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// One `static_configs` entry: fixed targets sharing labels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses, each becoming the target's `__address__`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels given to every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One `file_sd_configs` entry: targets read from JSON or YAML files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File paths; the last path element may hold `*` or `?` wildcards.
    /// Names must end in `.json`, `.yml` or `.yaml`, which picks the format.
    pub files: Vec<String>,
    /// How often the files are re-read even when they look unchanged.
    /// Changes are also picked up by watching modification times.
    #[serde(default = "default_file_sd_refresh_interval")]
    pub refresh_interval: PromDuration,
}

fn default_file_sd_refresh_interval() -> PromDuration {
    PromDuration::from_secs(300)
}

/// `basic_auth`: HTTP basic authentication on every scrape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// File holding the password, re-read on every scrape.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme word; `Bearer` when not given.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The credentials.
    #[serde(default)]
    pub credentials: Option<Secret>,
    /// File holding the credentials, re-read on every scrape.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

impl Authorization {
    /// The scheme word with Prometheus's default.
    pub fn kind(&self) -> &str {
        match self.kind.as_deref() {
            None | Some("") => "Bearer",
            Some(k) => k,
        }
    }
}

/// `tls_config`: how HTTPS targets are verified and how we authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to verify the target with, instead of
    /// the built-in web roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// PEM client certificate (chain) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Name the target's certificate must be valid for, instead of the
    /// target's host. (The SNI sent stays the target's host.)
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate. Only for testing.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// True when anything differs from the default TLS client.
    pub fn is_set(&self) -> bool {
        *self != TlsConfig::default()
    }
}

/// One `scrape_configs` entry: a job and how to scrape its targets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// Name of the job: the `job` label of its targets and the name of its
    /// scrape pool. Must be unique.
    pub job_name: String,
    /// How often to scrape; the global default when not given.
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Per-scrape timeout; the global default (capped at the interval)
    /// when not given. May not exceed the interval.
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// HTTP path to scrape.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL query parameters sent with every scrape.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// On a clash between a scraped label and a target label, keep the
    /// scraped one (instead of renaming it `exported_<name>`).
    #[serde(default)]
    pub honor_labels: bool,
    /// Use timestamps the target exposes (instead of the scrape time).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Fixed target groups.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Target groups from files.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Bearer token (deprecated form of `authorization`).
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// File with the bearer token (deprecated form of `authorization`).
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// `Authorization` header settings.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// TLS settings for HTTPS targets.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Relabelling of targets before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabelling of every scraped sample before it is stored.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Most samples (after metric relabelling) one scrape may return; more
    /// fails the whole scrape. 0 means no limit.
    #[serde(default)]
    pub sample_limit: u64,
    /// Most labels one scraped series may have. 0 means no limit.
    #[serde(default)]
    pub label_limit: u64,
    /// Longest label name in a scraped series. 0 means no limit.
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Longest label value in a scraped series. 0 means no limit.
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// Largest uncompressed response body. 0 means no limit.
    #[serde(default)]
    pub body_size_limit: ByteSize,
}

fn default_metrics_path() -> String {
    "/metrics".to_string()
}

fn default_scheme() -> String {
    "http".to_string()
}

fn default_true() -> bool {
    true
}

/// All problems found in scrape configs, each naming its job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", errors.join("; "))]
pub struct ConfigError {
    /// One message per problem, in the order found.
    pub errors: Vec<String>,
}

impl ScrapeConfig {
    /// A config with Prometheus's defaults for `job_name` and no targets.
    pub fn new(job_name: impl Into<String>) -> Self {
        ScrapeConfig {
            job_name: job_name.into(),
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: default_metrics_path(),
            scheme: default_scheme(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            basic_auth: None,
            bearer_token: None,
            bearer_token_file: None,
            authorization: None,
            tls_config: TlsConfig::default(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            body_size_limit: ByteSize(0),
        }
    }

    /// Fills an unset interval and timeout from `global` the way Prometheus
    /// does: the interval takes the global one; the timeout takes the
    /// global one but never more than this job's interval. An explicit
    /// timeout longer than the interval is left for [`validate`] to report.
    ///
    /// [`validate`]: ScrapeConfig::validate
    pub fn apply_defaults(&mut self, global: &GlobalScrapeDefaults) {
        let (interval, timeout) = resolve_intervals(self.scrape_interval, self.scrape_timeout, global);
        self.scrape_interval = Some(interval);
        self.scrape_timeout = Some(timeout);
    }

    /// The scrape interval, with the built-in global default (1m) when
    /// [`apply_defaults`](ScrapeConfig::apply_defaults) was not called.
    pub fn interval(&self) -> Duration {
        let g = GlobalScrapeDefaults::default();
        resolve_intervals(self.scrape_interval, self.scrape_timeout, &g).0 .0
    }

    /// The scrape timeout, with the built-in global default (10s, capped at
    /// the interval) when `apply_defaults` was not called.
    pub fn timeout(&self) -> Duration {
        let g = GlobalScrapeDefaults::default();
        resolve_intervals(self.scrape_interval, self.scrape_timeout, &g).1 .0
    }

    /// Resolves relative file paths (password, token, TLS and file_sd
    /// files) against `dir`, the directory of the configuration file, as
    /// Prometheus does.
    pub fn set_directory(&mut self, dir: &Path) {
        let join = |p: &mut String| {
            if !p.is_empty() && Path::new(p.as_str()).is_relative() {
                *p = dir.join(p.as_str()).to_string_lossy().into_owned();
            }
        };
        if let Some(b) = &mut self.basic_auth {
            b.password_file.as_mut().map(join);
        }
        self.bearer_token_file.as_mut().map(join);
        if let Some(a) = &mut self.authorization {
            a.credentials_file.as_mut().map(join);
        }
        let tls = &mut self.tls_config;
        for f in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file] {
            f.as_mut().map(join);
        }
        for sd in &mut self.file_sd_configs {
            sd.files.iter_mut().for_each(join);
        }
    }

    /// Checks this config, collecting every problem (not just the first),
    /// each message naming the job.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        self.collect_errors(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors })
        }
    }

    fn collect_errors(&self, errors: &mut Vec<String>) {
        let job = self.job_name.as_str();
        let interval = self.interval();
        if let Some(t) = self.scrape_timeout {
            if t.0 > interval {
                errors.push(format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {job:?} ({} > {})",
                    t,
                    PromDuration(interval)
                ));
            }
        }
        let mut err = |msg: String| errors.push(format!("scrape config with job name {job:?}: {msg}"));
        if job.is_empty() {
            err("job_name is empty".to_string());
        }
        if self.scheme != "http" && self.scheme != "https" {
            err(format!(
                "invalid scheme {:?}: must be \"http\" or \"https\"",
                self.scheme
            ));
        }
        for name in self.params.keys() {
            if name.is_empty() {
                err("empty parameter name in params".to_string());
            }
        }
        for problem in http_client_problems(self) {
            err(problem);
        }
        for sc in &self.static_configs {
            for t in &sc.targets {
                if let Err(e) = check_target_address(t) {
                    err(e);
                }
            }
            for name in sc.labels.keys() {
                if !is_valid_label_name(name) {
                    err(format!("{name:?} is not a valid label name"));
                }
            }
        }
        for sd in &self.file_sd_configs {
            if sd.files.is_empty() {
                err("file service discovery config must contain at least one path name".to_string());
            }
            for f in &sd.files {
                if !super::file_sd::is_valid_file_sd_path(f) {
                    err(format!("path name {f:?} is not valid for file discovery"));
                }
            }
            if sd.refresh_interval.0.is_zero() {
                err("file service discovery refresh_interval must be greater than 0".to_string());
            }
        }
        for (field, rcs) in [
            ("relabel_configs", &self.relabel_configs),
            ("metric_relabel_configs", &self.metric_relabel_configs),
        ] {
            for (i, rc) in rcs.iter().enumerate() {
                if let Err(e) = rc.validate() {
                    err(format!("{field}[{i}]: {e}"));
                }
            }
        }
    }
}

/// Prometheus's defaulting: an unset (or zero) interval takes the global
/// one; an unset timeout takes the global one, capped at the interval. An
/// explicit timeout is kept as is (validation reports one that is too long).
fn resolve_intervals(
    interval: Option<PromDuration>,
    timeout: Option<PromDuration>,
    global: &GlobalScrapeDefaults,
) -> (PromDuration, PromDuration) {
    let interval = match interval {
        Some(i) if !i.0.is_zero() => i,
        _ => global.scrape_interval,
    };
    let timeout = match timeout {
        Some(t) if !t.0.is_zero() => t,
        _ => global.scrape_timeout.min(interval),
    };
    (interval, timeout)
}

/// Prometheus's `CheckTargetAddress`: an address is `host[:port]`, without
/// a scheme or path.
pub(crate) fn check_target_address(addr: &str) -> Result<(), String> {
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    Ok(())
}

/// The rules of `prometheus/common`'s `HTTPClientConfig.Validate` that
/// apply to the settings we support.
fn http_client_problems(c: &ScrapeConfig) -> Vec<String> {
    let mut out = Vec::new();
    let has_bearer = c.bearer_token.as_ref().is_some_and(|s| !s.0.is_empty());
    let has_bearer_file = c.bearer_token_file.as_ref().is_some_and(|s| !s.is_empty());
    if has_bearer && has_bearer_file {
        out.push("at most one of bearer_token & bearer_token_file must be configured".to_string());
    }
    if let Some(b) = &c.basic_auth {
        if has_bearer || has_bearer_file {
            out.push(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".to_string(),
            );
        }
        let has_pw = b.password.as_ref().is_some_and(|s| !s.0.is_empty());
        let has_pw_file = b.password_file.as_ref().is_some_and(|s| !s.is_empty());
        if has_pw && has_pw_file {
            out.push("at most one of basic_auth password & password_file must be configured".to_string());
        }
    }
    if let Some(a) = &c.authorization {
        if has_bearer || has_bearer_file {
            out.push("authorization is not compatible with bearer_token & bearer_token_file".to_string());
        }
        if a.kind().eq_ignore_ascii_case("basic") {
            out.push("authorization type cannot be set to \"basic\", use \"basic_auth\" instead".to_string());
        }
        let has_cred = a.credentials.as_ref().is_some_and(|s| !s.0.is_empty());
        let has_cred_file = a.credentials_file.as_ref().is_some_and(|s| !s.is_empty());
        if has_cred && has_cred_file {
            out.push("at most one of authorization credentials & credentials_file must be configured".to_string());
        }
        if c.basic_auth.is_some() {
            out.push("at most one of basic_auth, oauth2 & authorization must be configured".to_string());
        }
    }
    let tls = &c.tls_config;
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), None) => out.push(format!("client cert file {cert:?} specified without client key file")),
        (None, Some(key)) => out.push(format!("client key file {key:?} specified without client cert file")),
        _ => {}
    }
    out
}

/// Fills defaults from `global` into every config and validates them all,
/// including that job names are unique. Collects every problem.
pub fn prepare_scrape_configs(configs: &mut [ScrapeConfig], global: &GlobalScrapeDefaults) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    if let Err(e) = global.validate() {
        errors.extend(e.errors);
    }
    let mut seen = HashSet::new();
    for c in configs.iter_mut() {
        c.apply_defaults(global);
        c.collect_errors(&mut errors);
        if !seen.insert(c.job_name.clone()) {
            errors.push(format!("found multiple scrape configs with job name {:?}", c.job_name));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError { errors })
    }
}

/// Parses a YAML list of scrape configs (the value of `scrape_configs:`),
/// fills defaults and validates them.
pub fn parse_scrape_configs(yaml: &str, global: &GlobalScrapeDefaults) -> Result<Vec<ScrapeConfig>, ConfigError> {
    let mut configs: Vec<ScrapeConfig> = serde_yaml::from_str(yaml).map_err(|e| ConfigError {
        errors: vec![e.to_string()],
    })?;
    prepare_scrape_configs(&mut configs, global)?;
    Ok(configs)
}
