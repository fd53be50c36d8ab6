//! Go's `fmt.Sprint`, `Sprintln` and `Sprintf` over [`Value`]s, including
//! Go's error annotations (`%!d(string=x)`, `%!(EXTRA ...)`, `%!v(MISSING)`).

use crate::strconv::{can_backquote, format_float, quote, quote_ascii, quote_rune};
use crate::value::Value;

/// Widths and precisions above this are rejected like Go's `tooLarge`.
const TOO_LARGE: usize = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

struct Printer {
    buf: String,
    f: Flags,
}

/// Go's `fmt.Sprint`.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// Go's `fmt.Sprintln`.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// Formats one value as `%v` (what a template action prints).
pub fn format_value(v: &Value) -> String {
    let mut p = Printer {
        buf: String::new(),
        f: Flags::default(),
    };
    p.print_arg(v, 'v');
    p.buf
}

fn parsenum(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > TOO_LARGE {
            return (0, false, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

fn parse_arg_number(s: &[u8]) -> (usize, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (width, ok, newi) = parsenum(s, 1, i);
            if !ok || newi != i || width == 0 {
                return (0, i + 1, false);
            }
            return (width - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    match args.get(arg_num) {
        Some(Value::Int(i)) if i.unsigned_abs() <= TOO_LARGE as u64 => (*i, true, arg_num + 1),
        Some(_) => (0, false, arg_num + 1),
        None => (0, false, arg_num),
    }
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer {
        buf: String::with_capacity(format.len() + 16),
        f: Flags::default(),
    };
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0;
    while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match s[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut after_index;
        // Explicit argument index.
        let arg_number = |arg_num: usize, i: usize, reordered: &mut bool, good: &mut bool| -> (usize, usize, bool) {
            if i >= end || s[i] != b'[' {
                return (arg_num, i, false);
            }
            *reordered = true;
            let (index, wid, ok) = parse_arg_number(&s[i..]);
            if ok && index < args.len() {
                return (index, i + wid, true);
            }
            *good = false;
            (arg_num, i + wid, ok)
        };
        (arg_num, i, after_index) = arg_number(arg_num, i, &mut reordered, &mut good_arg_num);
        // Width.
        if i < end && s[i] == b'*' {
            i += 1;
            let (w, ok, n) = int_from_arg(args, arg_num);
            arg_num = n;
            if !ok {
                p.buf.push_str("%!(BADWIDTH)");
                p.f.wid = None;
            } else if w < 0 {
                p.f.wid = Some(w.unsigned_abs() as usize);
                p.f.minus = true;
                p.f.zero = false;
            } else {
                p.f.wid = Some(w as usize);
            }
            after_index = false;
        } else {
            let (w, ok, ni) = parsenum(s, i, end);
            i = ni;
            p.f.wid = ok.then_some(w);
            if after_index && ok {
                good_arg_num = false;
            }
        }
        // Precision.
        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(arg_num, i, &mut reordered, &mut good_arg_num);
            if i < end && s[i] == b'*' {
                i += 1;
                let (pr, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                if pr < 0 || !ok {
                    p.f.prec = None;
                    if !ok {
                        p.buf.push_str("%!(BADPREC)");
                    }
                } else {
                    p.f.prec = Some(pr as usize);
                }
                after_index = false;
            } else {
                let (pr, ok, ni) = parsenum(s, i, end);
                i = ni;
                p.f.prec = Some(if ok { pr } else { 0 });
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(arg_num, i, &mut reordered, &mut good_arg_num);
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        match verb {
            '%' => p.buf.push('%'),
            _ if !good_arg_num => {
                p.buf.push_str("%!");
                p.buf.push(verb);
                p.buf.push_str("(BADINDEX)");
            }
            _ if arg_num >= args.len() => {
                p.buf.push_str("%!");
                p.buf.push(verb);
                p.buf.push_str("(MISSING)");
            }
            _ => {
                if verb == 'v' {
                    p.f.sharp_v = p.f.sharp;
                    p.f.sharp = false;
                    p.f.plus_v = p.f.plus;
                    p.f.plus = false;
                }
                p.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if arg.is_nil() {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(&arg.type_name());
                p.buf.push('=');
                p.print_arg(arg, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid else {
            self.buf.push_str(s);
            return;
        };
        let n = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(n);
        } else {
            self.write_padding(n);
            self.buf.push_str(s);
        }
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if arg.is_nil() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&arg.type_name());
            self.buf.push('=');
            self.print_arg(arg, 'v');
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, arg: &Value, verb: char) {
        match arg {
            Value::Nil => match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            },
            _ if verb == 'T' => {
                let t = arg.type_name();
                self.fmt_s(&t);
            }
            _ => self.print_value(arg, verb),
        }
    }

    fn print_value(&mut self, v: &Value, verb: char) {
        match v {
            Value::Nil => self.pad("<nil>"),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.fmt_integer(*i, verb, v),
            Value::Float(x) => self.fmt_float(*x, verb, v),
            Value::String(s) => self.fmt_string(s, verb, v),
            Value::List(items) => {
                self.buf.push('[');
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(item, verb);
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (k, (key, val)) in m.entries.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(key, verb, &Value::from(key.as_str()));
                    self.buf.push(':');
                    self.print_value(val, verb);
                }
                self.buf.push(']');
            }
            Value::Object(o) => {
                if o.is_stringer() && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') && !self.f.sharp_v {
                    let s = o.format().unwrap_or_default();
                    self.fmt_string(&s, verb, v);
                } else if let Some(u) = o.underlying() {
                    let u = u.clone();
                    self.print_value(&u, verb);
                } else if let Some(s) = o.format() {
                    self.pad(&s);
                } else {
                    self.pad("{}");
                }
            }
            Value::Func(_) => match verb {
                'v' | 'p' => self.pad("0x0"),
                _ => self.bad_verb(verb, v),
            },
        }
    }

    fn fmt_integer(&mut self, i: i64, verb: char, v: &Value) {
        match verb {
            'v' | 'd' => self.fmt_int_base(i, 10, verb, false),
            'b' => self.fmt_int_base(i, 2, verb, false),
            'o' | 'O' => self.fmt_int_base(i, 8, verb, false),
            'x' => self.fmt_int_base(i, 16, verb, false),
            'X' => self.fmt_int_base(i, 16, verb, true),
            'c' => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                let q = if self.f.sharp && can_backquote(&c.to_string()) {
                    format!("`{c}`")
                } else {
                    quote_rune(c, self.f.plus)
                };
                self.pad(&q);
            }
            'U' => {
                let mut s = format!("U+{:04X}", i);
                if let (true, Some(c)) = (self.f.sharp, u32::try_from(i).ok().and_then(char::from_u32)) {
                    if crate::strconv::is_print(c) {
                        s.push_str(&format!(" '{c}'"));
                    }
                }
                let saved = self.f.zero;
                self.f.zero = false;
                self.pad(&s);
                self.f.zero = saved;
            }
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_int_base(&mut self, i: i64, base: u32, verb: char, upper: bool) {
        let negative = i < 0;
        let u = i.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let saved = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid.unwrap_or(0);
                self.write_padding(w);
                self.f.zero = saved;
                return;
            }
        } else if let (true, Some(w)) = (self.f.zero, self.f.wid) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match base {
            2 => format!("{u:b}"),
            8 => format!("{u:o}"),
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits = format!("{}{}", "0".repeat(prec - digits.len()), digits);
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix = format!("0o{prefix}");
        }
        let sign = if negative {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        let s = format!("{sign}{prefix}{digits}");
        let saved = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = saved;
    }

    fn fmt_float(&mut self, x: f64, verb: char, v: &Value) {
        let (conv, default_prec) = match verb {
            'v' => ('g', None),
            'g' | 'G' => (verb, None),
            // Hex and binary float forms are rare in templates; shortest %g
            // is the closest stand-in.
            'b' | 'x' | 'X' => ('g', None),
            'f' | 'F' => ('f', Some(6)),
            'e' | 'E' => (verb, Some(6)),
            _ => return self.bad_verb(verb, v),
        };
        let prec = self.f.prec.or(default_prec);
        let s = format_float(x, conv, prec);
        let mut num = if s.starts_with('-') || s.starts_with('+') {
            s
        } else {
            format!("+{s}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let body = &num[1..];
        if body.starts_with("Inf") || body.starts_with("NaN") {
            let saved = self.f.zero;
            self.f.zero = false;
            let out = if body.starts_with("NaN") && !self.f.space && !self.f.plus {
                body.to_string()
            } else {
                num
            };
            self.pad(&out);
            self.f.zero = saved;
            return;
        }
        if self.f.sharp {
            let mut digits: i64 = match verb {
                'v' | 'g' | 'G' => prec.map(|p| p as i64).unwrap_or(6),
                _ => 0,
            };
            let (mant, tail) = match num.find(['e', 'E']) {
                Some(k) => (num[..k].to_string(), num[k..].to_string()),
                None => (num.clone(), String::new()),
            };
            let mut mant = mant;
            let mut saw_nonzero = false;
            let mut has_point = false;
            for c in mant[1..].chars() {
                if c == '.' {
                    has_point = true;
                    continue;
                }
                if c != '0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
            }
            if !has_point {
                if mant.len() == 2 && mant.ends_with('0') {
                    digits -= 1;
                }
                mant.push('.');
            }
            while digits > 0 {
                mant.push('0');
                digits -= 1;
            }
            num = mant + &tail;
        }
        if self.f.plus || !num.starts_with('+') {
            if let (true, Some(w)) = (self.f.zero, self.f.wid) {
                if w > num.len() {
                    let (sign, rest) = num.split_at(1);
                    self.buf.push_str(sign);
                    self.write_padding(w - num.len());
                    self.buf.push_str(rest);
                    return;
                }
            }
            self.pad(&num);
            return;
        }
        let unsigned = num[1..].to_string();
        self.pad(&unsigned);
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => match s.char_indices().nth(p) {
                Some((idx, _)) => &s[..idx],
                None => s,
            },
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let t = self.truncate(s).to_string();
        self.pad(&t);
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        let q = if self.f.sharp && can_backquote(s) {
            format!("`{s}`")
        } else if self.f.plus {
            quote_ascii(s)
        } else {
            quote(s)
        };
        self.pad(&q);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let digits: &[u8; 16] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let bytes = s.as_bytes();
        let length = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let mut width = 2 * length;
        if width == 0 {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        let x = if upper { 'X' } else { 'x' };
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(x);
        }
        for (k, &c) in bytes[..length].iter().enumerate() {
            if self.f.space && k > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(x);
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xF)]));
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args)
    }

    #[test]
    fn printf_verbs() {
        let v = [Value::Float(1.23456)];
        assert_eq!(f("%.2f", &v), "1.23");
        assert_eq!(f("%f", &v), "1.234560");
        assert_eq!(f("%e", &v), "1.234560e+00");
        assert_eq!(f("%g", &v), "1.23456");
        assert_eq!(f("%8.3f|", &v), "   1.235|");
        assert_eq!(f("%-8.3f|", &v), "1.235   |");
        assert_eq!(f("%08.3f", &[Value::Float(-1.23456)]), "-001.235");
        assert_eq!(f("%+.1f", &v), "+1.2");
        assert_eq!(f("%d", &[Value::Int(42)]), "42");
        assert_eq!(f("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(
            f(
                "%x %X %o %b",
                &[Value::Int(255), Value::Int(255), Value::Int(8), Value::Int(5)]
            ),
            "ff FF 10 101"
        );
        assert_eq!(f("%#x", &[Value::Int(255)]), "0xff");
        assert_eq!(f("%q", &[Value::from("a\"b")]), "\"a\\\"b\"");
        assert_eq!(f("%x", &[Value::from("hi")]), "6869");
        assert_eq!(f("%t", &[Value::Bool(true)]), "true");
        assert_eq!(f("%5s|%-5s|", &[Value::from("ab"), Value::from("cd")]), "   ab|cd   |");
        assert_eq!(f("%.2s", &[Value::from("abcdef")]), "ab");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%c", &[Value::Int(65)]), "A");
        assert_eq!(f("%U", &[Value::Int(0x1F600)]), "U+1F600");
        assert_eq!(f("% d", &[Value::Int(5)]), " 5");
        assert_eq!(f("%6.2f%%", &[Value::Float(99.5)]), " 99.50%");
    }

    #[test]
    fn printf_errors() {
        assert_eq!(f("%d", &[Value::from("foo")]), "%!d(string=foo)");
        assert_eq!(f("%s", &[Value::Int(5)]), "%!s(int=5)");
        assert_eq!(f("%d", &[Value::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%d", &[]), "%!d(MISSING)");
        assert_eq!(f("%d", &[Value::Int(1), Value::from("x")]), "1%!(EXTRA string=x)");
        assert_eq!(f("%d", &[Value::Nil]), "%!d(<nil>)");
        assert_eq!(f("%v", &[Value::Nil]), "<nil>");
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(f("%z", &[Value::Int(1)]), "%!z(int=1)");
        assert_eq!(f("%[2]d %[1]d", &[Value::Int(1), Value::Int(2)]), "2 1");
        assert_eq!(f("%[3]d", &[Value::Int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%*d", &[Value::Int(4), Value::Int(7)]), "   7");
        assert_eq!(f("%5d", &[Value::from("foo")]), "%!d(string=  foo)");
    }

    #[test]
    fn print_spacing() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&[Value::from("a"), Value::Int(1), Value::from("b")]), "a1b");
        assert_eq!(sprint(&[Value::from("a"), Value::from("b")]), "ab");
        assert_eq!(sprintln(&[Value::from("a"), Value::Int(1)]), "a 1\n");
        assert_eq!(sprint(&[Value::Float(1e6), Value::Float(0.5)]), "1e+06 0.5");
    }

    #[test]
    fn containers() {
        let l = Value::list(vec![Value::Int(1), Value::from("a"), Value::Nil]);
        assert_eq!(format_value(&l), "[1 a <nil>]");
        let m = Value::string_map([("b", "2"), ("a", "1")]);
        assert_eq!(format_value(&m), "map[a:1 b:2]");
        assert_eq!(f("%d", &[l]), "[1 %!d(string=a) <nil>]");
    }
}
