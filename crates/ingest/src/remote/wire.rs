//! A zero-copy decoder for `WriteRequest`: label names and values are
//! borrowed from the decompressed buffer instead of becoming a `String` each,
//! which is most of the cost of decoding a remote write request with
//! generated code. Field numbers follow `prompb/types.proto`; unknown fields
//! are skipped as protobuf requires.
use std::ops::Range;

/// One series of the request, as ranges into [`WriteView`]'s flat vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesView {
    /// Its labels in `WriteView::labels`.
    pub labels: Range<usize>,
    /// Its samples in `WriteView::samples`.
    pub samples: Range<usize>,
    /// Exemplars sent with it (not stored yet).
    pub exemplars: usize,
    /// Native histogram samples sent with it (refused until supported).
    pub histograms: usize,
}

/// A decoded request borrowing from the decompressed body.
#[derive(Debug, Default)]
pub struct WriteView<'a> {
    /// Every label of every series, in wire order.
    pub labels: Vec<(&'a str, &'a str)>,
    /// Every sample of every series: (timestamp ms, value).
    pub samples: Vec<(i64, f64)>,
    /// The series.
    pub series: Vec<SeriesView>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| format!("truncated varint at byte {}", self.pos))?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(format!("varint too long at byte {}", self.pos))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        let end = self.pos + 8;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated fixed64 at byte {}", self.pos))?;
        self.pos = end;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| format!("length {n} at byte {} runs past the end of the message", self.pos))?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn string(&mut self, what: &str) -> Result<&'a str, String> {
        let at = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| format!("{what} at byte {at} is not valid UTF-8"))
    }

    /// Reads a field key: (field number, wire type).
    fn key(&mut self) -> Result<(u64, u64), String> {
        let k = self.varint()?;
        Ok((k >> 3, k & 7))
    }

    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            VARINT => self.varint().map(|_| ()),
            FIXED64 => self.fixed64().map(|_| ()),
            LEN => self.bytes().map(|_| ()),
            FIXED32 => {
                let end = self.pos + 4;
                if end > self.buf.len() {
                    return Err(format!("truncated fixed32 at byte {}", self.pos));
                }
                self.pos = end;
                Ok(())
            }
            other => Err(format!("unsupported wire type {other} at byte {}", self.pos)),
        }
    }
}

fn expect(wire: u64, want: u64, what: &str) -> Result<(), String> {
    if wire == want {
        Ok(())
    } else {
        Err(format!("{what} has wire type {wire}, expected {want}"))
    }
}

/// Decodes a decompressed `WriteRequest`.
pub fn decode(buf: &[u8]) -> Result<WriteView<'_>, String> {
    let mut view = WriteView::default();
    let mut r = Reader::new(buf);
    while !r.done() {
        let (field, wire) = r.key()?;
        if field == 1 {
            expect(wire, LEN, "WriteRequest.timeseries")?;
            let ts = r.bytes()?;
            decode_series(ts, &mut view)?;
        } else {
            r.skip(wire)?;
        }
    }
    Ok(view)
}

fn decode_series<'a>(buf: &'a [u8], view: &mut WriteView<'a>) -> Result<(), String> {
    let labels_start = view.labels.len();
    let samples_start = view.samples.len();
    let (mut exemplars, mut histograms) = (0, 0);
    let mut r = Reader::new(buf);
    while !r.done() {
        let (field, wire) = r.key()?;
        match field {
            1 => {
                expect(wire, LEN, "TimeSeries.labels")?;
                let mut lr = Reader::new(r.bytes()?);
                let (mut name, mut value) = ("", "");
                while !lr.done() {
                    let (f, w) = lr.key()?;
                    match f {
                        1 => {
                            expect(w, LEN, "Label.name")?;
                            name = lr.string("label name")?;
                        }
                        2 => {
                            expect(w, LEN, "Label.value")?;
                            value = lr.string("label value")?;
                        }
                        _ => lr.skip(w)?,
                    }
                }
                view.labels.push((name, value));
            }
            2 => {
                expect(wire, LEN, "TimeSeries.samples")?;
                let mut sr = Reader::new(r.bytes()?);
                let (mut value, mut ts) = (0f64, 0i64);
                while !sr.done() {
                    let (f, w) = sr.key()?;
                    match f {
                        1 => {
                            expect(w, FIXED64, "Sample.value")?;
                            value = f64::from_bits(sr.fixed64()?);
                        }
                        2 => {
                            expect(w, VARINT, "Sample.timestamp")?;
                            ts = sr.varint()? as i64;
                        }
                        _ => sr.skip(w)?,
                    }
                }
                view.samples.push((ts, value));
            }
            3 => {
                r.skip(wire)?;
                exemplars += 1;
            }
            4 => {
                r.skip(wire)?;
                histograms += 1;
            }
            _ => r.skip(wire)?,
        }
    }
    view.series.push(SeriesView {
        labels: labels_start..view.labels.len(),
        samples: samples_start..view.samples.len(),
        exemplars,
        histograms,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::remote::proto::{Exemplar, Label, MetricMetadata, Sample, TimeSeries, WriteRequest};

    fn req() -> WriteRequest {
        WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![
                        Label {
                            name: "__name__".into(),
                            value: "up".into(),
                        },
                        Label {
                            name: "job".into(),
                            value: "ünïcode".into(),
                        },
                    ],
                    samples: vec![
                        Sample {
                            value: 1.5,
                            timestamp: -5,
                        },
                        Sample {
                            value: f64::NAN,
                            timestamp: 1 << 40,
                        },
                    ],
                    exemplars: vec![Exemplar {
                        labels: vec![],
                        value: 1.0,
                        timestamp: 3,
                    }],
                    histograms: vec![],
                },
                TimeSeries {
                    labels: vec![Label {
                        name: "__name__".into(),
                        value: "empty".into(),
                    }],
                    samples: vec![],
                    exemplars: vec![],
                    histograms: vec![vec![1, 2]],
                },
            ],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        }
    }

    #[test]
    fn agrees_with_prost() {
        let bytes = req().encode_to_vec();
        let v = decode(&bytes).unwrap();
        assert_eq!(v.series.len(), 2);
        assert_eq!(
            v.labels[v.series[0].labels.clone()],
            [("__name__", "up"), ("job", "ünïcode")]
        );
        let s = &v.samples[v.series[0].samples.clone()];
        assert_eq!(s[0], (-5, 1.5));
        assert_eq!(s[1].0, 1 << 40);
        assert!(s[1].1.is_nan());
        assert_eq!(v.series[0].exemplars, 1);
        assert_eq!(v.series[1].histograms, 1);
        assert!(v.series[1].samples.is_empty());
    }

    #[test]
    fn truncation_and_garbage_are_errors_not_panics() {
        let bytes = req().encode_to_vec();
        for n in 1..bytes.len() {
            let _ = decode(&bytes[..n]);
        }
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut b = bytes.clone();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = (x as usize) % b.len();
            b[i] ^= (x >> 16) as u8;
            let _ = decode(&b);
        }
        assert!(decode(&[0x0a, 0x05, 0x01]).is_err());
        assert!(decode(&[0x0b]).is_err(), "group wire type");
    }

    #[test]
    fn invalid_utf8_is_named() {
        let bad = [0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0xc3, 0x28];
        let e = decode(&bad).unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
    }
}
