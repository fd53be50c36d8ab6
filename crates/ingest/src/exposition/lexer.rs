//! Byte-level building blocks shared by the Prometheus text and OpenMetrics
//! parsers: a cursor over the body, name and quoted-string scanners, Go
//! compatible number parsing, and the label-set assembler.
//!
//! Everything works on `&[u8]` so that nothing is decoded or copied until a
//! sample is known to be valid; the only allocations are the final `String`s
//! of a label set.

use std::collections::HashMap;

use model::{Label, Labels, METRIC_NAME};

use super::{MetricMetadata, MetricType};

/// An error located by byte offset; turned into a [`super::ParseError`] with
/// a line number and excerpt only when it escapes `parse`.
#[derive(Debug)]
pub(super) struct RawError {
    pub pos: usize,
    pub message: String,
}

pub(super) type PResult<T> = Result<T, RawError>;

// Character classes, one bit each, looked up by byte.
const METRIC_START: u8 = 1;
const METRIC_CONT: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONT: u8 = 8;
const BLANK: u8 = 16;
const DIGIT: u8 = 32;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let alpha = c.is_ascii_alphabetic();
        let digit = c.is_ascii_digit();
        let mut v = 0;
        if alpha || c == b'_' || c == b':' {
            v |= METRIC_START | METRIC_CONT;
        }
        if digit {
            v |= METRIC_CONT | LABEL_CONT | DIGIT;
        }
        if alpha || c == b'_' {
            v |= LABEL_START | LABEL_CONT;
        }
        if c == b' ' || c == b'\t' {
            v |= BLANK;
        }
        t[i] = v;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

#[inline]
pub(super) fn is_class(c: u8, class: u8) -> bool {
    CLASS[c as usize] & class != 0
}

#[inline]
pub(super) fn is_metric_start(c: u8) -> bool {
    is_class(c, METRIC_START)
}

#[inline]
pub(super) fn is_label_start(c: u8) -> bool {
    is_class(c, LABEL_START)
}

#[inline]
pub(super) fn is_blank(c: u8) -> bool {
    is_class(c, BLANK)
}

#[inline]
pub(super) fn is_digit(c: u8) -> bool {
    is_class(c, DIGIT)
}

/// `s` as `&str`; callers only pass bytes already checked to be ASCII names.
#[inline]
pub(super) fn ascii_str(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or_default()
}

/// A position in the body being parsed.
pub(super) struct Cursor<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Cursor { b, pos: 0 }
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    pub fn at(&self, pos: usize) -> Option<u8> {
        self.b.get(pos).copied()
    }

    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    /// Skips spaces and tabs; returns how many.
    #[inline]
    pub fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !is_blank(c) {
                break;
            }
            self.pos += 1;
        }
        self.pos - start
    }

    /// Consumes bytes of `cont` class after a first byte of `start` class.
    #[inline]
    fn scan_name(&mut self, start: u8, cont: u8) -> Option<&'a [u8]> {
        let begin = self.pos;
        match self.peek() {
            Some(c) if is_class(c, start) => self.pos += 1,
            _ => return None,
        }
        while let Some(c) = self.peek() {
            if !is_class(c, cont) {
                break;
            }
            self.pos += 1;
        }
        Some(&self.b[begin..self.pos])
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, or `None` (nothing consumed).
    #[inline]
    pub fn scan_metric_name(&mut self) -> Option<&'a [u8]> {
        self.scan_name(METRIC_START, METRIC_CONT)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, or `None` (nothing consumed).
    #[inline]
    pub fn scan_label_name(&mut self) -> Option<&'a [u8]> {
        self.scan_name(LABEL_START, LABEL_CONT)
    }

    /// Consumes bytes up to (not including) the first `stop` byte or the end.
    #[inline]
    pub fn scan_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let begin = self.pos;
        let len = self
            .rest()
            .iter()
            .position(|&c| stop(c))
            .unwrap_or(self.b.len() - begin);
        self.pos = begin + len;
        &self.b[begin..self.pos]
    }

    /// Index of the next `\n` at or after `pos`, or the body length.
    #[inline]
    pub fn line_end_from(&self, pos: usize) -> usize {
        self.b
            .get(pos..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
            .map_or(self.b.len(), |i| pos + i)
    }

    /// Scans a double-quoted string starting at the opening quote, checking
    /// escapes (a backslash must be followed by a byte other than a line
    /// feed) and UTF-8. `allow_newline` admits raw line feeds inside the
    /// quotes, as the Prometheus 0.0.4 lexer does.
    pub fn scan_quoted(&mut self, allow_newline: bool, what: &str) -> PResult<QuotedStr<'a>> {
        let open = self.pos;
        debug_assert_eq!(self.peek(), Some(b'"'));
        let start = open + 1;
        let b = self.b;
        let mut i = start;
        let mut escaped = false;
        loop {
            match b.get(i) {
                None => return Err(self.err(open, format!("unterminated {what}"))),
                Some(b'"') => break,
                Some(b'\\') => match b.get(i + 1) {
                    None => return Err(self.err(open, format!("unterminated {what}"))),
                    Some(b'\n') => return Err(self.err(i, format!("invalid escape sequence at end of line in {what}"))),
                    Some(_) => {
                        escaped = true;
                        i += 2;
                    }
                },
                Some(b'\n') if !allow_newline => {
                    return Err(self.err(open, format!("unterminated {what}")));
                }
                Some(_) => i += 1,
            }
        }
        let raw = &b[start..i];
        let s = match std::str::from_utf8(raw) {
            Ok(s) => s,
            Err(e) => return Err(self.err(start + e.valid_up_to(), format!("invalid UTF-8 in {what}"))),
        };
        self.pos = i + 1;
        Ok(QuotedStr { s, escaped })
    }

    /// Describes what is at `pos` for "expected X, got Y" messages.
    pub fn describe(&self, pos: usize) -> String {
        let b = self.b;
        match b.get(pos) {
            None => "end of input".to_string(),
            Some(b'\n') => "end of line".to_string(),
            Some(b'\r') if matches!(b.get(pos + 1), None | Some(b'\n')) => "end of line".to_string(),
            Some(_) => {
                let tail = &b[pos..b.len().min(pos + 4)];
                let ch = match std::str::from_utf8(tail) {
                    Ok(s) => s.chars().next(),
                    Err(e) if e.valid_up_to() > 0 => std::str::from_utf8(&tail[..e.valid_up_to()])
                        .ok()
                        .and_then(|s| s.chars().next()),
                    Err(_) => None,
                };
                match ch {
                    Some(c) => format!("{:?}", c.to_string()),
                    None => format!("byte 0x{:02x}", b[pos]),
                }
            }
        }
    }

    #[inline]
    pub fn err(&self, pos: usize, message: impl Into<String>) -> RawError {
        RawError {
            pos,
            message: message.into(),
        }
    }

    /// `"{expected}, got {what is at pos}"`.
    #[cold]
    pub fn expected(&self, pos: usize, expected: &str) -> RawError {
        self.err(pos, format!("{expected}, got {}", self.describe(pos)))
    }
}

/// A quoted string's contents, still escaped, validated as UTF-8.
#[derive(Clone, Copy)]
pub(super) struct QuotedStr<'a> {
    pub s: &'a str,
    /// True when the raw text contains a backslash and must be unescaped.
    pub escaped: bool,
}

impl QuotedStr<'_> {
    pub fn into_string(self, quote_escape: bool) -> String {
        if self.escaped {
            unescape(self.s, quote_escape)
        } else {
            self.s.to_owned()
        }
    }
}

/// Resolves `\\` and `\n`, plus `\"` when `quote_escape`; any other
/// backslash is kept literally (Go's `strings.Replacer` semantics).
pub(super) fn unescape(s: &str, quote_escape: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                Some(b'"') if quote_escape => {
                    out.push(b'"');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
        i += 1;
    }
    // Only ASCII sequences were replaced by ASCII bytes, so this is UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumError {
    Syntax,
    Range,
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a float the way Prometheus does: Go's `strconv.ParseFloat` for
/// base 10 (optional sign, digits with optional `.` and exponent;
/// case-insensitive `inf`/`infinity` with optional sign and `nan` without),
/// but no hex floats or underscores, which Prometheus refuses.
/// Out-of-range finite input (`1e400`) is a range error as in Go.
pub(super) fn parse_float(s: &[u8]) -> Result<f64, NumError> {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let signed = body.len() != s.len();
    match body.first() {
        Some(b'i' | b'I') => {
            return if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
                Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY })
            } else {
                Err(NumError::Syntax)
            };
        }
        Some(b'n' | b'N') => {
            return if !signed && body.eq_ignore_ascii_case(b"nan") {
                Ok(f64::NAN)
            } else {
                Err(NumError::Syntax)
            };
        }
        _ => {}
    }

    // Decimal: validate the syntax and gather up to 19 significant digits.
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut nd = 0u32; // significant digits held in `mant`
    let mut exp10: i64 = 0;
    let mut exact = true;
    let mut saw_digits = false;
    while let Some(&c) = body.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        saw_digits = true;
        let d = (c - b'0') as u64;
        if mant == 0 && d == 0 {
        } else if nd < 19 {
            mant = mant * 10 + d;
            nd += 1;
        } else {
            exp10 += 1;
            exact &= d == 0;
        }
        i += 1;
    }
    if body.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = body.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            saw_digits = true;
            let d = (c - b'0') as u64;
            if mant == 0 && d == 0 {
                exp10 -= 1;
            } else if nd < 19 {
                mant = mant * 10 + d;
                nd += 1;
                exp10 -= 1;
            } else {
                exact &= d == 0;
            }
            i += 1;
        }
    }
    if !saw_digits {
        return Err(NumError::Syntax);
    }
    if matches!(body.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i64 = 0;
        let mut saw = false;
        while let Some(&c) = body.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            saw = true;
            e = (e * 10 + (c - b'0') as i64).min(1_000_000);
            i += 1;
        }
        if !saw {
            return Err(NumError::Syntax);
        }
        exp10 += if eneg { -e } else { e };
    }
    if i != body.len() {
        return Err(NumError::Syntax);
    }

    // Clinger's fast path: exact when the mantissa and the power of ten are
    // both exactly representable.
    if exact && mant <= (1u64 << 53) && (-22..=22).contains(&exp10) {
        let m = mant as f64;
        let v = if exp10 >= 0 {
            m * POW10[exp10 as usize]
        } else {
            m / POW10[(-exp10) as usize]
        };
        return Ok(if neg { -v } else { v });
    }
    if mant == 0 {
        return Ok(if neg { -0.0 } else { 0.0 });
    }
    // The syntax was checked above and is a subset of what Rust accepts.
    let v: f64 = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(NumError::Syntax)?;
    if v.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(v)
}

/// Parses `[0-9]+` into an i64 (the text format's millisecond timestamps).
pub(super) fn parse_int_digits(s: &[u8]) -> Result<i64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut v: i64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(NumError::Syntax);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as i64))
            .ok_or(NumError::Range)?;
    }
    Ok(v)
}

/// The error for an unparsable number token at `pos`.
#[cold]
pub(super) fn number_error(pos: usize, what: &str, tok: &[u8], e: NumError) -> RawError {
    let tok = String::from_utf8_lossy(tok);
    let message = match e {
        NumError::Syntax => format!("invalid {what} {tok:?}"),
        NumError::Range => format!("{what} {tok:?} out of range"),
    };
    RawError { pos, message }
}

/// Collects the labels of one sample as borrowed slices and turns them into
/// a sorted [`Labels`] once the line is known to be valid.
#[derive(Default)]
pub(super) struct LabelAsm<'a> {
    pairs: Vec<(&'a str, QuotedStr<'a>)>,
}

impl<'a> LabelAsm<'a> {
    #[inline]
    pub fn clear(&mut self) {
        self.pairs.clear();
    }

    #[inline]
    pub fn push(&mut self, name: &'a str, value: QuotedStr<'a>) {
        self.pairs.push((name, value));
    }

    /// Builds the label set with `__name__` = `metric`. Fails with the
    /// repeated name when a label name occurs twice (including an explicit
    /// `__name__`). Empty values are dropped, as [`Labels`] requires.
    pub fn build(&mut self, metric: &'a str) -> Result<Labels, &'a str> {
        self.pairs.push((
            METRIC_NAME,
            QuotedStr {
                s: metric,
                escaped: false,
            },
        ));
        let pairs = &mut self.pairs;
        if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
            pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(w[0].0);
        }
        let mut out = Vec::with_capacity(pairs.len());
        for &(name, value) in pairs.iter() {
            if value.s.is_empty() {
                continue;
            }
            out.push(Label {
                name: name.into(),
                value: value.into_string(true).into(),
            });
        }
        Ok(Labels::from_sorted_unchecked(out))
    }
}

/// Metadata merged per metric family, in order of first appearance.
#[derive(Default)]
pub(super) struct MetaIndex<'a> {
    pub list: Vec<MetricMetadata>,
    index: HashMap<&'a [u8], usize>,
}

impl<'a> MetaIndex<'a> {
    /// The entry for `family`, created (type unknown, empty help and unit)
    /// on first use.
    pub fn entry(&mut self, family: &'a [u8]) -> &mut MetricMetadata {
        // Metadata lines of one family are adjacent: try the last entry first.
        if let Some(last) = self.list.last() {
            if last.metric_family.as_bytes() == family {
                let n = self.list.len() - 1;
                return &mut self.list[n];
            }
        }
        let list = &mut self.list;
        let i = *self.index.entry(family).or_insert_with(|| {
            list.push(MetricMetadata {
                metric_family: ascii_str(family).to_owned(),
                kind: MetricType::Unknown,
                help: String::new(),
                unit: String::new(),
            });
            list.len() - 1
        });
        &mut self.list[i]
    }
}
