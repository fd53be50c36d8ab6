//! The configuration file: one YAML document in Prometheus-ecosystem style.
//!
//! Loading is two-staged: parse (serde, unknown keys rejected, `${ENV}`
//! expanded first) and then `validate`, which collects every problem with the
//! file and, where it can be found, the line. Each crate owns its section's
//! types; this module only combines them.
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ingest::scrape::{prepare_scrape_configs, GlobalScrapeDefaults, ScrapeConfig};
use model::PromDuration;
use serde::Deserialize;
use server::auth::AuthConfig;

/// A configuration problem, pointing at the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<embedded defaults>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// `global:` — defaults shared by the sections below.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Default scrape interval (Prometheus: 1m).
    pub scrape_interval: PromDuration,
    /// Default scrape timeout (Prometheus: 10s).
    pub scrape_timeout: PromDuration,
    /// How often rules are evaluated (used by the rules engine).
    pub evaluation_interval: PromDuration,
    /// Labels added to alerts and remote-written series (used later).
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(60),
            scrape_timeout: PromDuration::from_secs(10),
            evaluation_interval: PromDuration::from_secs(60),
            external_labels: BTreeMap::new(),
        }
    }
}

/// How the WAL reaches stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FsyncMode {
    /// fsync every `fsync_interval` (kill -9 safe always; power loss loses at most the interval).
    #[default]
    Interval,
    /// fsync before acknowledging every write (group commit).
    Always,
    /// Leave it to the OS.
    Never,
}

/// `storage.wal:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// fsync policy.
    pub fsync: FsyncMode,
    /// Period for `fsync: interval`.
    pub fsync_interval: PromDuration,
    /// Segment size in bytes.
    pub segment_size: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            fsync: FsyncMode::Interval,
            fsync_interval: PromDuration::from_secs(5),
            segment_size: 128 << 20,
        }
    }
}

/// `storage.retention:` — measured from the newest sample stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Keep data this far behind the newest sample (15d).
    pub time: PromDuration,
    /// Keep at most this many bytes of blocks (0: no size limit).
    pub size_bytes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            time: PromDuration::from_secs(15 * 24 * 3600),
            size_bytes: 0,
        }
    }
}

/// `storage:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Data directory (the `--storage.path` flag wins).
    pub path: Option<PathBuf>,
    /// Write-ahead log.
    pub wal: WalConfig,
    /// Retention.
    pub retention: RetentionConfig,
    /// How often head blocks are cut, blocks compacted and retention applied.
    pub maintenance_interval: PromDuration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: None,
            wal: WalConfig::default(),
            retention: RetentionConfig::default(),
            maintenance_interval: PromDuration::from_secs(60),
        }
    }
}

/// `limits.remote_write:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteLimits {
    /// Largest compressed body.
    pub max_body_bytes: usize,
    /// Largest decompressed body.
    pub max_decompressed_bytes: usize,
    /// Most labels per series.
    pub max_labels_per_series: usize,
    /// Longest label name.
    pub max_label_name_length: usize,
    /// Longest label value.
    pub max_label_value_length: usize,
}

impl Default for RemoteWriteLimits {
    fn default() -> Self {
        let d = ingest::remote::WriteLimits::default();
        RemoteWriteLimits {
            max_body_bytes: 32 << 20,
            max_decompressed_bytes: d.max_decompressed_bytes,
            max_labels_per_series: d.max_labels_per_series,
            max_label_name_length: d.max_label_name_length,
            max_label_value_length: d.max_label_value_length,
        }
    }
}

/// `limits.remote_read:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteReadLimits {
    /// Most samples one remote read request may load.
    pub max_samples: usize,
}

impl Default for RemoteReadLimits {
    fn default() -> Self {
        RemoteReadLimits {
            max_samples: 50_000_000,
        }
    }
}

/// `limits:` — what protects the server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Remote write request limits.
    pub remote_write: RemoteWriteLimits,
    /// Remote read limits.
    pub remote_read: RemoteReadLimits,
    /// Most series the store holds (0: no limit); new series beyond it are refused.
    pub max_series: usize,
    /// Largest body for any other endpoint.
    pub max_request_body_bytes: Option<usize>,
}

/// `web.tls_server_config:` — serve HTTPS (names as in Prometheus's web config file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// `web:`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Reported as `environment` by `/api/health`.
    pub environment: String,
    /// Serve HTTPS with these files (re-read on reload).
    pub tls_server_config: Option<TlsServerConfig>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            environment: "production".into(),
            tls_server_config: None,
        }
    }
}

/// `query:` — PromQL engine limits, named and defaulted as Prometheus's
/// `--query.*` flags. Read at start-up (a reload does not change them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample (5m).
    pub lookback_delta: PromDuration,
    /// Most samples one query may hold in memory at once (50,000,000).
    pub max_samples: usize,
    /// Longest a query may run (2m).
    pub timeout: PromDuration,
    /// Queries evaluated at once; more wait in a queue (20).
    pub max_concurrency: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta: PromDuration::from_secs(300),
            max_samples: 50_000_000,
            timeout: PromDuration::from_secs(120),
            max_concurrency: 20,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Shared defaults.
    #[serde(default)]
    pub global: GlobalConfig,
    /// Prometheus `scrape_configs`, as in prometheus.yml.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Storage.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Credentials.
    #[serde(default)]
    pub auth: AuthConfig,
    /// HTTP surface.
    #[serde(default)]
    pub web: WebConfig,
    /// PromQL engine limits.
    #[serde(default)]
    pub query: QueryConfig,
    /// Prometheus rule files (globs, relative to this file), as they are.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Built-in rule sets: `openaero` (the seed's five alerts and their recording rules).
    #[serde(default)]
    pub presets: Vec<String>,
    /// Alert rules in the seed's format (OpenAero §4.1).
    #[serde(default)]
    pub alert_rules: Vec<rules::SeedRule>,
    /// alertmanager.yml's keys, verbatim (routing, receivers, inhibition).
    #[serde(default)]
    pub alertmanager: Option<serde_yaml::Value>,
    /// An alertmanager.yml to read instead of the inline `alertmanager:` section.
    #[serde(default)]
    pub alertmanager_config_file: Option<PathBuf>,
    /// Health checks of the monitored system (`http`, `tcp`, `dns`, `redis`, `postgres`, `command`).
    #[serde(default)]
    pub checks: Vec<probes::CheckConfig>,
    /// Service level objectives, with generated burn-rate alerts.
    #[serde(default)]
    pub slos: Vec<rules::slo::SloConfig>,
    /// Recovery strategies: actions run when a check goes down or an alert fires.
    #[serde(default)]
    pub recovery: Vec<recovery::StrategyConfig>,
    /// Built-in host, PostgreSQL and Redis collectors (host on by default).
    #[serde(default)]
    pub collectors: collectors::CollectorsConfig,
    /// Grafana dashboard JSON files (globs, relative to this file) the UI shows.
    #[serde(default)]
    pub dashboards: Vec<String>,
    /// The dashboards those globs name, read and checked.
    #[serde(skip)]
    pub loaded_dashboards: Vec<(PathBuf, serde_json::Value)>,
    /// The strategies, validated.
    #[serde(skip)]
    pub compiled_recovery: Vec<recovery::Strategy>,
    /// The checks, validated.
    #[serde(skip)]
    pub compiled_checks: Vec<probes::Check>,
    /// The rules loaded from `rule_files`, `presets` and `alert_rules`.
    #[serde(skip)]
    pub loaded_rules: rules::LoadedRules,
    /// The Alertmanager config in force: `alertmanager:` or the file, with
    /// the routes `alert_rules` need in front; a receiver-less default when
    /// neither is set (alerts are then kept and listed, not delivered).
    #[serde(skip)]
    pub alertmanager_config: Option<alertmanager::Config>,
}

/// Used when no Alertmanager config is given.
const DEFAULT_ALERTMANAGER: &str = "route:\n  receiver: default\nreceivers:\n  - name: default\n";

/// Builds the Alertmanager config: parses the inline section or the file,
/// puts the routes the seed rules need in front of the configured ones, and
/// checks that their receivers exist. Errors are `(line in this file, message)`
/// for the config file, or carry the alertmanager file's own position.
fn alertmanager_config(config: &Config, file: &str, text: &str) -> Result<alertmanager::Config, Vec<ConfigError>> {
    let at = |line: Option<usize>, message: String| ConfigError {
        file: file.to_string(),
        line,
        message,
    };
    let (mut value, source) = match (&config.alertmanager, &config.alertmanager_config_file) {
        (Some(v), _) => (v.clone(), file.to_string()),
        (None, Some(path)) => {
            let name = path.display().to_string();
            let am_text = std::fs::read_to_string(path).map_err(|e| {
                vec![ConfigError {
                    file: name.clone(),
                    line: None,
                    message: format!("cannot read: {e}"),
                }]
            })?;
            // Parsed from its text first, so that its errors carry its lines.
            alertmanager::Config::parse(&am_text, &name).map_err(|e| {
                vec![ConfigError {
                    file: e.file.clone(),
                    line: e.line,
                    message: e.message.clone(),
                }]
            })?;
            let v: serde_yaml::Value =
                serde_yaml::from_str(&am_text).map_err(|e| vec![at(None, format!("{name}: {e}"))])?;
            (v, name)
        }
        (None, None) => (
            serde_yaml::from_str(DEFAULT_ALERTMANAGER).map_err(|e| vec![at(None, e.to_string())])?,
            "<default alertmanager config>".to_string(),
        ),
    };
    let receivers: Vec<String> = value
        .get("receivers")
        .and_then(|r| r.as_sequence())
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r.get("name").and_then(|n| n.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    let mut routes = Vec::new();
    for r in &config.loaded_rules.routes {
        if receivers.contains(&r.receiver) {
            routes.push(r.route.clone());
        } else {
            errors.push(at(
                find_line(text, &format!("id: {}", r.rule_id)),
                format!(
                    "alert_rules: {:?}: notification channel {:?} is not a receiver (define it under alertmanager.receivers)",
                    r.rule_id, r.receiver
                ),
            ));
        }
    }
    for r in &config.loaded_rules.preset_routes {
        if receivers.contains(&r.receiver) {
            routes.push(r.route.clone());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !routes.is_empty() {
        if let Some(root) = value.get_mut("route").and_then(|r| r.as_mapping_mut()) {
            let existing = root
                .remove("routes")
                .and_then(|r| r.as_sequence().cloned())
                .unwrap_or_default();
            routes.extend(existing);
            root.insert("routes".into(), serde_yaml::Value::Sequence(routes));
        }
    }
    alertmanager::Config::from_value(value, &source).map_err(|e| {
        let line = e.line.or_else(|| {
            if source == file {
                find_line(text, "alertmanager:")
            } else {
                None
            }
        });
        vec![ConfigError {
            file: e.file.clone(),
            line,
            message: e.message.clone(),
        }]
    })
}

/// A loaded, validated config and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// The file, or None for embedded defaults.
    pub path: Option<PathBuf>,
    /// The text it was parsed from (after `${ENV}` expansion), for `/api/v1/status/config`.
    pub text: String,
}

const EMBEDDED: &str = include_str!("default_config.yml");

/// The embedded defaults, scraping Aerowatch itself at `self_target`.
pub fn embedded(self_target: &str) -> Result<Loaded, ConfigErrors> {
    let text = EMBEDDED.replace("AEROWATCH_SELF_TARGET", self_target);
    let config = parse("<embedded defaults>", &text)?;
    Ok(Loaded {
        config,
        path: None,
        text,
    })
}

/// Reads, expands, parses and validates a config file.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let name = path.display().to_string();
    let raw = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        }])
    })?;
    let text = expand_env(&name, &raw, |k| std::env::var(k).ok())?;
    let config = parse_in(&name, &text, path.parent())?;
    Ok(Loaded {
        config,
        path: Some(path.to_path_buf()),
        text,
    })
}

/// Replaces `${NAME}` with the environment variable's value; `$${` is a
/// literal `${`. A missing variable is an error naming the line.
pub fn expand_env(file: &str, raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigErrors> {
    let mut out = String::with_capacity(raw.len());
    let mut errors = Vec::new();
    for (i, line) in raw.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find("${") {
            if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
                out.push_str(&rest[..pos - 1]);
                out.push_str("${");
                rest = &rest[pos + 2..];
                continue;
            }
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else {
                out.push_str("${");
                rest = after;
                continue;
            };
            let name = &after[..end];
            let is_var = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_var {
                // `${1}` and the like belong to relabel replacements.
                out.push_str("${");
                rest = after;
                continue;
            }
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => errors.push(ConfigError {
                    file: file.to_string(),
                    line: Some(i + 1),
                    message: format!("environment variable {name} is not set (write $${{{name}}} for a literal)"),
                }),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// What to search for to point at the list entry a problem is about:
/// problems quote the entry's name first, and the entry is written as
/// `key: name`; when that is not found, the section itself (`fallback`).
fn entry_needle(text: &str, problem: &str, key: &str, fallback: &str) -> String {
    problem
        .split('"')
        .nth(1)
        .map(|n| format!("{key}: {n}"))
        .filter(|n| find_line(text, n).is_some())
        .unwrap_or_else(|| fallback.to_string())
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The `CertificateExpiringSoon` warnings of https checks, as one generated
/// rule group (`checks`), evaluated like any rule file's.
fn certificate_rules(checks: &[probes::Check]) -> Option<rules::GroupSpec> {
    let rules: Vec<rules::rulefile::RuleDef> = checks
        .iter()
        .filter_map(|c| match &c.kind {
            probes::Kind::Http(h) => h.cert_expiry_warning.map(|warn| (c, warn)),
            _ => None,
        })
        .map(|(c, warn)| rules::rulefile::RuleDef {
            alert: Some("CertificateExpiringSoon".into()),
            expr: format!(
                "probe_ssl_earliest_cert_expiry{{check={:?}}} - time() < {}",
                c.name,
                warn.as_secs()
            ),
            labels: BTreeMap::from([("severity".to_string(), "warning".to_string())]),
            annotations: BTreeMap::from([
                (
                    "summary".to_string(),
                    format!("TLS certificate of check {} expires soon", c.name),
                ),
                (
                    "description".to_string(),
                    "The certificate chain expires in {{ $value | humanizeDuration }}.".to_string(),
                ),
            ]),
            ..Default::default()
        })
        .collect();
    (!rules.is_empty()).then(|| rules::GroupSpec {
        file: "checks".into(),
        def: rules::rulefile::GroupDef {
            name: "checks".into(),
            interval: None,
            limit: 0,
            rules,
        },
    })
}

/// Parses and validates config text; relative paths are taken from the
/// working directory.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    parse_in(file, text, None)
}

/// Parses and validates config text whose relative paths are relative to
/// `base` (the config file's directory).
pub fn parse_in(file: &str, text: &str, base: Option<&Path>) -> Result<Config, ConfigErrors> {
    let config: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.to_string(),
                line: e.location().map(|l| l.line()),
                message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
            }])
        })?
    };
    let mut config = config;
    if let Some(dir) = base {
        for sc in &mut config.scrape_configs {
            sc.set_directory(dir);
        }
        if let Some(tls) = &mut config.web.tls_server_config {
            tls.cert_file = dir.join(&tls.cert_file);
            tls.key_file = dir.join(&tls.key_file);
        }
    }
    let mut errors = Vec::new();
    let g = &config.global;
    let defaults = GlobalScrapeDefaults {
        scrape_interval: g.scrape_interval,
        scrape_timeout: g.scrape_timeout,
    };
    let jobs: Vec<String> = config.scrape_configs.iter().map(|sc| sc.job_name.clone()).collect();
    if let Err(e) = prepare_scrape_configs(&mut config.scrape_configs, &defaults) {
        for msg in e.errors {
            // Messages name the job; point at its `job_name:` line (the last
            // one, for duplicates), or at the global section.
            let needle = jobs
                .iter()
                .find(|j| msg.contains(&format!("{j:?}")))
                .map(|j| format!("job_name: {j}"))
                .or_else(|| msg.starts_with("global").then(|| "scrape_timeout".to_string()));
            let line = needle.as_deref().and_then(|n| {
                if msg.contains("multiple scrape configs") {
                    text.lines()
                        .enumerate()
                        .filter(|(_, l)| l.contains(n))
                        .last()
                        .map(|(i, _)| i + 1)
                } else {
                    find_line(text, n)
                }
            });
            errors.push(ConfigError {
                file: file.to_string(),
                line,
                message: msg,
            });
        }
    }
    let mut err = |needle: Option<&str>, message: String| {
        errors.push(ConfigError {
            file: file.to_string(),
            line: needle.and_then(|n| find_line(text, n)),
            message,
        });
    };
    for e in config.auth.validate() {
        err(Some("auth:"), e);
    }
    // Like every path in this file, a check's CA file is relative to it.
    if let Some(dir) = base {
        for c in &mut config.checks {
            if let Some(ca) = c
                .http
                .as_mut()
                .and_then(|h| h.tls.as_mut())
                .and_then(|t| t.ca_file.as_mut())
            {
                if Path::new(ca.as_str()).is_relative() {
                    *ca = dir.join(&*ca).to_string_lossy().into_owned();
                }
            }
        }
    }
    match (probes::ProbesConfig {
        checks: config.checks.clone(),
    })
    .validate()
    {
        Ok(compiled) => config.compiled_checks = compiled,
        Err(e) => {
            for problem in e.problems {
                let needle = entry_needle(text, &problem, "name", "checks:");
                err(Some(&needle), format!("checks: {problem}"));
            }
        }
    }
    let known_checks: Vec<String> = config.checks.iter().map(|c| c.name.clone()).collect();
    match (recovery::RecoveryConfig {
        recovery: config.recovery.clone(),
    })
    .validate(Some(&known_checks))
    {
        Ok(strategies) => config.compiled_recovery = strategies,
        Err(e) => {
            for problem in e.problems {
                let needle = entry_needle(text, &problem, "name", "recovery:");
                err(Some(&needle), format!("recovery: {problem}"));
            }
        }
    }
    if !config.dashboards.is_empty() {
        let dir = base.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        match ui::DashboardStore::read_files(&config.dashboards, &dir) {
            Ok(files) => config.loaded_dashboards = files,
            Err(problems) => {
                for problem in problems {
                    err(Some("dashboards:"), problem);
                }
            }
        }
    }
    let mut collector_errors = Vec::new();
    if let Err(problems) = config.collectors.validate() {
        for problem in problems {
            // "collectors.redis: ..." points at the `redis:` line under `collectors:`.
            let section = problem
                .strip_prefix("collectors.")
                .and_then(|rest| rest.split([':', '.']).next())
                .map(|s| format!("{s}:"));
            let line = find_line(text, "collectors:").map(|start| {
                section
                    .as_deref()
                    .and_then(|needle| {
                        text.lines()
                            .skip(start)
                            .position(|l| l.contains(needle))
                            .map(|i| start + i + 1)
                    })
                    .unwrap_or(start)
            });
            collector_errors.push(ConfigError {
                file: file.to_string(),
                line,
                message: problem,
            });
        }
    }
    if config.alertmanager.is_some() && config.alertmanager_config_file.is_some() {
        err(
            Some("alertmanager_config_file:"),
            "set either alertmanager or alertmanager_config_file, not both".into(),
        );
    }
    if let (Some(dir), Some(f)) = (base, &mut config.alertmanager_config_file) {
        *f = dir.join(&*f);
    }
    let sources = rules::RuleSources {
        rule_files: config.rule_files.clone(),
        presets: config.presets.clone(),
        seed_rules: config.alert_rules.clone(),
        slos: config.slos.clone(),
    };
    let rule_dir = base.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut rule_file_errors = Vec::new();
    match rules::load(&sources, &rule_dir, rules::template::go_templater().as_ref()) {
        Ok(loaded) => config.loaded_rules = loaded,
        Err(rule_errors) => {
            for e in rule_errors {
                match e.file.as_str() {
                    // Seed rules, SLOs and presets live in this file: point at the entry.
                    "alert_rules" | "presets" | "slos" => {
                        let key = if e.file == "slos" { "name" } else { "id" };
                        let needle = entry_needle(text, &e.message, key, &format!("{}:", e.file));
                        err(Some(&needle), e.message);
                    }
                    _ => rule_file_errors.push(ConfigError {
                        file: e.file,
                        line: e.line,
                        message: e.message,
                    }),
                }
            }
        }
    }
    if let Some(group) = certificate_rules(&config.compiled_checks) {
        config.loaded_rules.groups.push(group);
    }
    if let Some(tls) = &config.web.tls_server_config {
        for (key, path) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
            if !path.is_file() {
                err(
                    Some(key),
                    format!("web.tls_server_config.{key}: {} is not a readable file", path.display()),
                );
            }
        }
    }
    if config.query.max_concurrency == 0 || config.query.max_samples == 0 {
        err(
            Some("query:"),
            "query.max_concurrency and query.max_samples must be at least 1".into(),
        );
    }
    if config.query.lookback_delta.as_millis() <= 0 || config.query.timeout.as_millis() <= 0 {
        err(
            Some("query:"),
            "query.lookback_delta and query.timeout must be positive".into(),
        );
    }
    if config.storage.wal.segment_size < 1 << 20 {
        err(
            Some("segment_size"),
            "storage.wal.segment_size must be at least 1 MiB".into(),
        );
    }
    errors.extend(collector_errors);
    errors.extend(rule_file_errors);
    if errors.is_empty() {
        match alertmanager_config(&config, file, text) {
            Ok(am) => config.alertmanager_config = Some(am),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_scrape_self_every_15s() {
        let l = embedded("127.0.0.1:9800").unwrap();
        assert_eq!(l.config.scrape_configs.len(), 1);
        assert_eq!(l.config.scrape_configs[0].static_configs[0].targets, ["127.0.0.1:9800"]);
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let e = parse("a.yml", "global:\n  scrape_interval: 15s\n  bogus: 1\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(3), "{e}");
        assert!(e.to_string().starts_with("a.yml:3: "), "{e}");
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn bad_durations_and_semantic_errors_are_located() {
        let e = parse("a.yml", "global:\n  scrape_interval: 15x\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2), "{e}");
        let e = parse("a.yml", "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(3), "{e}");
        let text = "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]}]\n  - job_name: a\n";
        let e = parse("a.yml", text).unwrap_err();
        assert!(e.to_string().contains("multiple scrape configs"), "{e}");
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "TOKEN").then(|| "abc".to_string());
        assert_eq!(expand_env("f", "t: ${TOKEN}\n", env).unwrap(), "t: abc\n");
        assert_eq!(
            expand_env("f", "r: ${1}x $${TOKEN}\n", env).unwrap(),
            "r: ${1}x ${TOKEN}\n"
        );
        let e = expand_env("f", "a: 1\nb: ${MISSING}\n", env).unwrap_err();
        assert_eq!(e.0[0].line, Some(2));
        assert!(e.to_string().contains("MISSING"));
    }

    #[test]
    fn query_section_defaults_like_prometheus_flags() {
        let q = parse("a.yml", "").unwrap().query;
        assert_eq!(
            (q.lookback_delta.to_string(), q.timeout.to_string()),
            ("5m".into(), "2m".into())
        );
        assert_eq!((q.max_samples, q.max_concurrency), (50_000_000, 20));
        let q = parse("a.yml", "query:\n  timeout: 30s\n  max_concurrency: 4\n")
            .unwrap()
            .query;
        assert_eq!((q.timeout.to_string(), q.max_concurrency), ("30s".into(), 4));
        let e = parse("a.yml", "query:\n  max_concurrency: 0\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(1), "{e}");
    }

    #[test]
    fn empty_file_is_defaults() {
        let c = parse("a.yml", "").unwrap();
        assert!(c.scrape_configs.is_empty());
        assert_eq!(c.storage.wal.fsync, FsyncMode::Interval);
    }
}
