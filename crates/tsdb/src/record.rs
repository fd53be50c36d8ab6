//! WAL record payloads: what the head writes through the opaque WAL layer.
//!
//! ```text
//! series  : 0x01 | uvarint count | count × (uvarint ref | uvarint nlabels | nlabels × (str name | str value))
//! samples : 0x02 | uvarint count | varint base_t | count × (uvarint ref | varint t-base_t | u64 BE value bits)
//! ```
//! `str` is a uvarint length followed by UTF-8 bytes. When compression makes
//! a record smaller, its type byte gets bit `0x40` (`0x41`, `0x42`) and the
//! rest of the record is `uvarint body_len | LZ4 block of the body`. Records
//! of earlier versions may instead carry bit `0x80` and a snappy block; both
//! decode.
use model::{Label, Labels, Sample};

use crate::encoding::{put_str, put_uvarint, put_varint, DecodeError, Decoder};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
/// Set on the type byte of a snappy-compressed record (earlier versions).
const SNAPPY: u8 = 0x80;
/// Set on the type byte of an LZ4-compressed record.
const LZ4: u8 = 0x40;
/// Either compression bit.
const COMPRESSED: u8 = SNAPPY | LZ4;
/// Records shorter than this are not worth compressing.
const COMPRESS_MIN: usize = 64;

thread_local! {
    static COMPRESS_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Compresses the body of the record that starts at `start` in `buf` when
/// that makes it smaller.
fn compress_tail(buf: &mut Vec<u8>, start: usize) {
    let body_len = buf.len() - start - 1;
    if body_len < COMPRESS_MIN {
        return;
    }
    COMPRESS_BUF.with(|cell| {
        let mut out = cell.borrow_mut();
        out.clear();
        put_uvarint(&mut out, body_len as u64);
        let prefix = out.len();
        out.resize(prefix + lz4_flex::block::get_maximum_output_size(body_len), 0);
        let Ok(n) = lz4_flex::block::compress_into(&buf[start + 1..], &mut out[prefix..]) else {
            return;
        };
        if prefix + n < body_len {
            buf[start] |= LZ4;
            buf.truncate(start + 1);
            buf.extend_from_slice(&out[..prefix + n]);
        }
    });
}

/// Decompresses the body of a compressed record (`kind` is its type byte,
/// `rest` what follows it) into `out`, replacing its contents.
fn decompress_body(kind: u8, rest: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    if kind & LZ4 != 0 {
        let mut d = Decoder::new(rest);
        let len = d.uvarint()? as usize;
        if len > MAX_BODY {
            return Err(DecodeError::Invalid(format!("compressed record claims {len} bytes")));
        }
        let block = &rest[rest.len() - d.remaining()..];
        out.clear();
        out.resize(len, 0);
        let n = lz4_flex::block::decompress_into(block, out).map_err(|e| DecodeError::Invalid(format!("lz4: {e}")))?;
        if n != len {
            return Err(DecodeError::Invalid(format!(
                "lz4: {n} bytes decompressed, {len} expected"
            )));
        }
        Ok(())
    } else {
        let len = snap::raw::decompress_len(rest).map_err(|e| DecodeError::Invalid(format!("snappy: {e}")))?;
        out.clear();
        out.resize(len, 0);
        let n = snap::raw::Decoder::new()
            .decompress(rest, out)
            .map_err(|e| DecodeError::Invalid(format!("snappy: {e}")))?;
        out.truncate(n);
        Ok(())
    }
}

/// Largest record body accepted when decompressing (the WAL refuses larger records).
const MAX_BODY: usize = 1 << 30;

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
    match buf.split_first() {
        Some((&t, rest)) if t & COMPRESSED != 0 => {
            let mut plain = Vec::new();
            decompress_body(t, rest, &mut plain)?;
            plain.insert(0, t & !COMPRESSED);
            decode_plain(&plain)
        }
        _ => decode_plain(buf),
    }
}

/// Decodes a series record, calling `on_series(ref, pairs)` with borrowed
/// label pairs for each definition (no allocation per label). Anything but
/// a series record is an error.
pub fn visit_series(
    buf: &[u8],
    scratch: &mut Vec<u8>,
    mut on_series: impl FnMut(u64, &[(&str, &str)]),
) -> Result<(), DecodeError> {
    let body = match buf.split_first() {
        Some((&t, rest)) if t & COMPRESSED != 0 && t & !COMPRESSED == SERIES => {
            decompress_body(t, rest, scratch)?;
            &scratch[..]
        }
        Some((&SERIES, rest)) => rest,
        _ => return Err(DecodeError::Invalid("not a series record".into())),
    };
    let mut d = Decoder::new(body);
    let n = d.uvarint()?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for _ in 0..n {
        let series_ref = d.uvarint()?;
        let nl = d.uvarint()? as usize;
        pairs.clear();
        for _ in 0..nl {
            pairs.push((d.str()?, d.str()?));
        }
        on_series(series_ref, &pairs);
    }
    Ok(())
}

/// Whether a record payload holds series definitions.
pub fn is_series(buf: &[u8]) -> bool {
    buf.first().is_some_and(|t| t & !COMPRESSED == SERIES)
}

/// Decodes one record payload without building a [`Record`]: series
/// definitions go to `on_series`, samples to `on_sample(ref, t, v)` as they
/// are read. `scratch` is reused for decompression (replay calls this for
/// millions of records).
pub fn visit(
    buf: &[u8],
    scratch: &mut Vec<u8>,
    mut on_series: impl FnMut(RefSeries),
    mut on_sample: impl FnMut(u64, i64, f64),
) -> Result<(), DecodeError> {
    let (kind, body) = match buf.split_first() {
        Some((&t, rest)) if t & COMPRESSED != 0 => {
            decompress_body(t, rest, scratch)?;
            (t & !COMPRESSED, &scratch[..])
        }
        Some((&t, rest)) => (t, rest),
        None => return Err(DecodeError::Invalid("empty WAL record".into())),
    };
    if kind != SAMPLES {
        let mut plain = Vec::with_capacity(body.len() + 1);
        plain.push(kind);
        plain.extend_from_slice(body);
        return match decode_plain(&plain)? {
            Record::Series(defs) => {
                defs.into_iter().for_each(&mut on_series);
                Ok(())
            }
            Record::Samples(samples) => {
                for s in samples {
                    on_sample(s.series_ref, s.sample.t, s.sample.v);
                }
                Ok(())
            }
        };
    }
    let mut d = Decoder::new(body);
    let n = d.uvarint()?;
    let base = d.varint()?;
    for _ in 0..n {
        let series_ref = d.uvarint()?;
        let t = base.wrapping_add(d.varint()?);
        let v = f64::from_bits(d.u64_be()?);
        on_sample(series_ref, t, v);
    }
    Ok(())
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
        assert_eq!(buf[0], SAMPLES | LZ4);
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
        assert_eq!(buf[0], SERIES | LZ4);
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

    #[test]
    fn visit_agrees_with_decode_for_plain_and_compressed_records() {
        let samples: Vec<RefSample> = (0..50u64)
            .map(|i| RefSample {
                series_ref: i % 7,
                sample: Sample {
                    t: 1_000 + i as i64,
                    v: i as f64 * 0.5,
                },
            })
            .collect();
        for n in [3, 50] {
            let mut buf = Vec::new();
            encode_samples(&mut buf, &samples[..n]);
            assert_eq!(buf[0] & COMPRESSED != 0, n == 50, "the long record is compressed");
            let mut seen = Vec::new();
            let mut scratch = Vec::new();
            visit(
                &buf,
                &mut scratch,
                |_| panic!("no series"),
                |r, t, v| {
                    seen.push(RefSample {
                        series_ref: r,
                        sample: Sample { t, v },
                    })
                },
            )
            .unwrap();
            assert_eq!(Record::Samples(seen), decode(&buf).unwrap());
            // A truncated record is an error, not a panic.
            assert!(visit(&buf[..buf.len() - 3], &mut scratch, |_| {}, |_, _, _| {}).is_err());
        }
    }

    #[test]
    fn snappy_records_of_earlier_versions_still_decode() {
        let samples: Vec<RefSample> = (0..40u64)
            .map(|i| RefSample {
                series_ref: i,
                sample: Sample { t: 5, v: 1.0 },
            })
            .collect();
        let mut plain = Vec::new();
        encode_samples(&mut plain, &samples);
        // Re-encode the body as the snappy record an earlier version wrote.
        let body = match decode(&plain).unwrap() {
            Record::Samples(s) => {
                let mut b = vec![SAMPLES];
                put_uvarint(&mut b, s.len() as u64);
                put_varint(&mut b, 5);
                for x in &s {
                    put_uvarint(&mut b, x.series_ref);
                    put_varint(&mut b, 0);
                    b.extend_from_slice(&x.sample.v.to_bits().to_be_bytes());
                }
                b
            }
            other => panic!("unexpected {other:?}"),
        };
        let mut old = vec![SAMPLES | SNAPPY];
        old.extend(snap::raw::Encoder::new().compress_vec(&body[1..]).unwrap());
        assert_eq!(decode(&old).unwrap(), Record::Samples(samples));
        // Garbage behind either flag is an error, never a panic.
        for flag in [SNAPPY, LZ4] {
            assert!(decode(&[SAMPLES | flag, 0xff, 0xff, 0x03, 1, 2, 3]).is_err());
        }
    }
}
