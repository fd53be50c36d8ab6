//! Template rendering over Alertmanager's template data, the way
//! Alertmanager's `Template.ExecuteTextString` does it: every config field is
//! parsed as a fresh template in a copy of the template set (so it can call
//! `{{ template "slack.default.title" . }}` and define its own helpers
//! without leaking them into other fields) and executed with
//! `missingkey=zero`.
//!
//! Also here: the template set itself ([`default_templates`],
//! [`load_templates`] for alertmanager.yml's `templates:` globs), Go-style
//! time formatting for JSON payloads, and Alertmanager's `notify.Truncate`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alertmanager::clock::Timestamp;
use alertmanager::dispatch::{Notification, NotificationAlert};
use gotemplate::{AlertData, AlertmanagerData, GoTime, TemplateSet, Value};

/// Aerowatch's `email.default.html`: Alertmanager's own is a large HTML
/// document that the bundled `default.tmpl` leaves out. This one lists the
/// alerts compactly. Templates run as text templates (no contextual
/// auto-escaping as Go's html/template would do), so every value goes
/// through `html` explicitly.
pub const DEFAULT_EMAIL_HTML: &str = r#"{{ define "email.default.html" -}}
<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"><title>{{ template "__aerowatch_subject_html" . }}</title></head>
<body style="font-family: -apple-system, 'Helvetica Neue', Helvetica, Arial, sans-serif; font-size: 14px; color: #333;">
<h2 style="margin: 0 0 8px 0; color: {{ if eq .Status "firing" }}#d23f31{{ else }}#2e7d32{{ end }};">{{ template "__aerowatch_subject_html" . }}</h2>
{{ if gt (len .Alerts.Firing) 0 -}}
<h3 style="margin: 16px 0 4px 0;">{{ .Alerts.Firing | len }} firing</h3>
<ul>
{{ range .Alerts.Firing }}<li>{{ template "__aerowatch_email_alert" . }}</li>
{{ end }}</ul>
{{ end -}}
{{ if gt (len .Alerts.Resolved) 0 -}}
<h3 style="margin: 16px 0 4px 0;">{{ .Alerts.Resolved | len }} resolved</h3>
<ul>
{{ range .Alerts.Resolved }}<li>{{ template "__aerowatch_email_alert" . }}</li>
{{ end }}</ul>
{{ end -}}
{{ if .ExternalURL }}<p><a href="{{ .ExternalURL | html }}/#/alerts?receiver={{ .Receiver | urlquery }}">View in Aerowatch</a></p>{{ end }}
</body>
</html>
{{- end }}
{{ define "__aerowatch_subject_html" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " | html }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " | html }}{{ end }}){{ end }}{{ end }}
{{ define "__aerowatch_email_alert" -}}
<strong>{{ if .Annotations.summary }}{{ .Annotations.summary | html }}{{ else }}{{ .Labels.alertname | html }}{{ end }}</strong>
{{- if .Annotations.description }}<br>{{ .Annotations.description | html }}{{ end }}
<br><small>{{ range .Labels.SortedPairs }}{{ .Name | html }}={{ .Value | html }} {{ end }}</small>
<br><small>Started {{ .StartsAt.UTC.Format "2006-01-02 15:04:05 MST" }}{{ if eq .Status "resolved" }}, ended {{ .EndsAt.UTC.Format "2006-01-02 15:04:05 MST" }}{{ end }}
{{- if .GeneratorURL }} &middot; <a href="{{ .GeneratorURL | html }}">Source</a>{{ end }}</small>
{{- end }}"#;

/// A template or glob that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateLoadError {
    /// A glob pattern is malformed.
    #[error("invalid template glob {pattern:?}: {message}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A template file could not be read.
    #[error("reading template {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A template file does not parse.
    #[error("{0}")]
    Parse(String),
}

/// Alertmanager's `default.tmpl` plus Aerowatch's `email.default.html`
/// (only where `default.tmpl` lacks one).
pub fn default_templates() -> TemplateSet {
    let mut set = gotemplate::alertmanager_defaults();
    if !set.contains("email.default.html") {
        // Fixed text covered by tests; failing here would be a bug in this
        // crate, and the set stays usable without it.
        if let Err(e) = set.parse("aerowatch_email.tmpl", DEFAULT_EMAIL_HTML) {
            debug_assert!(false, "aerowatch email template must parse: {e}");
        }
    }
    set
}

/// [`default_templates`] plus every file matching alertmanager.yml's
/// `templates:` globs (relative ones against `base_dir`), parsed in
/// Alertmanager's order: pattern by pattern, files sorted within a pattern.
/// A pattern matching nothing is fine, as in Alertmanager.
///
/// Blocking file I/O: call at startup or reload (from `spawn_blocking` in
/// async code).
pub fn load_templates(patterns: &[String], base_dir: Option<&Path>) -> Result<TemplateSet, TemplateLoadError> {
    let mut set = default_templates();
    for pattern in patterns {
        let full = match base_dir {
            Some(dir) if Path::new(pattern).is_relative() => dir.join(pattern),
            _ => PathBuf::from(pattern),
        };
        for path in glob(&full.to_string_lossy())? {
            let text = std::fs::read_to_string(&path).map_err(|e| TemplateLoadError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            set.parse(&name, &text)
                .map_err(|e| TemplateLoadError::Parse(e.to_string()))?;
        }
    }
    Ok(set)
}

/// Go's `filepath.Glob`: `*`, `?` and `[...]` in any path component,
/// results sorted per directory.
fn glob(pattern: &str) -> Result<Vec<PathBuf>, TemplateLoadError> {
    let bad = |m: &str| TemplateLoadError::Glob {
        pattern: pattern.to_string(),
        message: m.to_string(),
    };
    let absolute = pattern.starts_with('/');
    let mut current = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::from(".")
    }];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        if !has_meta(part) {
            for dir in &current {
                let p = dir.join(part);
                if p.exists() {
                    next.push(p);
                }
            }
        } else {
            // Validate once so a bad pattern errors even with no candidates.
            glob_match(part, "").map_err(|m| bad(&m))?;
            for dir in &current {
                let Ok(entries) = std::fs::read_dir(dir) else { continue };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for name in names {
                    if glob_match(part, &name).map_err(|m| bad(&m))? {
                        let p = dir.join(&name);
                        if last || p.is_dir() {
                            next.push(p);
                        }
                    }
                }
            }
        }
        current = next;
    }
    if !absolute {
        current = current
            .into_iter()
            .map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p))
            .collect();
    }
    Ok(current.into_iter().filter(|p| p.is_file()).collect())
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Go's `path.Match` for one component.
fn glob_match(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, String> {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    let (matched, len) = class(&p[pi..], n.get(ni).copied())?;
                    if matched {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let Some(&c) = p.get(pi + 1) else {
                        return Err("trailing backslash".into());
                    };
                    if n.get(ni) == Some(&c) {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c if n.get(ni) == Some(&c) && c != '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return Ok(true);
        }
        match star {
            Some((sp, sn)) if sn < n.len() => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => {
                // Syntax errors later in the pattern still count, as in Go.
                check_rest(&p[pi.min(p.len())..])?;
                return Ok(false);
            }
        }
    }
}

fn check_rest(p: &[char]) -> Result<(), String> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '[' => {
                let (_, len) = class(&p[i..], Some('\0'))?;
                i += len;
            }
            '\\' if i + 1 >= p.len() => return Err("trailing backslash".into()),
            '\\' => i += 2,
            _ => i += 1,
        }
    }
    Ok(())
}

/// A `[...]` class at the start of `p`: whether `c` matches and the class
/// length.
fn class(p: &[char], c: Option<char>) -> Result<(bool, usize), String> {
    let mut i = 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let Some(&lo) = p.get(i) else {
            return Err("unterminated character class".into());
        };
        if lo == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let (lo, step) = escaped(p, i)?;
        i += step;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&x| x != ']') {
            let (h, step) = escaped(p, i + 1)?;
            hi = h;
            i += 1 + step;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    Ok((c.is_some() && matched != negate, i))
}

fn escaped(p: &[char], i: usize) -> Result<(char, usize), String> {
    match p.get(i) {
        Some('\\') => p.get(i + 1).map(|&c| (c, 2)).ok_or_else(|| "trailing backslash".into()),
        Some(&c) => Ok((c, 1)),
        None => Err("unterminated character class".into()),
    }
}

/// A template failed to parse or execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// Renders config fields for one notification.
pub struct Renderer {
    set: Arc<TemplateSet>,
    data: Value,
}

impl Renderer {
    /// A renderer over `data` with the templates of `set`.
    pub fn new(set: Arc<TemplateSet>, data: &AlertmanagerData) -> Renderer {
        Renderer {
            set,
            data: data.to_value(),
        }
    }

    /// The template data as a value.
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// Alertmanager's `ExecuteTextString`: an empty text stays empty.
    pub fn text(&self, text: &str) -> Result<String, RenderError> {
        self.text_with(text, &self.data)
    }

    /// Like [`Renderer::text`] with another dot.
    pub fn text_with(&self, text: &str, data: &Value) -> Result<String, RenderError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let mut set = (*self.set).clone();
        const NAME: &str = "__aerowatch_field";
        set.parse(NAME, text).map_err(|e| RenderError(e.to_string()))?;
        set.execute(NAME, data).map_err(|e| RenderError(e.to_string()))
    }
}

/// Alertmanager's template data for a notification restricted to `alerts`.
pub fn template_data(n: &Notification, alerts: &[NotificationAlert], external_url: &str) -> AlertmanagerData {
    let group_labels: BTreeMap<String, String> = n
        .group_labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect();
    AlertmanagerData::new(
        &n.receiver,
        group_labels,
        alerts.iter().map(alert_data).collect(),
        external_url,
    )
}

/// One alert as template data.
pub fn alert_data(a: &NotificationAlert) -> AlertData {
    AlertData {
        status: a.status.as_str().to_string(),
        labels: a
            .alert
            .labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect(),
        annotations: a.alert.annotations.clone(),
        starts_at: go_time(Some(a.alert.starts_at)),
        ends_at: go_time(a.alert.ends_at),
        generator_url: a.alert.generator_url.clone(),
        fingerprint: a.fingerprint.to_string(),
    }
}

/// A timestamp as Go's `time.Time`; `None` is the zero time.
pub fn go_time(ts: Option<Timestamp>) -> GoTime {
    match ts {
        Some(t) => GoTime::from_unix(t.timestamp(), t.timestamp_subsec_nanos()),
        None => GoTime::zero(),
    }
}

/// Go's `time.Time.MarshalJSON` for a UTC time (RFC 3339 with trailing
/// zeros of the fraction dropped); `None` is `0001-01-01T00:00:00Z`.
pub fn rfc3339_nano(ts: Option<Timestamp>) -> String {
    let Some(t) = ts else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    }
}

/// Alertmanager's `notify.Truncate`: at most `n` characters, the last one
/// replaced by "…" when cut.
pub fn truncate(s: &str, n: usize) -> (String, bool) {
    match s.char_indices().nth(n) {
        None => (s.to_string(), false),
        Some(_) if n <= 3 => (s.chars().take(n).collect(), true),
        Some(_) => {
            let mut out: String = s.chars().take(n - 1).collect();
            out.push('…');
            (out, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncates_like_alertmanager() {
        assert_eq!(truncate("abcdef", 10), ("abcdef".to_string(), false));
        assert_eq!(truncate("abcdef", 6), ("abcdef".to_string(), false));
        assert_eq!(truncate("abcdef", 5), ("abcd…".to_string(), true));
        assert_eq!(truncate("abcdef", 3), ("abc".to_string(), true));
        assert_eq!(truncate("日本語テキスト", 4), ("日本語…".to_string(), true));
    }

    #[test]
    fn times_print_like_go_json() {
        let t = chrono::Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 5).single();
        assert_eq!(rfc3339_nano(t), "2024-03-01T12:00:05Z");
        let t = t.map(|t| t + chrono::Duration::milliseconds(120));
        assert_eq!(rfc3339_nano(t), "2024-03-01T12:00:05.12Z");
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn glob_matches_like_go() {
        assert_eq!(glob_match("*.tmpl", "a.tmpl"), Ok(true));
        assert_eq!(glob_match("*.tmpl", "a.tmpl.bak"), Ok(false));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("\\*", "*"), Ok(true));
        assert!(glob_match("[a-", "a").is_err());
    }

    #[test]
    fn loads_template_globs_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.tmpl"), r#"{{ define "x" }}A{{ end }}"#).expect("write");
        std::fs::write(dir.path().join("b.tmpl"), r#"{{ define "x" }}B{{ end }}"#).expect("write");
        std::fs::write(dir.path().join("c.txt"), r#"{{ define "y" }}C{{ end }}"#).expect("write");
        let set = load_templates(&["*.tmpl".to_string()], Some(dir.path())).expect("load");
        assert_eq!(set.execute("x", &Value::Nil).as_deref(), Ok("B"));
        assert!(!set.contains("y"));
        assert!(set.contains("email.default.subject"));

        std::fs::write(dir.path().join("bad.tmpl"), "{{ if }}").expect("write");
        let Err(err) = load_templates(&["bad.tmpl".to_string()], Some(dir.path())) else {
            panic!("bad.tmpl must not load");
        };
        assert!(matches!(err, TemplateLoadError::Parse(_)), "{err}");
        let none = load_templates(&["nothing/*.tmpl".to_string()], Some(dir.path()));
        assert!(none.is_ok());
    }

    #[test]
    fn default_email_html_lists_alerts_and_escapes() {
        let set = Arc::new(default_templates());
        let alert = |name: &str, status: &str| AlertData {
            status: status.into(),
            labels: [("alertname".to_string(), name.to_string())].into(),
            annotations: [("summary".to_string(), format!("<b>{name}</b> & more"))].into(),
            starts_at: GoTime::from_unix(1_700_000_000, 0),
            ends_at: if status == "resolved" {
                GoTime::from_unix(1_700_000_600, 0)
            } else {
                GoTime::zero()
            },
            generator_url: "http://prom/graph?g0.expr=up".into(),
            fingerprint: "0000000000000001".into(),
        };
        let data = AlertmanagerData::new(
            "team",
            BTreeMap::new(),
            vec![alert("Down", "firing"), alert("Slow", "resolved")],
            "http://aerowatch",
        );
        let html = Renderer::new(set, &data)
            .text(r#"{{ template "email.default.html" . }}"#)
            .expect("render");
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains("1 firing"), "{html}");
        assert!(html.contains("1 resolved"), "{html}");
        assert!(html.contains("&lt;b&gt;Down&lt;/b&gt; &amp; more"), "{html}");
        assert!(
            html.contains("Started 2023-11-14 22:13:20 UTC, ended 2023-11-14 22:23:20 UTC"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="http://aerowatch/#/alerts?receiver=team""#),
            "{html}"
        );
    }
}
