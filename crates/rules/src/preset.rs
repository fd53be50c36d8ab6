//! Built-in rule sets, embedded in the binary.
use serde::Deserialize;

use crate::rulefile::{GroupDef, RuleFile};
use crate::seed::{self, GeneratedRoute, SeedRule};

/// Names of the presets.
pub const NAMES: &[&str] = &["openaero"];

const OPENAERO: &str = include_str!("../presets/openaero.yml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    recording: RuleFile,
    alert_rules: Vec<SeedRule>,
}

/// A preset's groups and the routes its seed rules need.
#[derive(Debug, Clone)]
pub struct Preset {
    /// Recording groups, then the alert group.
    pub groups: Vec<GroupDef>,
    /// Routes for the alert rules' channels.
    pub routes: Vec<GeneratedRoute>,
    /// The seed-format rules, for documentation and the API.
    pub seed_rules: Vec<SeedRule>,
}

/// The preset called `name`.
pub fn get(name: &str) -> Option<Preset> {
    let text = match name {
        "openaero" => OPENAERO,
        _ => return None,
    };
    // Embedded and checked by the tests below: a failure here is a build defect.
    let file: PresetFile = serde_yaml::from_str(text).ok()?;
    let mut groups = file.recording.groups;
    let mut alert_group = seed::group(&file.alert_rules);
    alert_group.name = format!("{name}-alerts");
    groups.push(alert_group);
    Some(Preset {
        groups,
        routes: file.alert_rules.iter().flat_map(SeedRule::routes).collect(),
        seed_rules: file.alert_rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openaero_ships_the_seed_rules_and_valid_recording_rules() {
        let p = get("openaero").expect("preset parses");
        assert!(seed::validate(&p.seed_rules).is_empty());
        assert_eq!(p.seed_rules.len(), 5);
        assert_eq!(p.groups[0].name, "openaero-recording");
        let recorded: Vec<&str> = p.groups[0].rules.iter().map(|r| r.name()).collect();
        assert_eq!(
            recorded,
            [
                "availability",
                "response_time",
                "error_rate",
                "database_connections",
                "memory_usage"
            ]
        );
        for g in &p.groups {
            for r in &g.rules {
                let problems = crate::rulefile::check_rule(r, &|_: &str, _: &str| Ok(()));
                assert!(problems.is_empty(), "{}: {problems:?}", r.name());
            }
        }
        let alerts: Vec<&str> = p.groups[1].rules.iter().map(|r| r.name()).collect();
        assert_eq!(
            alerts,
            [
                "AvailabilityLow",
                "ResponseTimeHigh",
                "ErrorRateHigh",
                "DatabaseConnectionsHigh",
                "MemoryUsageHigh"
            ]
        );
        assert_eq!(p.routes.len(), 8, "one route per channel");
    }
}
