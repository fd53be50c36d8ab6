//! `alertmanager.yml`: parsing, defaults and validation with Alertmanager
//! 0.25's field names, defaults and rules.
//!
//! Parsing is strict (unknown keys are errors) and errors carry the file name
//! and, where it can be found, the 1-based line:
//! `alertmanager.yml:12: route: receiver "pager" is not defined`.
//! Syntax and type errors take their line from the YAML parser; semantic
//! errors found after parsing (undefined receivers, duplicate names...) locate
//! the offending key in the source text. A config built from an already parsed
//! [`serde_yaml::Value`] (Aerowatch's own config embeds these keys under
//! `alertmanager:`) has no source text, so its semantic errors carry no line.
//!
//! Only the email, PagerDuty, Slack and webhook integrations exist in
//! Aerowatch; receivers using any other Alertmanager integration are rejected
//! with a "not supported by Aerowatch" error instead of being silently ignored.
//! Global keys that only configure unsupported integrations are accepted and
//! ignored so existing files load.
//!
//! Secrets are kept in [`Secret`] and serialise as `<secret>`, so
//! [`Config::to_masked_yaml`] is safe for `/api/v2/status`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use model::{is_valid_label_name, PromDuration};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::matchers::{format_matcher, parse_matchers, sort_matchers, Matcher};
use crate::timeinterval::TimeInterval;

/// A configuration problem, with the file and (when known) line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file name given to the parser.
    pub file: String,
    /// 1-based line of the offending key, when it could be determined.
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

/// A string that must not be revealed when the config is shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the code that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True for an empty secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "<secret>" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarString).map(Secret)
    }
}

/// Accepts any YAML scalar as text, like Go's yaml.v2 does for string
/// fields (`match: {code: 500}` is a string match on "500").
struct ScalarString;

impl Visitor<'_> for ScalarString {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

fn lenient_string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    struct Lenient(#[serde(deserialize_with = "lenient_string")] String);
    let m = Option::<BTreeMap<String, Lenient>>::deserialize(d)?;
    Ok(m.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(ScalarString)
}

/// A list of matcher strings (`matchers:`), parsed with Alertmanager's
/// classic syntax and kept sorted like Alertmanager does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigMatchers(pub Vec<Matcher>);

impl ConfigMatchers {
    /// True when there are no matchers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for ConfigMatchers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        let mut out = Vec::new();
        for line in lines {
            out.extend(parse_matchers(&line).map_err(de::Error::custom)?);
        }
        sort_matchers(&mut out);
        Ok(ConfigMatchers(out))
    }
}

impl Serialize for ConfigMatchers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(format_matcher))
    }
}

/// Legacy `match_re:` (label name → regex, anchored when used).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchRegexps(pub BTreeMap<String, String>);

impl MatchRegexps {
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for MatchRegexps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = lenient_string_map(d)?;
        for (k, v) in &m {
            if !is_valid_label_name(k) {
                return Err(de::Error::custom(format!("invalid label name {k:?}")));
            }
            regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| de::Error::custom(format!("{e}")))?;
        }
        Ok(MatchRegexps(m))
    }
}

/// Builds the matcher list of a legacy `match` / `match_re` pair plus new
/// `matchers`, sorted. Legacy regexes carry their anchors in the value,
/// exactly like Alertmanager 0.25 (`owner=~"^(?:team-(B|C))$"`), because the
/// value shows up in route keys and group keys.
pub fn combine_matchers(
    eq: &BTreeMap<String, String>,
    re: &MatchRegexps,
    new: &ConfigMatchers,
) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for (k, v) in eq {
        out.push(Matcher::equal(k.clone(), v.clone()));
    }
    for (k, v) in &re.0 {
        out.push(Matcher::new(model::MatchType::Regex, k.clone(), format!("^(?:{v})$")).map_err(|e| e.to_string())?);
    }
    out.extend(new.0.iter().cloned());
    sort_matchers(&mut out);
    Ok(out)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// TLS client settings (kept for the delivery code).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Inline CA certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Inline client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Client key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Inline client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// Expected server name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    /// Minimum TLS version (`TLS12`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Maximum TLS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

/// `basic_auth` of an HTTP client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// `authorization` of an HTTP client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme, `Bearer` by default.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// File holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// `oauth2` client credentials settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Client id.
    #[serde(default)]
    pub client_id: String,
    /// Client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// File holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    /// Requested scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    #[serde(default)]
    pub token_url: String,
    /// Extra token request parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS for the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy for the token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// Prometheus' common `http_config`, kept mostly opaque: the delivery crate
/// interprets it. Header and proxy-header maps are accepted but not shown
/// back because they may carry secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Authorization header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Deprecated bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// Deprecated bearer token file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// OAuth 2.0 client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Hosts excluded from proxying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// Use the proxy environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers sent to proxies on CONNECT.
    #[serde(default, skip_serializing)]
    pub proxy_connect_header: Option<serde_yaml::Value>,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Follow HTTP redirects (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2 (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// Extra request headers.
    #[serde(default, skip_serializing)]
    pub http_headers: Option<serde_yaml::Value>,
}

fn default_resolve_timeout() -> PromDuration {
    PromDuration::from_secs(300)
}
fn default_smtp_hello() -> String {
    "localhost".into()
}
fn default_true() -> bool {
    true
}
fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

/// `global:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long after the last update an alert without `endsAt` resolves.
    #[serde(default = "default_resolve_timeout")]
    pub resolve_timeout: PromDuration,
    /// Default HTTP client settings for receivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
    /// Default email sender.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp_from: String,
    /// Default SMTP HELO name.
    #[serde(default = "default_smtp_hello")]
    pub smtp_hello: String,
    /// Default SMTP server, `host:port`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp_smarthost: String,
    /// Default SMTP user.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp_auth_username: String,
    /// Default SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password: Option<Secret>,
    /// Default SMTP password file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
    /// Default SMTP PLAIN identity.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp_auth_identity: String,
    /// Default SMTP CRAM-MD5 secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_secret: Option<Secret>,
    /// Default SMTP CRAM-MD5 secret file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_secret_file: Option<String>,
    /// Require STARTTLS (default true).
    #[serde(default = "default_true")]
    pub smtp_require_tls: bool,
    /// Default TLS settings for SMTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls_config: Option<TlsConfig>,
    /// Default Slack webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_api_url: Option<Secret>,
    /// File holding the default Slack webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_api_url_file: Option<String>,
    /// Default PagerDuty Events API URL.
    #[serde(default = "default_pagerduty_url")]
    pub pagerduty_url: String,
    /// Settings of integrations Aerowatch does not implement; accepted so that
    /// existing files load, ignored otherwise.
    #[serde(default, skip_serializing)]
    pub opsgenie_api_key: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub opsgenie_api_key_file: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub opsgenie_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub victorops_api_key: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub victorops_api_key_file: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub victorops_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub wechat_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub wechat_api_secret: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub wechat_api_corp_id: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub telegram_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub webex_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub jira_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_api_url: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_token: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_token_file: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_token_id: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_token_id_file: Option<serde_yaml::Value>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        // An empty mapping yields every default.
        serde_yaml::from_str("{}").unwrap_or_else(|e| unreachable!("empty global config: {e}"))
    }
}

/// A routing tree node as written in the file. [`crate::route::Route`] turns
/// it into the tree with inherited options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver for alerts ending at this node (inherited when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Grouping labels; `...` groups by all labels. Absent or empty inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Keep matching siblings after this node matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Deprecated equality matchers.
    #[serde(
        default,
        rename = "match",
        deserialize_with = "lenient_string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated regex matchers.
    #[serde(default, skip_serializing_if = "MatchRegexps::is_empty")]
    pub match_re: MatchRegexps,
    /// Matchers in Alertmanager syntax.
    #[serde(default, skip_serializing_if = "ConfigMatchers::is_empty")]
    pub matchers: ConfigMatchers,
    /// Named time intervals during which this node does not notify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    /// Named time intervals outside of which this node does not notify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    /// Child nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Wait before the first notification of a new group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<PromDuration>,
    /// Wait between notifications about changes in a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<PromDuration>,
    /// Wait before re-sending an unchanged notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<PromDuration>,
}

impl RouteConfig {
    /// The node's matchers (legacy and new, sorted).
    pub fn all_matchers(&self) -> Vec<Matcher> {
        // Validation compiled every regex already, so failures cannot happen
        // for a loaded config; an invalid one would simply match nothing new.
        combine_matchers(&self.match_eq, &self.match_re, &self.matchers).unwrap_or_default()
    }
}

/// A link in a PagerDuty event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyLink {
    /// Target URL (template).
    #[serde(default)]
    pub href: String,
    /// Link text (template).
    #[serde(default)]
    pub text: String,
}

/// An image in a PagerDuty event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyImage {
    /// Image URL (template).
    #[serde(default)]
    pub src: String,
    /// Alt text (template).
    #[serde(default)]
    pub alt: String,
    /// Link target (template).
    #[serde(default)]
    pub href: String,
}

fn pd_client() -> String {
    r#"{{ template "pagerduty.default.client" . }}"#.into()
}
fn pd_client_url() -> String {
    r#"{{ template "pagerduty.default.clientURL" . }}"#.into()
}
fn pd_description() -> String {
    r#"{{ template "pagerduty.default.description" .}}"#.into()
}
fn pd_severity() -> String {
    "error".into()
}

/// Alertmanager's default PagerDuty `details`, merged into configured ones.
pub fn default_pagerduty_details() -> BTreeMap<String, String> {
    [
        (
            "firing",
            r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
        ),
        (
            "resolved",
            r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
        ),
        ("num_firing", "{{ .Alerts.Firing | len }}"),
        ("num_resolved", "{{ .Alerts.Resolved | len }}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `pagerduty_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// Notify about resolved alerts (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Events API v2 integration key (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<Secret>,
    /// File holding the routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_file: Option<String>,
    /// Events API v1 ("Prometheus" integration type) key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_key: Option<Secret>,
    /// File holding the service key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_key_file: Option<String>,
    /// API URL (default `global.pagerduty_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Client name (template).
    #[serde(default = "pd_client")]
    pub client: String,
    /// Client URL (template).
    #[serde(default = "pd_client_url")]
    pub client_url: String,
    /// Incident description (template).
    #[serde(default = "pd_description")]
    pub description: String,
    /// Custom details (templates); Alertmanager's defaults are merged in.
    #[serde(default, deserialize_with = "lenient_string_map")]
    pub details: BTreeMap<String, String>,
    /// Attached images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PagerdutyImage>,
    /// Attached links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<PagerdutyLink>,
    /// Event source (template; defaults to `client` at send time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Severity (template).
    #[serde(default = "pd_severity")]
    pub severity: String,
    /// Event class (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Component (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Group (template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// HTTP client settings (default `global.http_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
}

/// A Slack attachment field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    /// Title (template).
    #[serde(default)]
    pub title: String,
    /// Value (template).
    #[serde(default)]
    pub value: String,
    /// Short layout (default `short_fields`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

/// Confirmation dialog of a Slack action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirmationField {
    /// Text (template).
    #[serde(default)]
    pub text: String,
    /// Title (template).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// OK button text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ok_text: String,
    /// Dismiss button text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dismiss_text: String,
}

/// A Slack attachment action (button).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    /// Action type, e.g. `button`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Button text (template).
    #[serde(default)]
    pub text: String,
    /// Link (template).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Style (`primary`, `danger`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub style: String,
    /// Name for interactive messages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Value for interactive messages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Confirmation dialog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<SlackConfirmationField>,
}

fn slack_username() -> String {
    r#"{{ template "slack.default.username" . }}"#.into()
}
fn slack_color() -> String {
    r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.into()
}
fn slack_title() -> String {
    r#"{{ template "slack.default.title" . }}"#.into()
}
fn slack_title_link() -> String {
    r#"{{ template "slack.default.titlelink" . }}"#.into()
}
fn slack_pretext() -> String {
    r#"{{ template "slack.default.pretext" . }}"#.into()
}
fn slack_text() -> String {
    r#"{{ template "slack.default.text" . }}"#.into()
}
fn slack_fallback() -> String {
    r#"{{ template "slack.default.fallback" . }}"#.into()
}
fn slack_callback_id() -> String {
    r#"{{ template "slack.default.callbackid" . }}"#.into()
}
fn slack_icon_emoji() -> String {
    r#"{{ template "slack.default.iconemoji" . }}"#.into()
}
fn slack_icon_url() -> String {
    r#"{{ template "slack.default.iconurl" . }}"#.into()
}
fn slack_footer() -> String {
    r#"{{ template "slack.default.footer" . }}"#.into()
}
fn slack_mrkdwn_in() -> Vec<String> {
    vec!["fallback".into(), "pretext".into(), "text".into()]
}

/// `slack_configs` entry.
///
/// Aerowatch extension: `token` / `token_file` hold a Slack bot token. When
/// one is set the delivery code calls the Web API method `chat.postMessage`
/// (at `api_url`, default `https://slack.com/api/chat.postMessage`) with an
/// `Authorization: Bearer` header, instead of posting to an incoming webhook;
/// `channel` is then required. Alertmanager itself expects the bot token in
/// `http_config.authorization`, which also works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Notify about resolved alerts (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// Webhook URL (default `global.slack_api_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Secret>,
    /// File holding the webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url_file: Option<String>,
    /// Aerowatch: bot token for `chat.postMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Aerowatch: file holding the bot token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// Channel or user (template).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// Bot user name (template).
    #[serde(default = "slack_username")]
    pub username: String,
    /// Attachment colour (template).
    #[serde(default = "slack_color")]
    pub color: String,
    /// Title (template).
    #[serde(default = "slack_title")]
    pub title: String,
    /// Title link (template).
    #[serde(default = "slack_title_link")]
    pub title_link: String,
    /// Pretext (template).
    #[serde(default = "slack_pretext")]
    pub pretext: String,
    /// Body text (template).
    #[serde(default = "slack_text")]
    pub text: String,
    /// Attachment fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    /// Default for fields' `short`.
    #[serde(default)]
    pub short_fields: bool,
    /// Footer (template).
    #[serde(default = "slack_footer")]
    pub footer: String,
    /// Fallback text (template).
    #[serde(default = "slack_fallback")]
    pub fallback: String,
    /// Callback id (template).
    #[serde(default = "slack_callback_id")]
    pub callback_id: String,
    /// Icon emoji (template).
    #[serde(default = "slack_icon_emoji")]
    pub icon_emoji: String,
    /// Icon URL (template).
    #[serde(default = "slack_icon_url")]
    pub icon_url: String,
    /// Image URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    /// Thumbnail URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    /// Link channel names and user names.
    #[serde(default)]
    pub link_names: bool,
    /// Fields rendered as markdown.
    #[serde(default = "slack_mrkdwn_in")]
    pub mrkdwn_in: Vec<String>,
    /// Buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<SlackAction>,
    /// HTTP client settings (default `global.http_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
}

fn email_html() -> String {
    r#"{{ template "email.default.html" . }}"#.into()
}

/// `email_configs` entry. Unset SMTP fields are filled from `global` at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Notify about resolved alerts (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// Recipients (template, comma separated).
    #[serde(default)]
    pub to: String,
    /// Sender (template).
    #[serde(default)]
    pub from: String,
    /// SMTP server `host:port`.
    #[serde(default)]
    pub smarthost: String,
    /// HELO name.
    #[serde(default)]
    pub hello: String,
    /// SMTP user.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_username: String,
    /// SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<Secret>,
    /// SMTP password file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password_file: Option<String>,
    /// CRAM-MD5 secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<Secret>,
    /// PLAIN identity.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_identity: String,
    /// Extra headers (templates); names are canonicalised (`subject` → `Subject`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// HTML body (template).
    #[serde(default = "email_html")]
    pub html: String,
    /// Text body (template).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Require STARTTLS (default `global.smtp_require_tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    /// TLS settings (default `global.smtp_tls_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

/// `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Notify about resolved alerts (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// File holding the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// Maximum alerts per message (0 = all).
    #[serde(default)]
    pub max_alerts: u64,
    /// Request timeout (0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// HTTP client settings (default `global.http_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_config: Option<HttpConfig>,
}

/// The Alertmanager integrations Aerowatch does not implement.
const UNSUPPORTED_INTEGRATIONS: [&str; 14] = [
    "discord_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "jira_configs",
    "rocketchat_configs",
    "incidentio_configs",
    "mattermost_configs",
];

/// `receivers` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Unique name referenced by routes.
    #[serde(default)]
    pub name: String,
    /// Email integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    /// PagerDuty integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    /// Slack integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// Webhook integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub discord_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub opsgenie_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub wechat_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub pushover_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub victorops_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub sns_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub telegram_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub webex_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub msteams_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub msteamsv2_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub jira_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub rocketchat_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub incidentio_configs: Option<serde_yaml::Value>,
    #[allow(missing_docs)]
    #[serde(default, skip_serializing)]
    pub mattermost_configs: Option<serde_yaml::Value>,
}

impl Receiver {
    fn unsupported(&self) -> Option<&'static str> {
        let present = [
            &self.discord_configs,
            &self.opsgenie_configs,
            &self.wechat_configs,
            &self.pushover_configs,
            &self.victorops_configs,
            &self.sns_configs,
            &self.telegram_configs,
            &self.webex_configs,
            &self.msteams_configs,
            &self.msteamsv2_configs,
            &self.jira_configs,
            &self.rocketchat_configs,
            &self.incidentio_configs,
            &self.mattermost_configs,
        ];
        present
            .iter()
            .zip(UNSUPPORTED_INTEGRATIONS)
            .find(|(v, _)| v.is_some())
            .map(|(_, name)| name)
    }

    /// The receiver's integrations in Alertmanager's order (email, PagerDuty,
    /// Slack, webhook), each with its per-kind index; the pair identifies the
    /// integration in the notification log.
    pub fn integrations(&self) -> Vec<IntegrationConfig> {
        let mut out = Vec::new();
        out.extend(self.email_configs.iter().cloned().map(IntegrationConfig::Email));
        out.extend(self.pagerduty_configs.iter().cloned().map(IntegrationConfig::Pagerduty));
        out.extend(self.slack_configs.iter().cloned().map(IntegrationConfig::Slack));
        out.extend(self.webhook_configs.iter().cloned().map(IntegrationConfig::Webhook));
        out
    }
}

/// One configured integration of a receiver.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationConfig {
    /// `email_configs[i]`
    Email(EmailConfig),
    /// `pagerduty_configs[i]`
    Pagerduty(PagerdutyConfig),
    /// `slack_configs[i]`
    Slack(SlackConfig),
    /// `webhook_configs[i]`
    Webhook(WebhookConfig),
}

impl IntegrationConfig {
    /// Alertmanager's integration name (`email`, `pagerduty`, `slack`, `webhook`).
    pub fn name(&self) -> &'static str {
        match self {
            IntegrationConfig::Email(_) => "email",
            IntegrationConfig::Pagerduty(_) => "pagerduty",
            IntegrationConfig::Slack(_) => "slack",
            IntegrationConfig::Webhook(_) => "webhook",
        }
    }

    /// Whether resolved alerts are sent to this integration.
    pub fn send_resolved(&self) -> bool {
        match self {
            IntegrationConfig::Email(c) => c.send_resolved,
            IntegrationConfig::Pagerduty(c) => c.send_resolved,
            IntegrationConfig::Slack(c) => c.send_resolved,
            IntegrationConfig::Webhook(c) => c.send_resolved,
        }
    }
}

/// `inhibit_rules` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Optional name (newer Alertmanager versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Deprecated source equality matchers.
    #[serde(
        default,
        deserialize_with = "lenient_string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated source regex matchers.
    #[serde(default, skip_serializing_if = "MatchRegexps::is_empty")]
    pub source_match_re: MatchRegexps,
    /// Source matchers.
    #[serde(default, skip_serializing_if = "ConfigMatchers::is_empty")]
    pub source_matchers: ConfigMatchers,
    /// Deprecated target equality matchers.
    #[serde(
        default,
        deserialize_with = "lenient_string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated target regex matchers.
    #[serde(default, skip_serializing_if = "MatchRegexps::is_empty")]
    pub target_match_re: MatchRegexps,
    /// Target matchers.
    #[serde(default, skip_serializing_if = "ConfigMatchers::is_empty")]
    pub target_matchers: ConfigMatchers,
    /// Labels whose values must be equal on source and target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

/// A named list of time intervals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeInterval {
    /// Name referenced by routes.
    #[serde(default)]
    pub name: String,
    /// The intervals; the name matches when any of them contains the time.
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

/// What the YAML looks like before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    route: Option<RouteConfig>,
    #[serde(default)]
    inhibit_rules: Option<Vec<InhibitRuleConfig>>,
    #[serde(default)]
    receivers: Option<Vec<Receiver>>,
    #[serde(default)]
    templates: Option<Vec<String>>,
    #[serde(default)]
    mute_time_intervals: Option<Vec<NamedTimeInterval>>,
    #[serde(default)]
    time_intervals: Option<Vec<NamedTimeInterval>>,
}

/// A loaded and validated alertmanager.yml.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// `global:` with defaults.
    pub global: GlobalConfig,
    /// The root route.
    pub route: RouteConfig,
    /// `inhibit_rules:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// `receivers:` (email fields filled from `global`).
    pub receivers: Vec<Receiver>,
    /// `templates:` globs, as written.
    pub templates: Vec<String>,
    /// Deprecated `mute_time_intervals:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    /// `time_intervals:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<NamedTimeInterval>,
    #[serde(skip)]
    original: String,
    #[serde(skip)]
    file: String,
}

impl Config {
    /// Parses and validates alertmanager.yml text. `file` names the source in
    /// errors.
    pub fn parse(src: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(src).map_err(|e| yaml_error(file, e, Some(src)))?;
        let mut cfg = Config::from_raw(raw, file, src.to_string())?;
        cfg.validate(Some(src))?;
        Ok(cfg)
    }

    /// Builds a config from an already parsed YAML value (e.g. the
    /// `alertmanager:` section of Aerowatch's own file). Errors name `file`
    /// but carry no line numbers.
    pub fn from_value(value: serde_yaml::Value, file: &str) -> Result<Config, ConfigError> {
        let original = serde_yaml::to_string(&value).unwrap_or_default();
        let raw: RawConfig = serde_yaml::from_value(value).map_err(|e| yaml_error(file, e, None))?;
        let mut cfg = Config::from_raw(raw, file, original)?;
        cfg.validate(None)?;
        Ok(cfg)
    }

    /// Reads and parses a file (blocking I/O: call from a sync context or
    /// `spawn_blocking`).
    pub fn load_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Config::parse(&src, &file)
    }

    fn from_raw(raw: RawConfig, file: &str, original: String) -> Result<Config, ConfigError> {
        let route = raw.route.ok_or_else(|| ConfigError {
            file: file.to_string(),
            line: None,
            message: "no route provided in config".into(),
        })?;
        Ok(Config {
            global: raw.global.unwrap_or_default(),
            route,
            inhibit_rules: raw.inhibit_rules.unwrap_or_default(),
            receivers: raw.receivers.unwrap_or_default(),
            templates: raw.templates.unwrap_or_default(),
            mute_time_intervals: raw.mute_time_intervals.unwrap_or_default(),
            time_intervals: raw.time_intervals.unwrap_or_default(),
            original,
            file: file.to_string(),
        })
    }

    /// The text the config was loaded from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The config as YAML with every secret replaced by `<secret>`; what
    /// Alertmanager's `/api/v2/status` shows as `config.original`.
    pub fn to_masked_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("<error creating config string: {e}>"))
    }

    /// The receiver called `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// All named time intervals (deprecated and new lists together).
    pub fn named_time_intervals(&self) -> impl Iterator<Item = &NamedTimeInterval> {
        self.mute_time_intervals.iter().chain(self.time_intervals.iter())
    }

    fn validate(&mut self, src: Option<&str>) -> Result<(), ConfigError> {
        let file = self.file.clone();
        let err = |line: Option<usize>, message: String| ConfigError {
            file: file.clone(),
            line,
            message,
        };
        let find = |key: &str, value: Option<&str>, nth: usize| src.and_then(|s| locate(s, key, value, nth));

        let g = &self.global;
        if g.slack_api_url.is_some() && g.slack_api_url_file.is_some() {
            return Err(err(
                find("slack_api_url", None, 0),
                "global: at most one of slack_api_url & slack_api_url_file must be configured".into(),
            ));
        }
        if g.smtp_auth_password.is_some() && g.smtp_auth_password_file.is_some() {
            return Err(err(
                find("smtp_auth_password", None, 0),
                "global: at most one of smtp_auth_password & smtp_auth_password_file must be configured".into(),
            ));
        }

        let global = self.global.clone();
        let mut names: HashSet<String> = HashSet::new();
        let mut name_seen: BTreeMap<String, usize> = BTreeMap::new();
        for rcv in &mut self.receivers {
            let occurrence = *name_seen.get(&rcv.name).unwrap_or(&0);
            name_seen.insert(rcv.name.clone(), occurrence + 1);
            let line = find("name", Some(&rcv.name), occurrence);
            if rcv.name.is_empty() {
                return Err(err(
                    find("receivers", None, 0),
                    "receivers: missing name in receiver".into(),
                ));
            }
            if !names.insert(rcv.name.clone()) {
                return Err(err(
                    line,
                    format!("receivers: notification config name {:?} is not unique", rcv.name),
                ));
            }
            if let Some(kind) = rcv.unsupported() {
                return Err(err(
                    find(kind, None, 0).or(line),
                    format!(
                        "receiver {:?}: {kind} are not supported by Aerowatch (supported: email_configs, pagerduty_configs, slack_configs, webhook_configs)",
                        rcv.name
                    ),
                ));
            }
            let ctx = |what: &str| format!("receiver {:?}: {what}", rcv.name);
            for ec in &mut rcv.email_configs {
                if ec.to.is_empty() {
                    return Err(err(line, ctx("missing to address in email config")));
                }
                if ec.smarthost.is_empty() {
                    if global.smtp_smarthost.is_empty() {
                        return Err(err(line, ctx("no global SMTP smarthost set")));
                    }
                    ec.smarthost = global.smtp_smarthost.clone();
                }
                if ec.from.is_empty() {
                    if global.smtp_from.is_empty() {
                        return Err(err(line, ctx("no global SMTP from set")));
                    }
                    ec.from = global.smtp_from.clone();
                }
                if ec.hello.is_empty() {
                    ec.hello = global.smtp_hello.clone();
                }
                if ec.auth_username.is_empty() {
                    ec.auth_username = global.smtp_auth_username.clone();
                }
                if ec.auth_password.is_none() && ec.auth_password_file.is_none() {
                    ec.auth_password = global.smtp_auth_password.clone();
                    ec.auth_password_file = global.smtp_auth_password_file.clone();
                }
                if ec.auth_password.is_some() && ec.auth_password_file.is_some() {
                    return Err(err(
                        line,
                        ctx("at most one of auth_password & auth_password_file must be configured"),
                    ));
                }
                if ec.auth_secret.is_none() {
                    ec.auth_secret = global.smtp_auth_secret.clone();
                }
                if ec.auth_identity.is_empty() {
                    ec.auth_identity = global.smtp_auth_identity.clone();
                }
                if ec.require_tls.is_none() {
                    ec.require_tls = Some(global.smtp_require_tls);
                }
                if ec.tls_config.is_none() {
                    ec.tls_config = global.smtp_tls_config.clone();
                }
                let mut headers = BTreeMap::new();
                for (k, v) in std::mem::take(&mut ec.headers) {
                    let canon = canonical_header(&k);
                    if headers.insert(canon.clone(), v).is_some() {
                        return Err(err(line, ctx(&format!("duplicate header {canon:?} in email config"))));
                    }
                }
                ec.headers = headers;
            }
            for pd in &mut rcv.pagerduty_configs {
                let keys = [
                    pd.routing_key.is_some(),
                    pd.routing_key_file.is_some(),
                    pd.service_key.is_some(),
                    pd.service_key_file.is_some(),
                ];
                if !keys.iter().any(|k| *k) {
                    return Err(err(line, ctx("missing service or routing key in PagerDuty config")));
                }
                if keys[0] && keys[1] {
                    return Err(err(
                        line,
                        ctx("at most one of routing_key & routing_key_file must be configured"),
                    ));
                }
                if keys[2] && keys[3] {
                    return Err(err(
                        line,
                        ctx("at most one of service_key & service_key_file must be configured"),
                    ));
                }
                if pd.url.is_none() {
                    pd.url = Some(global.pagerduty_url.clone());
                }
                if pd.http_config.is_none() {
                    pd.http_config = global.http_config.clone();
                }
                for (k, v) in default_pagerduty_details() {
                    pd.details.entry(k).or_insert(v);
                }
            }
            for sc in &mut rcv.slack_configs {
                if sc.api_url.is_some() && sc.api_url_file.is_some() {
                    return Err(err(
                        line,
                        ctx("at most one of api_url & api_url_file must be configured"),
                    ));
                }
                if sc.token.is_some() && sc.token_file.is_some() {
                    return Err(err(line, ctx("at most one of token & token_file must be configured")));
                }
                let has_token = sc.token.is_some() || sc.token_file.is_some();
                if has_token && sc.channel.is_empty() {
                    return Err(err(
                        line,
                        ctx("channel is required when a Slack bot token is configured"),
                    ));
                }
                if sc.api_url.is_none() && sc.api_url_file.is_none() && !has_token {
                    if global.slack_api_url.is_none() && global.slack_api_url_file.is_none() {
                        return Err(err(line, ctx("no global Slack API URL set either inline or in a file")));
                    }
                    sc.api_url = global.slack_api_url.clone();
                    sc.api_url_file = global.slack_api_url_file.clone();
                }
                if sc.http_config.is_none() {
                    sc.http_config = global.http_config.clone();
                }
            }
            for wh in &mut rcv.webhook_configs {
                match (&wh.url, &wh.url_file) {
                    (None, None) => return Err(err(line, ctx("one of url or url_file must be configured"))),
                    (Some(_), Some(_)) => {
                        return Err(err(line, ctx("at most one of url & url_file must be configured")))
                    }
                    _ => {}
                }
                if wh.http_config.is_none() {
                    wh.http_config = global.http_config.clone();
                }
            }
        }

        let route = &self.route;
        let root_err = |m: &str| err(find("route", None, 0), format!("route: {m}"));
        if route.continue_matching {
            return Err(root_err("cannot have continue in root route"));
        }
        match &route.receiver {
            None => return Err(root_err("root route must specify a default receiver")),
            Some(r) if r.is_empty() => return Err(root_err("root route must specify a default receiver")),
            _ => {}
        }
        if !route.match_eq.is_empty() || !route.match_re.is_empty() || !route.matchers.is_empty() {
            return Err(root_err("root route must not have any matchers"));
        }
        if !route.mute_time_intervals.is_empty() {
            return Err(root_err("root route must not have any mute time intervals"));
        }
        if !route.active_time_intervals.is_empty() {
            return Err(root_err("root route must not have any active time intervals"));
        }

        let mut ti_names = HashSet::new();
        for (list, what) in [
            (&self.mute_time_intervals, "mute_time_intervals"),
            (&self.time_intervals, "time_intervals"),
        ] {
            for ti in list {
                if ti.name.is_empty() {
                    return Err(err(
                        find(what, None, 0),
                        format!("{what}: missing name in time interval"),
                    ));
                }
                if !ti_names.insert(ti.name.clone()) {
                    return Err(err(
                        find("name", Some(&ti.name), 1),
                        format!("{what}: time interval {:?} is not unique", ti.name),
                    ));
                }
            }
        }

        check_route(route, "route", &names, &ti_names, &|key, value| find(key, value, 0))
            .map_err(|(line, m)| err(line, m))?;

        for (i, rule) in self.inhibit_rules.iter().enumerate() {
            let ctx = format!("inhibit_rules[{i}]");
            for k in rule.source_match.keys().chain(rule.target_match.keys()) {
                if !is_valid_label_name(k) {
                    return Err(err(find(k, None, 0), format!("{ctx}: invalid label name {k:?}")));
                }
            }
            for l in &rule.equal {
                if !is_valid_label_name(l) {
                    return Err(err(
                        find("equal", None, 0),
                        format!("{ctx}: invalid label name {l:?} in equal list"),
                    ));
                }
            }
        }
        Ok(())
    }
}

type Locator<'a> = dyn Fn(&str, Option<&str>) -> Option<usize> + 'a;

fn check_route(
    r: &RouteConfig,
    path: &str,
    receivers: &HashSet<String>,
    intervals: &HashSet<String>,
    find: &Locator<'_>,
) -> Result<(), (Option<usize>, String)> {
    if let Some(rcv) = &r.receiver {
        if !rcv.is_empty() && !receivers.contains(rcv) {
            return Err((
                find("receiver", Some(rcv)),
                format!("{path}: receiver {rcv:?} is not defined"),
            ));
        }
    }
    if let Some(gb) = &r.group_by {
        let mut seen = HashSet::new();
        let all = gb.iter().any(|l| l == "...");
        for l in gb {
            if l == "..." {
                continue;
            }
            if !is_valid_label_name(l) {
                return Err((
                    find("group_by", None),
                    format!("{path}: invalid label name {l:?} in group_by list"),
                ));
            }
            if !seen.insert(l) {
                return Err((
                    find("group_by", None),
                    format!("{path}: duplicated label {l:?} in group_by"),
                ));
            }
        }
        if all && gb.len() > 1 {
            return Err((
                find("group_by", None),
                format!("{path}: cannot have wildcard group_by (`...`) and other labels at the same time"),
            ));
        }
    }
    if r.group_interval.is_some_and(|d| d.get().is_zero()) {
        return Err((
            find("group_interval", None),
            format!("{path}: group_interval cannot be zero"),
        ));
    }
    if r.repeat_interval.is_some_and(|d| d.get().is_zero()) {
        return Err((
            find("repeat_interval", None),
            format!("{path}: repeat_interval cannot be zero"),
        ));
    }
    for k in r.match_eq.keys() {
        if !is_valid_label_name(k) {
            return Err((find(k, None), format!("{path}: invalid label name {k:?}")));
        }
    }
    for name in r.mute_time_intervals.iter().chain(r.active_time_intervals.iter()) {
        if !intervals.contains(name) {
            let line = find("mute_time_intervals", Some(name))
                .or_else(|| find("active_time_intervals", Some(name)))
                .or_else(|| find("-", Some(name)));
            return Err((line, format!("{path}: undefined time interval {name:?} used in route")));
        }
    }
    for (i, child) in r.routes.iter().enumerate() {
        check_route(child, &format!("{path}.routes[{i}]"), receivers, intervals, find)?;
    }
    Ok(())
}

/// Go's `textproto.CanonicalMIMEHeaderKey`-style casing (`x-foo` → `X-Foo`).
fn canonical_header(h: &str) -> String {
    h.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c.flat_map(|x| x.to_lowercase())).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

fn yaml_error(file: &str, e: serde_yaml::Error, src: Option<&str>) -> ConfigError {
    let mut line = e.location().map(|l| l.line());
    let mut message = e.to_string();
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // For a bad scalar inside a mapping the parser reports where the mapping
    // starts; when the message quotes the offending value, point at the first
    // line from there on that contains it.
    if let (Some(l), Some(src)) = (line, src) {
        let tail = message.rsplit(": ").next().map(str::to_string);
        let needles = [first_quoted(&message), tail];
        if let Some(off) = needles.iter().flatten().filter(|n| !n.is_empty()).find_map(|needle| {
            src.lines()
                .skip(l.saturating_sub(1))
                .position(|text| text.contains(needle.as_str()))
        }) {
            line = Some(l + off);
        }
    }
    ConfigError {
        file: file.to_string(),
        line,
        message,
    }
}

/// The first `"..."` string in an error message, unescaped minimally.
fn first_quoted(msg: &str) -> Option<String> {
    let start = msg.find('"')? + 1;
    let mut out = String::new();
    let mut chars = msg[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out).filter(|s| !s.is_empty()),
            c => out.push(c),
        }
    }
    None
}

/// Finds the 1-based line of the `nth` occurrence (0-based) of `key:` whose
/// value (unquoted, comment stripped) is `value`, or of any `key:` when
/// `value` is `None`. The key `-` finds list items. Flow lists (`[a, b]`)
/// count as containing their items.
fn locate(src: &str, key: &str, value: Option<&str>, nth: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, raw_line) in src.lines().enumerate() {
        let mut line = raw_line.trim_start();
        if key != "-" {
            while let Some(rest) = line.strip_prefix("- ") {
                line = rest.trim_start();
            }
        }
        let rest = if key == "-" {
            line.strip_prefix('-')
        } else {
            line.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix(':'))
        };
        let Some(rest) = rest else { continue };
        let rest = strip_comment(rest).trim();
        let hit = match value {
            None => true,
            Some(v) => {
                unquote(rest) == v
                    || rest
                        .strip_prefix('[')
                        .and_then(|r| r.strip_suffix(']'))
                        .is_some_and(|items| items.split(',').any(|it| unquote(it.trim()) == v))
            }
        };
        if hit {
            if seen == nth {
                return Some(i + 1);
            }
            seen += 1;
        }
    }
    None
}

fn strip_comment(s: &str) -> &str {
    let mut in_single = false;
    let mut in_double = false;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && prev.is_whitespace() => return &s[..i],
            _ => {}
        }
        prev = c;
    }
    s
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests;
