//! Service level objectives: an objective over a window, with the Google
//! SRE workbook's multi-window, multi-burn-rate alerts generated as rules.
//!
//! For an SLO named `web` with objective 99.9% over 30 d:
//! - `slo:error_ratio:<w>{slo="web"}` for w in 5m, 30m, 1h, 6h, 3d and the
//!   window: the share of bad events over `w`. The SLI is a check
//!   (`1 - avg_over_time(probe_success{check="web"}[w])`) or a pair of
//!   counters (`1 - sum(rate(<good>[w])) / sum(rate(<total>[w]))`).
//! - `slo:burn_rate:<w>{slo="web"}` = error ratio / error budget (0.001):
//!   1 spends the budget exactly over the window.
//! - `slo:error_budget_remaining{slo="web"}` = 1 − error ratio over the
//!   window / budget (negative once overspent).
//! - Alerts `SLOBurnRateHigh` (`severity: page`): burn rate > 14.4 over 1 h
//!   and 5 m, or > 6 over 6 h and 30 m; `SLOBurnRateElevated` (`severity:
//!   ticket`): > 1 over 3 d and 6 h. The short window makes an alert stop
//!   soon after the burn does.
use std::collections::BTreeMap;

use model::PromDuration;
use serde::Deserialize;

use crate::rulefile::{GroupDef, RuleDef};

/// One `slos:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Name; the `slo` label of every generated series and alert.
    pub name: String,
    /// Objective in percent, e.g. 99.9.
    pub objective: f64,
    /// The window the objective is measured over (default 30d).
    #[serde(default = "default_window")]
    pub window: PromDuration,
    /// SLI from a check's `probe_success`.
    #[serde(default)]
    pub check: Option<String>,
    /// SLI from counters: good events (a series selector or expression of counters).
    #[serde(default)]
    pub good: Option<String>,
    /// All events.
    #[serde(default)]
    pub total: Option<String>,
    /// Extra labels on the generated alerts.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_window() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(30 * 86_400))
}

/// The windows error ratios are recorded over (besides the SLO window).
pub const WINDOWS: &[&str] = &["5m", "30m", "1h", "6h", "3d"];

/// (severity, burn rate, long window, short window), from the SRE workbook.
pub const BURN_ALERTS: &[(&str, f64, &str, &str)] = &[
    ("page", 14.4, "1h", "5m"),
    ("page", 6.0, "6h", "30m"),
    ("ticket", 1.0, "3d", "6h"),
];

impl SloConfig {
    /// The error budget as a fraction (0.001 for 99.9%).
    pub fn budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }

    /// The window in the largest whole unit (`30d`, `36h`, `90m`): part of
    /// a recorded metric's name, and a PromQL range.
    fn window_name(&self) -> String {
        let s = self.window.get().as_secs().max(60);
        match s {
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3_600 == 0 => format!("{}h", s / 3_600),
            s => format!("{}m", s / 60),
        }
    }

    fn error_ratio_expr(&self, w: &str) -> String {
        match (&self.check, &self.good, &self.total) {
            (Some(check), _, _) => {
                format!("1 - avg_over_time(probe_success{{check={check:?}}}[{w}])")
            }
            (None, Some(good), Some(total)) => {
                format!("1 - sum(rate({good}[{w}])) / sum(rate({total}[{w}]))")
            }
            _ => String::new(),
        }
    }

    /// Problems with this SLO, as messages naming it.
    pub fn validate(&self) -> Vec<String> {
        let who = format!("slos: {:?}", self.name);
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push("slos: an SLO has an empty name".to_string());
        }
        if !(self.objective > 0.0 && self.objective < 100.0) {
            out.push(format!(
                "{who}: objective must be a percentage between 0 and 100 (exclusive), got {}",
                self.objective
            ));
        }
        if self.window.get().as_secs() < 3600 {
            out.push(format!("{who}: window must be at least 1h"));
        }
        match (&self.check, &self.good, &self.total) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            _ => out.push(format!("{who}: set either check, or both good and total")),
        }
        if out.is_empty() {
            for w in WINDOWS {
                if let Err(e) = promql::prepare(&self.error_ratio_expr(w)) {
                    out.push(format!("{who}: the SLI does not make a valid expression: {e}"));
                    break;
                }
            }
        }
        out
    }

    /// The recording and alerting rules, as one group.
    pub fn group(&self) -> GroupDef {
        let slo_label = BTreeMap::from([("slo".to_string(), self.name.clone())]);
        let budget = self.budget();
        let window = self.window_name();
        let mut rules = Vec::new();
        let mut windows: Vec<String> = WINDOWS.iter().map(|w| w.to_string()).collect();
        if !windows.contains(&window) {
            windows.push(window.clone());
        }
        for w in &windows {
            rules.push(RuleDef {
                record: Some(format!("slo:error_ratio:{w}")),
                expr: self.error_ratio_expr(w),
                labels: slo_label.clone(),
                ..RuleDef::default()
            });
            rules.push(RuleDef {
                record: Some(format!("slo:burn_rate:{w}")),
                expr: format!("slo:error_ratio:{w}{{slo={:?}}} / {budget}", self.name),
                labels: slo_label.clone(),
                ..RuleDef::default()
            });
        }
        rules.push(RuleDef {
            record: Some("slo:error_budget_remaining".into()),
            expr: format!("1 - slo:error_ratio:{window}{{slo={:?}}} / {budget}", self.name),
            labels: slo_label.clone(),
            ..RuleDef::default()
        });
        rules.push(RuleDef {
            record: Some("slo:objective".into()),
            expr: format!("vector({})", self.objective / 100.0),
            labels: slo_label.clone(),
            ..RuleDef::default()
        });
        for (severity, alerts) in [("page", "SLOBurnRateHigh"), ("ticket", "SLOBurnRateElevated")] {
            let conditions: Vec<String> = BURN_ALERTS
                .iter()
                .filter(|(s, ..)| *s == severity)
                .map(|(_, rate, long, short)| {
                    format!(
                        "(slo:burn_rate:{long}{{slo={n:?}}} > {rate} and slo:burn_rate:{short}{{slo={n:?}}} > {rate})",
                        n = self.name
                    )
                })
                .collect();
            let mut labels = self.labels.clone();
            labels.insert("severity".into(), severity.into());
            rules.push(RuleDef {
                alert: Some(alerts.into()),
                expr: conditions.join(" or "),
                labels,
                annotations: BTreeMap::from([
                    (
                        "summary".to_string(),
                        format!("SLO {} is burning its error budget", self.name),
                    ),
                    (
                        "description".to_string(),
                        format!(
                            "{{{{ $value | humanize }}}}× the rate that spends the {}% objective's budget over {window}.",
                            self.objective
                        ),
                    ),
                ]),
                ..RuleDef::default()
            });
        }
        GroupDef {
            name: format!("slo:{}", self.name),
            interval: None,
            limit: 0,
            rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(text: &str) -> SloConfig {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn a_check_slo_becomes_workbook_rules() {
        let s = slo("{ name: web, objective: 99.9, window: 30d, check: web }");
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        let g = s.group();
        let names: Vec<&str> = g.rules.iter().map(|r| r.name()).collect();
        assert!(names.contains(&"slo:error_ratio:5m"));
        assert!(names.contains(&"slo:error_ratio:30d"));
        assert!(names.contains(&"slo:burn_rate:1h"));
        assert!(names.contains(&"slo:error_budget_remaining"));
        let page = g.rules.iter().find(|r| r.name() == "SLOBurnRateHigh").unwrap();
        assert_eq!(
            page.expr,
            "(slo:burn_rate:1h{slo=\"web\"} > 14.4 and slo:burn_rate:5m{slo=\"web\"} > 14.4) or (slo:burn_rate:6h{slo=\"web\"} > 6 and slo:burn_rate:30m{slo=\"web\"} > 6)"
        );
        assert_eq!(page.labels["severity"], "page");
        let ticket = g.rules.iter().find(|r| r.name() == "SLOBurnRateElevated").unwrap();
        assert!(ticket
            .expr
            .contains("slo:burn_rate:3d{slo=\"web\"} > 1 and slo:burn_rate:6h{slo=\"web\"} > 1"));
        for r in &g.rules {
            assert!(
                crate::rulefile::check_rule(r, &|_: &str, _: &str| Ok(())).is_empty(),
                "{}",
                r.name()
            );
        }
    }

    #[test]
    fn counter_slos_and_bad_ones() {
        let s = slo("{ name: api, objective: 99, good: 'http_requests_total{status_code!~\"5..\"}', total: http_requests_total }");
        assert!(s.validate().is_empty());
        assert_eq!(
            s.error_ratio_expr("5m"),
            "1 - sum(rate(http_requests_total{status_code!~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))"
        );
        let bad = slo("{ name: x, objective: 100, check: web, good: a, total: b }");
        let e = bad.validate();
        assert!(e.iter().any(|m| m.contains("objective must be")), "{e:?}");
        assert!(
            e.iter().any(|m| m.contains("either check, or both good and total")),
            "{e:?}"
        );
        let e = slo("{ name: y, objective: 99, good: 'rate(', total: b }").validate();
        assert!(e.iter().any(|m| m.contains("not make a valid expression")), "{e:?}");
    }
}
