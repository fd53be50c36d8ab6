//! Prometheus rule files, parsed and checked as `promtool check rules` does.
//!
//! Errors name the file and, where it can be found, the line of the group or
//! rule at fault, with promtool's wording for the problem itself.
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use model::PromDuration;
use serde::Deserialize;

/// A rule-file problem, pointing at the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file, line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct RuleFileError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A rule file: `groups:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The groups, in file order.
    #[serde(default)]
    pub groups: Vec<GroupDef>,
}

/// One `groups:` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    /// Unique within the file.
    pub name: String,
    /// Evaluation interval; the global one when absent.
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Most alerts (or recorded series) one rule may produce; 0 = no limit.
    #[serde(default)]
    pub limit: usize,
    /// The rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RuleDef>,
}

/// One rule: exactly one of `record` and `alert`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Recording rule: the metric name to record into.
    #[serde(default)]
    pub record: Option<String>,
    /// Alerting rule: the alert name.
    #[serde(default)]
    pub alert: Option<String>,
    /// The PromQL expression.
    #[serde(default)]
    pub expr: String,
    /// How long an alert stays pending before it fires.
    #[serde(default, rename = "for")]
    pub for_: Option<PromDuration>,
    /// How long a firing alert keeps firing once its condition is gone.
    #[serde(default)]
    pub keep_firing_for: Option<PromDuration>,
    /// Labels added to (or replaced on) the result.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations (templates).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl RuleDef {
    /// The rule's name: the alert or the recorded metric.
    pub fn name(&self) -> &str {
        self.alert.as_deref().or(self.record.as_deref()).unwrap_or("")
    }

    /// `for`, zero when absent.
    pub fn hold(&self) -> Duration {
        self.for_.map(|d| d.get()).unwrap_or_default()
    }

    /// `keep_firing_for`, zero when absent.
    pub fn keep_firing(&self) -> Duration {
        self.keep_firing_for.map(|d| d.get()).unwrap_or_default()
    }
}

/// Checks templates of alert labels and annotations; the rules engine
/// passes its template engine here so that a template that does not parse
/// is refused when the file loads, not when the alert fires.
pub type TemplateCheck<'a> = &'a dyn Fn(&str, &str) -> Result<(), String>;

/// Parses and validates one rule file's text. Every problem is reported, not
/// only the first.
pub fn parse(file: &str, text: &str, check_template: TemplateCheck<'_>) -> Result<RuleFile, Vec<RuleFileError>> {
    let err = |line: Option<usize>, message: String| RuleFileError {
        file: file.to_string(),
        line,
        message,
    };
    if text.trim().is_empty() {
        return Ok(RuleFile::default());
    }
    let parsed: RuleFile = serde_yaml::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default().to_string();
        vec![err(e.location().map(|l| l.line()), message)]
    })?;
    let mut errors = Vec::new();
    let locate = Locator::new(text);
    let mut names = HashSet::new();
    for (gi, g) in parsed.groups.iter().enumerate() {
        let gline = locate.group(gi, &g.name);
        if g.name.is_empty() {
            errors.push(err(gline, "groupname must not be empty".into()));
        } else if !names.insert(g.name.as_str()) {
            errors.push(err(gline, format!("{:?}: repeated in the same file", g.name)));
        }
        if let Some(i) = g.interval {
            if i.get().is_zero() {
                errors.push(err(gline, format!("group {:?}: interval must be positive", g.name)));
            }
        }
        for (ri, r) in g.rules.iter().enumerate() {
            for message in check_rule(r, check_template) {
                let line = locate.rule(gi, ri);
                errors.push(err(
                    line,
                    format!("group {:?}, rule {}, {:?}: {message}", g.name, ri + 1, r.name()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// promtool's checks of one rule, as messages.
pub fn check_rule(r: &RuleDef, check_template: TemplateCheck<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match (&r.record, &r.alert) {
        (Some(_), Some(_)) => out.push("only one of 'record' and 'alert' must be set".into()),
        (None, None) => out.push("one of 'record' or 'alert' must be set".into()),
        (Some(rec), None) => {
            if rec.is_empty() {
                out.push("field 'record' must be set in rule".into());
            } else if !model::is_valid_metric_name(rec) {
                out.push(format!("invalid recording rule name: {rec}"));
            }
            if !r.annotations.is_empty() {
                out.push("invalid field 'annotations' in recording rule".into());
            }
            if r.for_.is_some() {
                out.push("invalid field 'for' in recording rule".into());
            }
            if r.keep_firing_for.is_some() {
                out.push("invalid field 'keep_firing_for' in recording rule".into());
            }
        }
        (None, Some(alert)) => {
            if alert.is_empty() {
                out.push("field 'alert' must be set in rule".into());
            } else if !model::is_valid_metric_name(alert) {
                out.push(format!("invalid alert name: {alert}"));
            }
        }
    }
    if r.expr.trim().is_empty() {
        out.push("field 'expr' must be set in rule".into());
    } else if let Err(e) = promql::prepare(&r.expr) {
        out.push(format!("could not parse expression: {e}"));
    }
    for (name, value) in &r.labels {
        if !model::is_valid_label_name(name) {
            out.push(format!("invalid label name: {name}"));
        }
        if name == model::METRIC_NAME {
            out.push("invalid label name: __name__ (labels may not change the metric name)".into());
        }
        if r.alert.is_some() {
            if let Err(e) = check_template(&format!("__alert_{}", r.name()), value) {
                out.push(format!("label {name:?}: {e}"));
            }
        }
    }
    for (name, value) in &r.annotations {
        if !model::is_valid_label_name(name) {
            out.push(format!("invalid annotation name: {name}"));
        }
        if let Err(e) = check_template(&format!("__alert_{}", r.name()), value) {
            out.push(format!("annotation {name:?}: {e}"));
        }
    }
    out
}

/// Finds the lines of groups and rules in the source text. serde_yaml keeps
/// no positions after deserialising, so this walks the text: a group starts
/// at a `- name:` item under `groups:`, a rule at a `- ` item whose mapping
/// holds `record:`/`alert:`/`expr:`, counted in order.
struct Locator {
    /// Per group: its line and the lines of its rules.
    groups: Vec<(usize, Vec<usize>)>,
}

impl Locator {
    fn new(text: &str) -> Locator {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut group_indent: Option<usize> = None;
        let mut rule_indent: Option<usize> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some(item) = trimmed.strip_prefix("- ") else {
                if trimmed.starts_with("rules:") {
                    rule_indent = None;
                }
                continue;
            };
            let item = item.trim_start();
            let is_group = item.starts_with("name:") && group_indent.is_none_or(|g| indent <= g);
            if is_group {
                group_indent = Some(indent);
                rule_indent = None;
                groups.push((i + 1, Vec::new()));
                continue;
            }
            if let Some((_, rules)) = groups.last_mut() {
                if group_indent.is_some_and(|g| indent > g) && rule_indent.is_none_or(|r| r == indent) {
                    rule_indent = Some(indent);
                    rules.push(i + 1);
                }
            }
        }
        Locator { groups }
    }

    fn group(&self, index: usize, _name: &str) -> Option<usize> {
        self.groups.get(index).map(|g| g.0)
    }

    fn rule(&self, group: usize, rule: usize) -> Option<usize> {
        self.groups.get(group).and_then(|g| g.1.get(rule)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_templates(_: &str, _: &str) -> Result<(), String> {
        Ok(())
    }

    const GOOD: &str = r#"
groups:
  - name: http
    interval: 30s
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: HighErrorRate
        expr: job:http_requests:rate5m > 10
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "High request rate on {{ $labels.job }}"
  - name: empty
    rules: []
"#;

    #[test]
    fn a_valid_file_parses_with_every_field() {
        let f = parse("r.yml", GOOD, &no_templates).unwrap();
        assert_eq!(f.groups.len(), 2);
        let g = &f.groups[0];
        assert_eq!(g.interval.map(|d| d.as_millis()), Some(30_000));
        assert_eq!(g.rules[1].name(), "HighErrorRate");
        assert_eq!(g.rules[1].hold(), Duration::from_secs(300));
        assert_eq!(g.rules[1].keep_firing(), Duration::from_secs(60));
        assert_eq!(g.rules[1].labels["severity"], "page");
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let bad = r#"groups:
  - name: a
    rules:
      - record: bad-name
        expr: up
      - alert: X
        record: y
        expr: up
  - name: a
    rules:
      - alert: Y
        expr: sum(
        annotations:
          summary: ok
      - record: z
        expr: up
        for: 5m
        labels:
          "bad-label": x
"#;
        let errs = parse("rules/bad.yml", bad, &no_templates).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let find = |needle: &str| {
            errs.iter()
                .find(|e| e.message.contains(needle))
                .unwrap_or_else(|| panic!("no error containing {needle:?} in {text:#?}"))
        };
        assert_eq!(find("invalid recording rule name: bad-name").line, Some(4));
        assert_eq!(find("only one of 'record' and 'alert'").line, Some(6));
        assert_eq!(find("\"a\": repeated in the same file").line, Some(9));
        let parse_err = find("could not parse expression");
        assert_eq!(parse_err.line, Some(11));
        assert!(
            parse_err
                .to_string()
                .starts_with("rules/bad.yml:11: group \"a\", rule 1, \"Y\""),
            "{parse_err}"
        );
        assert_eq!(find("invalid field 'for' in recording rule").line, Some(15));
        assert_eq!(find("invalid label name: bad-label").line, Some(15));
    }

    #[test]
    fn unknown_keys_and_yaml_errors_point_at_their_line() {
        let errs = parse("r.yml", "groups:\n  - name: a\n    rulez: []\n", &no_templates).unwrap_err();
        assert_eq!(errs[0].line, Some(3), "{:?}", errs);
        assert!(errs[0].message.contains("unknown field `rulez`"), "{:?}", errs);
        let errs = parse("r.yml", "groups:\n  - name: [\n", &no_templates).unwrap_err();
        assert!(errs[0].line.is_some());
    }

    #[test]
    fn templates_are_checked_when_the_file_loads() {
        let check = |_: &str, t: &str| -> Result<(), String> {
            if t.contains("{{ bad") {
                Err("function \"bad\" not defined".into())
            } else {
                Ok(())
            }
        };
        let text = "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: \"{{ bad }}\"\n";
        let errs = parse("r.yml", text, &check).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(4));
        assert!(errs[0]
            .message
            .contains("annotation \"summary\": function \"bad\" not defined"));
    }
}
