//! Go RE2 patterns on Rust's `regex` crate, compiled once per pattern.
//!
//! The syntaxes agree except that Go's Perl classes (`\d \w \s \b`) are
//! ASCII-only while Rust's are Unicode, so those are rewritten.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

const CACHE_LIMIT: usize = 512;

fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let rep = match (e, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('d', true) => Some("0-9"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    ('S', false) => Some("[^\\t\\n\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    ('B', false) => Some("(?-u:\\B)"),
                    _ => None,
                };
                match rep {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading ']' (after optional '^') is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class like [:alpha:] inside a bracket expression.
                out.push('[');
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles `pattern` with Go semantics, unanchored. Errors read like Go's
/// `error parsing regexp: ...` as closely as the two engines allow.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock() {
        if let Some(re) = c.get(pattern) {
            return Ok(re.clone());
        }
    }
    let re = regex::RegexBuilder::new(&translate(pattern))
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("error parsing regexp: {}", short_error(&e, pattern)))?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

fn short_error(e: &regex::Error, pattern: &str) -> String {
    let text = e.to_string();
    let msg = text
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error: "));
    match msg {
        Some(m) if m.contains("unclosed group") => format!("missing closing ): `{pattern}`"),
        Some(m) if m.contains("unclosed character class") => format!("missing closing ]: `{pattern}`"),
        Some(m) if m.contains("repetition operator missing expression") => {
            format!("missing argument to repetition operator: `{pattern}`")
        }
        Some(m) if m.contains("unopened group") => format!("unexpected ): `{pattern}`"),
        Some(m) => format!("{m}: `{pattern}`"),
        None => format!("invalid regexp: `{pattern}`"),
    }
}

/// Go's `regexp.MustCompile` panic text, which `safeCall` turns into the
/// function's error.
pub(crate) fn must_compile(pattern: &str) -> Result<Regex, String> {
    compile(pattern).map_err(|e| {
        let q = if crate::strconv::can_backquote(pattern) {
            format!("`{pattern}`")
        } else {
            crate::strconv::quote(pattern)
        };
        format!("regexp: Compile({q}): {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii() {
        let re = compile(r"^\d+$").expect("compile");
        assert!(re.is_match("123"));
        assert!(!re.is_match("١٢٣"));
        let re = compile(r"[\w-]+").expect("compile");
        assert_eq!(re.find("é-ab_1").map(|m| m.as_str()), Some("-ab_1"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            compile("(").err(),
            Some("error parsing regexp: missing closing ): `(`".to_string())
        );
        assert!(must_compile("(")
            .err()
            .is_some_and(|e| e.starts_with("regexp: Compile(`(`): error parsing regexp")));
    }
}
