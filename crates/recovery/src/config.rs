//! The `recovery:` configuration: the YAML shape ([`StrategyConfig`]) and its
//! validated form ([`Strategy`]).
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use model::PromDuration;
use serde::{Deserialize, Serialize};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_BACKOFF: Duration = Duration::from_secs(5);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(120);
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(600);
const DEFAULT_BREAKER_FAILURES: u32 = 3;
const DEFAULT_BREAKER_WINDOW: Duration = Duration::from_secs(3600);

/// A file holding only the `recovery:` section (the server may instead embed
/// `Vec<StrategyConfig>` in its own config struct).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    /// Every configured strategy.
    #[serde(default)]
    pub recovery: Vec<StrategyConfig>,
}

impl RecoveryConfig {
    /// Parses YAML text; only shape is checked, see [`RecoveryConfig::validate`].
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        serde_yaml::from_str(text).map_err(|e| ConfigError {
            problems: vec![e.to_string()],
        })
    }

    /// Checks every rule and reports all problems at once. With `known_checks`,
    /// a check trigger naming a check that does not exist is a problem too.
    pub fn validate(&self, known_checks: Option<&[String]>) -> Result<Vec<Strategy>, ConfigError> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.recovery.len());
        for s in &self.recovery {
            if s.name.trim().is_empty() {
                problems.push("recovery strategy with an empty name".to_string());
            } else if !seen.insert(s.name.as_str()) {
                problems.push(format!("recovery strategy {:?}: duplicate name", s.name));
            }
            let before = problems.len();
            let compiled = s.compile(known_checks, &mut problems);
            if problems.len() == before {
                if let Some(c) = compiled {
                    out.push(c);
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

/// Every problem found in a configuration, each naming its strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid recovery configuration: {}", problems.join("; "))]
pub struct ConfigError {
    /// One human-readable message per problem.
    pub problems: Vec<String>,
}

/// One strategy as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Unique name; the `strategy` label and the key of persisted state.
    pub name: String,
    /// What starts a recovery.
    pub trigger: TriggerConfig,
    /// What a recovery attempt does.
    pub action: ActionConfig,
    /// Extra environment for command actions (added to the server's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory for command actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Bound on one action run (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// Attempts per recovery (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Base of the exponential backoff between attempts (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<PromDuration>,
    /// Cap of the backoff (default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<PromDuration>,
    /// Quiet period after a recovery ends (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<PromDuration>,
    /// Stop trying after repeated failed recoveries (default 3 within 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<BreakerConfig>,
    /// Log and record, run nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Down transitions of the check needed before a recovery starts (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
}

/// `{ check: name }` or `{ alert: name }`; exactly one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// A probes check going down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// An alert firing (delivered through [`crate::Engine::trigger_alert`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
}

/// `{ command: [argv...] }` or `{ http: {...} }`; exactly one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Program and arguments, run without a shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// An HTTP request; any 2xx response is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpActionConfig>,
    /// A systemd unit operation, run as `systemctl <operation> <unit>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdActionConfig>,
}

/// A systemd action as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdActionConfig {
    /// The unit, e.g. `web.service`.
    pub unit: String,
    /// `restart` (default), `start`, `reload`, `reload-or-restart` or `try-restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// systemctl operations a recovery may run.
const SYSTEMD_OPERATIONS: [&str; 5] = ["restart", "start", "reload", "reload-or-restart", "try-restart"];

/// An HTTP action as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpActionConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Default POST: actions change things.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failed recoveries within `window` that open the breaker.
    pub failures: u32,
    /// Counting window, and how long the breaker stays open.
    pub window: PromDuration,
}

/// What starts a validated strategy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A probes check going down; recoveries are verified by re-running it.
    Check(String),
    /// A firing alert; there is no check to verify, so action success counts as recovered.
    Alert(String),
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Check(c) => write!(f, "check:{c}"),
            Trigger::Alert(a) => write!(f, "alert:{a}"),
        }
    }
}

/// A validated action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a program directly.
    Command {
        /// Program and arguments; never empty.
        argv: Vec<String>,
        /// Extra environment.
        env: BTreeMap<String, String>,
        /// Working directory.
        dir: Option<PathBuf>,
    },
    /// Send a request.
    Http {
        /// Target.
        url: reqwest::Url,
        /// Method.
        method: reqwest::Method,
        /// Headers.
        headers: BTreeMap<String, String>,
        /// Body.
        body: Option<String>,
    },
}

impl Action {
    /// A one-line description for the audit log.
    pub fn summary(&self) -> String {
        match self {
            Action::Command { argv, .. } => format!("command: {}", argv.join(" ")),
            Action::Http { url, method, .. } => format!("http: {method} {url}"),
        }
    }
}

/// A validated strategy, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    /// Unique name.
    pub name: String,
    /// What starts it.
    pub trigger: Trigger,
    /// What each attempt does.
    pub action: Action,
    /// Bound on one action run and on one verification.
    pub timeout: Duration,
    /// Attempts per recovery, at least 1.
    pub max_attempts: u32,
    /// Backoff base.
    pub backoff: Duration,
    /// Backoff cap, at least `backoff`.
    pub max_backoff: Duration,
    /// Quiet period after a recovery ends.
    pub cooldown: Duration,
    /// Failed recoveries within `breaker_window` that open the breaker.
    pub breaker_failures: u32,
    /// Breaker counting window and open duration.
    pub breaker_window: Duration,
    /// Record without running.
    pub dry_run: bool,
    /// Down transitions needed before triggering.
    pub failure_threshold: u32,
}

impl StrategyConfig {
    fn compile(&self, known_checks: Option<&[String]>, problems: &mut Vec<String>) -> Option<Strategy> {
        let name = &self.name;
        let mut p = |msg: String| problems.push(format!("recovery strategy {name:?}: {msg}"));

        let trigger = match (&self.trigger.check, &self.trigger.alert) {
            (Some(c), None) if c.trim().is_empty() => {
                p("trigger.check is empty".to_string());
                None
            }
            (Some(c), None) => {
                if let Some(known) = known_checks {
                    if !known.iter().any(|k| k == c) {
                        p(format!("trigger.check {c:?} is not a configured check"));
                    }
                }
                Some(Trigger::Check(c.clone()))
            }
            (None, Some(a)) if a.trim().is_empty() => {
                p("trigger.alert is empty".to_string());
                None
            }
            (None, Some(a)) => Some(Trigger::Alert(a.clone())),
            _ => {
                p("trigger needs exactly one of check or alert".to_string());
                None
            }
        };

        let systemd_argv = self.action.systemd.as_ref().and_then(|sd| {
            let operation = sd.operation.as_deref().unwrap_or("restart");
            let operation_ok = SYSTEMD_OPERATIONS.contains(&operation);
            if !operation_ok {
                p(format!(
                    "action.systemd.operation {operation:?} is not one of {}",
                    SYSTEMD_OPERATIONS.join(", ")
                ));
            }
            // A unit name never starts with '-' (it would read as an option) nor holds spaces.
            let unit_ok = !sd.unit.is_empty() && !sd.unit.starts_with('-') && !sd.unit.contains(char::is_whitespace);
            if !unit_ok {
                p(format!("action.systemd.unit {:?} is not a unit name", sd.unit));
            }
            if !(operation_ok && unit_ok) {
                return None;
            }
            Some(vec![
                "systemctl".to_string(),
                "--no-ask-password".to_string(),
                operation.to_string(),
                sd.unit.clone(),
            ])
        });
        let kinds = [
            self.action.command.is_some(),
            self.action.http.is_some(),
            self.action.systemd.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            p("action needs exactly one of command, http or systemd".to_string());
        }
        let action = match (&self.action.command, &self.action.http) {
            _ if self.action.systemd.is_some() => systemd_argv.map(|argv| Action::Command {
                argv,
                env: self.env.clone(),
                dir: self.dir.clone(),
            }),
            (Some(argv), None) => {
                if argv.first().is_none_or(|prog| prog.trim().is_empty()) {
                    p("action.command needs a non-empty argv (program first)".to_string());
                    None
                } else {
                    Some(Action::Command {
                        argv: argv.clone(),
                        env: self.env.clone(),
                        dir: self.dir.clone(),
                    })
                }
            }
            (None, Some(h)) => {
                if !self.env.is_empty() || self.dir.is_some() {
                    p("env and dir only apply to command actions".to_string());
                }
                let url = match reqwest::Url::parse(&h.url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                    Ok(u) => {
                        p(format!(
                            "action.http.url {:?}: scheme {:?} is not http(s)",
                            h.url,
                            u.scheme()
                        ));
                        None
                    }
                    Err(e) => {
                        p(format!("action.http.url {:?}: {e}", h.url));
                        None
                    }
                };
                let method_text = h.method.as_deref().unwrap_or("POST");
                let method = match reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes()) {
                    Ok(m) => Some(m),
                    Err(_) => {
                        p(format!("action.http.method {method_text:?} is not a valid method"));
                        None
                    }
                };
                for k in h.headers.keys() {
                    if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                        p(format!("action.http.headers: {k:?} is not a valid header name"));
                    }
                }
                match (url, method) {
                    (Some(url), Some(method)) => Some(Action::Http {
                        url,
                        method,
                        headers: h.headers.clone(),
                        body: h.body.clone(),
                    }),
                    _ => None,
                }
            }
            (None, None) => {
                p("action needs exactly one of command, http or systemd".to_string());
                None
            }
            _ => None,
        };

        let timeout = self.timeout.map_or(DEFAULT_TIMEOUT, PromDuration::get);
        if timeout.is_zero() {
            p("timeout must be > 0".to_string());
        }
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts < 1 {
            p("max_attempts must be >= 1".to_string());
        }
        let backoff = self.backoff.map_or(DEFAULT_BACKOFF, PromDuration::get);
        let max_backoff = self
            .max_backoff
            .map_or(DEFAULT_MAX_BACKOFF.max(backoff), PromDuration::get);
        if backoff > max_backoff {
            p(format!(
                "backoff {} must be <= max_backoff {}",
                PromDuration(backoff),
                PromDuration(max_backoff)
            ));
        }
        let cooldown = self.cooldown.map_or(DEFAULT_COOLDOWN, PromDuration::get);
        let (breaker_failures, breaker_window) = match self.circuit_breaker {
            Some(b) => (b.failures, b.window.get()),
            None => (DEFAULT_BREAKER_FAILURES, DEFAULT_BREAKER_WINDOW),
        };
        if breaker_failures < 1 {
            p("circuit_breaker.failures must be >= 1".to_string());
        }
        if breaker_window.is_zero() {
            p("circuit_breaker.window must be > 0".to_string());
        }
        let failure_threshold = self.failure_threshold.unwrap_or(1);
        if failure_threshold < 1 {
            p("failure_threshold must be >= 1".to_string());
        }

        Some(Strategy {
            name: self.name.clone(),
            trigger: trigger?,
            action: action?,
            timeout,
            max_attempts,
            backoff,
            max_backoff,
            cooldown,
            breaker_failures,
            breaker_window,
            dry_run: self.dry_run,
            failure_threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
recovery:
  - name: restart-web
    trigger: { check: web }
    action: { command: [ systemctl, restart, web ] }
    env: { FOO: bar }
    dir: /tmp
    timeout: 30s
    max_attempts: 3
    backoff: 5s
    max_backoff: 2m
    cooldown: 10m
    circuit_breaker: { failures: 3, window: 1h }
    dry_run: false
    failure_threshold: 1
  - name: flush-cache
    trigger: { alert: HighErrorRate }
    action: { http: { url: "http://127.0.0.1:9000/flush", method: POST, headers: {}, body: "" } }
"#;

    #[test]
    fn full_example_parses_and_validates() {
        let cfg = RecoveryConfig::from_yaml(FULL).unwrap();
        let known = vec!["web".to_string()];
        let s = cfg.validate(Some(&known)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].trigger, Trigger::Check("web".into()));
        assert_eq!(s[0].max_backoff, Duration::from_secs(120));
        assert_eq!(s[0].breaker_window, Duration::from_secs(3600));
        assert_eq!(s[0].action.summary(), "command: systemctl restart web");
        assert_eq!(s[1].trigger, Trigger::Alert("HighErrorRate".into()));
        assert_eq!(s[1].action.summary(), "http: POST http://127.0.0.1:9000/flush");
        assert_eq!(s[1].cooldown, DEFAULT_COOLDOWN);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = "recovery:\n  - name: x\n    trigger: { check: a }\n    action: { command: [a] }\n    retries: 2\n";
        let err = RecoveryConfig::from_yaml(text).unwrap_err();
        assert!(err.problems[0].contains("retries"), "{err}");
    }

    #[test]
    fn validation_reports_every_problem_with_its_strategy() {
        let text = r#"
recovery:
  - name: a
    trigger: { check: nope }
    action: { command: [] }
    max_attempts: 0
    backoff: 5m
    max_backoff: 1m
  - name: b
    trigger: { check: web, alert: X }
    action: { http: { url: "not a url" } }
  - name: a
    trigger: { alert: X }
    action: { http: { url: "ftp://x/", method: "BAD METHOD" } }
    circuit_breaker: { failures: 0, window: 0s }
"#;
        let cfg = RecoveryConfig::from_yaml(text).unwrap();
        let known = vec!["web".to_string()];
        let err = cfg.validate(Some(&known)).unwrap_err();
        let want = [
            r#"recovery strategy "a": trigger.check "nope" is not a configured check"#,
            r#"recovery strategy "a": action.command needs a non-empty argv"#,
            r#"recovery strategy "a": max_attempts must be >= 1"#,
            r#"recovery strategy "a": backoff 5m must be <= max_backoff 1m"#,
            r#"recovery strategy "b": trigger needs exactly one of check or alert"#,
            r#"recovery strategy "b": action.http.url "not a url""#,
            r#"recovery strategy "a": duplicate name"#,
            r#"recovery strategy "a": action.http.url "ftp://x/": scheme "ftp" is not http(s)"#,
            r#"recovery strategy "a": action.http.method "BAD METHOD" is not a valid method"#,
            r#"recovery strategy "a": circuit_breaker.failures must be >= 1"#,
            r#"recovery strategy "a": circuit_breaker.window must be > 0"#,
        ];
        for w in want {
            assert!(
                err.problems.iter().any(|p| p.starts_with(w)),
                "missing {w:?} in {:#?}",
                err.problems
            );
        }
        assert_eq!(err.problems.len(), want.len(), "{:#?}", err.problems);
    }

    #[test]
    fn systemd_actions_run_systemctl_without_a_shell() {
        let text = "recovery:
  - name: a
    trigger: { check: web }
    action: { systemd: { unit: web.service } }
  - name: b
    trigger: { check: web }
    action: { systemd: { unit: web.service, operation: reload } }
";
        let s = RecoveryConfig::from_yaml(text).unwrap().validate(None).unwrap();
        let argv = |i: usize| match &s[i].action {
            Action::Command { argv, .. } => argv.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(argv(0), ["systemctl", "--no-ask-password", "restart", "web.service"]);
        assert_eq!(argv(1)[2], "reload");
        let bad = "recovery:
  - name: c
    trigger: { check: web }
    action: { systemd: { unit: \"-H evil\", operation: stop }, command: [x] }
";
        let e = RecoveryConfig::from_yaml(bad)
            .unwrap()
            .validate(None)
            .unwrap_err()
            .problems;
        assert!(e.iter().any(|m| m.contains("\"stop\" is not one of restart")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("not a unit name")), "{e:?}");
        assert!(
            e.iter().any(|m| m.contains("exactly one of command, http or systemd")),
            "{e:?}"
        );
    }

    #[test]
    fn check_names_are_not_checked_without_a_list() {
        let text = "recovery:\n  - name: x\n    trigger: { check: anything }\n    action: { command: [/bin/true] }\n";
        let s = RecoveryConfig::from_yaml(text).unwrap().validate(None).unwrap();
        assert_eq!(s[0].max_attempts, 3);
        assert_eq!(s[0].failure_threshold, 1);
    }
}
