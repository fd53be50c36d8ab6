//! Recording and alerting rules, evaluated on one engine.
//!
//! Three sources feed it, all becoming the same [`GroupSpec`]s:
//! - Prometheus rule files, as they are ([`rulefile`], checked like
//!   `promtool check rules`, errors with file and line);
//! - the seed's threshold rules (OpenAero §4.1), compiled to alerting rules
//!   and Alertmanager routes ([`seed`]);
//! - presets: `openaero` ships the seed's five rules and the recording rules
//!   that define the metrics they watch ([`preset`]).
//!
//! The [`Manager`] runs each group on its interval ([`group`]): rules are
//! evaluated in order with the PromQL engine, recorded series and `ALERTS`
//! are written through an [`ingest::sink::SampleSink`], and alerts that need
//! sending go to an [`AlertSink`] (the notifier). Alert state follows
//! Prometheus 2.42 ([`alerting`]) and is restored from `ALERTS_FOR_STATE`
//! after a restart.
pub mod alerting;
pub mod group;
mod manager;
pub mod preset;
pub mod recording;
pub mod rulefile;
pub mod seed;
pub mod slo;
pub mod template;

pub use alerting::{Alert, AlertState, AlertingRule};
pub use group::{AlertSink, EvalContext, Group, Health, OutgoingAlert, Rule, RuleEntry, RuleMetrics};
pub use manager::{now_ms, GroupSpec, Manager};
pub use rulefile::{RuleFile, RuleFileError};
pub use seed::SeedRule;
pub use template::{AlertTemplateData, Templater};

use std::path::Path;

/// Where rules come from, as configured.
#[derive(Debug, Clone, Default)]
pub struct RuleSources {
    /// `rule_files` globs, relative to `base_dir`.
    pub rule_files: Vec<String>,
    /// `presets` names.
    pub presets: Vec<String>,
    /// `alert_rules` in the seed's format.
    pub seed_rules: Vec<SeedRule>,
    /// `slos`.
    pub slos: Vec<slo::SloConfig>,
}

/// Everything loaded: the groups to run and the routes the seed rules need.
#[derive(Debug, Clone, Default)]
pub struct LoadedRules {
    /// Groups, in order: rule files (sorted by path), presets, `alert_rules`.
    pub groups: Vec<GroupSpec>,
    /// Alertmanager routes generated for `alert_rules`, to put in front of
    /// the configured routes.
    pub routes: Vec<seed::GeneratedRoute>,
    /// The same for presets' rules; their receivers may not exist (a preset
    /// cannot know the user's receiver names), in which case they are left out.
    pub preset_routes: Vec<seed::GeneratedRoute>,
    /// Every rule file read, for `/api/v1/status/config` and reload logs.
    pub files: Vec<String>,
}

/// Reads every source; all problems are returned, each naming its file
/// (and line where known).
pub fn load(
    sources: &RuleSources,
    base_dir: &Path,
    templater: &dyn Templater,
) -> Result<LoadedRules, Vec<RuleFileError>> {
    let mut out = LoadedRules::default();
    let mut errors = Vec::new();
    let check = |name: &str, text: &str| templater.check(name, text);
    for pattern in &sources.rule_files {
        let full = if Path::new(pattern).is_absolute() {
            pattern.clone()
        } else {
            base_dir.join(pattern).to_string_lossy().into_owned()
        };
        let paths = match glob::glob(&full) {
            Ok(p) => p,
            Err(e) => {
                errors.push(RuleFileError {
                    file: pattern.clone(),
                    line: None,
                    message: format!("invalid rule_files pattern: {e}"),
                });
                continue;
            }
        };
        let mut paths: Vec<_> = paths.filter_map(Result::ok).collect();
        paths.sort();
        for path in paths {
            let name = path.display().to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(RuleFileError {
                        file: name,
                        line: None,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            match rulefile::parse(&name, &text, &check) {
                Ok(f) => {
                    out.groups.extend(f.groups.into_iter().map(|def| GroupSpec {
                        file: name.clone(),
                        def,
                    }));
                    out.files.push(name);
                }
                Err(e) => errors.extend(e),
            }
        }
    }
    for name in &sources.presets {
        match preset::get(name) {
            Some(p) => {
                out.groups.extend(p.groups.into_iter().map(|def| GroupSpec {
                    file: format!("preset:{name}"),
                    def,
                }));
                out.preset_routes.extend(p.routes);
            }
            None => errors.push(RuleFileError {
                file: "presets".into(),
                line: None,
                message: format!("unknown preset {name:?} (known: {})", preset::NAMES.join(", ")),
            }),
        }
    }
    if !sources.seed_rules.is_empty() {
        let problems = seed::validate(&sources.seed_rules);
        if problems.is_empty() {
            out.groups.push(GroupSpec {
                file: "alert_rules".into(),
                def: seed::group(&sources.seed_rules),
            });
            out.routes.extend(
                sources
                    .seed_rules
                    .iter()
                    .filter(|r| r.enabled)
                    .flat_map(SeedRule::routes),
            );
        } else {
            errors.extend(problems.into_iter().map(|message| RuleFileError {
                file: "alert_rules".into(),
                line: None,
                message,
            }));
        }
    }
    let mut slo_names = std::collections::HashSet::new();
    for s in &sources.slos {
        let mut problems = s.validate();
        if !slo_names.insert(s.name.as_str()) {
            problems.push(format!("slos: {:?}: name repeated", s.name));
        }
        if problems.is_empty() {
            out.groups.push(GroupSpec {
                file: "slos".into(),
                def: s.group(),
            });
        } else {
            errors.extend(problems.into_iter().map(|message| RuleFileError {
                file: "slos".into(),
                line: None,
                message,
            }));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
