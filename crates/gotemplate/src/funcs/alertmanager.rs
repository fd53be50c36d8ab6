//! Alertmanager 0.25 template functions and notification data model
//! (`alertmanager/template/template.go`).

use std::any::Any;
use std::collections::BTreeMap;

use super::regex_cache::{compile, must_compile};
use super::{arg_str, arg_strings, native, simple_case, ArgType, FuncDef};
use crate::gotime::GoTime;
use crate::value::{format_struct, Object, Value};

const S1: &[ArgType] = &[ArgType::String];
const S2: &[ArgType] = &[ArgType::String, ArgType::String];
const S3: &[ArgType] = &[ArgType::String, ArgType::String, ArgType::String];

pub(crate) fn defs() -> Vec<(&'static str, FuncDef)> {
    vec![
        (
            "toUpper",
            native(S1, None, |_, a| Ok(Value::from(simple_case(arg_str(a, 0), true)))),
        ),
        (
            "toLower",
            native(S1, None, |_, a| Ok(Value::from(simple_case(arg_str(a, 0), false)))),
        ),
        (
            "title",
            native(S1, None, |_, a| Ok(Value::from(cases_title(arg_str(a, 0))))),
        ),
        (
            "join",
            native(&[ArgType::String, ArgType::StringList], None, |_, a| {
                Ok(Value::from(arg_strings(a.get(1)).join(arg_str(a, 0))))
            }),
        ),
        (
            "match",
            native(S2, None, |_, a| {
                Ok(Value::Bool(compile(arg_str(a, 0))?.is_match(arg_str(a, 1))))
            }),
        ),
        ("safeHtml", native(S1, None, |_, a| Ok(a[0].clone()))),
        (
            "reReplaceAll",
            native(S3, None, |_, a| {
                let re = must_compile(arg_str(a, 0))?;
                Ok(Value::from(re.replace_all(arg_str(a, 2), arg_str(a, 1)).into_owned()))
            }),
        ),
        (
            "stringSlice",
            native(&[], Some(ArgType::String), |_, a| Ok(Value::list(a.iter().cloned()))),
        ),
    ]
}

/// `cases.Title(language.AmericanEnglish)`: the first letter of each word
/// is upper-cased and the rest lower-cased (unlike `strings.Title`). Word
/// boundaries approximate Unicode word segmentation: letters, digits and
/// `_` form words, and `.`, `'`, `:` between two of them do not break one
/// (`x.y` → `X.y`, `it's` → `It's`, `3d` → `3D`).
pub(crate) fn cases_title(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    let mut seen_letter = false;
    for (i, &c) in chars.iter().enumerate() {
        let joiner = matches!(c, '.' | '\'' | ':' | '’')
            && i > 0
            && is_word(chars[i - 1])
            && chars.get(i + 1).is_some_and(|&n| is_word(n));
        if is_word(c) || (in_word && joiner) {
            if !in_word {
                in_word = true;
                seen_letter = false;
            }
            if c.is_alphabetic() {
                if seen_letter {
                    out.extend(c.to_lowercase());
                } else {
                    out.extend(c.to_uppercase());
                    seen_letter = true;
                }
            } else {
                out.push(c);
            }
        } else {
            in_word = false;
            out.push(c);
        }
    }
    out
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to the receiver name.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Alertmanager's `KV`: a string map with `SortedPairs`, `Names`, `Values`
/// and `Remove` methods (`alertname` sorts first). In 0.25 it has no
/// `String()` method, so it prints as a Go map.
struct Kv(Value);

fn kv(entries: BTreeMap<String, String>) -> Value {
    Value::object(Kv(Value::string_map(entries)))
}

impl Kv {
    fn entries(&self) -> &BTreeMap<String, Value> {
        static EMPTY: BTreeMap<String, Value> = BTreeMap::new();
        match &self.0 {
            Value::Map(m) => &m.entries,
            _ => &EMPTY,
        }
    }

    /// Sorted keys with `alertname` moved to the front.
    fn sorted(&self) -> Vec<(&String, &Value)> {
        let mut pairs: Vec<(&String, &Value)> = Vec::with_capacity(self.entries().len());
        let mut alertname = None;
        for (k, v) in self.entries() {
            if k == "alertname" {
                alertname = Some((k, v));
            } else {
                pairs.push((k, v));
            }
        }
        if let Some(a) = alertname {
            pairs.insert(0, a);
        }
        pairs
    }

    fn pairs(&self) -> Value {
        Value::object(Pairs(Value::list(self.sorted().into_iter().map(|(k, v)| {
            Value::object(Pair {
                name: Value::from(k.as_str()),
                value: v.clone(),
            })
        }))))
    }
}

impl Object for Kv {
    fn type_name(&self) -> &str {
        "template.KV"
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        match name {
            "SortedPairs" | "Names" | "Values" => Some(0),
            "Remove" => Some(1),
            _ => None,
        }
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let sorted = self.sorted();
        Ok(match name {
            "SortedPairs" => self.pairs(),
            "Names" => Value::list(sorted.iter().map(|(k, _)| Value::from(k.as_str()))),
            "Values" => Value::list(sorted.iter().map(|(_, v)| (*v).clone())),
            "Remove" => {
                let keys = match args.first().map(Value::resolve) {
                    Some(Value::List(l)) if l.iter().all(|v| v.as_str().is_some()) => l
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect::<Vec<_>>(),
                    Some(Value::Nil) | None => Vec::new(),
                    Some(other) => {
                        return Err(format!(
                            "wrong type for value; expected []string; got {}",
                            other.type_name()
                        ))
                    }
                };
                let rest = self
                    .entries()
                    .iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                kv(rest)
            }
            _ => return Err(format!("can't call method {name}")),
        })
    }
    fn underlying(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Pairs(Value);

impl Pairs {
    fn items(&self) -> Vec<(Value, Value)> {
        match &self.0 {
            Value::List(l) => l
                .iter()
                .filter_map(|p| match p {
                    Value::Object(o) => o
                        .as_any()
                        .downcast_ref::<Pair>()
                        .map(|p| (p.name.clone(), p.value.clone())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Object for Pairs {
    fn type_name(&self) -> &str {
        "template.Pairs"
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        matches!(name, "Names" | "Values").then_some(0)
    }
    fn call_method(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        let items = self.items();
        Ok(match name {
            "Names" => Value::list(items.into_iter().map(|(n, _)| n)),
            _ => Value::list(items.into_iter().map(|(_, v)| v)),
        })
    }
    fn underlying(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Pair {
    name: Value,
    value: Value,
}

impl Object for Pair {
    fn type_name(&self) -> &str {
        "template.Pair"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(self.name.clone()),
            "Value" => Some(self.value.clone()),
            _ => None,
        }
    }
    fn format(&self) -> Option<String> {
        Some(format_struct([&self.name, &self.value].into_iter()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One alert of a notification, as Alertmanager's `template.Alert`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertData {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: GoTime,
    pub ends_at: GoTime,
    pub generator_url: String,
    pub fingerprint: String,
}

/// Alertmanager's `template.Data`: what notification templates execute on.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerData {
    /// The receiver name as Alertmanager exposes it (already regex-quoted;
    /// [`AlertmanagerData::new`] does that).
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<AlertData>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

impl AlertmanagerData {
    /// Builds the data the way Alertmanager's `Template.Data` does: receiver
    /// passed through `regexp.QuoteMeta`, status `firing` if any alert
    /// fires, common labels/annotations intersected over all alerts.
    pub fn new(
        receiver: &str,
        group_labels: BTreeMap<String, String>,
        alerts: Vec<AlertData>,
        external_url: &str,
    ) -> AlertmanagerData {
        let status = if alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        };
        let mut common_labels = BTreeMap::new();
        let mut common_annotations = BTreeMap::new();
        if let Some(first) = alerts.first() {
            common_labels = first.labels.clone();
            common_annotations = first.annotations.clone();
            for a in &alerts[1..] {
                common_labels.retain(|k, v| a.labels.get(k) == Some(v));
                common_annotations.retain(|k, v| a.annotations.get(k) == Some(v));
            }
        }
        AlertmanagerData {
            receiver: quote_meta(receiver),
            status: status.to_string(),
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url: external_url.to_string(),
        }
    }

    /// The template value (Go type `*template.Data`).
    pub fn to_value(&self) -> Value {
        let alerts: Vec<Value> = self.alerts.iter().map(AlertData::to_value).collect();
        Value::object(DataValue {
            fields: [
                ("Receiver", Value::from(self.receiver.as_str())),
                ("Status", Value::from(self.status.as_str())),
                ("Alerts", Value::object(Alerts(Value::list(alerts)))),
                ("GroupLabels", kv(self.group_labels.clone())),
                ("CommonLabels", kv(self.common_labels.clone())),
                ("CommonAnnotations", kv(self.common_annotations.clone())),
                ("ExternalURL", Value::from(self.external_url.as_str())),
            ],
        })
    }
}

impl AlertData {
    /// The template value (Go type `template.Alert`).
    pub fn to_value(&self) -> Value {
        Value::object(AlertValue {
            fields: [
                ("Status", Value::from(self.status.as_str())),
                ("Labels", kv(self.labels.clone())),
                ("Annotations", kv(self.annotations.clone())),
                ("StartsAt", self.starts_at.value()),
                ("EndsAt", self.ends_at.value()),
                ("GeneratorURL", Value::from(self.generator_url.as_str())),
                ("Fingerprint", Value::from(self.fingerprint.as_str())),
            ],
        })
    }
}

struct DataValue {
    fields: [(&'static str, Value); 7],
}

impl Object for DataValue {
    fn type_name(&self) -> &str {
        "*template.Data"
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }
    fn format(&self) -> Option<String> {
        Some(format!("&{}", format_struct(self.fields.iter().map(|(_, v)| v))))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct AlertValue {
    fields: [(&'static str, Value); 7],
}

impl Object for AlertValue {
    fn type_name(&self) -> &str {
        "template.Alert"
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }
    fn format(&self) -> Option<String> {
        Some(format_struct(self.fields.iter().map(|(_, v)| v)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn alert_status(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => o.field("Status").and_then(|s| s.as_str().map(str::to_string)),
        _ => None,
    }
}

/// `template.Alerts` with its `Firing` and `Resolved` methods.
struct Alerts(Value);

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        matches!(name, "Firing" | "Resolved").then_some(0)
    }
    fn call_method(&self, name: &str, _args: &[Value]) -> Result<Value, String> {
        let want = if name == "Firing" { "firing" } else { "resolved" };
        let items = match &self.0 {
            Value::List(l) => l
                .iter()
                .filter(|a| alert_status(a).as_deref() == Some(want))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        Ok(Value::list(items))
    }
    fn underlying(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Alertmanager's bundled `default.tmpl` (the text notification
/// definitions; `email.default.html` is omitted).
pub const DEFAULT_TEMPLATES: &str = include_str!("../default.tmpl");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_lowercases_rest() {
        assert_eq!(cases_title("aa bb CC"), "Aa Bb Cc");
        assert_eq!(
            cases_title("hello-world it's o_k x.y 3d ÉCOLE"),
            "Hello-World It's O_k X.y 3D École"
        );
    }

    #[test]
    fn quote_meta_escapes() {
        assert_eq!(quote_meta("team.a+b"), "team\\.a\\+b");
    }

    #[test]
    fn common_labels_intersect() {
        let mk = |sev: &str| AlertData {
            status: "firing".into(),
            labels: [
                ("alertname".to_string(), "X".to_string()),
                ("sev".to_string(), sev.to_string()),
            ]
            .into(),
            annotations: BTreeMap::new(),
            starts_at: GoTime::zero(),
            ends_at: GoTime::zero(),
            generator_url: String::new(),
            fingerprint: String::new(),
        };
        let d = AlertmanagerData::new("r", BTreeMap::new(), vec![mk("a"), mk("b")], "http://am");
        assert_eq!(d.common_labels.len(), 1);
        assert_eq!(d.status, "firing");
    }
}
