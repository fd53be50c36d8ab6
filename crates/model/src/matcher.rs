use std::fmt;

use regex::Regex;

/// The four Prometheus label matching operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored regular expression)
    Regex,
    /// `!~`
    NotRegex,
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        })
    }
}

/// A matcher's regular expression did not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid regular expression {pattern:?} in matcher for label {name:?}: {reason}")]
pub struct MatcherError {
    name: String,
    pattern: String,
    reason: String,
}

/// How a regex matcher decides, from fastest to most general.
#[derive(Debug, Clone)]
enum RegexKind {
    /// The pattern is a plain alternation of literals, e.g. `GET|POST`.
    Set(Vec<String>),
    /// The pattern is `literal.*`.
    Prefix(String),
    /// The pattern is `.*`: matches everything, including the empty value.
    Any,
    /// Anything else, compiled anchored as `^(?:pattern)$`.
    /// Shared: a query's expression is cloned per evaluation, and clones of one
    /// `Arc<Regex>` also share its match caches.
    General(std::sync::Arc<Regex>),
}

/// A label matcher with Prometheus semantics: a missing label matches as the
/// empty string, and regexes are fully anchored.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name the matcher applies to.
    pub name: String,
    /// The operator.
    pub kind: MatchType,
    /// The value or pattern as written.
    pub value: String,
    regex: Option<RegexKind>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~`/`!~`.
    pub fn new(kind: MatchType, name: impl Into<String>, value: impl Into<String>) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(compile(&name, &value)?),
            _ => None,
        };
        Ok(Matcher {
            name,
            kind,
            value,
            regex,
        })
    }

    /// Shorthand for an `=` matcher.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            kind: MatchType::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// Whether `value` (the empty string for a missing label) matches.
    pub fn matches(&self, value: &str) -> bool {
        match self.kind {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regex => self.regex_matches(value),
            MatchType::NotRegex => !self.regex_matches(value),
        }
    }

    /// Whether this matcher accepts a series that lacks the label entirely.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` and for regexes that are literal alternations, the exact set of
    /// values that match; lets the index look values up instead of scanning.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match (&self.kind, &self.regex) {
            (MatchType::Equal, _) => Some(vec![self.value.as_str()]),
            (MatchType::Regex, Some(RegexKind::Set(vals))) => Some(vals.iter().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// For `=~"prefix.*"`, the literal prefix.
    pub fn prefix(&self) -> Option<&str> {
        match (&self.kind, &self.regex) {
            (MatchType::Regex, Some(RegexKind::Prefix(p))) => Some(p),
            _ => None,
        }
    }

    fn regex_matches(&self, value: &str) -> bool {
        match &self.regex {
            Some(RegexKind::Set(vals)) => vals.iter().any(|v| v == value),
            Some(RegexKind::Prefix(p)) => value.starts_with(p.as_str()) && !value[p.len()..].contains('\n'),
            Some(RegexKind::Any) => !value.contains('\n'),
            Some(RegexKind::General(re)) => re.is_match(value),
            None => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind, self.value)
    }
}

fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

fn compile(name: &str, pattern: &str) -> Result<RegexKind, MatcherError> {
    // The fast paths' patterns (no metacharacters but a trailing `.*`) are
    // always valid, so they skip compiling, which costs more than most
    // queries take to evaluate.
    if pattern == ".*" {
        return Ok(RegexKind::Any);
    }
    if !pattern.is_empty() && pattern.split('|').all(|alt| !alt.chars().any(is_regex_meta)) {
        return Ok(RegexKind::Set(pattern.split('|').map(str::to_string).collect()));
    }
    if let Some(prefix) = pattern.strip_suffix(".*") {
        if !prefix.is_empty() && !prefix.chars().any(is_regex_meta) {
            return Ok(RegexKind::Prefix(prefix.to_string()));
        }
    }
    let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| MatcherError {
        name: name.to_string(),
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    Ok(RegexKind::General(std::sync::Arc::new(re)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MatchType, v: &str) -> Matcher {
        Matcher::new(kind, "l", v).unwrap()
    }

    #[test]
    fn regex_is_fully_anchored() {
        let r = m(MatchType::Regex, "foo");
        assert!(r.matches("foo"));
        assert!(!r.matches("foobar"));
        assert!(!r.matches("xfoo"));
        let r = m(MatchType::Regex, "5..");
        assert!(r.matches("503"));
        assert!(!r.matches("5030"));
    }

    #[test]
    fn fast_paths_agree_with_general_regex() {
        let values = ["GET", "POST", "", "GETX", "api/v1", "api", "a\nb", "PUT"];
        for pattern in ["GET|POST", "api.*", ".*", "GET", "", "a|", "(GET|PUT)"] {
            let fast = m(MatchType::Regex, pattern);
            let slow = Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for v in values {
                assert_eq!(fast.matches(v), slow.is_match(v), "pattern {pattern:?} value {v:?}");
            }
        }
    }

    #[test]
    fn set_and_prefix_are_detected() {
        assert_eq!(m(MatchType::Regex, "a|b|c").set_matches(), Some(vec!["a", "b", "c"]));
        assert_eq!(m(MatchType::Regex, "api.*").prefix(), Some("api"));
        assert_eq!(m(MatchType::Regex, "a.c").set_matches(), None);
    }

    #[test]
    fn empty_matching_semantics() {
        assert!(m(MatchType::Equal, "").matches_empty());
        assert!(m(MatchType::Regex, ".*").matches_empty());
        assert!(!m(MatchType::Regex, ".+").matches_empty());
        assert!(m(MatchType::NotEqual, "x").matches_empty());
    }

    #[test]
    fn invalid_regex_is_an_error_with_context() {
        let e = Matcher::new(MatchType::Regex, "job", "a(").unwrap_err();
        assert!(e.to_string().contains("job"), "{e}");
    }
}
