//! The Prometheus text exposition format 0.0.4, with the grammar of
//! Prometheus 2.42's `promlex.l`/`promparse.go`:
//!
//! * blanks (spaces and tabs) may separate any two tokens and lead a line;
//! * `# HELP name text` and `# TYPE name type` (after `#` and one or more
//!   blanks) are metadata, every other line starting with `#` is a comment;
//! * labels may be separated by commas or just blanks, a trailing comma is
//!   fine, label values may contain escaped `\\`, `\"`, `\n` and even raw
//!   line feeds;
//! * the value is any run of bytes other than blanks, `{` and line feeds,
//!   parsed as a Go float; the optional timestamp is `[0-9]+` milliseconds.
//!
//! Beyond Prometheus 2.42, a carriage return before a line feed (or at the
//! end of the body) is ignored, so `\r\n` bodies parse.

use super::lexer::{
    ascii_str, is_blank, is_digit, is_label_start, is_metric_start, number_error, parse_float, parse_int_digits,
    unescape, Cursor, LabelAsm, MetaIndex, PResult,
};
use super::{Exposition, MetricType, ParsedSample};

pub(super) fn parse(body: &[u8]) -> PResult<Exposition> {
    let mut p = Parser {
        c: Cursor::new(body),
        meta: MetaIndex::default(),
        asm: LabelAsm::default(),
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
}

impl<'a> Parser<'a> {
    /// True at a line end: `\n`, `\r\n`, a final `\r`, or the end of input.
    #[inline]
    fn at_eol(&self) -> bool {
        match self.c.peek() {
            None | Some(b'\n') => true,
            Some(b'\r') => matches!(self.c.at(self.c.pos + 1), None | Some(b'\n')),
            _ => false,
        }
    }

    /// Consumes a line end (see [`Self::at_eol`]).
    #[inline]
    fn eat_eol(&mut self) {
        if self.c.peek() == Some(b'\r') {
            self.c.pos += 1;
        }
        if self.c.peek() == Some(b'\n') {
            self.c.pos += 1;
        }
    }

    /// End of the current line's content: the next `\n` (or the end), less
    /// a `\r` right before it.
    #[inline]
    fn content_end(&self) -> usize {
        let end = self.c.line_end_from(self.c.pos);
        if end > self.c.pos && self.c.b[end - 1] == b'\r' {
            end - 1
        } else {
            end
        }
    }

    fn run(&mut self, samples: &mut Vec<ParsedSample>) -> PResult<()> {
        loop {
            self.c.skip_blanks();
            let Some(ch) = self.c.peek() else { return Ok(()) };
            if ch == b'#' {
                self.comment()?;
            } else if is_metric_start(ch) {
                samples.push(self.sample()?);
            } else if self.at_eol() {
                self.eat_eol();
            } else {
                return Err(self.c.expected(self.c.pos, "expected metric name or comment"));
            }
        }
    }

    /// A line starting with `#`.
    fn comment(&mut self) -> PResult<()> {
        self.c.pos += 1; // '#'
        if self.c.skip_blanks() > 0 {
            let rest = self.c.rest();
            let keyword = if rest.starts_with(b"HELP") {
                Some(true)
            } else if rest.starts_with(b"TYPE") {
                Some(false)
            } else {
                None
            };
            if let Some(is_help) = keyword {
                if rest.get(4).is_some_and(|&c| is_blank(c)) {
                    self.c.pos += 4;
                    self.c.skip_blanks();
                    return self.metadata(is_help);
                }
            }
        }
        // Any other comment: ignored, whatever its bytes.
        self.c.pos = self.c.line_end_from(self.c.pos);
        self.eat_eol();
        Ok(())
    }

    /// The rest of a `# HELP` / `# TYPE` line, after the keyword's blanks.
    fn metadata(&mut self, is_help: bool) -> PResult<()> {
        let keyword = if is_help { "HELP" } else { "TYPE" };
        let Some(name) = self.c.scan_metric_name() else {
            return Err(self
                .c
                .expected(self.c.pos, &format!("expected metric name after {keyword}")));
        };
        // Like promlex: text that is all blanks is empty, otherwise the one
        // character after the name (normally the separating blank) is cut.
        let start = self.c.pos;
        let end = self.content_end();
        let rest = &self.c.b[start..end];
        let (text, text_pos) = if rest.iter().all(|&c| is_blank(c)) {
            (&rest[..0], start)
        } else {
            (&rest[1..], start + 1)
        };
        if is_help {
            let help = match std::str::from_utf8(text) {
                Ok(s) => s,
                Err(e) => return Err(self.c.err(text_pos + e.valid_up_to(), "invalid UTF-8 in help text")),
            };
            let help = if help.contains('\\') {
                unescape(help, false)
            } else {
                help.to_owned()
            };
            self.meta.entry(name).help = help;
        } else {
            let kind = match text {
                b"counter" => MetricType::Counter,
                b"gauge" => MetricType::Gauge,
                b"histogram" => MetricType::Histogram,
                b"summary" => MetricType::Summary,
                b"untyped" => MetricType::Unknown,
                _ => {
                    let t = String::from_utf8_lossy(text);
                    return Err(self.c.err(text_pos, format!("invalid metric type {t:?}")));
                }
            };
            self.meta.entry(name).kind = kind;
        }
        self.c.pos = end;
        self.eat_eol();
        Ok(())
    }

    fn sample(&mut self) -> PResult<ParsedSample> {
        let line_start = self.c.pos;
        let name = ascii_str(self.c.scan_metric_name().unwrap_or_default());
        self.asm.clear();
        self.c.skip_blanks();
        if self.c.peek() == Some(b'{') {
            self.c.pos += 1;
            self.labels()?;
            self.c.skip_blanks();
        }

        let vpos = self.c.pos;
        let tok = self.c.scan_until(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'{'));
        if tok.is_empty() {
            return Err(self.c.expected(vpos, "expected sample value"));
        }
        let value = parse_float(tok).map_err(|e| number_error(vpos, "sample value", tok, e))?;

        self.c.skip_blanks();
        let mut timestamp_ms = None;
        if !self.at_eol() {
            let tpos = self.c.pos;
            if !self.c.peek().is_some_and(is_digit) {
                return Err(self.c.expected(tpos, "expected timestamp or end of line"));
            }
            let tok = self.c.scan_until(|c| !is_digit(c));
            timestamp_ms = Some(parse_int_digits(tok).map_err(|e| number_error(tpos, "timestamp", tok, e))?);
            self.c.skip_blanks();
            if !self.at_eol() {
                return Err(self.c.expected(self.c.pos, "expected end of line after timestamp"));
            }
        }
        self.eat_eol();

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

    /// Label pairs after `{`, up to and including `}`.
    fn labels(&mut self) -> PResult<()> {
        loop {
            self.c.skip_blanks();
            match self.c.peek() {
                Some(b'}') => {
                    self.c.pos += 1;
                    return Ok(());
                }
                Some(c) if is_label_start(c) => {}
                _ => return Err(self.c.expected(self.c.pos, "expected label name or \"}\"")),
            }
            let name = ascii_str(self.c.scan_label_name().unwrap_or_default());
            self.c.skip_blanks();
            if self.c.peek() != Some(b'=') {
                return Err(self.c.expected(self.c.pos, "expected \"=\" after label name"));
            }
            self.c.pos += 1;
            self.c.skip_blanks();
            if self.c.peek() != Some(b'"') {
                return Err(self.c.expected(self.c.pos, "expected quoted label value"));
            }
            let value = self.c.scan_quoted(true, "label value")?;
            self.asm.push(name, value);
            self.c.skip_blanks();
            if self.c.peek() == Some(b',') {
                self.c.pos += 1;
            }
        }
    }
}
