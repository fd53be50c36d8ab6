//! The seed's threshold rules (OpenAero design, §4.1), accepted as written
//! there and compiled to an alerting rule plus routing.
//!
//! | seed field | becomes |
//! |---|---|
//! | `id` | label `rule_id`; the alert name is the id in CamelCase (`error-rate-high` → `ErrorRateHigh`), since Prometheus alert names must be metric names |
//! | `name`, `description` | annotations `summary`, `description` |
//! | `condition.metric` | the series (any PromQL instant-vector expression) |
//! | `condition.aggregation` | wraps the metric: `avg(metric)`; absent: each series alerts on its own |
//! | `condition.operator`, `threshold` | `> >= < <= == !=` and the threshold: `avg(response_time) > 2000` |
//! | `condition.duration` (s) | `for` |
//! | `severity` | label `severity` |
//! | `enabled: false` | the rule is not loaded |
//! | `notificationChannels` | one Alertmanager route per channel, matching `rule_id`, to the receiver of that name (all but the last with `continue: true`) |
//! | `cooldownPeriod` (s) | those routes' `repeat_interval`: a firing alert is re-sent at most this often |
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use model::PromDuration;
use serde::Deserialize;

use crate::rulefile::{GroupDef, RuleDef};

/// `condition.operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Operator {
    fn promql(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Gte => ">=",
            Operator::Lt => "<",
            Operator::Lte => "<=",
            Operator::Eq => "==",
            Operator::Ne => "!=",
        }
    }
}

/// `condition.aggregation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// `avg(...)`
    Avg,
    /// `sum(...)`
    Sum,
    /// `max(...)`
    Max,
    /// `min(...)`
    Min,
    /// `count(...)`
    Count,
}

/// `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// low
    Low,
    /// medium
    Medium,
    /// high
    High,
    /// critical
    Critical,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// `condition`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The series or expression watched.
    pub metric: String,
    /// Comparison.
    pub operator: Operator,
    /// Threshold.
    pub threshold: f64,
    /// Seconds the condition must hold.
    #[serde(default)]
    pub duration: u64,
    /// How the metric's series are combined.
    #[serde(default)]
    pub aggregation: Option<Aggregation>,
}

/// One rule of the seed's `alertRules`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedRule {
    /// Unique id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The condition.
    pub condition: Condition,
    /// Severity.
    pub severity: Severity,
    /// Whether the rule is loaded.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Receiver names.
    #[serde(default)]
    pub notification_channels: Vec<String>,
    /// Seconds between re-notifications of a firing alert.
    #[serde(default)]
    pub cooldown_period: Option<u64>,
    /// Set by the seed's in-memory handler; accepted and ignored (the
    /// notification log keeps this across restarts instead).
    #[serde(default)]
    pub last_triggered: Option<serde_yaml::Value>,
}

fn enabled_by_default() -> bool {
    true
}

/// `error-rate-high` → `ErrorRateHigh`.
pub fn alert_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut upper = true;
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

impl SeedRule {
    /// The PromQL this rule becomes.
    pub fn expr(&self) -> String {
        let metric = self.condition.metric.trim();
        let watched = match self.condition.aggregation {
            None => metric.to_string(),
            Some(a) => format!("{}({metric})", format!("{a:?}").to_lowercase()),
        };
        format!(
            "{watched} {} {}",
            self.condition.operator.promql(),
            self.condition.threshold
        )
    }

    /// The alerting rule.
    pub fn to_rule(&self) -> RuleDef {
        RuleDef {
            alert: Some(alert_name(&self.id)),
            expr: self.expr(),
            for_: (self.condition.duration > 0).then(|| PromDuration(Duration::from_secs(self.condition.duration))),
            labels: BTreeMap::from([
                ("severity".to_string(), self.severity.as_str().to_string()),
                ("rule_id".to_string(), self.id.clone()),
            ]),
            annotations: BTreeMap::from([
                ("summary".to_string(), self.name.clone()),
                ("description".to_string(), self.description.clone()),
                ("threshold".to_string(), self.condition.threshold.to_string()),
                ("value".to_string(), "{{ $value }}".to_string()),
            ]),
            ..RuleDef::default()
        }
    }

    /// The Alertmanager routes for `notificationChannels` and `cooldownPeriod`.
    pub fn routes(&self) -> Vec<GeneratedRoute> {
        let n = self.notification_channels.len();
        self.notification_channels
            .iter()
            .enumerate()
            .map(|(i, receiver)| {
                let mut route = serde_yaml::Mapping::new();
                route.insert("receiver".into(), receiver.clone().into());
                route.insert(
                    "matchers".into(),
                    vec![serde_yaml::Value::from(format!("rule_id={:?}", self.id))].into(),
                );
                if let Some(c) = self.cooldown_period.filter(|c| *c > 0) {
                    route.insert("repeat_interval".into(), format!("{c}s").into());
                }
                if i + 1 < n {
                    route.insert("continue".into(), true.into());
                }
                GeneratedRoute {
                    route: serde_yaml::Value::Mapping(route),
                    receiver: receiver.clone(),
                    rule_id: self.id.clone(),
                }
            })
            .collect()
    }
}

/// A route a seed rule needs, and what it sends to (for checking that the
/// receiver exists once the Alertmanager config is known).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRoute {
    /// The route, in alertmanager.yml's shape.
    pub route: serde_yaml::Value,
    /// Its receiver.
    pub receiver: String,
    /// The rule it serves.
    pub rule_id: String,
}

/// Checks a list of seed rules; messages name the rule by its id.
pub fn validate(rules: &[SeedRule]) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for r in rules {
        let who = format!("alert_rules: {:?}", r.id);
        if r.id.trim().is_empty() {
            out.push("alert_rules: a rule has an empty id".to_string());
            continue;
        }
        if !ids.insert(r.id.as_str()) {
            out.push(format!("{who}: id repeated"));
        }
        if !model::is_valid_metric_name(&alert_name(&r.id)) {
            out.push(format!("{who}: id must start with a letter"));
        }
        if !r.condition.threshold.is_finite() {
            out.push(format!("{who}: threshold must be a finite number"));
        }
        if r.condition.metric.trim().is_empty() {
            out.push(format!("{who}: condition.metric must be set"));
        } else if let Err(e) = promql::prepare(&r.expr()) {
            out.push(format!(
                "{who}: condition.metric {:?} is not a valid series or expression: {e}",
                r.condition.metric
            ));
        }
    }
    out
}

/// The enabled rules as one group named `alert_rules`.
pub fn group(rules: &[SeedRule]) -> GroupDef {
    GroupDef {
        name: "alert_rules".into(),
        interval: None,
        limit: 0,
        rules: rules.iter().filter(|r| r.enabled).map(SeedRule::to_rule).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
- id: error-rate-high
  name: 错误率过高
  description: API错误率超过5%
  condition: { metric: error_rate, operator: gt, threshold: 5, duration: 120 }
  severity: high
  enabled: true
  notificationChannels: [ pagerduty, slack ]
  cooldownPeriod: 600
- id: response-time-high
  name: 响应时间过高
  description: API响应时间超过2秒
  condition: { metric: response_time, operator: gt, threshold: 2000, duration: 60, aggregation: avg }
  severity: high
  enabled: false
  notificationChannels: [ slack ]
  cooldownPeriod: 900
"#;

    #[test]
    fn seed_rules_compile_to_promql_and_routes() {
        let rules: Vec<SeedRule> = serde_yaml::from_str(SEED).unwrap();
        assert!(validate(&rules).is_empty());
        assert_eq!(rules[0].expr(), "error_rate > 5");
        assert_eq!(rules[1].expr(), "avg(response_time) > 2000");
        let r = rules[0].to_rule();
        assert_eq!(r.alert.as_deref(), Some("ErrorRateHigh"));
        assert_eq!(r.hold(), Duration::from_secs(120));
        assert_eq!(r.labels["severity"], "high");
        assert_eq!(r.labels["rule_id"], "error-rate-high");
        assert_eq!(r.annotations["summary"], "错误率过高");
        let routes = rules[0].routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].receiver, "pagerduty");
        assert_eq!(routes[0].route["receiver"], "pagerduty");
        assert_eq!(routes[0].route["continue"], true);
        assert_eq!(routes[0].route["repeat_interval"], "600s");
        assert_eq!(routes[0].route["matchers"][0], "rule_id=\"error-rate-high\"");
        assert!(routes[1].route.get("continue").is_none());
        let g = group(&rules);
        assert_eq!(g.rules.len(), 1, "disabled rules are not loaded");
    }

    #[test]
    fn bad_seed_rules_are_named() {
        let mut rules: Vec<SeedRule> = serde_yaml::from_str(SEED).unwrap();
        rules[1].id = rules[0].id.clone();
        rules[0].condition.metric = "rate(".into();
        let errs = validate(&rules);
        assert!(
            errs.iter().any(|e| e.contains("\"error-rate-high\": id repeated")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("is not a valid series or expression")),
            "{errs:?}"
        );
        let unknown: Result<Vec<SeedRule>, _> = serde_yaml::from_str(
            "- id: a\n  name: b\n  condition: { metric: m, operator: above, threshold: 1 }\n  severity: low\n",
        );
        assert!(unknown.unwrap_err().to_string().contains("unknown variant `above`"));
    }
}
