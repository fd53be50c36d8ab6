//! The pieces of Go's standard library that relabelling behaviour depends
//! on, redone on top of the `regex` crate:
//!
//! * [`translate_regex`]: Go RE2 syntax (`regexp/syntax` with Perl flags)
//!   rewritten to `regex`-crate syntax with the same meaning. The two
//!   dialects mostly agree; the differences handled here are that Go's
//!   `\d \s \w \b` are ASCII-only, Go has `\Q...\E`, `\p{^Name}` and octal
//!   escapes, a `{` that does not start a valid repetition is a literal in
//!   Go, and inside Go classes `[`, `&&`, `--` and `~~` are plain characters.
//! * [`expand`]: `regexp.Regexp.ExpandString` template expansion.
//! * [`to_lower`] / [`to_upper`]: `strings.ToLower` / `strings.ToUpper`,
//!   which map one rune to one rune (simple case mapping), unlike Rust's
//!   `str::to_lowercase`/`to_uppercase` (full mapping, e.g. `ß` → `SS`).

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Go's limit on counted repetition (`{n,m}` with n or m above is an error).
const MAX_REPEAT: u32 = 1000;

/// POSIX classes Go accepts inside brackets (`[[:alpha:]]`, `[[:^alpha:]]`).
/// They have the same (ASCII) meaning in the `regex` crate.
const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word",
    "xdigit",
];

/// Rewrites the Go regular expression `pattern` into `regex`-crate syntax
/// that matches exactly the same strings with the same submatches.
///
/// Errors carry a Go-style message for patterns Go's parser rejects (those
/// the `regex` crate would reject anyway are left for it to report).
pub(crate) fn translate_regex(pattern: &str) -> Result<String, String> {
    let mut t = Translator {
        chars: pattern.chars().collect(),
        pos: 0,
        out: String::with_capacity(pattern.len() + 8),
    };
    t.run()?;
    Ok(t.out)
}

struct Translator {
    chars: Vec<char>,
    pos: usize,
    out: String,
}

impl Translator {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn rest(&self) -> String {
        self.chars[self.pos..].iter().collect()
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => self.top_level_escape()?,
                '[' => {
                    let class = self.class()?;
                    self.out.push_str(&class);
                }
                '{' => self.brace()?,
                '(' => self.group_open()?,
                // Literals in Go; escaped so the regex crate agrees.
                '}' | ']' => {
                    push_literal(&mut self.out, c);
                    self.pos += 1;
                }
                _ => {
                    self.out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(())
    }

    /// `(`, `(?flags)`, `(?flags:`, `(?P<name>` or `(?<name>`.
    fn group_open(&mut self) -> Result<(), String> {
        self.out.push('(');
        self.pos += 1;
        if self.peek(0) != Some('?') {
            return Ok(());
        }
        if self.peek(1) == Some('P') && self.peek(2) == Some('<') {
            self.out.push_str("?P<");
            self.pos += 3;
            return Ok(());
        }
        if self.peek(1) == Some('<') {
            self.out.push_str("?<");
            self.pos += 2;
            return Ok(());
        }
        // Go knows only the flags i, m, s and U (no x, which would make
        // whitespace and `#` special in the regex crate).
        let mut len = 1;
        while matches!(self.peek(len), Some('i' | 'm' | 's' | 'U' | '-')) {
            len += 1;
        }
        if !matches!(self.peek(len), Some(':' | ')')) {
            let end = (self.pos + len + 1).min(self.chars.len());
            let seen: String = self.chars[self.pos - 1..end].iter().collect();
            return Err(format!("invalid or unsupported Perl syntax: `{seen}`"));
        }
        let flags: String = self.chars[self.pos..=self.pos + len].iter().collect();
        self.out.push_str(&flags);
        self.pos += len + 1;
        Ok(())
    }

    /// `{n}`, `{n,}` or `{n,m}` is a repetition; any other `{` is a literal.
    fn brace(&mut self) -> Result<(), String> {
        let Some((min, max, len)) = self.parse_repeat() else {
            push_literal(&mut self.out, '{');
            self.pos += 1;
            return Ok(());
        };
        let text: String = self.chars[self.pos..self.pos + len].iter().collect();
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
            return Err(format!("invalid repeat count: `{text}`"));
        }
        self.out.push_str(&text);
        self.pos += len;
        Ok(())
    }

    /// Parses a Go repetition at `{`: `(min, max, length in chars)`, where
    /// `max` is `None` for the open-ended `{n,}`.
    fn parse_repeat(&self) -> Option<(u32, Option<u32>, usize)> {
        let mut i = 1;
        let min = self.parse_int(&mut i)?;
        let max = if self.peek(i) == Some(',') {
            i += 1;
            if self.peek(i) == Some('}') {
                None
            } else {
                Some(self.parse_int(&mut i)?)
            }
        } else {
            Some(min)
        };
        (self.peek(i) == Some('}')).then_some((min, max, i + 1))
    }

    /// Go's `parseInt`: decimal digits without leading zeros. Numbers too
    /// large to be valid counts come back as `u32::MAX`.
    fn parse_int(&self, i: &mut usize) -> Option<u32> {
        let start = *i;
        while self.peek(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        let digits: String = self.chars[self.pos + start..self.pos + *i].iter().collect();
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        Some(digits.parse::<u32>().unwrap_or(u32::MAX))
    }

    /// A backslash outside brackets.
    fn top_level_escape(&mut self) -> Result<(), String> {
        match self.peek(1) {
            Some('A') => self.out.push_str(r"\A"),
            Some('z') => self.out.push_str(r"\z"),
            // Go's word boundaries are ASCII ones.
            Some('b') => self.out.push_str(r"(?-u:\b)"),
            Some('B') => self.out.push_str(r"(?-u:\B)"),
            Some('Q') => {
                // \Q...\E: everything up to \E (or the end) is literal.
                self.pos += 2;
                while let Some(c) = self.peek(0) {
                    if c == '\\' && self.peek(1) == Some('E') {
                        self.pos += 2;
                        return Ok(());
                    }
                    push_literal(&mut self.out, c);
                    self.pos += 1;
                }
                return Ok(());
            }
            Some(c @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => self.out.push_str(perl_class(c)),
            Some('p' | 'P') => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                return Ok(());
            }
            _ => {
                let c = self.escape()?;
                push_literal(&mut self.out, c);
                return Ok(());
            }
        }
        self.pos += 2;
        Ok(())
    }

    /// `\pN`, `\p{Name}`, `\p{^Name}`, `\PN`, ... at the backslash.
    fn unicode_class(&mut self) -> Result<String, String> {
        let mut negated = self.peek(1) == Some('P');
        self.pos += 2;
        let mut name = match self.peek(0) {
            None => return Err("invalid character class range: `\\p`".to_string()),
            Some('{') => {
                let Some(len) = self.chars[self.pos..].iter().position(|&c| c == '}') else {
                    return Err(format!("invalid character class range: `\\p{}`", self.rest()));
                };
                let name: String = self.chars[self.pos + 1..self.pos + len].iter().collect();
                self.pos += len + 1;
                name
            }
            Some(c) => {
                self.pos += 1;
                c.to_string()
            }
        };
        if let Some(stripped) = name.strip_prefix('^') {
            negated = !negated;
            name = stripped.to_string();
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid character class range: `\\p{{{name}}}`"));
        }
        Ok(format!("\\{}{{{name}}}", if negated { 'P' } else { 'p' }))
    }

    /// Go's `parseEscape` at a backslash: one character (octal, hex, C-style
    /// or escaped punctuation).
    fn escape(&mut self) -> Result<char, String> {
        let Some(c) = self.peek(1) else {
            return Err("trailing backslash at end of expression".to_string());
        };
        let start = self.pos;
        self.pos += 2;
        let invalid = |t: &Self| {
            let end = t.pos.min(t.chars.len());
            let seen: String = t.chars[start..end].iter().collect();
            Err(format!("invalid escape sequence: `{seen}`"))
        };
        let value = match c {
            // A single non-zero digit would be a backreference: unsupported.
            '1'..='7' if !matches!(self.peek(0), Some('0'..='7')) => return invalid(self),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match self.peek(0) {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                r
            }
            'x' if self.peek(0) == Some('{') => {
                self.pos += 1;
                let mut r: u32 = 0;
                let mut digits = 0;
                loop {
                    let Some(d) = self.peek(0) else {
                        return invalid(self);
                    };
                    self.pos += 1;
                    if d == '}' {
                        break;
                    }
                    let Some(v) = d.to_digit(16) else {
                        return invalid(self);
                    };
                    r = r * 16 + v;
                    if r > char::MAX as u32 {
                        return invalid(self);
                    }
                    digits += 1;
                }
                if digits == 0 {
                    return invalid(self);
                }
                r
            }
            'x' => {
                let hi = self.peek(0).and_then(|d| d.to_digit(16));
                let lo = self.peek(1).and_then(|d| d.to_digit(16));
                self.pos = (self.pos + 2).min(self.chars.len());
                match (hi, lo) {
                    (Some(h), Some(l)) => h * 16 + l,
                    _ => return invalid(self),
                }
            }
            'a' => 0x07,
            'f' => 0x0c,
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            'v' => 0x0b,
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => c as u32,
            _ => return invalid(self),
        };
        // Surrogates cannot occur in (valid UTF-8) input, but Go accepts them
        // in patterns; the regex crate does not, so reject them here.
        char::from_u32(value).ok_or_else(|| format!("invalid escape sequence: `\\x{{{value:x}}}`"))
    }

    /// A bracketed class starting at `[`, re-emitted with every literal
    /// escaped so that no character is special to the regex crate.
    fn class(&mut self) -> Result<String, String> {
        let start = self.pos;
        let missing = |t: &Self| {
            Err(format!(
                "missing closing ]: `{}`",
                t.chars[start..].iter().collect::<String>()
            ))
        };
        let mut out = String::from("[");
        self.pos += 1;
        if self.peek(0) == Some('^') {
            out.push('^');
            self.pos += 1;
        }
        let mut first = true; // `]` is a literal in first position
        loop {
            let Some(c) = self.peek(0) else {
                return missing(self);
            };
            if c == ']' && !first {
                self.pos += 1;
                out.push(']');
                return Ok(out);
            }
            first = false;

            if c == '[' && self.peek(1) == Some(':') {
                // Go looks for the next ":]" anywhere after "[:".
                let from = self.pos + 2;
                let close = (from..self.chars.len().saturating_sub(1))
                    .find(|&i| self.chars[i] == ':' && self.chars[i + 1] == ']');
                if let Some(close) = close {
                    let inner: String = self.chars[from..close].iter().collect();
                    let name = inner.strip_prefix('^').unwrap_or(&inner);
                    if !POSIX_CLASSES.contains(&name) {
                        return Err(format!("invalid character class range: `[:{inner}:]`"));
                    }
                    let _ = write!(out, "[:{inner}:]");
                    self.pos = close + 2;
                    continue;
                }
            }
            if c == '\\' {
                match self.peek(1) {
                    Some('p' | 'P') => {
                        let class = self.unicode_class()?;
                        out.push_str(&class);
                        continue;
                    }
                    Some(p @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                        out.push_str(perl_class(p));
                        self.pos += 2;
                        continue;
                    }
                    _ => {}
                }
            }

            let Some(lo) = self.class_char()? else {
                return missing(self);
            };
            let mut hi = lo;
            // `[a-]` is `a` or `-`.
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(|n| n != ']') {
                self.pos += 1;
                let Some(h) = self.class_char()? else {
                    return missing(self);
                };
                if h < lo {
                    return Err(format!("invalid character class range: `{lo}-{h}`"));
                }
                hi = h;
            }
            push_literal(&mut out, lo);
            if hi != lo {
                out.push('-');
                push_literal(&mut out, hi);
            }
        }
    }

    fn class_char(&mut self) -> Result<Option<char>, String> {
        match self.peek(0) {
            None => Ok(None),
            Some('\\') => self.escape().map(Some),
            Some(c) => {
                self.pos += 1;
                Ok(Some(c))
            }
        }
    }
}

/// Go's Perl classes are ASCII-only. Bracketed so they also work nested
/// inside a class.
fn perl_class(c: char) -> &'static str {
    match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        's' => r"[\t\n\f\r ]",
        'S' => r"[^\t\n\f\r ]",
        'w' => "[0-9A-Za-z_]",
        _ => "[^0-9A-Za-z_]",
    }
}

/// Appends `c` so that it is a plain literal for the regex crate, both
/// inside and outside brackets.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    }
}

/// Appends `template` to `dst` with `$1`, `${1}`, `$name`, `${name}`
/// replaced by the submatches in `caps`, exactly like Go's
/// `Regexp.ExpandString`:
///
/// * `$$` is a literal `$`; a `$` not followed by a valid reference is kept
///   as is (e.g. `$-`, `${}`, `${a-b}`, an unclosed `${1`);
/// * a name is the longest run of letters, digits and `_`, so `$1x` means
///   the group named `1x`, not group 1 followed by `x` (use `${1}x`);
/// * an all-digit name is a group number unless it has a leading zero;
/// * unknown, out-of-range or non-participating groups expand to nothing.
pub(crate) fn expand(template: &str, caps: &Captures<'_>, dst: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        dst.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            dst.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_name(rest) else {
            dst.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => caps.name(name),
        };
        if let Some(m) = group {
            dst.push_str(m.as_str());
        }
    }
    dst.push_str(rest);
}

/// Go's `extract`: the reference name after a `$` and the text after it.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[\p{L}\p{Nd}_]+").expect("valid name regex"));
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = NAME.find(body)?.end();
    let (name, after) = body.split_at(len);
    if braced {
        return Some((name, after.strip_prefix('}')?));
    }
    Some((name, after))
}

/// Go's reading of a reference name as a group number.
fn group_number(name: &str) -> Option<usize> {
    let mut num: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || num >= 100_000_000 {
            return None;
        }
        num = num * 10 + usize::from(b - b'0');
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    Some(num)
}

/// Go's `strings.ToLower`: each character mapped to its simple lowercase.
pub(crate) fn to_lower(s: &str) -> String {
    s.chars().map(lower_char).collect()
}

/// Go's `strings.ToUpper`: each character mapped to its simple uppercase.
pub(crate) fn to_upper(s: &str) -> String {
    s.chars().map(upper_char).collect()
}

fn lower_char(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        // Only U+0130 has a multi-character full lowercase; its simple
        // lowercase is a plain `i`.
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

fn upper_char(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        // Characters whose full uppercase is several characters: only the
        // Greek letters with ypogegrammeni have a simple uppercase (the
        // titlecase form); all others (ß, ligatures, ...) stay unchanged.
        _ => match c {
            '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            '\u{1FB3}' => '\u{1FBC}',
            '\u{1FC3}' => '\u{1FCC}',
            '\u{1FF3}' => '\u{1FFC}',
            _ => c,
        },
    }
}
