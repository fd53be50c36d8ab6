//! `label_replace` and `label_join`. Both keep every label they do not set,
//! including the metric name, and are computed once per series (labels do
//! not change from step to step).
//!
//! Two series may end up with the same label set; 2.42 refuses that only
//! when the evaluator checks the vector ("vector cannot contain metrics with
//! the same labelset"), so the check is left to the evaluator.

use model::is_valid_label_name;
use regex::{Regex, RegexBuilder};

use crate::error::QueryError;
use crate::value::Series;

/// `label_replace(v, dst, replacement, src, regex)`: where `regex` matches
/// the whole value of `src` (missing = empty), sets `dst` to `replacement`
/// with `$1`, `${name}`… expanded (an empty result deletes `dst`); leaves the
/// series alone otherwise.
pub(super) fn label_replace(
    vector: Vec<Series>,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &str,
) -> Result<Vec<Series>, QueryError> {
    // 2.42 checks the regex first, then the destination name; both fail the
    // query at run time (HTTP 422).
    let re = compile_go_regex(&format!("^(?:{regex})$"))
        .ok_or_else(|| QueryError::Execution(format!("invalid regular expression in label_replace(): {regex}")))?;
    if !is_valid_label_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    Ok(vector
        .into_iter()
        .map(|mut s| {
            let value = s.labels.get(src).unwrap_or("");
            if let Some(caps) = re.captures(value) {
                let res = expand(&re, replacement, value, &caps);
                let mut b = s.labels.to_builder();
                b.del(dst);
                if !res.is_empty() {
                    b.set(dst, res);
                }
                s.labels = b.build();
            }
            s
        })
        .collect())
}

/// `label_join(v, dst, separator, src...)`: sets `dst` to the values of the
/// `src` labels joined with `separator` (deleting it when that is empty).
pub(super) fn label_join(
    vector: Vec<Series>,
    dst: &str,
    sep: &str,
    srcs: &[String],
) -> Result<Vec<Series>, QueryError> {
    for src in srcs {
        if !is_valid_label_name(src) {
            return Err(QueryError::Execution(format!(
                "invalid source label name in label_join(): {src}"
            )));
        }
    }
    if !is_valid_label_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(vector
        .into_iter()
        .map(|mut s| {
            let joined = srcs
                .iter()
                .map(|src| s.labels.get(src).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(sep);
            let mut b = s.labels.to_builder();
            if joined.is_empty() {
                b.del(dst);
            } else {
                b.set(dst, joined);
            }
            s.labels = b.build();
            s
        })
        .collect())
}

/// Compiles a Go (RE2) regular expression with Go's meaning: the Perl
/// classes `\d \w \s` and `\b` are ASCII-only in Go but Unicode in Rust, a
/// `{` that does not start a repetition is a literal in Go, `[` inside a
/// class is a literal in Go (a nested class in Rust), octal escapes and
/// `\Q…\E` exist, and Go 1.19 has neither `(?<name>…)` groups nor non-ASCII
/// group names. `None` when Go would refuse the pattern.
pub(crate) fn compile_go_regex(pattern: &str) -> Option<Regex> {
    let translated = translate_go_regex(pattern)?;
    RegexBuilder::new(&translated).octal(true).build().ok()
}

fn translate_go_regex(p: &str) -> Option<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    // Position in the current class: a `]` first (after an optional `^`) is literal.
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&e) = chars.get(i + 1) else {
                return None; // trailing backslash
            };
            if e == 'Q' && !in_class {
                // \Q...\E: literal text up to \E or the end.
                let rest: String = chars[i + 2..].iter().collect();
                let (lit, after) = match rest.find("\\E") {
                    Some(end) => (&rest[..end], end + 2),
                    None => (rest.as_str(), rest.len()),
                };
                out.push_str(&regex::escape(lit));
                i += 2 + rest[..after].chars().count();
                continue;
            }
            let ascii = match (e, in_class) {
                ('d', false) => Some("[0-9]"),
                ('D', false) => Some("[^0-9]"),
                ('w', false) => Some("[0-9A-Za-z_]"),
                ('W', false) => Some("[^0-9A-Za-z_]"),
                ('s', false) => Some("[\\t\\n\\x0C\\r ]"),
                ('S', false) => Some("[^\\t\\n\\x0C\\r ]"),
                ('b', false) => Some("(?-u:\\b)"),
                ('B', false) => Some("(?-u:\\B)"),
                ('d', true) => Some("0-9"),
                ('D', true) => Some("[^0-9]"),
                ('w', true) => Some("0-9A-Za-z_"),
                ('W', true) => Some("[^0-9A-Za-z_]"),
                ('s', true) => Some("\\t\\n\\x0C\\r "),
                ('S', true) => Some("[^\\t\\n\\x0C\\r ]"),
                _ => None,
            };
            match ascii {
                Some(s) => out.push_str(s),
                None => {
                    out.push('\\');
                    out.push(e);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if i > class_start => {
                    in_class = false;
                    out.push(']');
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // [:alpha:] and friends, copied as they are.
                    let close =
                        (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == ':' && chars[j + 1] == ']')?;
                    out.extend(&chars[i..close + 2]);
                    i = close + 2;
                    continue;
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = i;
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '{' => {
                if let Some(end) = repetition_end(&chars, i) {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                } else {
                    out.push_str("\\{");
                    i += 1;
                }
                continue;
            }
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'<') => return None,
            '(' if chars[i..].starts_with(&['(', '?', 'P', '<']) => {
                // Go 1.19 takes only ASCII letters, digits and `_` in group names.
                let name_end = (i + 4..chars.len()).find(|&j| chars[j] == '>')?;
                if !chars[i + 4..name_end]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    return None;
                }
                out.push('(');
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if in_class {
        return None;
    }
    Some(out)
}

/// If `chars[i]` (a `{`) starts `{n}`, `{n,}` or `{n,m}`, the index of its `}`.
fn repetition_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        *j > start
    };
    if !digits(&mut j) {
        return None;
    }
    if chars.get(j) == Some(&',') {
        j += 1;
        digits(&mut j);
    }
    (chars.get(j) == Some(&'}')).then_some(j)
}

/// Go's `Regexp.ExpandString`: `$$` is a `$`; `$name`/`${name}` take the
/// longest run of letters, digits and `_` as the name; an all-digit name is a
/// group number (leading zeros make it a name); unknown groups expand to
/// nothing; a malformed reference leaves the `$` as it is.
fn expand(re: &Regex, template: &str, src: &str, caps: &regex::Captures<'_>) -> String {
    let mut dst = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        dst.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            dst.push('$');
            rest = r;
            continue;
        }
        let Some((name, num, after)) = extract(rest) else {
            dst.push('$');
            continue;
        };
        rest = after;
        let group = match num {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            dst.push_str(&src[m.start()..m.end()]);
        }
    }
    dst.push_str(rest);
    dst
}

/// Go's `extract`: the name after a `$`, its number if it is one, and the rest.
fn extract(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphabetic() || c.is_numeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut rest = &body[len..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => num = Some(n * 10 + (b - b'0') as usize),
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.starts_with('0') && name.len() > 1 {
        num = None;
    }
    Some((name, num, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_regex_translation() {
        let re = compile_go_regex("^(?:\\d+)$").unwrap();
        assert!(re.is_match("123"));
        assert!(!re.is_match("١٢٣"), "\\d is ASCII-only in Go");
        let re = compile_go_regex("^(?:[\\w-]+)$").unwrap();
        assert!(re.is_match("a-b_c9"));
        assert!(!re.is_match("é"));
        let re = compile_go_regex("^(?:a{)$").unwrap();
        assert!(re.is_match("a{"), "a lone brace is a literal in Go");
        let re = compile_go_regex("^(?:a{2})$").unwrap();
        assert!(re.is_match("aa"));
        let re = compile_go_regex("^(?:[[]+)$").unwrap();
        assert!(re.is_match("[["));
        let re = compile_go_regex("^(?:[]a]+)$").unwrap();
        assert!(re.is_match("]a"));
        let re = compile_go_regex("^(?:[[:alpha:]]+)$").unwrap();
        assert!(re.is_match("abc"));
        assert!(compile_go_regex("(?<x>a)").is_none());
        assert!(compile_go_regex("(?P<x>a)").is_some());
        assert!(compile_go_regex("(?P<é>a)").is_none());
        let re = compile_go_regex("^(?:\\Qa$b.\\E+)$").unwrap();
        assert!(re.is_match("a$b.."));
        assert!(!re.is_match("a$bx"));
        assert!(
            compile_go_regex("^(?:x\\Q(.*)$").is_none(),
            "\\Q swallows the closing paren"
        );
        let re = compile_go_regex("x\\Q(.*)$").unwrap();
        assert!(re.is_match("x(.*)$"));
        assert!(compile_go_regex("(").is_none());
        assert!(compile_go_regex("[a").is_none());
        assert!(compile_go_regex("a\\").is_none());
    }

    #[test]
    fn go_template_expansion() {
        let re = compile_go_regex("^(?:(?P<host>[a-z]+):(\\d+))$").unwrap();
        let src = "web:8080";
        let caps = re.captures(src).unwrap();
        let e = |t: &str| expand(&re, t, src, &caps);
        assert_eq!(e("$1"), "web");
        assert_eq!(e("${2}x"), "8080x");
        assert_eq!(e("$2x"), "", "$2x names the group 2x");
        assert_eq!(e("$host-$2"), "web-8080");
        assert_eq!(e("${host}"), "web");
        assert_eq!(e("$$1"), "$1");
        assert_eq!(e("$"), "$");
        assert_eq!(e("${1"), "${1");
        assert_eq!(e("$01"), "", "leading zero makes a name");
        assert_eq!(e("$9"), "");
        assert_eq!(e("a$-b"), "a$-b");
    }
}
