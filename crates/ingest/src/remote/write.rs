//! The remote write 1.0 receiver: snappy-compressed protobuf in, samples into
//! a [`SampleSink`].
//!
//! Differences from Prometheus 2.42, both deliberate: label sets are
//! validated (Prometheus stores invalid names as they come), and a refused
//! sample (out of order, duplicate, out of bounds) does not roll back the
//! rest of the request — the good samples are committed and the answer is
//! still a 400 naming what was refused, as Mimir does. The client sees the
//! same status either way, so it neither retries nor loses more than it must.
use std::collections::HashSet;

use model::{is_valid_label_name, is_valid_metric_name, Labels, METRIC_NAME};
use prost::Message;

use super::proto::WriteRequest;
use crate::sink::{SampleRefusal, SampleSink};

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

/// Decompresses and decodes a remote write body.
pub fn decode_write_request(body: &[u8], limits: &WriteLimits) -> Result<WriteRequest, WriteError> {
    let size = snap::raw::decompress_len(body).map_err(|e| WriteError::Snappy(e.to_string()))?;
    if size > limits.max_decompressed_bytes {
        return Err(WriteError::TooLarge {
            size,
            limit: limits.max_decompressed_bytes,
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| WriteError::Snappy(e.to_string()))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| WriteError::Protobuf(e.to_string()))
}

fn validate_series(
    labels: &[super::proto::Label],
    limits: &WriteLimits,
) -> Result<Labels, WriteError> {
    let printable = || {
        let mut s: Vec<String> = labels
            .iter()
            .take(8)
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        if labels.len() > 8 {
            s.push("...".into());
        }
        format!("{{{}}}", s.join(", "))
    };
    let invalid = |reason: String| WriteError::InvalidSeries {
        series: printable(),
        reason,
    };
    if labels.len() > limits.max_labels_per_series {
        return Err(invalid(format!(
            "{} labels exceed the limit of {} (limits.remote_write.max_labels_per_series)",
            labels.len(),
            limits.max_labels_per_series
        )));
    }
    let mut seen = HashSet::with_capacity(labels.len());
    for l in labels {
        if l.name.len() > limits.max_label_name_length {
            return Err(invalid(format!(
                "label name of {} bytes exceeds the limit of {} (limits.remote_write.max_label_name_length)",
                l.name.len(),
                limits.max_label_name_length
            )));
        }
        if l.value.len() > limits.max_label_value_length {
            return Err(invalid(format!(
                "value of label {:?} is {} bytes, over the limit of {} (limits.remote_write.max_label_value_length)",
                l.name,
                l.value.len(),
                limits.max_label_value_length
            )));
        }
        if l.name == METRIC_NAME {
            if !is_valid_metric_name(&l.value) {
                return Err(invalid(format!("invalid metric name {:?}", l.value)));
            }
        } else if !is_valid_label_name(&l.name) {
            return Err(invalid(format!("invalid label name {:?}", l.name)));
        }
        if !seen.insert(l.name.as_str()) {
            return Err(invalid(format!("duplicate label name {:?}", l.name)));
        }
    }
    let set = Labels::from_pairs(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
    if set.metric_name().is_none() {
        return Err(invalid("series has no metric name (__name__)".into()));
    }
    Ok(set)
}

/// Validates the whole request, then appends it through `sink` in one batch.
pub fn ingest_write_request(
    req: &WriteRequest,
    sink: &dyn SampleSink,
    limits: &WriteLimits,
) -> Result<WriteOutcome, WriteError> {
    let mut outcome = WriteOutcome::default();
    // Validate everything first, so an invalid series refuses the request
    // before anything is stored.
    let mut series = Vec::with_capacity(req.timeseries.len());
    for ts in &req.timeseries {
        if !ts.histograms.is_empty() {
            return Err(WriteError::InvalidSeries {
                series: format!(
                    "{:?}",
                    ts.labels
                        .iter()
                        .map(|l| (&l.name, &l.value))
                        .collect::<Vec<_>>()
                ),
                reason: "native histogram samples are not supported yet; send classic histograms"
                    .into(),
            });
        }
        series.push(validate_series(&ts.labels, limits)?);
    }
    let mut app = sink.appender();
    let mut refused = 0u64;
    let mut total = 0u64;
    let mut first: Option<String> = None;
    for (ts, labels) in req.timeseries.iter().zip(&series) {
        outcome.series += 1;
        outcome.exemplars_ignored += ts.exemplars.len() as u64;
        for s in &ts.samples {
            total += 1;
            match app.append(labels, s.timestamp, s.value) {
                Ok(()) => outcome.samples += 1,
                Err(e) => {
                    refused += 1;
                    if first.is_none() {
                        first = Some(describe_refusal(&e, labels, s.timestamp));
                    }
                }
            }
        }
    }
    outcome.series_created = app
        .commit()
        .map_err(|e| WriteError::Storage(e.to_string()))?;
    match first {
        Some(first) => Err(WriteError::Refused {
            first,
            refused,
            total,
        }),
        None => Ok(outcome),
    }
}

fn describe_refusal(e: &SampleRefusal, labels: &Labels, t: i64) -> String {
    format!("{e} for series {labels} at timestamp {t}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::remote::proto::{Label, Sample, TimeSeries};
    use crate::sink::{BatchAppender, CommitError};

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
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn round_trip_stores_all_samples() {
        let req = WriteRequest {
            timeseries: vec![ts(
                &[("__name__", "up"), ("job", "a")],
                &[(1, 1.0), (2, 0.0)],
            )],
            metadata: vec![],
        };
        let decoded = decode_write_request(&encode(&req), &WriteLimits::default()).unwrap();
        let sink = MemSink::default();
        let out = ingest_write_request(&decoded, &sink, &WriteLimits::default()).unwrap();
        assert_eq!(out.samples, 2);
        assert_eq!(sink.committed.lock().len(), 2);
    }

    #[test]
    fn garbage_and_truncation_are_clear_errors() {
        let err = decode_write_request(b"not snappy at all", &WriteLimits::default()).unwrap_err();
        assert!(
            matches!(err, WriteError::Snappy(_) | WriteError::Protobuf(_)),
            "{err}"
        );
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
            timeseries: vec![ts(
                &[("__name__", "up"), ("a", "1"), ("b", "2")],
                &[(1, 1.0)],
            )],
            metadata: vec![],
        };
        let err = ingest_write_request(&req, &MemSink::default(), &limits).unwrap_err();
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
                timeseries: vec![
                    ts(&[("__name__", "fine")], &[(1, 1.0)]),
                    ts(&labels, &[(1, 1.0)]),
                ],
                metadata: vec![],
            };
            let err = ingest_write_request(&req, &sink, &WriteLimits::default()).unwrap_err();
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
        let err = ingest_write_request(&req, &sink, &WriteLimits::default()).unwrap_err();
        assert_eq!(err.status(), 400);
        let msg = err.to_string();
        assert!(msg.starts_with("out of order sample"), "{msg}");
        assert!(msg.contains("1 of 3"), "{msg}");
        assert_eq!(sink.committed.lock().len(), 2);
    }
}
