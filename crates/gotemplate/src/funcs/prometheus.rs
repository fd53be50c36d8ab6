//! Prometheus 2.42 template functions (`prometheus/template/template.go`).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::regex_cache::{compile, must_compile};
use super::{arg_str, native, simple_case, ArgType, FuncDef, Funcs};
use crate::funcs::builtin::query_escape;
use crate::gotime::GoTime;
use crate::strconv::{format_float, parse_float};
use crate::value::{format_struct, Object, Value};

/// One element of a `query` result.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Host callback behind the `query` template function: runs an instant
/// PromQL query (at the alert's evaluation time) and returns its vector.
pub type QueryFn = Arc<dyn Fn(&str) -> Result<Vec<QuerySample>, String> + Send + Sync>;

const QUERY_RESULT: &str = "template.queryResult";
const SAMPLE: &str = "*template.sample";

struct SampleValue {
    labels: Value,
    value: f64,
}

impl Object for SampleValue {
    fn type_name(&self) -> &str {
        SAMPLE
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(self.labels.clone()),
            "Value" => Some(Value::Float(self.value)),
            _ => None,
        }
    }
    fn format(&self) -> Option<String> {
        Some(format!(
            "&{}",
            format_struct([self.labels.clone(), Value::Float(self.value)].iter())
        ))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct QueryResult(Value);

impl Object for QueryResult {
    fn type_name(&self) -> &str {
        QUERY_RESULT
    }
    fn underlying(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn query_result(samples: Vec<Value>) -> Value {
    Value::object(QueryResult(Value::list(samples)))
}

fn sample_of(v: &Value) -> Result<&SampleValue, String> {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<SampleValue>()
            .ok_or_else(|| format!("wrong type for value; expected {SAMPLE}; got {}", o.type_name())),
        // A nil *sample dereferenced in Go panics; safeCall reports the panic.
        _ => Err("runtime error: invalid memory address or nil pointer dereference".into()),
    }
}

fn result_items(v: &Value) -> Vec<Value> {
    match v.resolve() {
        Value::List(l) => l.as_ref().clone(),
        _ => Vec::new(),
    }
}

/// Prometheus' `convertToFloat`.
pub(crate) fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => parse_float(s),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

pub(crate) fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}", g4(v))
}

pub(crate) fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

pub(crate) fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (seconds, minutes, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86_400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

enum TimeErr {
    NanOrInf,
    Other(String),
}

/// Prometheus' `floatToTime`: millisecond precision, truncated like Go's
/// integer division in `model.TimeFromUnixNano`.
fn float_to_time(v: f64) -> Result<GoTime, TimeErr> {
    if v.is_nan() || v.is_infinite() {
        return Err(TimeErr::NanOrInf);
    }
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return Err(TimeErr::Other(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        )));
    }
    let ns = ts as i64;
    Ok(GoTime::from_unix_millis(ns / 1_000_000))
}

/// Go's `strings.Title` (deprecated in Go, still what Prometheus uses).
pub(crate) fn strings_title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_sep(prev) {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go's `net.SplitHostPort`.
pub(crate) fn split_host_port(hp: &str) -> Option<(String, String)> {
    let i = hp.rfind(':')?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        host = &hp[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        j = 0;
        k = 0;
    }
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host.to_string(), hp[i + 1..].to_string()))
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = match split_host_port(hp) {
        Some((h, p)) => (h, p),
        None => (hp.to_string(), String::new()),
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("").to_string();
    if !port.is_empty() {
        if host.contains(':') {
            return format!("[{host}]:{port}");
        }
        return format!("{host}:{port}");
    }
    host
}

/// Prometheus' `model.ParseDuration`, in seconds.
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    match s {
        "0" => return Ok(0.0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", crate::strconv::quote(s));
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total_ms: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(pos) = UNITS.iter().skip(next_unit).position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        let idx = next_unit + pos;
        next_unit = idx + 1;
        total_ms = total_ms.saturating_add(n.saturating_mul(UNITS[idx].1));
        if total_ms > (i64::MAX as u128) / 1_000_000 {
            return Err("duration out of range".into());
        }
    }
    Ok(total_ms as f64 / 1000.0)
}

fn url_path(url: &str) -> String {
    let no_frag = url.split('#').next().unwrap_or("");
    let no_query = no_frag.split('?').next().unwrap_or("");
    match no_query.find("://") {
        Some(i) => {
            let after = &no_query[i + 3..];
            after.find('/').map(|j| after[j..].to_string()).unwrap_or_default()
        }
        None => no_query.to_string(),
    }
}

fn ok_str(s: String) -> Result<Value, String> {
    Ok(Value::from(s))
}

const S1: &[ArgType] = &[ArgType::String];
const S2: &[ArgType] = &[ArgType::String, ArgType::String];
const S3: &[ArgType] = &[ArgType::String, ArgType::String, ArgType::String];
const A1: &[ArgType] = &[ArgType::Any];
const NONE: &[ArgType] = &[];

pub(crate) fn defs() -> Vec<(&'static str, FuncDef)> {
    vec![
        ("query", native(S1, None, query)),
        (
            "first",
            native(&[ArgType::Named(QUERY_RESULT)], None, |_, a| {
                result_items(&a[0])
                    .into_iter()
                    .next()
                    .ok_or_else(|| "first() called on vector with no elements".into())
            }),
        ),
        (
            "label",
            native(&[ArgType::String, ArgType::Named(SAMPLE)], None, |_, a| {
                let s = sample_of(&a[1])?;
                Ok(match &s.labels {
                    Value::Map(m) => m.entries.get(arg_str(a, 0)).cloned().unwrap_or_else(|| Value::from("")),
                    _ => Value::from(""),
                })
            }),
        ),
        (
            "value",
            native(&[ArgType::Named(SAMPLE)], None, |_, a| {
                Ok(Value::Float(sample_of(&a[0])?.value))
            }),
        ),
        (
            "strvalue",
            native(&[ArgType::Named(SAMPLE)], None, |_, a| {
                let s = sample_of(&a[0])?;
                Ok(match &s.labels {
                    Value::Map(m) => m.entries.get("__value__").cloned().unwrap_or_else(|| Value::from("")),
                    _ => Value::from(""),
                })
            }),
        ),
        (
            "args",
            native(NONE, Some(ArgType::Any), |_, a| {
                Ok(Value::map(
                    a.iter().enumerate().map(|(i, v)| (format!("arg{i}"), v.clone())),
                ))
            }),
        ),
        (
            "reReplaceAll",
            native(S3, None, |_, a| {
                let re = must_compile(arg_str(a, 0))?;
                ok_str(re.replace_all(arg_str(a, 2), arg_str(a, 1)).into_owned())
            }),
        ),
        ("safeHtml", native(S1, None, |_, a| Ok(a[0].clone()))),
        (
            "match",
            native(S2, None, |_, a| {
                Ok(Value::Bool(compile(arg_str(a, 0))?.is_match(arg_str(a, 1))))
            }),
        ),
        ("title", native(S1, None, |_, a| ok_str(strings_title(arg_str(a, 0))))),
        (
            "toUpper",
            native(S1, None, |_, a| ok_str(simple_case(arg_str(a, 0), true))),
        ),
        (
            "toLower",
            native(S1, None, |_, a| ok_str(simple_case(arg_str(a, 0), false))),
        ),
        (
            "graphLink",
            native(S1, None, |_, a| {
                ok_str(format!("/graph?g0.expr={}&g0.tab=0", query_escape(arg_str(a, 0))))
            }),
        ),
        (
            "tableLink",
            native(S1, None, |_, a| {
                ok_str(format!("/graph?g0.expr={}&g0.tab=1", query_escape(arg_str(a, 0))))
            }),
        ),
        (
            "sortByLabel",
            native(&[ArgType::String, ArgType::Named(QUERY_RESULT)], None, |_, a| {
                let label = arg_str(a, 0);
                let mut items = result_items(&a[1]);
                let key = |v: &Value| -> String {
                    match sample_of(v).map(|s| &s.labels) {
                        Ok(Value::Map(m)) => m.entries.get(label).and_then(Value::as_str).unwrap_or("").to_string(),
                        _ => String::new(),
                    }
                };
                items.sort_by_cached_key(key);
                Ok(query_result(items))
            }),
        ),
        (
            "humanize",
            native(A1, None, |_, a| ok_str(humanize(convert_to_float(&a[0])?))),
        ),
        (
            "humanize1024",
            native(A1, None, |_, a| ok_str(humanize1024(convert_to_float(&a[0])?))),
        ),
        (
            "humanizeDuration",
            native(A1, None, |_, a| ok_str(humanize_duration(convert_to_float(&a[0])?))),
        ),
        (
            "humanizePercentage",
            native(A1, None, |_, a| {
                ok_str(format!("{}%", g4(convert_to_float(&a[0])? * 100.0)))
            }),
        ),
        (
            "humanizeTimestamp",
            native(A1, None, |_, a| {
                let v = convert_to_float(&a[0])?;
                match float_to_time(v) {
                    Ok(t) => ok_str(t.to_string()),
                    Err(TimeErr::NanOrInf) => ok_str(g4(v)),
                    Err(TimeErr::Other(e)) => Err(e),
                }
            }),
        ),
        (
            "toTime",
            native(A1, None, |_, a| {
                let v = convert_to_float(&a[0])?;
                match float_to_time(v) {
                    Ok(t) => Ok(t.pointer_value()),
                    Err(TimeErr::NanOrInf) => Err("value is NaN or Inf".into()),
                    Err(TimeErr::Other(e)) => Err(e),
                }
            }),
        ),
        (
            "pathPrefix",
            native(NONE, None, |f, _| ok_str(url_path(external_url(f)?))),
        ),
        (
            "externalURL",
            native(NONE, None, |f, _| ok_str(external_url(f)?.to_string())),
        ),
        (
            "stripPort",
            native(S1, None, |_, a| {
                let hp = arg_str(a, 0);
                ok_str(split_host_port(hp).map(|(h, _)| h).unwrap_or_else(|| hp.to_string()))
            }),
        ),
        (
            "stripDomain",
            native(S1, None, |_, a| ok_str(strip_domain(arg_str(a, 0)))),
        ),
        (
            "parseDuration",
            native(S1, None, |_, a| Ok(Value::Float(parse_duration(arg_str(a, 0))?))),
        ),
    ]
}

fn external_url(f: &Funcs) -> Result<&str, String> {
    f.external_url
        .as_deref()
        .ok_or_else(|| "runtime error: invalid memory address or nil pointer dereference".to_string())
}

fn query(f: &Funcs, a: &[Value]) -> Result<Value, String> {
    let Some(q) = &f.query else {
        return Err("query function not available".into());
    };
    let samples = q(arg_str(a, 0))?;
    Ok(query_result(
        samples
            .into_iter()
            .map(|s| {
                Value::object(SampleValue {
                    labels: Value::string_map(s.labels),
                    value: s.value,
                })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_cases() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.12), "120m");
        assert_eq!(humanize(i64::MAX as f64), "9.223E");
        assert_eq!(humanize(u64::MAX as f64), "18.45E");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(i64::MAX as f64), "8Ei");
        assert_eq!(humanize_duration(899.99), "14m 59s");
        assert_eq!(humanize_duration(0.12345), "123.5ms");
        assert_eq!(
            humanize_duration(-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0)),
            "-2d 3h 4m 5s"
        );
    }

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("[2001:0DB8::1]:12345"),
            Some(("2001:0DB8::1".into(), "12345".into()))
        );
        assert_eq!(split_host_port("[2001:0DB8::1]::12345"), None);
        assert_eq!(strip_domain("foo.example.com:12345"), "foo:12345");
        assert_eq!(strip_domain("192.0.2.1:12345"), "192.0.2.1:12345");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h2m10ms"), Ok(3720.01));
        assert_eq!(parse_duration("1y"), Ok(31_536_000.0));
        assert!(parse_duration("1m1h").is_err());
        assert!(parse_duration("1x").is_err());
        assert_eq!(url_path("http://testhost:9090/path/prefix"), "/path/prefix");
    }
}
