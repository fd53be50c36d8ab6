//! Exposition formats: parsers for the Prometheus text format 0.0.4 and the
//! OpenMetrics 1.0 text format, as scraped from `/metrics` endpoints.
//!
//! [`parse`] turns a whole body into samples and per-family metadata, or
//! fails as a whole on the first syntax error, like Prometheus 2.42 does for
//! a scrape. The grammars follow Prometheus's own lexers; the `text` and
//! `openmetrics` submodules document the details and the few deliberate
//! differences.
//!
//! Parsing works on bytes and allocates only the final strings of each label
//! set (one `String` per label name and value) plus metadata.

mod lexer;
mod openmetrics;
mod text;

#[cfg(test)]
mod tests;

use lexer::RawError;

/// Which text format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`).
    PrometheusText,
    /// OpenMetrics text format (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format for a scrape response's `Content-Type`: OpenMetrics for the
    /// media type `application/openmetrics-text` (any version, any case, as
    /// Prometheus does), the Prometheus text format for anything else,
    /// including an empty or missing header.
    pub fn from_content_type(ct: &str) -> Format {
        let media_type = ct.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// The type of a metric family, as declared by `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics only).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics only).
    Info,
    /// `stateset` (OpenMetrics only).
    StateSet,
    /// `unknown` (OpenMetrics), `untyped` (text format), or no `# TYPE`.
    Unknown,
}

impl MetricType {
    /// The name Prometheus's HTTP API uses for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// What `# HELP`, `# TYPE` and `# UNIT` lines said about one metric family.
/// One entry per family name, in order of first appearance; a later line of
/// the same kind overrides an earlier one.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricMetadata {
    /// The family name as written on the metadata lines (no sample suffix).
    pub metric_family: String,
    /// Declared type; [`MetricType::Unknown`] without a `# TYPE` line.
    pub kind: MetricType,
    /// Unescaped help text; empty without a `# HELP` line.
    pub help: String,
    /// Unit (OpenMetrics `# UNIT`); always empty in the text format.
    pub unit: String,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// The series, including `__name__`; labels with empty values dropped.
    pub labels: model::Labels,
    /// The value (NaN and ±Inf allowed).
    pub value: f64,
    /// Explicit timestamp in milliseconds, if the line had one.
    pub timestamp_ms: Option<i64>,
}

/// Everything parsed from one body, in input order.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Samples, in input order (OpenMetrics `_created` samples included).
    pub samples: Vec<ParsedSample>,
    /// Metadata per family, in order of first appearance.
    pub metadata: Vec<MetricMetadata>,
}

/// Why a body could not be parsed. The whole body is refused.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}: {excerpt:?}")]
pub struct ParseError {
    /// 1-based line number of the error.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// The offending line, cut to 100 characters (lossily decoded).
    pub excerpt: String,
}

/// Longest excerpt, in characters.
const EXCERPT_CHARS: usize = 100;

impl ParseError {
    fn locate(body: &[u8], err: RawError) -> ParseError {
        let mut pos = err.pos.min(body.len());
        // An error at the very end of a body ending in '\n' belongs to the
        // last line, not to the empty one after it.
        if pos == body.len() && pos > 0 && body[pos - 1] == b'\n' {
            pos -= 1;
        }
        let before = &body[..pos];
        let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
        let start = before.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        let mut end = body[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(body.len(), |i| pos + i);
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
        let excerpt = String::from_utf8_lossy(&body[start..end])
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        ParseError {
            line,
            message: err.message,
            excerpt,
        }
    }
}

/// Parses a whole exposition body in `format`.
///
/// Fails on the first syntax error anywhere in the body (including invalid
/// UTF-8 in label values or help text, duplicate label names in a sample,
/// and, for OpenMetrics, a missing final `# EOF`). Never panics.
pub fn parse(body: &[u8], format: Format) -> Result<Exposition, ParseError> {
    let result = match format {
        Format::PrometheusText => text::parse(body),
        Format::OpenMetrics => openmetrics::parse(body),
    };
    result.map_err(|e| ParseError::locate(body, e))
}
