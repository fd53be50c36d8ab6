//! Relabelling: Prometheus `relabel_configs` / `metric_relabel_configs`.
//!
//! Behaves like `model/relabel/relabel.go` of Prometheus 2.42: the same
//! YAML shape and defaults, the same validation (with Prometheus's error
//! texts) and the same results, including `hashmod` shard numbers and Go's
//! regular-expression and `$1` template dialects (see [`gocompat`]).
//!
//! ```
//! use ingest::relabel::{process, RelabelConfig};
//! use model::Labels;
//!
//! let configs: Vec<RelabelConfig> = vec![RelabelConfig {
//!     source_labels: vec!["__address__".into()],
//!     regex: "([^:]+):\\d+".parse().unwrap(),
//!     target_label: "host".into(),
//!     ..Default::default()
//! }];
//! let out = process(&Labels::from_pairs([("__address__", "db1:9100")]), &configs).unwrap();
//! assert_eq!(out.get("host"), Some("db1"));
//! ```

mod gocompat;
mod md5;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use model::{is_valid_label_name, Label, Labels, LabelsBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// Default `regex` (as written, before anchoring).
pub const DEFAULT_REGEX: &str = "(.*)";
/// Default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// Compiled-size cap for one relabel regex.
const REGEX_SIZE_LIMIT: usize = 256 << 20;

/// What a relabel step does.
///
/// Serialised in lowercase (`replace`, `keep`, `drop`, `keepequal`,
/// `dropequal`, `hashmod`, `labelmap`, `labeldrop`, `labelkeep`,
/// `lowercase`, `uppercase`); parsing is case-insensitive like Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Writes the expanded `replacement` to the (expanded) `target_label`
    /// when `regex` matches the joined source values.
    #[default]
    Replace,
    /// Drops the target/series unless `regex` matches the joined values.
    Keep,
    /// Drops the target/series when `regex` matches the joined values.
    Drop,
    /// Drops unless the joined values equal the value of `target_label`.
    KeepEqual,
    /// Drops when the joined values equal the value of `target_label`.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined values modulo `modulus`.
    HashMod,
    /// Copies labels whose name matches `regex` to the name `replacement`.
    LabelMap,
    /// Removes labels whose name matches `regex`.
    LabelDrop,
    /// Removes labels whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined values in upper case.
    Uppercase,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The configuration spelling, e.g. `"keepequal"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = RelabelError;

    /// Case-insensitive, like Prometheus (`Replace`, `LABELMAP`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = gocompat::to_lower(s);
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| RelabelError::UnknownAction(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A relabel regular expression: Go RE2 syntax, compiled fully anchored as
/// `^(?:...)$`, remembering the text as written for display and
/// serialisation.
///
/// Deserialises from a string; a YAML null (`regex:` with no value) gives
/// the empty expression, which only matches the empty string, as in
/// Prometheus. The default is `(.*)`.
#[derive(Clone)]
pub struct RelabelRegex {
    original: String,
    regex: regex::Regex,
}

impl RelabelRegex {
    /// Compiles `pattern` (Go syntax) anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, RelabelError> {
        let invalid = |message: String| RelabelError::InvalidRegex {
            pattern: pattern.to_string(),
            message,
        };
        let translated = gocompat::translate_regex(pattern).map_err(invalid)?;
        // Go has no compiled-size limit (only its 1000 repetition cap), so
        // allow far more than the regex crate's 10 MiB default: a config
        // like `\pL{1000}` is valid in Prometheus.
        let regex = regex::RegexBuilder::new(&format!("^(?:{translated})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                // The regex crate draws a caret diagram of the (translated)
                // pattern; keep only the explanation.
                let text = e.to_string();
                let last = text.lines().last().unwrap_or_default();
                invalid(last.strip_prefix("error: ").unwrap_or(last).to_string())
            })?;
        Ok(RelabelRegex {
            original: pattern.to_string(),
            regex,
        })
    }

    /// The expression as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The compiled, anchored expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }

    /// True when `s` matches in full.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }

    /// True for the default expression `(.*)`.
    pub fn is_default(&self) -> bool {
        self.original == DEFAULT_REGEX
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        static DEFAULT: LazyLock<RelabelRegex> =
            LazyLock::new(|| RelabelRegex::new(DEFAULT_REGEX).expect("default regex compiles"));
        DEFAULT.clone()
    }
}

impl FromStr for RelabelRegex {
    type Err = RelabelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RelabelRegex::new(s)
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl Eq for RelabelRegex {}

impl fmt::Debug for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RelabelRegex").field(&self.original).finish()
    }
}

impl fmt::Display for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl Serialize for RelabelRegex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        RelabelRegex::new(&pattern).map_err(serde::de::Error::custom)
    }
}

/// Why a relabel configuration is rejected. Messages follow Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// `action` is not one of the known actions.
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// `action` was given as an explicit null.
    #[error("relabel action cannot be empty")]
    EmptyAction,
    /// `regex` does not compile.
    #[error("error parsing regexp {pattern:?}: {message}")]
    InvalidRegex {
        /// The expression as written.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// An entry of `source_labels` is not a valid label name.
    #[error("{0:?} is not a valid label name")]
    InvalidSourceLabel(String),
    /// `hashmod` with `modulus` 0.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// The action needs a `target_label`.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// `target_label` is not usable for the action.
    #[error("{target:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The offending `target_label`.
        target: String,
        /// The action.
        action: Action,
    },
    /// `replacement` was changed for an action that does not use it.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// `replacement` of `labelmap` cannot produce a label name.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The offending `replacement`.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// `keepequal`/`dropequal` with `regex`, `modulus`, `separator` or
    /// `replacement` set.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualActionExtraFields(Action),
    /// `labeldrop`/`labelkeep` with anything but `regex` set.
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelActionExtraFields(Action),
}

/// One relabel step, as written in YAML.
///
/// Deserialisation applies Prometheus's defaults (separator `;`, regex
/// `(.*)`, replacement `$1`, action `replace`), rejects unknown fields and
/// runs [`RelabelConfig::validate`], so a parsed config is always valid. As
/// in Prometheus, a field given as an explicit YAML null takes its zero
/// value, not the default (`regex:` alone matches only the empty string).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` and matched.
    pub source_labels: Vec<String>,
    /// Put between the source values.
    pub separator: String,
    /// Label written by `replace`, `hashmod`, `lowercase`, `uppercase`, or
    /// compared by `keepequal`/`dropequal`. May use `$1` templates with
    /// `replace`.
    pub target_label: String,
    /// Expression matched against the joined values (or, for `labelmap`,
    /// `labeldrop` and `labelkeep`, against label names).
    pub regex: RelabelRegex,
    /// Modulus for `hashmod`.
    pub modulus: u64,
    /// Template for `replace` and `labelmap`.
    pub replacement: String,
    /// What to do.
    pub action: Action,
}

impl Default for RelabelConfig {
    /// Prometheus's defaults; note `target_label` is empty, which `replace`
    /// rejects, so at least that must be set.
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            target_label: String::new(),
            regex: RelabelRegex::default(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
        }
    }
}

/// The YAML form before defaults and validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    #[serde(default, deserialize_with = "null_as_zero")]
    source_labels: Vec<String>,
    #[serde(default = "default_separator", deserialize_with = "null_as_zero")]
    separator: String,
    #[serde(default, deserialize_with = "null_as_zero")]
    target_label: String,
    #[serde(default)]
    regex: RelabelRegex,
    #[serde(default, deserialize_with = "null_as_zero")]
    modulus: u64,
    #[serde(default = "default_replacement", deserialize_with = "null_as_zero")]
    replacement: String,
    #[serde(default = "default_action")]
    action: Option<Action>,
}

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_string()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_string()
}

fn default_action() -> Option<Action> {
    Some(Action::Replace)
}

/// An explicit null gives the zero value, like Go's YAML decoder.
fn null_as_zero<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = RelabelError;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, Self::Error> {
        let config = RelabelConfig {
            source_labels: raw.source_labels,
            separator: raw.separator,
            target_label: raw.target_label,
            regex: raw.regex,
            modulus: raw.modulus,
            replacement: raw.replacement,
            action: raw.action.ok_or(RelabelError::EmptyAction)?,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Prometheus's `relabelTarget`: a label name in which `$name`/`${name}`
/// references may stand for parts.
static RELABEL_TARGET: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("relabel target regex compiles")
});

impl RelabelConfig {
    /// Checks the step the way Prometheus does when loading a config, in
    /// the same order, with the same messages.
    pub fn validate(&self) -> Result<(), RelabelError> {
        use Action::*;
        let action = self.action;
        let target = self.target_label.as_str();
        let invalid_target = || RelabelError::InvalidTargetLabel {
            target: target.to_string(),
            action,
        };

        // Prometheus checks these while decoding `source_labels`.
        if let Some(name) = self.source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(RelabelError::InvalidSourceLabel(name.clone()));
        }
        if self.modulus == 0 && action == HashMod {
            return Err(RelabelError::ZeroModulus);
        }
        let writes_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if writes_target && target.is_empty() {
            return Err(RelabelError::MissingTargetLabel(action));
        }
        if action == Replace && !target.contains('$') && !is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if action == Replace && target.contains('$') && !RELABEL_TARGET.is_match(target) {
            return Err(invalid_target());
        }
        let plain_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
        if plain_target && !is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if plain_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err(RelabelError::ReplacementNotAllowed(action));
        }
        if action == LabelMap && !RELABEL_TARGET.is_match(&self.replacement) {
            return Err(RelabelError::InvalidReplacement {
                replacement: self.replacement.clone(),
                action,
            });
        }
        if action == HashMod && !is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if matches!(action, KeepEqual | DropEqual)
            && (!self.regex.is_default()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::EqualActionExtraFields(action));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::LabelActionExtraFields(action));
        }
        Ok(())
    }

    /// Applies this one step to `lb`; false means drop.
    fn apply(&self, lb: &mut LabelsBuilder) -> bool {
        let mut val = String::new();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                val.push_str(&self.separator);
            }
            val.push_str(lb.get(name).unwrap_or_default());
        }

        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return lb.get(&self.target_label).unwrap_or_default() != val,
            Action::KeepEqual => return lb.get(&self.target_label).unwrap_or_default() == val,
            Action::Replace => {
                // No match: no replacement.
                let Some(caps) = self.regex.regex().captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                gocompat::expand(&self.target_label, &caps, &mut target);
                let mut value = String::new();
                if is_valid_label_name(&target) {
                    gocompat::expand(&self.replacement, &caps, &mut value);
                }
                if value.is_empty() {
                    // Prometheus 2.42 deletes the label named by the
                    // *unexpanded* target here (for templated targets that
                    // is never an existing label).
                    lb.del(&self.target_label);
                } else {
                    lb.set(target, value);
                }
            }
            Action::Lowercase => {
                lb.set(self.target_label.as_str(), gocompat::to_lower(&val));
            }
            Action::Uppercase => {
                lb.set(self.target_label.as_str(), gocompat::to_upper(&val));
            }
            Action::HashMod => {
                // Go's `sum64` shifts the first 8 bytes out of a u64, so only
                // the last 8 bytes of the digest count, big-endian.
                let digest = md5::digest(val.as_bytes());
                let mut last = [0u8; 8];
                last.copy_from_slice(&digest[8..]);
                // An unvalidated zero modulus leaves the labels alone rather
                // than panicking like Go would.
                if let Some(shard) = u64::from_be_bytes(last).checked_rem(self.modulus) {
                    lb.set(self.target_label.as_str(), shard.to_string());
                }
            }
            Action::LabelMap => {
                let snapshot: Vec<Label> = lb.iter().cloned().collect();
                for label in snapshot {
                    if let Some(caps) = self.regex.regex().captures(&label.name) {
                        let mut name = String::new();
                        gocompat::expand(&self.replacement, &caps, &mut name);
                        lb.set(name, label.value);
                    }
                }
            }
            Action::LabelDrop => {
                lb.retain(|l| !self.regex.is_match(&l.name));
            }
            Action::LabelKeep => {
                lb.retain(|l| self.regex.is_match(&l.name));
            }
        }
        true
    }
}

/// Applies `configs` in order to `labels`. `None` means the target/series
/// is dropped.
///
/// Configs are expected to be valid ([`RelabelConfig::validate`]; parsed
/// ones always are).
pub fn process(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    let mut lb = labels.to_builder();
    process_builder(&mut lb, configs).then(|| lb.build())
}

/// Like [`process`], editing a builder in place; false means dropped (the
/// builder is then left part-way).
pub fn process_builder(lb: &mut LabelsBuilder, configs: &[RelabelConfig]) -> bool {
    configs.iter().all(|c| c.apply(lb))
}
