//! The OpenMetrics 1.0 text format, with the grammar of Prometheus 2.42's
//! `openmetricslex.l`/`openmetricsparse.go`:
//!
//! * separators are exactly one space; no blank lines, no leading blanks;
//! * `#` lines are only `# HELP`, `# TYPE`, `# UNIT` and the final `# EOF`,
//!   which must be the last thing in the body (a line feed may follow);
//! * labels are `{name="value",...}` without blanks or a trailing comma;
//! * values are Go floats, timestamps are float seconds (converted to
//!   milliseconds by truncation, as Prometheus does);
//! * an exemplar ` # {labels} value [timestamp]` may end a sample line; it
//!   is checked and dropped.
//!
//! In addition (not in Prometheus 2.42, but required by the spec), a sample
//! of a family typed `counter` must carry a suffix (`_total`, `_created`):
//! a sample named exactly like the counter family is an error.

use super::lexer::{
    ascii_str, is_label_start, is_metric_start, number_error, parse_float, unescape, Cursor, LabelAsm, MetaIndex,
    PResult, RawError,
};
use super::{Exposition, MetricType, ParsedSample};

pub(super) fn parse(body: &[u8]) -> PResult<Exposition> {
    let mut p = Parser {
        c: Cursor::new(body),
        meta: MetaIndex::default(),
        asm: LabelAsm::default(),
        family: &[],
        family_type: MetricType::Unknown,
    };
    let mut samples = Vec::new();
    p.run(&mut samples)?;
    Ok(Exposition {
        samples,
        metadata: p.meta.list,
    })
}

struct Parser<'a> {
    c: Cursor<'a>,
    meta: MetaIndex<'a>,
    asm: LabelAsm<'a>,
    /// Family named by the latest `# TYPE` line, and its type.
    family: &'a [u8],
    family_type: MetricType,
}

/// The token after one space: bytes up to the next space or line feed.
#[inline]
fn is_sep(c: u8) -> bool {
    c == b' ' || c == b'\n'
}

impl<'a> Parser<'a> {
    #[cold]
    fn missing_eof(&self) -> RawError {
        self.c.err(self.c.b.len(), "missing \"# EOF\" at end of input")
    }

    fn run(&mut self, samples: &mut Vec<ParsedSample>) -> PResult<()> {
        loop {
            let Some(ch) = self.c.peek() else {
                return Err(self.missing_eof());
            };
            if ch == b'#' {
                if self.hash_line()? {
                    return Ok(());
                }
            } else if is_metric_start(ch) {
                samples.push(self.sample()?);
            } else {
                return Err(self
                    .c
                    .expected(self.c.pos, "expected metric name, metadata or \"# EOF\""));
            }
        }
    }

    /// A `#` line; returns true at `# EOF`.
    fn hash_line(&mut self) -> PResult<bool> {
        let start = self.c.pos;
        if self.c.at(start + 1) != Some(b' ') {
            return Err(self.c.expected(start + 1, "expected \" \" after \"#\""));
        }
        self.c.pos += 2;
        let rest = self.c.rest();
        let keyword = if rest.starts_with(b"HELP ") {
            "HELP"
        } else if rest.starts_with(b"TYPE ") {
            "TYPE"
        } else if rest.starts_with(b"UNIT ") {
            "UNIT"
        } else if rest.starts_with(b"EOF") {
            self.c.pos += 3;
            if self.c.peek() == Some(b'\n') {
                self.c.pos += 1;
            }
            if !self.c.at_end() {
                return Err(self.c.err(self.c.pos, "unexpected data after \"# EOF\""));
            }
            return Ok(true);
        } else {
            return Err(self
                .c
                .expected(self.c.pos, "expected HELP, TYPE, UNIT or EOF after \"# \""));
        };
        self.c.pos += 5;
        let Some(name) = self.c.scan_metric_name() else {
            return Err(self
                .c
                .expected(self.c.pos, &format!("expected metric name after {keyword}")));
        };
        if self.c.peek() != Some(b' ') {
            if self.c.at_end() {
                return Err(self.missing_eof());
            }
            return Err(self
                .c
                .expected(self.c.pos, &format!("expected \" \" after metric name in {keyword}")));
        }
        let text_pos = self.c.pos + 1;
        let end = self.c.line_end_from(text_pos);
        if end == self.c.b.len() {
            return Err(self.missing_eof());
        }
        let text = &self.c.b[text_pos..end];
        match keyword {
            "HELP" => {
                let help = match std::str::from_utf8(text) {
                    Ok(s) => s,
                    Err(e) => return Err(self.c.err(text_pos + e.valid_up_to(), "invalid UTF-8 in help text")),
                };
                let help = if help.contains('\\') {
                    unescape(help, true)
                } else {
                    help.to_owned()
                };
                self.meta.entry(name).help = help;
            }
            "TYPE" => {
                let kind = match text {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::StateSet,
                    b"unknown" => MetricType::Unknown,
                    _ => {
                        let t = String::from_utf8_lossy(text);
                        return Err(self.c.err(text_pos, format!("invalid metric type {t:?}")));
                    }
                };
                self.family = name;
                self.family_type = kind;
                self.meta.entry(name).kind = kind;
            }
            _ => {
                // A non-empty unit must be a "_unit" suffix of the name.
                let ok = text.is_empty()
                    || (name.len() > text.len() && name.ends_with(text) && name[name.len() - text.len() - 1] == b'_');
                if !ok {
                    let u = String::from_utf8_lossy(text);
                    let m = ascii_str(name);
                    return Err(self
                        .c
                        .err(text_pos, format!("unit {u:?} is not a suffix of metric {m:?}")));
                }
                self.meta.entry(name).unit = ascii_str(text).to_owned();
            }
        }
        self.c.pos = end + 1;
        Ok(false)
    }

    /// `" " token` where token is `[^ \n]+`; `None` when absent.
    #[inline]
    fn spaced_token(&mut self) -> Option<&'a [u8]> {
        if self.c.peek() != Some(b' ') {
            return None;
        }
        self.c.pos += 1;
        let tok = self.c.scan_until(is_sep);
        (!tok.is_empty()).then_some(tok)
    }

    /// Error for a missing token at the cursor (after an optional space).
    #[cold]
    fn missing(&self, expected: &str) -> RawError {
        if self.c.at_end() {
            return self.missing_eof();
        }
        self.c.expected(self.c.pos, expected)
    }

    /// After a value or timestamp: true if an exemplar (` # {`) follows.
    #[inline]
    fn at_exemplar(&self) -> bool {
        self.c.rest().starts_with(b" # {")
    }

    fn sample(&mut self) -> PResult<ParsedSample> {
        let line_start = self.c.pos;
        let raw_name = self.c.scan_metric_name().unwrap_or_default();
        if self.family_type == MetricType::Counter && raw_name == self.family {
            let n = ascii_str(raw_name);
            return Err(self.c.err(
                line_start,
                format!("counter sample {n:?} must have a \"_total\" or \"_created\" suffix"),
            ));
        }
        let name = ascii_str(raw_name);
        self.asm.clear();
        if self.c.peek() == Some(b'{') {
            self.c.pos += 1;
            self.labels(true)?;
        }

        let vpos = self.c.pos + 1;
        let Some(tok) = self.spaced_token() else {
            return Err(self.missing("expected sample value after metric"));
        };
        let value = parse_float(tok).map_err(|e| number_error(vpos, "sample value", tok, e))?;

        let mut timestamp_ms = None;
        if self.c.peek() == Some(b' ') && !self.at_exemplar() {
            let tpos = self.c.pos + 1;
            let Some(tok) = self.spaced_token() else {
                return Err(self.missing("expected timestamp or exemplar"));
            };
            timestamp_ms = Some(self.timestamp(tpos, tok, "timestamp")?);
        }
        if self.at_exemplar() {
            self.c.pos += 4;
            self.exemplar()?;
        }
        match self.c.peek() {
            Some(b'\n') => self.c.pos += 1,
            None => return Err(self.missing_eof()),
            Some(_) => return Err(self.c.expected(self.c.pos, "expected end of line")),
        }

        let labels = self
            .asm
            .build(name)
            .map_err(|dup| self.c.err(line_start, format!("duplicate label name {dup:?}")))?;
        Ok(ParsedSample {
            labels,
            value,
            timestamp_ms,
        })
    }

    /// Float seconds to integer milliseconds, truncating like Prometheus.
    fn timestamp(&self, pos: usize, tok: &[u8], what: &str) -> PResult<i64> {
        let ts = parse_float(tok).map_err(|e| number_error(pos, what, tok, e))?;
        if !ts.is_finite() {
            return Err(number_error(pos, what, tok, super::lexer::NumError::Syntax));
        }
        Ok((ts * 1000.0) as i64)
    }

    /// The exemplar after ` # {`: labels, value, optional timestamp.
    /// Validated, then dropped.
    fn exemplar(&mut self) -> PResult<()> {
        self.labels(false)?;
        let vpos = self.c.pos + 1;
        let Some(tok) = self.spaced_token() else {
            return Err(self.missing("expected exemplar value after exemplar labels"));
        };
        parse_float(tok).map_err(|e| number_error(vpos, "exemplar value", tok, e))?;
        if self.c.peek() == Some(b' ') {
            let tpos = self.c.pos + 1;
            let Some(tok) = self.spaced_token() else {
                return Err(self.missing("expected exemplar timestamp"));
            };
            self.timestamp(tpos, tok, "exemplar timestamp")?;
        }
        Ok(())
    }

    /// `name="value",...}` after `{`; pairs go to the assembler when
    /// `collect` (sample labels) and are only checked otherwise (exemplars).
    fn labels(&mut self, collect: bool) -> PResult<()> {
        if self.c.peek() == Some(b'}') {
            self.c.pos += 1;
            return Ok(());
        }
        loop {
            if !self.c.peek().is_some_and(is_label_start) {
                return Err(self.missing("expected label name"));
            }
            let name = ascii_str(self.c.scan_label_name().unwrap_or_default());
            if self.c.peek() != Some(b'=') {
                return Err(self.missing("expected \"=\" after label name"));
            }
            self.c.pos += 1;
            if self.c.peek() != Some(b'"') {
                return Err(self.missing("expected quoted label value"));
            }
            let value = self.c.scan_quoted(false, "label value")?;
            if collect {
                self.asm.push(name, value);
            }
            match self.c.peek() {
                Some(b',') => self.c.pos += 1,
                Some(b'}') => {
                    self.c.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.missing("expected \",\" or \"}\" after label value")),
            }
        }
    }
}
