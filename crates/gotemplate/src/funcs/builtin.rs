//! Go's predefined template functions (`text/template/funcs.go`).

use std::cmp::Ordering;

use super::{ArgType, FuncDef, FuncImpl, Funcs};
use crate::fmt::{sprint, sprintf, sprintln};
use crate::value::Value;

const ANY1: &[ArgType] = &[ArgType::Any];
const ANY2: &[ArgType] = &[ArgType::Any, ArgType::Any];
const NONE: &[ArgType] = &[];

pub(crate) fn defs() -> Vec<(&'static str, FuncDef)> {
    let def = |params: &'static [ArgType], variadic: bool, imp: FuncImpl| FuncDef {
        params,
        variadic: variadic.then_some(ArgType::Any),
        imp,
    };
    use FuncImpl::Native as N;
    vec![
        ("and", def(ANY1, true, FuncImpl::And)),
        ("or", def(ANY1, true, FuncImpl::Or)),
        ("call", def(ANY1, true, FuncImpl::Call)),
        ("not", def(ANY1, false, N(|_, a| Ok(Value::Bool(!a[0].is_true()))))),
        ("len", def(ANY1, false, N(length))),
        ("index", def(ANY1, true, N(index))),
        ("slice", def(ANY1, true, N(slice))),
        ("print", def(NONE, true, N(|_, a| Ok(Value::from(sprint(a)))))),
        ("println", def(NONE, true, N(|_, a| Ok(Value::from(sprintln(a)))))),
        (
            "printf",
            FuncDef {
                params: &[ArgType::String],
                variadic: Some(ArgType::Any),
                imp: N(|_, a| Ok(Value::from(sprintf(a[0].as_str().unwrap_or(""), &a[1..])))),
            },
        ),
        (
            "html",
            def(NONE, true, N(|_, a| Ok(Value::from(html_escape(&eval_args(a)))))),
        ),
        (
            "js",
            def(NONE, true, N(|_, a| Ok(Value::from(js_escape(&eval_args(a)))))),
        ),
        (
            "urlquery",
            def(NONE, true, N(|_, a| Ok(Value::from(query_escape(&eval_args(a)))))),
        ),
        ("eq", def(ANY1, true, N(|_, a| eq(&a[0], &a[1..]).map(Value::Bool)))),
        (
            "ne",
            def(ANY2, false, N(|_, a| eq(&a[0], &a[1..]).map(|b| Value::Bool(!b)))),
        ),
        ("lt", def(ANY2, false, N(|_, a| lt(&a[0], &a[1]).map(Value::Bool)))),
        ("le", def(ANY2, false, N(|_, a| le(&a[0], &a[1]).map(Value::Bool)))),
        (
            "gt",
            def(ANY2, false, N(|_, a| le(&a[0], &a[1]).map(|b| Value::Bool(!b)))),
        ),
        (
            "ge",
            def(ANY2, false, N(|_, a| lt(&a[0], &a[1]).map(|b| Value::Bool(!b)))),
        ),
    ]
}

/// Go's `evalArgs`: a lone string is used as is, anything else goes through
/// `fmt.Sprint` with missing values shown as `<no value>`.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| {
            if a.is_nil() {
                Value::from("<no value>")
            } else {
                a.clone()
            }
        })
        .collect();
    sprint(&printable)
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || crate::strconv::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn length(_: &Funcs, a: &[Value]) -> Result<Value, String> {
    match a[0].resolve() {
        Value::String(s) => Ok(Value::from(s.len())),
        Value::List(l) => Ok(Value::from(l.len())),
        Value::Map(m) => Ok(Value::from(m.entries.len())),
        Value::Nil => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_arg(index: &Value, cap: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => return Err(format!("cannot index slice/array with type {}", other.type_name())),
    };
    match usize::try_from(x) {
        Ok(u) if u <= cap => Ok(u),
        _ => Err(format!("index out of range: {x}")),
    }
}

fn index(_: &Funcs, a: &[Value]) -> Result<Value, String> {
    let mut item = a[0].clone();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for idx in &a[1..] {
        let resolved = item.resolve().clone();
        item = match &resolved {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l) => {
                let x = index_arg(idx, l.len())?;
                l.get(x).cloned().ok_or("reflect: slice index out of range")?
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                Value::Int(i64::from(
                    *s.as_bytes().get(x).ok_or("reflect: string index out of range")?,
                ))
            }
            Value::Map(m) => match idx {
                Value::String(k) => m.entries.get(k.as_ref()).cloned().unwrap_or_else(|| m.zero()),
                Value::Nil => return Err("value is nil; should be of type string".into()),
                other => return Err(format!("value has type {}; should be string", other.type_name())),
            },
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(_: &Funcs, a: &[Value]) -> Result<Value, String> {
    let item = a[0].resolve();
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    let indexes = &a[1..];
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, v) in indexes.iter().enumerate() {
        idx[i] = index_arg(v, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => Value::from(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        Value::List(l) => Value::list(l[idx[0]..idx[1]].iter().cloned()),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

const BAD_TYPE: &str = "invalid type for comparison";
const INCOMPATIBLE: &str = "incompatible types for comparison";

pub(crate) fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in others {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            if !a.is_nil() && !b.is_nil() {
                return Err(INCOMPATIBLE.into());
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                _ => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        crate::fmt::format_value(b),
                        b.type_name()
                    ))
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err(BAD_TYPE.into());
    }
    if k1 != k2 {
        return Err(INCOMPATIBLE.into());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
        (Value::String(x), Value::String(y)) => x < y,
        _ => return Err(BAD_TYPE.into()),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c<d>=&\n"),
            "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\u000A"
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn comparisons() {
        assert_eq!(eq(&Value::Int(1), &[Value::Int(2), Value::Int(1)]), Ok(true));
        assert_eq!(eq(&Value::Int(1), &[Value::Float(1.0)]), Err(INCOMPATIBLE.into()));
        assert_eq!(eq(&Value::Nil, &[Value::from("x")]), Ok(false));
        assert_eq!(lt(&Value::from("a"), &Value::from("b")), Ok(true));
        assert_eq!(lt(&Value::Bool(true), &Value::Bool(false)), Err(BAD_TYPE.into()));
        assert_eq!(lt(&Value::Nil, &Value::Int(1)), Err(BAD_TYPE.into()));
        assert_eq!(le(&Value::Float(1.0), &Value::Float(1.0)), Ok(true));
    }
}
