//! The remote write 1.0 receiver: snappy-compressed protobuf in, samples into
//! a [`SampleSink`].
//!
//! Differences from Prometheus 2.42, both deliberate: label sets are
//! validated (Prometheus stores invalid names as they come), and a refused
//! sample (out of order, duplicate, out of bounds) does not roll back the
//! rest of the request — the good samples are committed and the answer is
//! still a 400 naming what was refused, as Mimir does. The client sees the
//! same status either way, so it neither retries nor loses more than it must.
use model::{is_valid_label_name, is_valid_metric_name, Labels, METRIC_NAME};
use prost::Message;

use super::proto::WriteRequest;
use super::wire;
use crate::sink::SampleSink;

/// Limits that protect the server from one request.
#[derive(Debug, Clone)]
pub struct WriteLimits {
    /// Largest decompressed protobuf accepted.
    pub max_decompressed_bytes: usize,
    /// Most labels one series may have.
    pub max_labels_per_series: usize,
    /// Longest label name.
    pub max_label_name_length: usize,
    /// Longest label value.
    pub max_label_value_length: usize,
}

impl Default for WriteLimits {
    fn default() -> Self {
        WriteLimits {
            max_decompressed_bytes: 128 << 20,
            max_labels_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 4096,
        }
    }
}

/// Why a remote write request failed, with the HTTP status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The body is not valid snappy block format.
    #[error("snappy decode error: {0}")]
    Snappy(String),
    /// The body decompresses to more than the limit.
    #[error("decompressed body of {size} bytes exceeds the limit of {limit} bytes (limits.remote_write.max_decompressed_bytes)")]
    TooLarge {
        /// Claimed decompressed size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The decompressed body is not a `WriteRequest`.
    #[error("protobuf decode error: {0}")]
    Protobuf(String),
    /// A series breaks a rule or limit; nothing of the request was stored.
    #[error("invalid series {series}: {reason}")]
    InvalidSeries {
        /// The offending series as far as it could be printed.
        series: String,
        /// What is wrong.
        reason: String,
    },
    /// Some samples were refused; the rest were stored.
    #[error("{first}; {refused} of {total} samples refused, the others were stored")]
    Refused {
        /// The first refusal, in Prometheus's words, with series and timestamp.
        first: String,
        /// How many samples were refused.
        refused: u64,
        /// Samples in the request.
        total: u64,
    },
    /// Storage failed; nothing of the request was stored; the client should retry.
    #[error("{0}")]
    Storage(String),
}

impl WriteError {
    /// The HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            WriteError::TooLarge { .. } => 413,
            WriteError::Storage(_) => 500,
            _ => 400,
        }
    }
}

/// What a successful (or partly successful) request stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Samples stored.
    pub samples: u64,
    /// Series in the request.
    pub series: u64,
    /// Series created by this request.
    pub series_created: u64,
    /// Exemplars received (not stored yet).
    pub exemplars_ignored: u64,
}

/// Decompresses a snappy block-format body, refusing oversize output before
/// allocating it.
pub fn decompress(body: &[u8], limits: &WriteLimits) -> Result<Vec<u8>, WriteError> {
    let size = snap::raw::decompress_len(body).map_err(|e| WriteError::Snappy(e.to_string()))?;
    if size > limits.max_decompressed_bytes {
        return Err(WriteError::TooLarge {
            size,
            limit: limits.max_decompressed_bytes,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| WriteError::Snappy(e.to_string()))
}

/// Decompresses and decodes a remote write body with the generated
/// (allocating) decoder; the ingest path uses [`ingest_write_body`].
pub fn decode_write_request(body: &[u8], limits: &WriteLimits) -> Result<WriteRequest, WriteError> {
    let raw = decompress(body, limits)?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| WriteError::Protobuf(e.to_string()))
}

fn printable(pairs: &[(&str, &str)]) -> String {
    let mut s: Vec<String> = pairs.iter().take(8).map(|(n, v)| format!("{n}={v:?}")).collect();
    if pairs.len() > 8 {
        s.push("...".into());
    }
    format!("{{{}}}", s.join(", "))
}

/// Sorts a series' labels in place, moves empty values out and checks names
/// and limits; returns how many labels remain (at the front of `pairs`).
fn validate_series(pairs: &mut [(&str, &str)], limits: &WriteLimits) -> Result<usize, WriteError> {
    let invalid = |pairs: &[(&str, &str)], reason: String| WriteError::InvalidSeries {
        series: printable(pairs),
        reason,
    };
    if pairs.len() > limits.max_labels_per_series {
        return Err(invalid(
            pairs,
            format!(
                "{} labels exceed the limit of {} (limits.remote_write.max_labels_per_series)",
                pairs.len(),
                limits.max_labels_per_series
            ),
        ));
    }
    for (name, value) in pairs.iter() {
        if name.len() > limits.max_label_name_length {
            return Err(invalid(
                pairs,
                format!(
                    "label name of {} bytes exceeds the limit of {} (limits.remote_write.max_label_name_length)",
                    name.len(),
                    limits.max_label_name_length
                ),
            ));
        }
        if value.len() > limits.max_label_value_length {
            return Err(invalid(
                pairs,
                format!(
                    "value of label {name:?} is {} bytes, over the limit of {} (limits.remote_write.max_label_value_length)",
                    value.len(),
                    limits.max_label_value_length
                ),
            ));
        }
        if *name == METRIC_NAME {
            if !is_valid_metric_name(value) {
                return Err(invalid(pairs, format!("invalid metric name {value:?}")));
            }
        } else if !is_valid_label_name(name) {
            return Err(invalid(pairs, format!("invalid label name {name:?}")));
        }
    }
    // Senders sort labels (the protocol asks them to); only sort when needed.
    if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        let dup = w[0].0;
        return Err(invalid(pairs, format!("duplicate label name {dup:?}")));
    }
    // Empty values mean "no such label": compact the others to the front.
    let mut kept = 0;
    for i in 0..pairs.len() {
        if !pairs[i].1.is_empty() {
            pairs.swap(kept, i);
            kept += 1;
        }
    }
    if !pairs[..kept].iter().any(|p| p.0 == METRIC_NAME) {
        return Err(invalid(&pairs[..kept], "series has no metric name (__name__)".into()));
    }
    Ok(kept)
}

/// Decompresses, decodes, validates and stores a remote write body.
pub fn ingest_write_body(body: &[u8], sink: &dyn SampleSink, limits: &WriteLimits) -> Result<WriteOutcome, WriteError> {
    let raw = decompress(body, limits)?;
    ingest_write_request(&raw, sink, limits)
}

/// Validates a decompressed `WriteRequest`, then appends it through `sink`
/// in one batch. An invalid series refuses the request before anything is
/// stored.
pub fn ingest_write_request(
    raw: &[u8],
    sink: &dyn SampleSink,
    limits: &WriteLimits,
) -> Result<WriteOutcome, WriteError> {
    let mut view = wire::decode(raw).map_err(WriteError::Protobuf)?;
    let mut outcome = WriteOutcome::default();
    // Validated labels stay in the decoded buffer: (start, kept) per series.
    let mut series: Vec<(usize, usize)> = Vec::with_capacity(view.series.len());
    for s in &view.series {
        let pairs = &mut view.labels[s.labels.clone()];
        if s.histograms > 0 {
            return Err(WriteError::InvalidSeries {
                series: printable(pairs),
                reason: "native histogram samples are not supported yet; send classic histograms".into(),
            });
        }
        let kept = validate_series(pairs, limits)?;
        series.push((s.labels.start, kept));
    }
    let mut app = sink.appender();
    let mut refused = 0u64;
    let mut total = 0u64;
    let mut first: Option<String> = None;
    for (s, &(start, kept)) in view.series.iter().zip(&series) {
        let pairs = &view.labels[start..start + kept];
        outcome.series += 1;
        outcome.exemplars_ignored += s.exemplars as u64;
        for &(t, v) in &view.samples[s.samples.clone()] {
            total += 1;
            match app.append_pairs(pairs, t, v) {
                Ok(()) => outcome.samples += 1,
                Err(e) => {
                    refused += 1;
                    if first.is_none() {
                        first = Some(format!(
                            "{e} for series {} at timestamp {t}",
                            Labels::from_pairs(pairs.iter().copied())
                        ));
                    }
                }
            }
        }
    }
    outcome.series_created = app.commit().map_err(|e| WriteError::Storage(e.to_string()))?;
    match first {
        Some(first) => Err(WriteError::Refused { first, refused, total }),
        None => Ok(outcome),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::remote::proto::{Label, Sample, TimeSeries};
    use crate::sink::{BatchAppender, CommitError, SampleRefusal};

    #[derive(Default)]
    struct MemSink {
        committed: Arc<Mutex<Vec<(Labels, i64, f64)>>>,
    }
    struct MemApp {
        batch: Vec<(Labels, i64, f64)>,
        out: Arc<Mutex<Vec<(Labels, i64, f64)>>>,
    }
    impl BatchAppender for MemApp {
        fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleRefusal> {
            let last = self
                .out
                .lock()
                .iter()
                .chain(self.batch.iter())
                .filter(|(l, _, _)| l == labels)
                .map(|x| x.1)
                .max();
            if last.is_some_and(|lt| t < lt) {
                return Err(SampleRefusal::OutOfOrder);
            }
            self.batch.push((labels.clone(), t, v));
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<u64, CommitError> {
            self.out.lock().extend(self.batch);
            Ok(0)
        }
    }
    impl SampleSink for MemSink {
        fn appender(&self) -> Box<dyn BatchAppender> {
            Box::new(MemApp {
                batch: Vec::new(),
                out: self.committed.clone(),
            })
        }
    }

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|(t, v)| Sample {
                    timestamp: *t,
                    value: *v,
                })
                .collect(),
            exemplars: vec![],
            histograms: vec![],
        }
    }

    fn encode(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
    }

    #[test]
    fn round_trip_stores_all_samples() {
        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "up"), ("job", "a")], &[(1, 1.0), (2, 0.0)])],
            metadata: vec![],
        };
        let decoded = decode_write_request(&encode(&req), &WriteLimits::default()).unwrap();
        assert_eq!(decoded, req);
        let sink = MemSink::default();
        let out = ingest_write_body(&encode(&req), &sink, &WriteLimits::default()).unwrap();
        assert_eq!(out.samples, 2);
        assert_eq!(sink.committed.lock().len(), 2);
    }

    #[test]
    fn unsorted_labels_are_sorted_and_empty_values_dropped() {
        let req = WriteRequest {
            timeseries: vec![ts(
                &[("zone", ""), ("job", "x"), ("__name__", "up"), ("a", "")],
                &[(1, 1.0)],
            )],
            metadata: vec![],
        };
        let sink = MemSink::default();
        ingest_write_body(&encode(&req), &sink, &WriteLimits::default()).unwrap();
        let got = sink.committed.lock();
        assert_eq!(got[0].0, Labels::from_pairs([("__name__", "up"), ("job", "x")]));
    }

    #[test]
    fn garbage_and_truncation_are_clear_errors() {
        let err = decode_write_request(b"not snappy at all", &WriteLimits::default()).unwrap_err();
        assert!(matches!(err, WriteError::Snappy(_) | WriteError::Protobuf(_)), "{err}");
        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "up")], &[(1, 1.0)])],
            metadata: vec![],
        };
        let body = encode(&req);
        for n in 0..body.len() {
            assert!(
                decode_write_request(&body[..n], &WriteLimits::default()).is_err(),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn limits_name_themselves() {
        let limits = WriteLimits {
            max_labels_per_series: 2,
            max_decompressed_bytes: 1 << 20,
            ..Default::default()
        };
        let req = WriteRequest {
            timeseries: vec![ts(&[("__name__", "up"), ("a", "1"), ("b", "2")], &[(1, 1.0)])],
            metadata: vec![],
        };
        let err = ingest_write_request(&req.encode_to_vec(), &MemSink::default(), &limits).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("max_labels_per_series"), "{err}");

        let small = WriteLimits {
            max_decompressed_bytes: 4,
            ..Default::default()
        };
        let err = decode_write_request(&encode(&req), &small).unwrap_err();
        assert_eq!(err.status(), 413);
        assert!(err.to_string().contains("max_decompressed_bytes"), "{err}");
    }

    #[test]
    fn invalid_series_refuse_the_whole_request() {
        let sink = MemSink::default();
        for labels in [
            vec![("job", "a")],
            vec![("__name__", "1bad")],
            vec![("__name__", "ok"), ("bad-name", "x")],
            vec![("__name__", "ok"), ("a", "1"), ("a", "2")],
        ] {
            let req = WriteRequest {
                timeseries: vec![ts(&[("__name__", "fine")], &[(1, 1.0)]), ts(&labels, &[(1, 1.0)])],
                metadata: vec![],
            };
            let err = ingest_write_request(&req.encode_to_vec(), &sink, &WriteLimits::default()).unwrap_err();
            assert_eq!(err.status(), 400, "{err}");
        }
        assert!(sink.committed.lock().is_empty());
    }

    #[test]
    fn refused_samples_keep_the_good_ones_and_say_so() {
        let sink = MemSink::default();
        let req = WriteRequest {
            timeseries: vec![
                ts(&[("__name__", "a")], &[(5, 1.0), (3, 2.0)]),
                ts(&[("__name__", "b")], &[(1, 1.0)]),
            ],
            metadata: vec![],
        };
        let err = ingest_write_request(&req.encode_to_vec(), &sink, &WriteLimits::default()).unwrap_err();
        assert_eq!(err.status(), 400);
        let msg = err.to_string();
        assert!(msg.starts_with("out of order sample"), "{msg}");
        assert!(msg.contains("1 of 3"), "{msg}");
        assert_eq!(sink.committed.lock().len(), 2);
    }
}
