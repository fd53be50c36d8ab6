//! The Gorilla/XOR float chunk, byte-compatible with Prometheus's
//! `tsdb/chunkenc/xor.go`.
//!
//! Layout: a 2-byte big-endian sample count, then a bit stream:
//!
//! * sample 0: signed varint timestamp, then the 64 raw bits of the value;
//! * sample 1: unsigned varint timestamp delta, then the XOR-encoded value;
//! * sample n ≥ 2: the delta-of-delta of the timestamp in one of the buckets
//!   `0` (dod = 0), `10`+14 bits, `110`+17 bits, `1110`+20 bits or
//!   `1111`+64 bits, then the XOR-encoded value.
//!
//! A value is XOR-ed with the previous one: `0` if equal; else `1` followed by
//! `0` + the significant bits when they fit in the previous window of leading
//! and trailing zeros, or `1` + 5 bits of leading zeros (capped at 31) +
//! 6 bits of significant-bit count (0 meaning 64) + the significant bits.
//!
//! All timestamp arithmetic wraps exactly like the Go `uint64`/`int64`
//! arithmetic, so any `i64` sequence round-trips.

use std::iter::FusedIterator;

use model::Sample;

use super::bstream::{push_bits, write_bits, BitReader, Eof};

/// The number of samples at which the head cuts a new chunk.
pub const MAX_SAMPLES_PER_CHUNK: u16 = 120;

/// Length of the sample-count header.
const HEADER_LEN: usize = 2;
/// Initial byte capacity of a new chunk (Prometheus's `NewXORChunk` takes
/// 128; here the buffer then grows by prediction, see `reserve_for_next`).
const INITIAL_CAPACITY: usize = 64;
/// `leading` before the first value window was written.
const LEADING_UNSET: u8 = 0xff;

/// Why chunk bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Fewer than the 2 bytes of the sample-count header.
    #[error("XOR chunk is {len} bytes long, shorter than its 2-byte sample-count header")]
    MissingHeader {
        /// Length of the byte slice.
        len: usize,
    },
    /// The bit stream ended before the number of samples in the header.
    #[error(
        "XOR chunk truncated: its header promises {total} samples \
         but the bit stream ends after {decoded}"
    )]
    Truncated {
        /// Samples decoded before the end.
        decoded: u16,
        /// Samples the header announces.
        total: u16,
    },
    /// A timestamp varint longer than 64 bits.
    #[error("corrupt XOR chunk: the timestamp varint of sample {sample} overflows 64 bits")]
    VarintOverflow {
        /// Index of the sample being decoded.
        sample: u16,
    },
    /// A value window with more than 64 bits of leading zeros and significant bits.
    #[error(
        "corrupt XOR chunk: sample {sample} declares {leading} leading zeros \
         and {significant} significant bits, more than 64 in all"
    )]
    BadValueWindow {
        /// Index of the sample being decoded.
        sample: u16,
        /// Leading zero count read.
        leading: u8,
        /// Significant bit count read.
        significant: u8,
    },
    /// More than one byte's worth of bits left over after the last sample.
    #[error(
        "corrupt XOR chunk: {extra_bits} unused bits follow the last of its \
         {total} samples (at most 8 can)"
    )]
    TrailingData {
        /// Samples the header announces.
        total: u16,
        /// Bits left after the last sample.
        extra_bits: usize,
    },
}

/// A XOR chunk: its bytes plus the appender state needed to keep appending.
///
/// 56 bytes plus the byte buffer; no other heap allocation.
#[derive(Debug, Clone)]
pub struct XorChunk {
    /// Header and bit stream, exactly as Prometheus lays them out.
    buf: Vec<u8>,
    /// Last timestamp appended.
    t: i64,
    /// Bits of the last value appended.
    v: u64,
    /// Last timestamp delta (Prometheus's `tDelta`).
    t_delta: u64,
    /// Leading zeros of the current value window, [`LEADING_UNSET`] if none yet.
    leading: u8,
    /// Trailing zeros of the current value window.
    trailing: u8,
    /// Free low bits in the last byte of `buf` (`0..=8`).
    count: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(INITIAL_CAPACITY);
        buf.extend_from_slice(&[0, 0]);
        XorChunk {
            buf,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: LEADING_UNSET,
            trailing: 0,
            count: 0,
        }
    }

    /// Re-opens persisted bytes (as returned by [`bytes`](Self::bytes)):
    /// decodes every sample to validate them and to rebuild the appender
    /// state, so the chunk can be read or appended to.
    ///
    /// Unused padding bits after the last sample are cleared (they carry no
    /// data; appends write into them).
    ///
    /// The state rebuilt is the one the writer had, so appending to a
    /// re-opened chunk gives the same bytes as never having closed it. (Go's
    /// `XORChunk.Appender()` instead takes the iterator's zero window, which
    /// only differs in how the first non-zero XOR after re-opening is
    /// written; both decode the same.)
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<Self, ChunkError> {
        let mut it = XorIter::new(&bytes);
        for _ in it.by_ref() {}
        if let Some(err) = it.err {
            return Err(err);
        }
        let extra_bits = it.r.bits_total() - it.r.bits_read();
        if extra_bits > 8 {
            return Err(ChunkError::TrailingData {
                total: it.total,
                extra_bits,
            });
        }
        let (leading, trailing) = if it.window_seen {
            (it.leading, it.trailing)
        } else {
            (LEADING_UNSET, 0)
        };
        let (t, v, t_delta) = (it.t, it.v, it.t_delta);
        if let (1..=8, Some(last)) = (extra_bits, bytes.last_mut()) {
            // The free bits carry no data, but appends OR into them.
            *last &= !(((1u16 << extra_bits) - 1) as u8);
        }
        Ok(XorChunk {
            buf: bytes,
            t,
            v,
            t_delta,
            leading,
            trailing,
            count: extra_bits as u8,
        })
    }

    /// Number of samples in the chunk.
    #[inline]
    pub fn num_samples(&self) -> u16 {
        read_header(&self.buf).unwrap_or(0)
    }

    /// The chunk's bytes, exactly Prometheus's XOR chunk data: the 2-byte
    /// big-endian sample count, then the bit stream.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends a sample. The caller guarantees `t` is greater than the last
    /// timestamp (any sequence still round-trips, just less compactly). `v`
    /// may be any `f64`; its bits are stored exactly.
    ///
    /// # Panics
    ///
    /// If the chunk already holds `u16::MAX` samples (the format's limit; the
    /// head cuts chunks at [`MAX_SAMPLES_PER_CHUNK`]).
    pub fn append(&mut self, t: i64, v: f64) {
        let num = self.num_samples();
        assert!(num < u16::MAX, "XOR chunk is full ({num} samples)");
        self.reserve_for_next();
        let v = v.to_bits();
        let mut t_delta = 0;
        match num {
            0 => {
                let mut tmp = [0u8; 10];
                for &b in encode_uvarint(zigzag(t), &mut tmp) {
                    write_bits(&mut self.buf, &mut self.count, u64::from(b), 8);
                }
                write_bits(&mut self.buf, &mut self.count, v, 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let mut tmp = [0u8; 10];
                for &b in encode_uvarint(t_delta, &mut tmp) {
                    write_bits(&mut self.buf, &mut self.count, u64::from(b), 8);
                }
                self.write_value(v);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                let (buf, count) = (&mut self.buf, &mut self.count);
                // Prefix and payload go out as one write, except for the
                // 64-bit payload whose byte-multiple width matters (see
                // `write_bits`).
                if dod == 0 {
                    push_bits(buf, count, 0, 1);
                } else if bit_range(dod, 14) {
                    push_bits(buf, count, 0b10 << 14 | (dod as u64 & 0x3FFF), 16);
                } else if bit_range(dod, 17) {
                    push_bits(buf, count, 0b110 << 17 | (dod as u64 & 0x1_FFFF), 20);
                } else if bit_range(dod, 20) {
                    push_bits(buf, count, 0b1110 << 20 | (dod as u64 & 0xF_FFFF), 24);
                } else {
                    push_bits(buf, count, 0b1111, 4);
                    write_bits(buf, count, dod as u64, 64);
                }
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        if let Some(header) = self.buf.first_chunk_mut::<HEADER_LEN>() {
            *header = (num + 1).to_be_bytes();
        }
    }

    /// Makes room for one more sample (at most 17 bytes, plus the 8 bytes of
    /// slack `push_bits` writes through). The head holds ~100k open chunks,
    /// so once a chunk has enough samples to tell its rate, the buffer grows
    /// by what the next `GROW_SAMPLES` samples are predicted to take (its
    /// bytes per sample so far, without the ~16-byte first sample) instead
    /// of doubling: at most a quarter chunk is ever reserved ahead, where
    /// doubling reserves up to the whole buffer again.
    #[inline]
    fn reserve_for_next(&mut self) {
        const ROOM: usize = 32;
        const FIRST_SAMPLE: usize = 16;
        const PREDICT_FROM: usize = 16;
        const GROW_SAMPLES: usize = 30;
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        if cap - len >= ROOM {
            return;
        }
        let num = usize::from(self.num_samples());
        let remaining = usize::from(MAX_SAMPLES_PER_CHUNK).saturating_sub(num);
        let target = if num < PREDICT_FROM || remaining == 0 {
            len * 2
        } else {
            let per_sample = (len - HEADER_LEN).saturating_sub(FIRST_SAMPLE).div_ceil(num - 1);
            len + per_sample * remaining.min(GROW_SAMPLES) * 9 / 8
        };
        self.buf.reserve_exact(target.max(len + ROOM) - len);
    }

    /// Prometheus's `writeVDelta`.
    #[inline]
    fn write_value(&mut self, v: u64) {
        let (buf, count) = (&mut self.buf, &mut self.count);
        let delta = v ^ self.v;
        if delta == 0 {
            push_bits(buf, count, 0, 1);
            return;
        }
        // At most 31 so that it fits in 5 bits.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != LEADING_UNSET && leading >= self.leading && trailing >= self.trailing {
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            push_bits(buf, count, 0b10, 2);
            write_bits(buf, count, delta >> self.trailing, sig);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            let sig = 64 - u32::from(leading) - u32::from(trailing);
            // 64 significant bits do not fit in 6 bits: written as 0.
            let header = 0b11 << 11 | u64::from(leading) << 6 | u64::from(sig & 0x3F);
            push_bits(buf, count, header, 13);
            write_bits(buf, count, delta >> trailing, sig);
        }
    }

    /// Iterates the samples. Cheap to create; can be re-created after
    /// every append.
    #[inline]
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(&self.buf)
    }

    /// Timestamp of the first sample.
    pub fn first_time(&self) -> Option<i64> {
        if self.num_samples() == 0 {
            return None;
        }
        // The first timestamp is a zig-zag varint written byte-aligned right
        // after the header; read it without setting up a bit iterator (the
        // head asks for it on every append).
        let mut v: u64 = 0;
        for (i, &b) in self.buf.get(2..)?.iter().take(10).enumerate() {
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Some(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        None
    }

    /// Timestamp of the last sample.
    #[inline]
    pub fn last_time(&self) -> Option<i64> {
        (self.num_samples() > 0).then_some(self.t)
    }

    /// Value of the last sample (bit-exact).
    #[inline]
    pub fn last_value(&self) -> Option<f64> {
        (self.num_samples() > 0).then(|| f64::from_bits(self.v))
    }

    /// Memory held, for accounting: the byte buffer's capacity plus the struct.
    #[inline]
    pub fn memory_bytes(&self) -> usize {
        self.buf.capacity() + std::mem::size_of::<Self>()
    }

    /// Shrinks the byte buffer's capacity to its length (when the head closes
    /// the chunk). Appending afterwards still works.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = Sample;
    type IntoIter = XorIter<'a>;

    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

/// Whether `x` fits Prometheus's `nbits`-wide dod bucket:
/// `-(2^(nbits-1) - 1) ..= 2^(nbits-1)`.
#[inline]
fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

#[inline]
fn read_header(bytes: &[u8]) -> Option<u16> {
    bytes.first_chunk::<HEADER_LEN>().map(|h| u16::from_be_bytes(*h))
}

/// Go's `PutVarint` mapping of signed to unsigned.
#[inline]
fn zigzag(x: i64) -> u64 {
    let ux = (x as u64) << 1;
    if x < 0 {
        !ux
    } else {
        ux
    }
}

#[inline]
fn unzigzag(ux: u64) -> i64 {
    let x = (ux >> 1) as i64;
    if ux & 1 != 0 {
        !x
    } else {
        x
    }
}

/// Go's `PutUvarint`; returns the bytes written into `out`.
#[inline]
fn encode_uvarint(mut x: u64, out: &mut [u8; 10]) -> &[u8] {
    let mut n = 0;
    for slot in out.iter_mut() {
        if x < 0x80 {
            *slot = x as u8;
            n += 1;
            break;
        }
        *slot = x as u8 | 0x80;
        x >>= 7;
        n += 1;
    }
    out.get(..n).unwrap_or_default()
}

/// Why decoding stopped, before the sample index is attached.
enum Fault {
    Eof,
    VarintOverflow,
    BadWindow { leading: u8, significant: u8 },
}

impl From<Eof> for Fault {
    fn from(_: Eof) -> Self {
        Fault::Eof
    }
}

/// Go's `binary.ReadUvarint` over the bit stream.
#[inline]
fn read_uvarint(r: &mut BitReader<'_>) -> Result<u64, Fault> {
    let mut x = 0u64;
    let mut shift = 0u32;
    for i in 0..10 {
        let b = r.read_bits(8)?;
        if b < 0x80 {
            if i == 9 && b > 1 {
                return Err(Fault::VarintOverflow);
            }
            return Ok(x | b << shift);
        }
        x |= (b & 0x7F) << shift;
        shift += 7;
    }
    Err(Fault::VarintOverflow)
}

/// Iterator over the samples of a XOR chunk.
///
/// Never panics, whatever the bytes: on truncated or corrupt input it stops,
/// and [`err`](Self::err) says why.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    /// Whether a value window (`11` control) has been read.
    window_seen: bool,
    err: Option<ChunkError>,
}

impl<'a> XorIter<'a> {
    /// Iterates raw chunk bytes (header included), e.g. read from disk.
    pub fn new(bytes: &'a [u8]) -> Self {
        let (total, stream, err) = match read_header(bytes) {
            Some(total) => (total, bytes.get(HEADER_LEN..).unwrap_or_default(), None),
            None => (0, &[][..], Some(ChunkError::MissingHeader { len: bytes.len() })),
        };
        XorIter {
            r: BitReader::new(stream),
            total,
            read: 0,
            t: 0,
            v: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            window_seen: false,
            err,
        }
    }

    /// Why iteration stopped early, if it did.
    pub fn err(&self) -> Option<&ChunkError> {
        self.err.as_ref()
    }

    /// The sample count announced by the header.
    pub fn num_samples(&self) -> u16 {
        self.total
    }

    #[inline]
    fn decode(&mut self) -> Result<(), Fault> {
        match self.read {
            0 => {
                self.t = unzigzag(read_uvarint(&mut self.r)?);
                self.v = self.r.read_bits(64)?;
                Ok(())
            }
            1 => {
                self.t_delta = read_uvarint(&mut self.r)?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()
            }
            _ => {
                let dod = match self.r.read_unary(4)? {
                    0 => 0,
                    1 => signed(self.r.read_bits(14)?, 14),
                    2 => signed(self.r.read_bits(17)?, 17),
                    3 => signed(self.r.read_bits(20)?, 20),
                    _ => self.r.read_bits(64)? as i64,
                };
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()
            }
        }
    }

    #[inline]
    fn read_value(&mut self) -> Result<(), Fault> {
        match self.r.read_unary(2)? {
            0 => return Ok(()),
            1 => {}
            _ => {
                let leading = self.r.read_bits(5)? as u8;
                let significant = match self.r.read_bits(6)? as u8 {
                    0 => 64,
                    n => n,
                };
                if leading + significant > 64 {
                    return Err(Fault::BadWindow { leading, significant });
                }
                self.leading = leading;
                self.trailing = 64 - leading - significant;
                self.window_seen = true;
            }
        }
        // leading + trailing <= 63 always holds here, so this is 1..=64 and
        // the shift below is in range.
        let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let bits = self.r.read_bits(significant)?;
        self.v ^= bits << self.trailing;
        Ok(())
    }
}

/// Sign-extends an `sz`-bit dod the way Prometheus does (see `bit_range`).
#[inline]
fn signed(bits: u64, sz: u32) -> i64 {
    if bits > 1 << (sz - 1) {
        bits as i64 - (1i64 << sz)
    } else {
        bits as i64
    }
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.read >= self.total || self.err.is_some() {
            return None;
        }
        match self.decode() {
            Ok(()) => {
                self.read += 1;
                Some(Sample {
                    t: self.t,
                    v: f64::from_bits(self.v),
                })
            }
            Err(fault) => {
                let sample = self.read;
                self.err = Some(match fault {
                    Fault::Eof => ChunkError::Truncated {
                        decoded: sample,
                        total: self.total,
                    },
                    Fault::VarintOverflow => ChunkError::VarintOverflow { sample },
                    Fault::BadWindow { leading, significant } => ChunkError::BadValueWindow {
                        sample,
                        leading,
                        significant,
                    },
                });
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.err.is_some() {
            return (0, Some(0));
        }
        (0, Some(usize::from(self.total - self.read)))
    }
}

impl FusedIterator for XorIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{is_stale_nan, STALE_NAN};

    /// splitmix64: a tiny deterministic PRNG for the tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in `0..n` (n > 0), slightly biased, fine for tests.
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn build(samples: &[(i64, f64)]) -> XorChunk {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        c
    }

    fn assert_same(got: &[Sample], want: &[(i64, f64)]) {
        assert_eq!(got.len(), want.len(), "sample count");
        for (i, (g, &(t, v))) in got.iter().zip(want).enumerate() {
            assert_eq!(g.t, t, "timestamp of sample {i}");
            assert_eq!(
                g.v.to_bits(),
                v.to_bits(),
                "value bits of sample {i}: got {:?} want {:?}",
                g.v,
                v
            );
        }
    }

    fn check_round_trip(samples: &[(i64, f64)]) -> XorChunk {
        let c = build(samples);
        assert_eq!(usize::from(c.num_samples()), samples.len());
        let mut it = c.iter();
        let got: Vec<Sample> = it.by_ref().collect();
        assert!(it.err().is_none(), "unexpected error {:?}", it.err());
        assert_same(&got, samples);
        c
    }

    /// Bits used so far, Prometheus's view: whole bytes minus free bits.
    fn bits_used(c: &XorChunk) -> usize {
        c.buf.len() * 8 - usize::from(c.count)
    }

    /// Interesting values: specials, and ones sharing bits with neighbours.
    fn random_value(rng: &mut Rng, prev: f64) -> f64 {
        match rng.below(12) {
            0 => f64::NAN,
            1 => STALE_NAN,
            2 => f64::INFINITY,
            3 => f64::NEG_INFINITY,
            4 => -0.0,
            5 => f64::from_bits(1),                     // smallest subnormal
            6 => f64::from_bits(0x7FF8_0000_0000_0001), // NaN with payload
            7 => f64::from_bits(rng.next()),
            8 => prev,
            9 => f64::from_bits(prev.to_bits() ^ (1 << rng.below(64))),
            10 => (rng.unit() * 1e6).round() / 100.0,
            _ => prev + rng.below(1000) as f64,
        }
    }

    /// Timestamp steps covering every dod bucket and its edges.
    fn random_step(rng: &mut Rng, base: i64) -> i64 {
        let step = match rng.below(8) {
            0..=2 => base + rng.range(-5, 5),
            3 => base,
            4 => {
                let edges = [
                    8192, 8193, -8191, -8192, 65536, 65537, -65535, -65536, 524288, 524289, -524287, -524288,
                ];
                base + edges[rng.below(edges.len() as u64) as usize]
            }
            5 => rng.range(1, 1 << 20),
            6 => rng.range(1, 1 << 45),
            _ => 1,
        };
        step.max(1)
    }

    #[test]
    fn a_full_chunk_wastes_little_capacity() {
        // Noisy gauge-like values: about 9 bytes per sample.
        let mut c = XorChunk::new();
        let mut v = 1000.0f64;
        for i in 0..120i64 {
            v += ((i * 7919) % 13) as f64 * 0.37 - 2.0;
            c.append(i * 15_000 + (i % 3), v);
        }
        let (len, cap) = (c.bytes().len(), c.memory_bytes() - std::mem::size_of::<XorChunk>());
        assert!(cap <= len + len / 4 + 32, "{len} bytes in a {cap}-byte buffer");
        // And a constant series stays small.
        let mut c = XorChunk::new();
        for i in 0..120i64 {
            c.append(i * 15_000, 1.0);
        }
        let cap = c.memory_bytes() - std::mem::size_of::<XorChunk>();
        assert!(
            cap <= c.bytes().len() + 48,
            "{} bytes in a {cap}-byte buffer",
            c.bytes().len()
        );
    }

    #[test]
    fn chunk_golden_bytes_regular_series() {
        // Derived by hand from xor.go/bstream.go:
        //   00 07              sample count
        //   D0 0F              varint(1000) = uvarint(2000)
        //   3F F0 00 .. 00     bits of 1.0
        //   98 75              uvarint(15000), written into the empty byte
        //                      the 64-bit write left behind
        // then the bit stream:
        //   s2 v=1.0: 0
        //   s3 dod 0: 0  v=2.0: xor 0x7FF0.. -> 11 00001 001011 11111111111
        //   s4 dod 5: 10 00000000000101  v=3.0: xor 0x0008.. (lead 12,
        //      trail 51; 51 < 52 so a new window) -> 11 01100 000001 1
        //   s5 dod -5: 10 11111111111011  v=3.0: 0
        //   s6 dod 0: 0  v=2.0: xor 0x0008.. fits window -> 10 1
        //   s7 dod -15: 10 11111111110001  v=2.0: 0
        // = 94 bits, padded with two free bits.
        let samples = [
            (1000, 1.0),
            (16000, 1.0),
            (31000, 2.0),
            (46005, 3.0),
            (61005, 3.0),
            (76005, 2.0),
            (90990, 2.0),
        ];
        let c = check_round_trip(&samples);
        let want: [u8; 26] = [
            0x00, 0x07, 0xD0, 0x0F, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x98, 0x75, 0x30, 0x97, 0xFF, 0xE0,
            0x01, 0x76, 0x03, 0xBF, 0xFB, 0x2D, 0xFF, 0x88,
        ];
        assert_eq!(c.bytes(), &want[..]);
        assert_eq!(c.count, 2);

        // One sample: the 64-bit value write leaves an empty trailing byte.
        let c = build(&samples[..1]);
        assert_eq!(
            c.bytes(),
            &[0x00, 0x01, 0xD0, 0x0F, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x00][..]
        );
        // Two samples: the delta varint fills it and leaves another; the
        // unchanged value's single 0 bit goes into that one.
        let c = build(&samples[..2]);
        assert_eq!(
            c.bytes(),
            &[0x00, 0x02, 0xD0, 0x0F, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00][..]
        );
        // Empty.
        assert_eq!(XorChunk::new().bytes(), &[0, 0][..]);
    }

    #[test]
    fn chunk_golden_bytes_edge_widths() {
        // Derived by hand:
        //   00 04  count;  01  varint(-1);  00 x8  bits of 0.0
        //   01     uvarint(1), into the empty byte
        //   s2 v=bits 1: xor 1 has 63 leading zeros, capped to 31, 0 trailing
        //      -> 11 11111 100001 + 33 bits (32 zeros, 1)
        //   s3 dod 1_000_000 (> 2^19): 1111 + 64 bits of 0xF4240
        //      v=-0.0: xor 0x8000_0000_0000_0001, 0 leading < 31
        //      -> 11 00000 000000 (64 written as 0) + 64 bits
        //   s4 dod 0: 0  v=stale NaN: xor 0xFFF0_0000_0000_0002 fits the
        //      0/0 window -> 10 + 64 bits
        // = 258 bits after the varint byte.
        let samples = [
            (-1, 0.0),
            (0, f64::from_bits(1)),
            (1_000_001, -0.0),
            (2_000_002, STALE_NAN),
        ];
        let c = check_round_trip(&samples);
        let want: [u8; 45] = [
            0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0x08, 0x00, 0x00, 0x00, 0x07,
            0xC0, 0x00, 0x00, 0x00, 0x00, 0x03, 0xD0, 0x90, 0x30, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
            0xBF, 0xFC, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
        ];
        assert_eq!(c.bytes(), &want[..]);
        assert!(is_stale_nan(c.last_value().unwrap_or(0.0)));
    }

    #[test]
    fn chunk_round_trip_random_series() {
        let mut rng = Rng(42);
        for case in 0..300 {
            let n = rng.below(200) as usize;
            let mut t = match case % 4 {
                0 => 0,
                1 => -1_000_000_000,
                2 => 1_700_000_000_000,
                _ => rng.next() as i64 >> 2,
            };
            let base = [15_000, 1, 60_000, rng.range(1, 10_000_000)][rng.below(4) as usize];
            let mut v = rng.unit() * 100.0;
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                t = t.wrapping_add(random_step(&mut rng, base));
                v = random_value(&mut rng, v);
                samples.push((t, v));
            }
            check_round_trip(&samples);
        }
    }

    #[test]
    fn chunk_round_trip_extreme_timestamps() {
        // Deltas and dods that overflow i64 still round-trip thanks to the
        // wrapping arithmetic (the caller never does this, but no panic).
        let samples = [
            (i64::MIN, 1.0),
            (-1, 2.0),
            (i64::MAX, 3.0),
            (i64::MIN + 7, 4.0),
            (0, 5.0),
            (i64::MAX, 6.0),
        ];
        check_round_trip(&samples);
        check_round_trip(&[(i64::MIN, f64::NAN)]);
        check_round_trip(&[(i64::MAX, f64::NEG_INFINITY), (i64::MIN, f64::INFINITY)]);
    }

    #[test]
    fn chunk_dod_bucket_boundaries() {
        // (dod, bits the timestamp of the third sample takes)
        let cases: &[(i64, usize)] = &[
            (0, 1),
            (1, 16),
            (-1, 16),
            (8192, 16),
            (-8191, 16),
            (8193, 20),
            (-8192, 20),
            (65536, 20),
            (-65535, 20),
            (65537, 24),
            (-65536, 24),
            (524288, 24),
            (-524287, 24),
            (524289, 68),
            (-524288, 68),
            (1 << 40, 68),
            (-(1 << 40), 68),
        ];
        for &(dod, ts_bits) in cases {
            let delta = 1_000_000;
            let t0 = -5_000;
            let samples = [(t0, 7.5), (t0 + delta, 7.5), (t0 + 2 * delta + dod, 7.5)];
            let mut c = build(&samples[..2]);
            let before = bits_used(&c);
            c.append(samples[2].0, samples[2].1);
            // + 1 bit for the unchanged value.
            assert_eq!(bits_used(&c) - before, ts_bits + 1, "dod {dod}");
            let got: Vec<Sample> = c.iter().collect();
            assert_same(&got, &samples);
            assert_eq!(bit_range(dod, 14), ts_bits <= 16, "dod {dod}");
        }
    }

    #[test]
    fn chunk_leading_zero_cap() {
        let one = 1.0f64.to_bits();
        // XORs with 63, 62 and 40 leading zeros: all capped to 31.
        let samples = [
            (0, f64::from_bits(one)),
            (1, f64::from_bits(one ^ 1)),
            (2, f64::from_bits(one ^ 1 ^ 2)),
            (3, f64::from_bits(one ^ 1 ^ 2 ^ (1 << 23))),
            (4, f64::from_bits(one)),
        ];
        let mut c = build(&samples[..1]);
        let mut used = bits_used(&c);
        // s2: uvarint delta 8 bits, then a new window: 11 + 5 + 6 + 33.
        // s3: dod 0, then the window fits (31 leading, 0 trailing): 1 + 10 + 33.
        // s4: same.  s5: xor 1^2^(1<<23) ... fits as well.
        for (i, &(t, v)) in samples.iter().enumerate().skip(1) {
            c.append(t, v);
            let want = if i == 1 { 8 + 2 + 5 + 6 + 33 } else { 1 + 2 + 33 };
            assert_eq!(bits_used(&c) - used, want, "sample {i}");
            used = bits_used(&c);
        }
        assert_eq!((c.leading, c.trailing), (31, 0));
        let got: Vec<Sample> = c.iter().collect();
        assert_same(&got, &samples);
    }

    #[test]
    fn chunk_iterate_while_appending() {
        let mut rng = Rng(7);
        let mut c = XorChunk::new();
        assert_eq!(c.iter().next(), None);
        assert_eq!((c.first_time(), c.last_time(), c.last_value()), (None, None, None));
        let mut samples = Vec::new();
        let mut t = 1_700_000_000_000i64;
        let mut v = 0.0;
        for _ in 0..MAX_SAMPLES_PER_CHUNK {
            t += random_step(&mut rng, 15_000);
            v = random_value(&mut rng, v);
            c.append(t, v);
            samples.push((t, v));
            let mut it = c.iter();
            let got: Vec<Sample> = it.by_ref().collect();
            assert!(it.err().is_none());
            assert_same(&got, &samples);
            // A partially consumed iterator sees the same prefix.
            let partial: Vec<Sample> = c.iter().take(samples.len() / 2).collect();
            assert_same(&partial, &samples[..samples.len() / 2]);
            assert_eq!(usize::from(c.num_samples()), samples.len());
            assert_eq!(c.first_time(), Some(samples[0].0));
            assert_eq!(c.last_time(), Some(t));
            assert_eq!(c.last_value().map(f64::to_bits), Some(v.to_bits()));
        }
    }

    #[test]
    fn chunk_from_bytes_round_trip_and_resume() {
        let mut rng = Rng(99);
        for _ in 0..20 {
            let mut samples = Vec::new();
            let mut t = rng.range(-1 << 40, 1 << 40);
            let mut v = 1.0;
            for _ in 0..60 {
                t += random_step(&mut rng, 15_000);
                v = if rng.below(3) == 0 {
                    v
                } else {
                    random_value(&mut rng, v)
                };
                samples.push((t, v));
            }
            let full = build(&samples);
            for n in 0..=samples.len() {
                let prefix = build(&samples[..n]);
                let mut c = match XorChunk::from_bytes(prefix.bytes().to_vec()) {
                    Ok(c) => c,
                    Err(e) => panic!("from_bytes of a valid {n}-sample chunk: {e}"),
                };
                assert_eq!(c.bytes(), prefix.bytes());
                assert_eq!(c.num_samples(), prefix.num_samples());
                assert_eq!(c.count, prefix.count, "free bits after {n} samples");
                assert_eq!(
                    (c.t, c.v, c.t_delta, c.leading, c.trailing),
                    (prefix.t, prefix.v, prefix.t_delta, prefix.leading, prefix.trailing),
                    "appender state after {n} samples"
                );
                assert_eq!(c.last_time(), prefix.last_time());
                assert_eq!(c.first_time(), samples.first().filter(|_| n > 0).map(|s| s.0));
                // Appending the rest gives the bytes of never having stopped.
                for &(t, v) in &samples[n..] {
                    c.append(t, v);
                }
                assert_eq!(c.bytes(), full.bytes(), "resumed after {n} samples");
            }
        }
    }

    #[test]
    fn chunk_shrink_and_memory() {
        assert!(std::mem::size_of::<XorChunk>() <= 56);
        let mut c = XorChunk::new();
        for i in 0..MAX_SAMPLES_PER_CHUNK {
            c.append(i64::from(i) * 15_000, f64::from(i % 7));
        }
        let before = c.memory_bytes();
        c.shrink_to_fit();
        assert_eq!(c.memory_bytes(), c.bytes().len() + std::mem::size_of::<XorChunk>());
        assert!(c.memory_bytes() <= before);
        // Still appendable and readable after shrinking.
        c.append(10_000_000, 1.5);
        assert_eq!(c.num_samples(), MAX_SAMPLES_PER_CHUNK + 1);
        assert_eq!(c.iter().last().map(|s| (s.t, s.v)), Some((10_000_000, 1.5)));
        assert_eq!(XorChunk::default().bytes(), XorChunk::new().bytes());
    }

    #[test]
    fn chunk_from_bytes_rejects_bad_input() {
        assert_eq!(
            XorChunk::from_bytes(vec![]).err(),
            Some(ChunkError::MissingHeader { len: 0 })
        );
        assert_eq!(
            XorChunk::from_bytes(vec![0]).err(),
            Some(ChunkError::MissingHeader { len: 1 })
        );
        assert!(XorChunk::from_bytes(vec![0, 0]).is_ok());
        // An empty chunk with the header only, or with one empty byte.
        assert!(XorChunk::from_bytes(vec![0, 0, 0]).is_ok());
        match XorChunk::from_bytes(vec![0, 0, 0xAB]) {
            Ok(mut c) => {
                assert_eq!(c.bytes(), &[0, 0, 0][..]);
                c.append(5, 5.0);
                let got: Vec<Sample> = c.iter().collect();
                assert_same(&got, &[(5, 5.0)]);
            }
            Err(e) => panic!("an unused byte is not data: {e}"),
        }

        let samples = [(1000, 1.0), (16000, 2.0), (31000, 3.0)];
        let good = build(&samples).bytes().to_vec();
        // Truncated.
        let err = XorChunk::from_bytes(good[..good.len() - 2].to_vec()).err();
        assert_eq!(err, Some(ChunkError::Truncated { decoded: 2, total: 3 }));
        // Header claims more samples than the stream holds.
        let mut more = good.clone();
        more[1] = 4;
        assert!(matches!(
            XorChunk::from_bytes(more).err(),
            Some(ChunkError::Truncated { total: 4, .. })
        ));
        // Garbage after the last sample.
        let mut long = good.clone();
        long.extend_from_slice(&[0, 0]);
        assert!(matches!(
            XorChunk::from_bytes(long).err(),
            Some(ChunkError::TrailingData { total: 3, .. })
        ));
        // Non-zero padding bits are cleared so that appends stay readable.
        let free = build(&samples).count;
        assert_eq!(free, 1);
        let mut padded = good.clone();
        let last = padded.len() - 1;
        padded[last] |= (1 << free) - 1;
        match XorChunk::from_bytes(padded) {
            Ok(mut c) => {
                assert_eq!(c.bytes(), &good[..]);
                c.append(46000, 4.0);
                let got: Vec<Sample> = c.iter().collect();
                assert_same(&got, &[samples[0], samples[1], samples[2], (46000, 4.0)]);
            }
            Err(e) => panic!("padding is not data: {e}"),
        }
        // Timestamp varint of 10 continuation bytes.
        let mut bad = vec![0, 1];
        bad.extend_from_slice(&[0xFF; 12]);
        bad.extend_from_slice(&[0; 8]);
        assert_eq!(
            XorChunk::from_bytes(bad).err(),
            Some(ChunkError::VarintOverflow { sample: 0 })
        );
        // A value window of 31 leading zeros and 64 significant bits.
        let mut bad = vec![0, 2, 0x02];
        bad.extend_from_slice(&[0; 8]);
        bad.push(0x02); // uvarint delta 2
        bad.extend_from_slice(&[0b1111_1110, 0b0000_0000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let err = XorChunk::from_bytes(bad).err();
        assert_eq!(
            err,
            Some(ChunkError::BadValueWindow {
                sample: 1,
                leading: 31,
                significant: 64
            })
        );
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("31 leading zeros"), "{msg}");
        let msg = ChunkError::Truncated { decoded: 2, total: 3 }.to_string();
        assert!(msg.contains("truncated") && msg.contains('3'), "{msg}");
    }

    /// Decodes `bytes` every way a caller can; must not panic.
    fn poke(bytes: &[u8]) -> (usize, bool) {
        let mut it = XorIter::new(bytes);
        let n = it.by_ref().count();
        assert!(it.next().is_none(), "iterator must stay finished");
        let failed = it.err().is_some();
        if let Ok(mut c) = XorChunk::from_bytes(bytes.to_vec()) {
            let _ = (c.first_time(), c.last_time(), c.last_value());
            assert_eq!(c.iter().count(), usize::from(c.num_samples()));
            if c.num_samples() < u16::MAX {
                c.append(c.last_time().unwrap_or(0).wrapping_add(1), 1.0);
                assert_eq!(c.iter().count(), usize::from(c.num_samples()));
            }
        }
        (n, failed)
    }

    #[test]
    fn chunk_corrupt_input_never_panics() {
        let mut rng = Rng(1234);
        let mut samples = Vec::new();
        let mut t = -7_000_000i64;
        let mut v = 3.0;
        for _ in 0..MAX_SAMPLES_PER_CHUNK {
            t += random_step(&mut rng, 15_000);
            v = random_value(&mut rng, v);
            samples.push((t, v));
        }
        let good = build(&samples).bytes().to_vec();

        // Every truncation: a prefix of the samples, and an error if short.
        for len in 0..=good.len() {
            let cut = &good[..len];
            let (n, failed) = poke(cut);
            let got: Vec<Sample> = XorIter::new(cut).collect();
            assert_same(&got, &samples[..n]);
            assert_eq!(failed, n < samples.len(), "cut at {len}");
        }
        // Every byte flipped in several ways.
        for i in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xFF, 0x55, (rng.next() as u8) | 1] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                poke(&bad);
            }
        }
        // Random multi-byte damage, random lengths, random garbage.
        for _ in 0..3000 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] = rng.next() as u8;
            }
            bad.truncate(rng.below(bad.len() as u64 + 1) as usize);
            poke(&bad);
            let garbage: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            poke(&garbage);
        }
        // All-ones bytes under a huge header: long 64-bit dods and windows.
        let mut ones = vec![0xFF; 300];
        ones[0] = 0xFF;
        poke(&ones);
    }

    #[test]
    fn chunk_reads_go_reopened_appender_encoding() {
        // Go's `Appender()` on a re-opened one-sample chunk starts from the
        // iterator's 0/0 window, so the second value goes out as a "reuse"
        // of 64 significant bits: 10 + 64 bits. Readers must accept it.
        let xor = 1.0f64.to_bits() ^ 2.0f64.to_bits();
        let mut bytes = vec![0x00, 0x02, 0x00]; // count 2, varint(0)
        bytes.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        bytes.push(0x01); // uvarint delta 1
        let bits = (0b10u128 << 64 | u128::from(xor)) << 62; // 66 bits, left aligned
        bytes.extend_from_slice(&bits.to_be_bytes()[..9]);
        let got: Vec<Sample> = XorIter::new(&bytes).collect();
        assert_same(&got, &[(0, 1.0), (1, 2.0)]);
        let mut c = match XorChunk::from_bytes(bytes) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.leading, LEADING_UNSET, "no window was ever declared");
        c.append(2, 3.0);
        c.append(3, 3.25);
        let got: Vec<Sample> = c.iter().collect();
        assert_same(&got, &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 3.25)]);
    }
}
