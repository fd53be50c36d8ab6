//! Alertmanager's (classic, 0.25) matcher syntax: `foo="bar"`, `foo!~"re"`,
//! unquoted values, OpenMetrics escapes and `{a="b", c=~"d"}` lists.
//!
//! The parser follows `pkg/labels/parse.go` closely, including its tolerance
//! (unquoted values, trailing commas, a literal `\` before any other character)
//! and its error texts, because users paste the same strings they give `amtool`.
//! Matching itself reuses [`model::Matcher`], whose regexes are fully anchored.

use std::cmp::Ordering;
use std::sync::OnceLock;

use model::Labels;
pub use model::{MatchType, Matcher};
use regex::Regex;

/// Why a matcher string could not be parsed. The texts are Alertmanager's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The string is not `name op value`.
    #[error("bad matcher format: {0}")]
    BadFormat(String),
    /// A `"` appears where it is not the opening or closing quote.
    #[error("matcher value contains unescaped double quote: {0}")]
    UnescapedQuote(String),
    /// The regex did not compile.
    #[error("{0}")]
    InvalidRegex(String),
}

fn matcher_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Go's `\s` is ASCII-only ([\t\n\f\r ]), so spell it out instead of using
    // Rust's Unicode-aware `\s`. `=~` must precede `=` in the alternation.
    RE.get_or_init(|| {
        Regex::new(r"^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*((?s).*?)[\t\n\f\r ]*$")
            .unwrap_or_else(|e| unreachable!("static matcher regex: {e}"))
    })
}

/// Parses a comma-separated list of matchers; a leading `{` and trailing `}`
/// are optional, commas inside double quotes do not separate.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, ParseError> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);

    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut inside_quotes = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if !escaped {
                    inside_quotes = !inside_quotes;
                } else {
                    escaped = false;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// Parses one matcher, e.g. `job=~"api|web"`.
pub fn parse_matcher(s: &str) -> Result<Matcher, ParseError> {
    let caps = matcher_re()
        .captures(s)
        .ok_or_else(|| ParseError::BadFormat(s.to_string()))?;
    let (name, op, raw) = match (caps.get(1), caps.get(2), caps.get(3)) {
        (Some(n), Some(o), Some(v)) => (n.as_str(), o.as_str(), v.as_str()),
        _ => return Err(ParseError::BadFormat(s.to_string())),
    };
    let kind = match op {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regex,
        _ => MatchType::NotRegex,
    };

    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                // A spurious escape: keep the backslash literally.
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        let is_last = chars.peek().is_none();
        match c {
            '\\' if !is_last => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_trailing_quote || !is_last {
                    return Err(ParseError::UnescapedQuote(raw.to_string()));
                }
                expect_trailing_quote = false;
            }
            _ => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(ParseError::UnescapedQuote(raw.to_string()));
    }
    Matcher::new(kind, name, value).map_err(|e| ParseError::InvalidRegex(e.to_string()))
}

/// Whether every matcher accepts `labels` (a missing label matches as "").
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

/// Alertmanager's `labels.Matchers` order: by name, then value, then operator.
pub fn sort_matchers(matchers: &mut [Matcher]) {
    matchers.sort_by(compare_matchers);
}

fn op_rank(t: MatchType) -> u8 {
    match t {
        MatchType::Equal => 0,
        MatchType::NotEqual => 1,
        MatchType::Regex => 2,
        MatchType::NotRegex => 3,
    }
}

fn compare_matchers(a: &Matcher, b: &Matcher) -> Ordering {
    a.name
        .cmp(&b.name)
        .then_with(|| a.value.cmp(&b.value))
        .then_with(|| op_rank(a.kind).cmp(&op_rank(b.kind)))
}

/// One matcher as Alertmanager 0.25 prints it: `name` `op` Go-quoted value.
pub fn format_matcher(m: &Matcher) -> String {
    format!("{}{}{}", m.name, m.kind, go_quote(&m.value))
}

/// A matcher list as Alertmanager prints it: `{a="b",c=~"d"}` (no spaces).
/// Route keys, and therefore group keys, are built from this.
pub fn format_matchers(ms: &[Matcher]) -> String {
    let mut out = String::from("{");
    for (i, m) in ms.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format_matcher(m));
    }
    out.push('}');
    out
}

/// Go's `strconv.Quote` for the characters that occur in label values:
/// printable text stays as is, quotes, backslashes and control characters are
/// escaped. Group keys must be byte-identical across restarts and with
/// Alertmanager, so this mirrors Go rather than Rust's `{:?}`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                let cp = c as u32;
                if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A label set printed like Go's `model.LabelSet.String()`:
/// `{a="1", b="2"}` (sorted, `", "` separated, Go-quoted values).
pub fn format_label_set(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.name);
        out.push('=');
        out.push_str(&go_quote(&l.value));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
        Matcher::new(kind, name, value).unwrap()
    }

    use MatchType::*;

    // Ported from Alertmanager's pkg/labels/parse_test.go (TestMatchers).
    #[test]
    fn parse_test_go_valid_cases() {
        let cases: Vec<(&str, Vec<Matcher>)> = vec![
            ("{}", vec![]),
            ("{foo='}", vec![m(Equal, "foo", "'")]),
            ("{foo=`}", vec![m(Equal, "foo", "`")]),
            ("{foo=\\\"}", vec![m(Equal, "foo", "\"")]),
            ("{foo=bar}", vec![m(Equal, "foo", "bar")]),
            (r#"{foo="bar"}"#, vec![m(Equal, "foo", "bar")]),
            ("{foo=~bar.*}", vec![m(Regex, "foo", "bar.*")]),
            (r#"{foo=~"bar.*"}"#, vec![m(Regex, "foo", "bar.*")]),
            ("{foo!=bar}", vec![m(NotEqual, "foo", "bar")]),
            (r#"{foo!="bar"}"#, vec![m(NotEqual, "foo", "bar")]),
            ("{foo!~bar.*}", vec![m(NotRegex, "foo", "bar.*")]),
            (r#"{foo!~"bar.*"}"#, vec![m(NotRegex, "foo", "bar.*")]),
            (
                r#"{foo="bar", baz!="quux"}"#,
                vec![m(Equal, "foo", "bar"), m(NotEqual, "baz", "quux")],
            ),
            (
                r#"{foo="bar", baz!~"quux.*"}"#,
                vec![m(Equal, "foo", "bar"), m(NotRegex, "baz", "quux.*")],
            ),
            (
                r#"{foo="bar",baz!~".*quux", derp="wat"}"#,
                vec![
                    m(Equal, "foo", "bar"),
                    m(NotRegex, "baz", ".*quux"),
                    m(Equal, "derp", "wat"),
                ],
            ),
            (
                r#"{foo="bar", baz!="quux", derp="wat"}"#,
                vec![
                    m(Equal, "foo", "bar"),
                    m(NotEqual, "baz", "quux"),
                    m(Equal, "derp", "wat"),
                ],
            ),
            (
                r#"{foo="bar", baz!~".*quux.*", derp="wat"}"#,
                vec![
                    m(Equal, "foo", "bar"),
                    m(NotRegex, "baz", ".*quux.*"),
                    m(Equal, "derp", "wat"),
                ],
            ),
            (
                r#"{foo="bar", instance=~"some-api.*"}"#,
                vec![m(Equal, "foo", "bar"), m(Regex, "instance", "some-api.*")],
            ),
            (r#"{foo=""}"#, vec![m(Equal, "foo", "")]),
            (
                r#"{foo="bar,quux", job="job1"}"#,
                vec![m(Equal, "foo", "bar,quux"), m(Equal, "job", "job1")],
            ),
            (
                r#"{foo = "bar", dings != "bums", }"#,
                vec![m(Equal, "foo", "bar"), m(NotEqual, "dings", "bums")],
            ),
            (
                "foo=bar,dings!=bums",
                vec![m(Equal, "foo", "bar"), m(NotEqual, "dings", "bums")],
            ),
            (
                r#"{quote="She said: \"Hi, ladies! That's gender-neutral…\""}"#,
                vec![m(Equal, "quote", "She said: \"Hi, ladies! That's gender-neutral…\"")],
            ),
            (r#"statuscode=~"5..""#, vec![m(Regex, "statuscode", "5..")]),
            ("tricky=~~~", vec![m(Regex, "tricky", "~~")]),
            (r#"trickier==\\=\=\""#, vec![m(Equal, "trickier", r#"=\=\=""#)]),
            (
                r#"contains_quote != "\"" , contains_comma !~ "foo,bar" , "#,
                vec![
                    m(NotEqual, "contains_quote", "\""),
                    m(NotRegex, "contains_comma", "foo,bar"),
                ],
            ),
            ("{foo=bar}}", vec![m(Equal, "foo", "bar}")]),
            ("{foo=bar}},}", vec![m(Equal, "foo", "bar}}")]),
            ("{foo=,bar=}}", vec![m(Equal, "foo", ""), m(Equal, "bar", "}")]),
            (r"{foo=bar\t}", vec![m(Equal, "foo", "bar\\t")]),
            (r"{foo=bar\n}", vec![m(Equal, "foo", "bar\n")]),
            (r"{foo=bar\}", vec![m(Equal, "foo", "bar\\")]),
            (r"{foo=bar\\}", vec![m(Equal, "foo", "bar\\")]),
            (r#"{foo=bar\"}"#, vec![m(Equal, "foo", "bar\"")]),
            ("job=", vec![m(Equal, "job", "")]),
            ("{foo=", vec![m(Equal, "foo", "")]),
            ("{foo=}b", vec![m(Equal, "foo", "}b")]),
        ];
        for (input, want) in cases {
            let got = parse_matchers(input).unwrap_or_else(|e| panic!("{input}: unexpected error {e}"));
            assert_eq!(got, want, "input {input}");
        }
    }

    #[test]
    fn parse_test_go_error_cases() {
        let cases = [
            (",", "bad matcher format: "),
            ("{,}", "bad matcher format: "),
            (
                r#"job="value"#,
                r#"matcher value contains unescaped double quote: "value"#,
            ),
            (
                r#"job=value""#,
                r#"matcher value contains unescaped double quote: value""#,
            ),
            (
                r#"trickier==\\=\=\"""#,
                r#"matcher value contains unescaped double quote: =\\=\=\"""#,
            ),
            (
                r#"contains_unescaped_quote = foo"bar"#,
                r#"matcher value contains unescaped double quote: foo"bar"#,
            ),
            (
                r#"{invalid-name = "valid label"}"#,
                r#"bad matcher format: invalid-name = "valid label""#,
            ),
            (r#""{foo=\"bar"}"#, r#"bad matcher format: "{foo=\"bar""#),
            (r#""foo=\"bar""#, r#"bad matcher format: "foo=\"bar""#),
            (r#""foo=\"bar\"""#, r#"bad matcher format: "foo=\"bar\"""#),
            (r#""foo=\"bar\""#, r#"bad matcher format: "foo=\"bar\""#),
            (r#""{foo=\"bar\"}""#, r#"bad matcher format: "{foo=\"bar\"}""#),
            (r#""foo="bar"""#, r#"bad matcher format: "foo="bar"""#),
            ("{{foo=", "bad matcher format: {foo="),
        ];
        for (input, want) in cases {
            let err = parse_matchers(input).expect_err(input);
            assert_eq!(err.to_string(), want, "input {input}");
        }
        let err = parse_matchers(r#"{foo=~"invalid[regexp"}"#).unwrap_err();
        assert!(matches!(err, ParseError::InvalidRegex(_)), "{err}");
        assert!(err.to_string().contains("invalid[regexp"), "{err}");
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let ms = parse_matchers(r#"job=~"api|web", env!="prod", team="""#).unwrap();
        assert!(matches_all(&ms, &Labels::from_pairs([("job", "api"), ("env", "dev")])));
        assert!(!matches_all(&ms, &Labels::from_pairs([("job", "api2")])));
        assert!(!matches_all(&ms, &Labels::from_pairs([("job", "api"), ("team", "x")])));
    }

    #[test]
    fn formatting_matches_alertmanager() {
        let mut ms = parse_matchers(r#"{owner="team-A", level!="critical"}"#).unwrap();
        sort_matchers(&mut ms);
        assert_eq!(format_matchers(&ms), r#"{level!="critical",owner="team-A"}"#);
        assert_eq!(format_matchers(&[]), "{}");
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
        let l = Labels::from_pairs([("b", "2"), ("a", "x\"y")]);
        assert_eq!(format_label_set(&l), r#"{a="x\"y", b="2"}"#);
    }

    #[test]
    fn sort_order_is_name_value_operator() {
        let mut ms = vec![
            m(Regex, "b", "x"),
            m(Equal, "a", "z"),
            m(NotEqual, "b", "x"),
            m(Equal, "a", "y"),
        ];
        sort_matchers(&mut ms);
        let s: Vec<String> = ms.iter().map(format_matcher).collect();
        assert_eq!(s, [r#"a="y""#, r#"a="z""#, r#"b!="x""#, r#"b=~"x""#]);
    }
}
