//! WAL record payloads: what the head writes through the opaque WAL layer.
//!
//! ```text
//! series  : 0x01 | uvarint count | count × (uvarint ref | uvarint nlabels | nlabels × (str name | str value))
//! samples : 0x02 | uvarint count | varint base_t | count × (uvarint ref | varint t-base_t | u64 BE value bits)
//! ```
//! `str` is a uvarint length followed by UTF-8 bytes. When snappy makes a
//! record smaller, its type byte gets the high bit (`0x81`, `0x82`) and the
//! rest of the record is the snappy block-format compression of the body.
use model::{Label, Labels, Sample};

use crate::encoding::{put_str, put_uvarint, put_varint, DecodeError, Decoder};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
/// Set on the type byte of a snappy-compressed record.
const COMPRESSED: u8 = 0x80;
/// Records shorter than this are not worth compressing.
const COMPRESS_MIN: usize = 64;

thread_local! {
    static SNAPPY: std::cell::RefCell<snap::raw::Encoder> = std::cell::RefCell::new(snap::raw::Encoder::new());
}

/// Compresses the body of the record that starts at `start` in `buf` when
/// that makes it smaller.
fn compress_tail(buf: &mut Vec<u8>, start: usize) {
    let body = &buf[start + 1..];
    if body.len() < COMPRESS_MIN {
        return;
    }
    let compressed = SNAPPY.with(|e| e.borrow_mut().compress_vec(body));
    if let Ok(c) = compressed {
        if c.len() < body.len() {
            buf[start] |= COMPRESSED;
            buf.truncate(start + 1);
            buf.extend_from_slice(&c);
        }
    }
}

/// A series definition: its reference and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct RefSeries {
    /// The head's reference for the series.
    pub series_ref: u64,
    /// The label set.
    pub labels: Labels,
}

/// One sample addressed by series reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series.
    pub series_ref: u64,
    /// The sample.
    pub sample: Sample,
}

/// A decoded record.
#[derive(Debug, PartialEq)]
pub enum Record {
    /// Series definitions.
    Series(Vec<RefSeries>),
    /// Samples.
    Samples(Vec<RefSample>),
}

/// Encodes series records from `(ref, label pairs)`.
pub fn encode_series<'a>(buf: &mut Vec<u8>, series: impl ExactSizeIterator<Item = (u64, Vec<(&'a str, &'a str)>)>) {
    let start = buf.len();
    buf.push(SERIES);
    put_uvarint(buf, series.len() as u64);
    for (r, labels) in series {
        put_uvarint(buf, r);
        put_uvarint(buf, labels.len() as u64);
        for (n, v) in labels {
            put_str(buf, n);
            put_str(buf, v);
        }
    }
    compress_tail(buf, start);
}

/// Encodes a samples record.
pub fn encode_samples(buf: &mut Vec<u8>, samples: &[RefSample]) {
    let start = buf.len();
    buf.push(SAMPLES);
    put_uvarint(buf, samples.len() as u64);
    let base = samples.first().map(|s| s.sample.t).unwrap_or(0);
    put_varint(buf, base);
    for s in samples {
        put_uvarint(buf, s.series_ref);
        put_varint(buf, s.sample.t.wrapping_sub(base));
        buf.extend_from_slice(&s.sample.v.to_bits().to_be_bytes());
    }
    compress_tail(buf, start);
}

/// Decodes one record payload.
pub fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    match buf.first() {
        Some(&t) if t & COMPRESSED != 0 => {
            let body = snap::raw::Decoder::new()
                .decompress_vec(&buf[1..])
                .map_err(|e| DecodeError::Invalid(format!("snappy: {e}")))?;
            let mut plain = Vec::with_capacity(body.len() + 1);
            plain.push(t & !COMPRESSED);
            plain.extend_from_slice(&body);
            decode_plain(&plain)
        }
        _ => decode_plain(buf),
    }
}

fn decode_plain(buf: &[u8]) -> Result<Record, DecodeError> {
    let mut d = Decoder::new(buf);
    match d.u8()? {
        SERIES => {
            let n = d.uvarint()? as usize;
            let mut out = Vec::with_capacity(n.min(d.remaining()));
            for _ in 0..n {
                let series_ref = d.uvarint()?;
                let nl = d.uvarint()? as usize;
                let mut labels = Vec::with_capacity(nl.min(d.remaining()));
                for _ in 0..nl {
                    let name = d.str()?;
                    let value = d.str()?;
                    labels.push(Label::new(name, value));
                }
                out.push(RefSeries {
                    series_ref,
                    labels: Labels::from_pairs(labels.into_iter().map(|l| (l.name, l.value))),
                });
            }
            Ok(Record::Series(out))
        }
        SAMPLES => {
            let n = d.uvarint()? as usize;
            let base = d.varint()?;
            let mut out = Vec::with_capacity(n.min(d.remaining()));
            for _ in 0..n {
                let series_ref = d.uvarint()?;
                let t = base.wrapping_add(d.varint()?);
                let v = f64::from_bits(d.u64_be()?);
                out.push(RefSample {
                    series_ref,
                    sample: Sample { t, v },
                });
            }
            Ok(Record::Samples(out))
        }
        other => Err(DecodeError::Invalid(format!("unknown WAL record type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        encode_series(
            &mut buf,
            vec![(7u64, vec![("__name__", "up"), ("job", "a")])].into_iter(),
        );
        match decode(&buf).unwrap() {
            Record::Series(s) => {
                assert_eq!(s.len(), 1);
                assert_eq!(s[0].series_ref, 7);
                assert_eq!(s[0].labels.get("job"), Some("a"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let samples = vec![
            RefSample {
                series_ref: 7,
                sample: Sample { t: 1000, v: 1.5 },
            },
            RefSample {
                series_ref: 9,
                sample: Sample {
                    t: 900,
                    v: model::STALE_NAN,
                },
            },
        ];
        buf.clear();
        encode_samples(&mut buf, &samples);
        match decode(&buf).unwrap() {
            Record::Samples(s) => {
                assert_eq!(s.len(), 2);
                assert!(s[1].sample.bit_eq(&samples[1].sample));
                assert_eq!(s[0], samples[0]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn large_records_are_compressed_and_round_trip() {
        let samples: Vec<RefSample> = (0..500)
            .map(|i| RefSample {
                series_ref: 1000 + i,
                sample: Sample {
                    t: 1_700_000_000_000 + i as i64,
                    v: (i % 7) as f64,
                },
            })
            .collect();
        let mut buf = Vec::new();
        encode_samples(&mut buf, &samples);
        assert_eq!(buf[0], SAMPLES | COMPRESSED);
        assert!(buf.len() < samples.len() * 10, "{} bytes", buf.len());
        match decode(&buf).unwrap() {
            Record::Samples(s) => assert_eq!(s, samples),
            other => panic!("unexpected {other:?}"),
        }
        // Truncated or corrupt compressed bodies are errors, not panics.
        for n in 1..buf.len() {
            let _ = decode(&buf[..n]);
        }
        let names: Vec<String> = (0..50).map(|i| format!("node_cpu_seconds_total_{i}")).collect();
        let defs: Vec<(u64, Vec<(&str, &str)>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u64, vec![("__name__", n.as_str()), ("job", "node")]))
            .collect();
        buf.clear();
        encode_series(&mut buf, defs.into_iter());
        assert_eq!(buf[0], SERIES | COMPRESSED);
        assert!(matches!(decode(&buf).unwrap(), Record::Series(s) if s.len() == 50));
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode_series(&mut buf, vec![(1u64, vec![("a", "b")])].into_iter());
        for n in 0..buf.len() {
            assert!(decode(&buf[..n]).is_err());
        }
        assert!(decode(&[9]).is_err());
    }
}
