//! The parts of Go's `strconv` that templates observe: quoting, literal
//! unquoting, number parsing and float formatting (`%e`, `%f`, `%g` and the
//! shortest representation used by `%v`).

/// Go's `unicode.IsPrint`, approximated: letters, marks, numbers,
/// punctuation, symbols and ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let cp = c as u32;
    // Format characters (Cf), surrogates/private use and unassigned
    // noncharacters are not printable in Go.
    !matches!(cp,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFFFE | 0xFFFF
        | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F)
}

fn push_escaped(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.QuoteToASCII`.
pub(crate) fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        push_escaped(&mut out, c, q, ascii_only);
    }
    out.push(q);
    out
}

/// Go's `strconv.QuoteRune`.
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FFFD}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

/// Go's `strconv.Unquote` for the three literal forms the lexer produces.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    const SYNTAX: &str = "invalid syntax";
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(SYNTAX.into());
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return Err(SYNTAX.into());
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(SYNTAX.into());
            }
            // Go drops carriage returns from raw strings.
            Ok(inner.replace('\r', ""))
        }
        b'"' | b'\'' => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars().peekable();
            let mut count = 0;
            while let Some(c) = chars.next() {
                count += 1;
                if c == q as char && q == b'\'' || c == '\n' {
                    return Err(SYNTAX.into());
                }
                if c == '"' && q == b'"' {
                    return Err(SYNTAX.into());
                }
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                let Some(e) = chars.next() else {
                    return Err(SYNTAX.into());
                };
                match e {
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '\'' if q == b'\'' => out.push('\''),
                    '"' if q == b'"' => out.push('"'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v: u32 = 0;
                        for _ in 0..n {
                            let d = chars.next().and_then(|h| h.to_digit(16)).ok_or(SYNTAX)?;
                            v = v * 16 + d;
                        }
                        if e == 'x' {
                            // A \x byte escape: only ASCII keeps the string valid UTF-8.
                            if v < 0x80 {
                                out.push(char::from(v as u8));
                            } else if q == b'\'' {
                                out.push(char::from_u32(v).ok_or(SYNTAX)?);
                            } else {
                                out.push('\u{FFFD}');
                            }
                        } else {
                            out.push(char::from_u32(v).ok_or(SYNTAX)?);
                        }
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            let d = chars.next().and_then(|h| h.to_digit(8)).ok_or(SYNTAX)?;
                            v = v * 8 + d;
                        }
                        if v > 255 {
                            return Err(SYNTAX.into());
                        }
                        if v < 0x80 || q == b'\'' {
                            out.push(char::from_u32(v).ok_or(SYNTAX)?);
                        } else {
                            out.push('\u{FFFD}');
                        }
                    }
                    _ => return Err(SYNTAX.into()),
                }
            }
            if q == b'\'' && count != 1 && out.chars().count() != 1 {
                return Err(SYNTAX.into());
            }
            Ok(out)
        }
        _ => Err(SYNTAX.into()),
    }
}

/// Validates Go's underscore placement rule (`1_000`, `0x_FF`) and strips
/// them. Returns None when underscores are misplaced.
fn strip_underscores(s: &str, base_prefixed: bool) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    // Go: '_' must separate digits, or follow a base prefix.
    let b = s.as_bytes();
    let mut prev = b'.';
    let start = if base_prefixed { 2 } else { 0 };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            let after_prefix = base_prefixed && i == start;
            if !(prev.is_ascii_hexdigit() || after_prefix) {
                return None;
            }
        } else if prev == b'_' && !c.is_ascii_hexdigit() {
            return None;
        }
        prev = c;
        i += 1;
    }
    if prev == b'_' {
        return None;
    }
    Some(s.replace('_', ""))
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base prefixes, underscores, and a
/// leading `0` meaning octal.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let (digits, base, prefixed) = if s.len() > 2 && (s.starts_with("0x") || s.starts_with("0X")) {
        (&s[2..], 16, true)
    } else if s.len() > 2 && (s.starts_with("0o") || s.starts_with("0O")) {
        (&s[2..], 8, true)
    } else if s.len() > 2 && (s.starts_with("0b") || s.starts_with("0B")) {
        (&s[2..], 2, true)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8, true)
    } else {
        (s, 10, false)
    };
    let cleaned = if prefixed {
        let full = strip_underscores(&format!("0x{digits}"), true)?;
        full[2..].to_string()
    } else {
        strip_underscores(digits, false)?
    };
    if cleaned.is_empty() || cleaned.starts_with('+') || cleaned.starts_with('-') {
        return None;
    }
    u64::from_str_radix(&cleaned, base).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u <= 1u64 << 63 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal syntax (hex floats are not
/// supported). Errors mirror Go's `strconv.ParseFloat: parsing "x": ...`.
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s));
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        let v: f64 = if lower == "nan" { f64::NAN } else { f64::INFINITY };
        return Ok(if s.starts_with('-') { -v } else { v });
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return Err(syntax());
    }
    let cleaned = if body.contains('_') {
        strip_underscores(s, false).ok_or_else(syntax)?
    } else {
        s.to_string()
    };
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(format!("strconv.ParseFloat: parsing {}: value out of range", quote(s))),
        Ok(v) => Ok(v),
        Err(_) => Err(syntax()),
    }
}

/// Decimal digits and decimal-point position of a finite, non-negative float:
/// value = 0.d1d2d3... × 10^dp. `sig` None means shortest round-trip digits.
fn decimal_digits(v: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{v:e}"),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), v),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    if digits.iter().all(|&d| d == b'0') {
        return (vec![b'0'], 1);
    }
    (digits, exp + 1)
}

fn trim_zeros(d: &mut Vec<u8>) {
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
}

fn fmt_e(out: &mut String, d: &[u8], dp: i32, prec: usize, upper: bool) {
    out.push(char::from(d[0]));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(*d.get(i).unwrap_or(&b'0')));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if d == [b'0'] { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

fn fmt_f(out: &mut String, d: &[u8], dp: i32, prec: usize) {
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(char::from(*d.get(i).unwrap_or(&b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                *d.get(j as usize).unwrap_or(&b'0')
            };
            out.push(char::from(c));
        }
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for fmt in `eEfFgG`;
/// `prec` None is the shortest representation (-1 in Go).
pub(crate) fn format_float(v: f64, fmt: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    match fmt {
        'e' | 'E' => {
            let (d, dp) = match prec {
                None => decimal_digits(a, None),
                Some(p) => decimal_digits(a, Some(p + 1)),
            };
            let p = prec.unwrap_or(d.len().saturating_sub(1));
            fmt_e(&mut out, &d, dp, p, fmt == 'E');
        }
        'f' | 'F' => match prec {
            Some(p) => {
                // Rust's fixed formatting rounds exactly, as Go does.
                out.push_str(&format!("{a:.p$}"));
            }
            None => {
                let (d, dp) = decimal_digits(a, None);
                let p = (d.len() as i32 - dp).max(0) as usize;
                fmt_f(&mut out, &d, dp, p);
            }
        },
        _ => {
            let upper = fmt == 'G';
            let shortest = prec.is_none();
            let (mut d, dp) = match prec {
                None => decimal_digits(a, None),
                Some(p) => decimal_digits(a, Some(p.max(1))),
            };
            trim_zeros(&mut d);
            let mut p = match prec {
                None => d.len(),
                Some(p) => p.max(1),
            };
            let mut eprec = p as i32;
            if eprec > d.len() as i32 && d.len() as i32 >= dp {
                eprec = d.len() as i32;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                if p > d.len() {
                    p = d.len();
                }
                fmt_e(&mut out, &d, dp, p - 1, upper);
            } else {
                if p as i32 > dp {
                    p = d.len();
                }
                fmt_f(&mut out, &d, dp, (p as i32 - dp).max(0) as usize);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_float_matches_go_v() {
        let cases = [
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (123456.7, "123456.7"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v, 'g', None), want, "{v}");
        }
    }

    #[test]
    fn precision_g() {
        assert_eq!(format_float(1234567.0, 'g', Some(4)), "1.235e+06");
        assert_eq!(format_float(100.0, 'g', Some(4)), "100");
        assert_eq!(format_float(1.5, 'g', Some(4)), "1.5");
        assert_eq!(format_float(1.0, 'g', Some(4)), "1");
        assert_eq!(format_float(0.12, 'g', Some(4)), "0.12");
        assert_eq!(format_float(123.45678, 'g', Some(4)), "123.5");
        assert_eq!(format_float(9999.5, 'g', Some(4)), "1e+04");
        assert_eq!(format_float(0.0, 'g', Some(4)), "0");
    }

    #[test]
    fn e_and_f() {
        assert_eq!(format_float(1234.5678, 'e', Some(6)), "1.234568e+03");
        assert_eq!(format_float(0.0, 'e', Some(2)), "0.00e+00");
        assert_eq!(format_float(1e100, 'e', None), "1e+100");
        assert_eq!(format_float(2.5, 'f', Some(0)), "2");
        assert_eq!(format_float(1.005, 'f', Some(2)), "1.00");
        assert_eq!(format_float(-0.0, 'f', Some(1)), "-0.0");
        assert_eq!(format_float(1e21, 'f', None), "1000000000000000000000");
        assert_eq!(format_float(0.000123, 'f', None), "0.000123");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\n\u{1}é"), "\"a\\\"b\\n\\x01é\"");
        assert_eq!(quote_ascii("é"), "\"\\u00e9\"");
        assert_eq!(unquote("\"a\\tb\\u00e9\""), Ok("a\tbé".to_string()));
        assert_eq!(unquote("`a\\n`"), Ok("a\\n".to_string()));
        assert_eq!(unquote("'x'"), Ok("x".to_string()));
        assert!(unquote("\"\\q\"").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("1__0"), None);
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert_eq!(
            parse_float("one"),
            Err("strconv.ParseFloat: parsing \"one\": invalid syntax".into())
        );
        assert_eq!(parse_float("+Inf"), Ok(f64::INFINITY));
    }
}
