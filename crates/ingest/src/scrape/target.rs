//! Targets: how discovered label sets become scrape targets (Prometheus's
//! `PopulateLabels` / `TargetsFromGroup`), the target URL, identity hash
//! and scrape offset, and the status the targets API shows.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model::{parse_duration, Labels, LabelsBuilder};
use parking_lot::Mutex;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::config::{check_target_address, ScrapeConfig};
use crate::relabel;

/// `__address__`: `host:port` to scrape.
pub const ADDRESS_LABEL: &str = "__address__";
/// `__scheme__`: `http` or `https`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`: the HTTP path.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`: the target's scrape interval.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`: the target's scrape timeout.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of labels that become URL query parameters.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// Prefix of discovery metadata labels, removed after relabelling.
pub const META_LABEL_PREFIX: &str = "__meta_";
/// Prefix of labels that are never attached to scraped series.
pub const RESERVED_LABEL_PREFIX: &str = "__";
/// The job label.
pub const JOB_LABEL: &str = "job";
/// The instance label.
pub const INSTANCE_LABEL: &str = "instance";

/// A group of targets from one discovery source, sharing `labels`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its provider (a file path and index).
    pub source: String,
    /// One label set per target, each with at least `__address__`.
    pub targets: Vec<Labels>,
    /// Labels of every target of the group (a target's own win).
    pub labels: Labels,
}

/// Why a discovered target could not become a scrape target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PopulateError(pub String);

/// What [`populate_labels`] made of a discovered label set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Populated {
    /// A target to scrape: its final labels (including `__` ones) and the
    /// labels before relabelling.
    Kept {
        /// Final labels: public ones plus `__address__`, `__scheme__`, ...
        labels: Labels,
        /// The label set before relabelling.
        discovered: Labels,
    },
    /// Relabelling dropped the target.
    Dropped {
        /// The label set before relabelling.
        discovered: Labels,
    },
}

/// Prometheus 2.42's `PopulateLabels`: adds the job's settings as labels
/// (unless the target already has them), encodes `params` as `__param_*`,
/// relabels, adds the scheme's default port, checks interval and timeout,
/// removes `__meta_*` labels and defaults `instance` to the address.
pub fn populate_labels(lset: &Labels, cfg: &ScrapeConfig) -> Result<Populated, PopulateError> {
    let err = |s: String| Err(PopulateError(s));
    let mut lb = lset.to_builder();
    let scrape_labels = [
        (JOB_LABEL, cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, model::format_duration(cfg.interval())),
        (SCRAPE_TIMEOUT_LABEL, model::format_duration(cfg.timeout())),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.clone()),
    ];
    for (name, value) in scrape_labels {
        if lset.get(name).unwrap_or("").is_empty() {
            lb.set(name, value);
        }
    }
    for (k, v) in &cfg.params {
        if let Some(first) = v.first() {
            lb.set(format!("{PARAM_LABEL_PREFIX}{k}"), first.clone());
        }
    }
    let pre_relabel = lb.build();
    let Some(lset) = relabel::process(&pre_relabel, &cfg.relabel_configs) else {
        return Ok(Populated::Dropped {
            discovered: pre_relabel,
        });
    };
    let mut addr = match lset.get(ADDRESS_LABEL) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return err("no address".to_string()),
    };
    let mut lb = lset.to_builder();

    // Add the scheme's default port when the address has none (and adding
    // one makes it valid).
    let add_port = split_host_port(&addr).is_err() && split_host_port(&format!("{addr}:1234")).is_ok();
    if add_port {
        match lset.get(SCHEME_LABEL).unwrap_or("") {
            "http" | "" => addr.push_str(":80"),
            "https" => addr.push_str(":443"),
            _ => return err(format!("invalid scheme: {:?}", cfg.scheme)),
        }
        lb.set(ADDRESS_LABEL, addr.clone());
    }
    if let Err(e) = check_target_address(&addr) {
        return err(e);
    }

    let interval = lset.get(SCRAPE_INTERVAL_LABEL).unwrap_or("");
    let interval_d = match parse_duration(interval) {
        Ok(d) => d,
        Err(e) => return err(format!("error parsing scrape interval: {e}")),
    };
    if interval_d.is_zero() {
        return err("scrape interval cannot be 0".to_string());
    }
    let timeout = lset.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("");
    let timeout_d = match parse_duration(timeout) {
        Ok(d) => d,
        Err(e) => return err(format!("error parsing scrape timeout: {e}")),
    };
    if timeout_d.is_zero() {
        return err("scrape timeout cannot be 0".to_string());
    }
    if timeout_d > interval_d {
        return err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})"
        ));
    }

    // Meta labels are deleted after relabelling; other internal labels
    // stay with the target, which keeps them out of series labels.
    lb.retain(|l| !l.name.starts_with(META_LABEL_PREFIX));
    if lset.get(INSTANCE_LABEL).unwrap_or("").is_empty() {
        lb.set(INSTANCE_LABEL, addr);
    }
    Ok(Populated::Kept {
        labels: lb.build(),
        discovered: pre_relabel,
    })
}

/// Prometheus's `TargetsFromGroup`: merges group labels into each target
/// (the target's own labels win) and populates them. Returns the kept and
/// dropped targets in group order, and one message per target that failed.
pub fn targets_from_group(tg: &TargetGroup, cfg: &ScrapeConfig) -> (Vec<Populated>, Vec<String>) {
    let mut out = Vec::with_capacity(tg.targets.len());
    let mut failures = Vec::new();
    for (i, t) in tg.targets.iter().enumerate() {
        let mut lb = LabelsBuilder::new();
        for l in tg.labels.iter() {
            lb.set(l.name.clone(), l.value.clone());
        }
        for l in t.iter() {
            lb.set(l.name.clone(), l.value.clone());
        }
        match populate_labels(&lb.build(), cfg) {
            Ok(p) => out.push(p),
            Err(e) => failures.push(format!("instance {i} in group {}: {e}", tg.source)),
        }
    }
    (out, failures)
}

/// Go's `net.SplitHostPort`, enough to tell whether an address has a port.
pub(crate) fn split_host_port(hostport: &str) -> Result<(&str, &str), &'static str> {
    let Some(i) = hostport.rfind(':') else {
        return Err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return Err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return Err("too many colons in address");
            }
            return Err("missing port in address");
        }
        host = &hostport[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        j = 0;
        k = 0;
    }
    if hostport[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// The health of a target after its last scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealth {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl TargetHealth {
    /// `up`, `down` or `unknown`, as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Unknown => "unknown",
            TargetHealth::Up => "up",
            TargetHealth::Down => "down",
        }
    }
}

/// Mutable per-target state the scrape loop reports into.
#[derive(Debug, Clone)]
pub(crate) struct ScrapeReport {
    pub health: TargetHealth,
    pub last_error: String,
    pub last_scrape_ms: Option<i64>,
    pub last_scrape_duration: Duration,
    pub samples_out_of_order: u64,
    pub samples_duplicate: u64,
    pub samples_out_of_bounds: u64,
}

impl Default for ScrapeReport {
    fn default() -> Self {
        ScrapeReport {
            health: TargetHealth::Unknown,
            last_error: String::new(),
            last_scrape_ms: None,
            last_scrape_duration: Duration::ZERO,
            samples_out_of_order: 0,
            samples_duplicate: 0,
            samples_out_of_bounds: 0,
        }
    }
}

/// One scrape target: its labels, URL and identity.
#[derive(Debug)]
pub(crate) struct Target {
    /// Final labels, including `__address__` and other `__` labels.
    pub labels: Labels,
    /// Labels before relabelling; refreshed when rediscovered.
    pub discovered: Mutex<Labels>,
    /// The URL scraped.
    pub url: String,
    /// Identity: labels and URL.
    pub hash: u64,
    /// Outcome of the last scrape.
    pub report: Mutex<ScrapeReport>,
}

impl Target {
    pub fn new(labels: Labels, discovered: Labels, params: &BTreeMap<String, Vec<String>>) -> Self {
        let url = target_url(&labels, params);
        let hash = target_hash(&labels, &url);
        Target {
            labels,
            discovered: Mutex::new(discovered),
            url,
            hash,
            report: Mutex::new(ScrapeReport::default()),
        }
    }

    /// Labels without the `__` ones: what is attached to scraped series.
    pub fn public_labels(&self) -> Labels {
        let mut lb = self.labels.to_builder();
        lb.retain(|l| !l.name.starts_with(RESERVED_LABEL_PREFIX));
        lb.build()
    }

    /// Interval and timeout from the target's labels (relabelling may have
    /// changed them), falling back to the given ones.
    pub fn interval_and_timeout(&self, interval: Duration, timeout: Duration) -> (Duration, Duration) {
        let get = |name: &str| self.labels.get(name).and_then(|v| parse_duration(v).ok());
        match (get(SCRAPE_INTERVAL_LABEL), get(SCRAPE_TIMEOUT_LABEL)) {
            (Some(i), Some(t)) => (i, t),
            _ => (interval, timeout),
        }
    }

    /// Prometheus's `offset`: when, within the interval, this target is
    /// scraped, spread by the target's hash so that targets do not all
    /// fire at once but each keeps a fixed phase.
    pub fn offset(&self, interval: Duration, jitter_seed: u64) -> Duration {
        let iv = interval.as_nanos().max(1) as i64;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let base = iv - now % iv;
        let offset = ((self.hash ^ jitter_seed) % iv as u64) as i64;
        let mut next = base + offset;
        if next > iv {
            next -= iv;
        }
        Duration::from_nanos(next as u64)
    }
}

/// The scrape URL: `scheme://address/path?params`, where `__param_*`
/// labels override the first value of the job's `params`.
pub(crate) fn target_url(labels: &Labels, params: &BTreeMap<String, Vec<String>>) -> String {
    let mut params = params.clone();
    for l in labels.iter() {
        if let Some(k) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
            match params.get_mut(k) {
                Some(v) if !v.is_empty() => v[0] = l.value.to_string(),
                _ => {
                    params.insert(k.to_string(), vec![l.value.to_string()]);
                }
            }
        }
    }
    let mut url = String::new();
    url.push_str(labels.get(SCHEME_LABEL).unwrap_or(""));
    url.push_str("://");
    let host = labels.get(ADDRESS_LABEL).unwrap_or("");
    url.push_str(host);
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("");
    if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
        url.push('/');
    }
    escape_path(path, &mut url);
    let mut first = true;
    for (k, vs) in &params {
        for v in vs {
            url.push(if first { '?' } else { '&' });
            first = false;
            query_escape(k, &mut url);
            url.push('=');
            query_escape(v, &mut url);
        }
    }
    url
}

fn push_pct(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// Go's `url.PathEscape` rules for a whole path (slashes kept).
fn escape_path(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            push_pct(b, out);
        }
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            push_pct(b, out);
        }
    }
}

fn fnv64a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Prometheus's target hash: FNV-1a over the label hash and the URL.
pub(crate) fn target_hash(labels: &Labels, url: &str) -> u64 {
    let lh = format!("{:016}", labels.stable_hash());
    fnv64a(&[lh.as_bytes(), url.as_bytes()])
}

/// A scrape target as `/api/v1/targets` shows it (`activeTargets`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    /// Labels before relabelling.
    #[serde(serialize_with = "serialize_labels")]
    pub discovered_labels: Labels,
    /// Labels attached to the target's series.
    #[serde(serialize_with = "serialize_labels")]
    pub labels: Labels,
    /// The job name.
    pub scrape_pool: String,
    /// URL scraped.
    pub scrape_url: String,
    /// URL as reachable from elsewhere (loopback hosts replaced when
    /// global URL options are set), else the scrape URL.
    pub global_url: String,
    /// Error of the last scrape, empty when it succeeded.
    pub last_error: String,
    /// Start of the last scrape, milliseconds since the epoch; `None`
    /// before the first. Serialised as RFC 3339 like Prometheus.
    #[serde(serialize_with = "serialize_time")]
    pub last_scrape: Option<i64>,
    /// How long the last scrape took, in seconds.
    pub last_scrape_duration: f64,
    /// `up`, `down` or `unknown`.
    pub health: TargetHealth,
    /// Scrape interval, e.g. `15s`.
    pub scrape_interval: String,
    /// Scrape timeout, e.g. `10s`.
    pub scrape_timeout: String,
    /// Samples the storage refused as out of order, since the target's loop
    /// started (not shown by the API).
    #[serde(skip)]
    pub samples_out_of_order: u64,
    /// Samples refused as duplicates (same time, other value).
    #[serde(skip)]
    pub samples_duplicate: u64,
    /// Samples refused as out of bounds (too old or too far ahead).
    #[serde(skip)]
    pub samples_out_of_bounds: u64,
}

/// A target that relabelling dropped, as `/api/v1/targets` shows it
/// (`droppedTargets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    /// Labels before relabelling.
    #[serde(serialize_with = "serialize_labels")]
    pub discovered_labels: Labels,
    /// The job it was discovered for (not shown by the 2.42 API).
    #[serde(skip)]
    pub scrape_pool: String,
}

/// Serialises labels as a JSON object in label order.
pub fn serialize_labels<S: Serializer>(labels: &Labels, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(labels.len()))?;
    for l in labels.iter() {
        m.serialize_entry(&l.name, &l.value)?;
    }
    m.end()
}

fn serialize_time<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.serialize_str(&format_rfc3339_millis(*ms)),
        None => s.serialize_str("0001-01-01T00:00:00Z"),
    }
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC with
/// millisecond precision, e.g. `2023-02-01T10:20:30.456Z`.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Where the server is reachable from elsewhere, to rewrite loopback target
/// URLs into `globalUrl` the way Prometheus does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalUrlOptions {
    /// The address the server listens on, e.g. `0.0.0.0:9090`.
    pub listen_address: String,
    /// The externally reachable `host:port`.
    pub host: String,
    /// The externally reachable scheme.
    pub scheme: String,
}

/// Prometheus's `getGlobalURL`: a target on a loopback host gets the
/// external host; if it is this server itself (same port), the external
/// scheme and port too.
pub(crate) fn global_url(scrape_url: &str, opts: Option<&GlobalUrlOptions>) -> String {
    let Some(opts) = opts else {
        return scrape_url.to_string();
    };
    let Some((scheme, rest)) = scrape_url.split_once("://") else {
        return scrape_url.to_string();
    };
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (hostport, tail) = rest.split_at(host_end);
    let Ok((host, port)) = split_host_port(hostport) else {
        return scrape_url.to_string();
    };
    if !["127.0.0.1", "localhost", "::1"].contains(&host) {
        return scrape_url.to_string();
    }
    let Ok((_, own_port)) = split_host_port(&opts.listen_address) else {
        return scrape_url.to_string();
    };
    if port == own_port {
        format!("{}://{}{}", opts.scheme, opts.host, tail)
    } else {
        let Ok((ext_host, _)) = split_host_port(&opts.host) else {
            return scrape_url.to_string();
        };
        format!("{scheme}://{ext_host}:{port}{tail}")
    }
}
