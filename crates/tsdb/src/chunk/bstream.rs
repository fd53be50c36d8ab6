//! Bit writer and reader for the XOR chunk, laid out exactly like
//! Prometheus's `tsdb/chunkenc/bstream.go`.
//!
//! Bits are written most significant first. The writer keeps Prometheus's
//! `count` (how many low bits of the last byte are still free, `0..=8`) and
//! reproduces one quirk of its `writeByte`: a `writeBits` call whose width is
//! a non-zero multiple of 8 and that ends on a byte boundary leaves an empty
//! byte at the end of the stream (`count == 8`). That byte is part of the
//! chunk's bytes, so it must be reproduced for the output to be byte-identical.

/// Appends the `n` (`0..=64`) low bits of `u` to the stream as a plain bit
/// append: it never leaves a trailing empty byte behind. Use it for bits that
/// Prometheus writes as a run of `writeBit`/short `writeBits` calls which is
/// then followed by another write in the same step.
#[inline]
pub(super) fn push_bits(buf: &mut Vec<u8>, count: &mut u8, u: u64, n: u32) {
    if n == 0 {
        return;
    }
    let u = if n < 64 { u & ((1u64 << n) - 1) } else { u };
    let mut n = n;
    let free = u32::from(*count);
    if free > 0 {
        if let Some(last) = buf.last_mut() {
            if n <= free {
                // `u < 2^n`, so the shifted value is below `2^free <= 256`.
                *last |= (u << (free - n)) as u8;
                *count = (free - n) as u8;
                return;
            }
            n -= free;
            // `u >> n < 2^free <= 256`.
            *last |= (u >> n) as u8;
        }
        *count = 0;
    }
    // The remaining `n` (1..=64) low bits of `u` go out left aligned, as
    // whole bytes; the unused low bits of the last one are free.
    // Appending all 8 bytes and truncating compiles to one store, where a
    // variable-length `extend_from_slice` would call `memmove`.
    let bytes = n.div_ceil(8);
    let len = buf.len();
    buf.extend_from_slice(&(u << (64 - n)).to_be_bytes());
    buf.truncate(len + bytes as usize);
    *count = (bytes * 8 - n) as u8;
}

/// Prometheus's `bstream.writeBits(u, n)` (`n` in `0..=64`), including the
/// trailing-empty-byte quirk of its `writeByte`.
#[inline]
pub(super) fn write_bits(buf: &mut Vec<u8>, count: &mut u8, u: u64, n: u32) {
    push_bits(buf, count, u, n);
    if n >= 8 && n & 7 == 0 && *count == 0 {
        buf.push(0);
        *count = 8;
    }
}

/// Ran out of bits before the value was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Eof;

/// Reads bits most significant first from a byte slice. Never panics: reads
/// past the end return [`Eof`].
#[derive(Debug, Clone)]
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the next byte of `data` to load into `buf`.
    next: usize,
    /// Buffered bits, left aligned: the next bit to read is bit 63. The bits
    /// below the `valid` ones are either zero or a prefix of `data[next]`
    /// sitting exactly where that byte will be OR-ed in, so refills may OR.
    buf: u64,
    /// Number of valid bits at the top of `buf` (`0..=64`).
    valid: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            next: 0,
            buf: 0,
            valid: 0,
        }
    }

    /// Bits consumed so far.
    pub(super) fn bits_read(&self) -> usize {
        self.next * 8 - self.valid as usize
    }

    /// Total bits in the stream (read or not).
    pub(super) fn bits_total(&self) -> usize {
        self.data.len() * 8
    }

    /// Tops `buf` up to at least 57 valid bits, or to the end of the data.
    #[inline]
    fn refill(&mut self) {
        let word = self.data.get(self.next..).and_then(|rest| rest.first_chunk::<8>());
        match word {
            Some(word) if self.valid < 64 => {
                let word = u64::from_be_bytes(*word);
                // Bits of a partially taken byte land exactly where that byte
                // goes on the next refill (see the field doc), so OR is safe.
                self.buf |= word >> self.valid;
                let bytes = (64 - self.valid) / 8;
                self.next += bytes as usize;
                self.valid += bytes * 8;
            }
            _ => {
                while self.valid <= 56 {
                    let Some(&b) = self.data.get(self.next) else {
                        break;
                    };
                    self.buf |= u64::from(b) << (56 - self.valid);
                    self.valid += 8;
                    self.next += 1;
                }
            }
        }
    }

    /// Drops `n` (`<= valid`, `< 64`) bits from the top of the buffer.
    #[inline]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.valid -= n;
    }

    /// Reads `n` (`0..=64`) bits into the low bits of the result.
    #[inline]
    pub(super) fn read_bits(&mut self, n: u32) -> Result<u64, Eof> {
        if n == 0 {
            return Ok(0);
        }
        if n > 56 {
            let hi = self.read_bits(n - 32)?;
            let lo = self.read_bits(32)?;
            return Ok(hi << 32 | lo);
        }
        if self.valid < n {
            self.refill();
            if self.valid < n {
                return Err(Eof);
            }
        }
        let v = self.buf >> (64 - n);
        self.consume(n);
        Ok(v)
    }

    #[inline]
    pub(super) fn read_bit(&mut self) -> Result<bool, Eof> {
        if self.valid == 0 {
            self.refill();
            if self.valid == 0 {
                return Err(Eof);
            }
        }
        let bit = self.buf >> 63 == 1;
        self.consume(1);
        Ok(bit)
    }

    /// Reads a unary prefix of at most `max` (`1..=8`) one bits: consumes ones
    /// until a zero (which is consumed too) or until `max` ones were read, and
    /// returns the number of ones.
    #[inline]
    pub(super) fn read_unary(&mut self, max: u32) -> Result<u32, Eof> {
        if self.valid < max {
            self.refill();
        }
        if self.valid >= max {
            let ones = self.buf.leading_ones().min(max);
            self.consume(if ones == max { max } else { ones + 1 });
            return Ok(ones);
        }
        // Fewer than `max` bits left: the prefix may still be short enough.
        let mut ones = 0;
        while ones < max && self.read_bit()? {
            ones += 1;
        }
        Ok(ones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(writes: &[(u64, u32)]) -> (Vec<u8>, u8) {
        let mut buf = Vec::new();
        let mut count = 0;
        for &(u, n) in writes {
            write_bits(&mut buf, &mut count, u, n);
        }
        (buf, count)
    }

    #[test]
    fn chunk_bstream_byte_writes_leave_an_empty_trailing_byte() {
        // Prometheus: writeByte on a full stream appends the byte plus an
        // empty one, leaving count == 8.
        assert_eq!(write_all(&[(0xAB, 8)]), (vec![0xAB, 0], 8));
        assert_eq!(write_all(&[(0xABCD, 16)]), (vec![0xAB, 0xCD, 0], 8));
        // The empty byte is filled by the next bit written.
        assert_eq!(write_all(&[(0xAB, 8), (1, 1)]), (vec![0xAB, 0x80], 7));
        // Bit writes that end aligned leave no empty byte.
        let bits: Vec<(u64, u32)> = (0..8).map(|i| (i & 1, 1)).collect();
        assert_eq!(write_all(&bits), (vec![0b0101_0101], 0));
        // 14 bits from an offset of 2 end aligned without the quirk.
        assert_eq!(write_all(&[(0b11, 2), (0x3FFF, 14)]), (vec![0xFF, 0xFF], 0));
        // 8 bits from an offset of 3 end unaligned: straddles two bytes.
        assert_eq!(write_all(&[(0b101, 3), (0xFF, 8)]), (vec![0xBF, 0xE0], 5));
        // 8 bits from an offset of 0 after a full byte of single bits.
        let mut w = bits.clone();
        w.push((0x0F, 8));
        assert_eq!(write_all(&w), (vec![0x55, 0x0F, 0], 8));
        // High bits above `n` are ignored.
        assert_eq!(write_all(&[(0xFFFF_FF01, 8)]), (vec![0x01, 0], 8));
    }

    #[test]
    fn chunk_bstream_reader_round_trips_and_stops_at_the_end() {
        let mut buf = Vec::new();
        let mut count = 0;
        let widths = [1u32, 3, 7, 8, 13, 56, 57, 63, 64, 2, 64, 5];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut expect = Vec::new();
        for &n in &widths {
            x = x.rotate_left(17).wrapping_mul(0x2545_F491_4F6C_DD1D);
            let v = if n == 64 { x } else { x & ((1 << n) - 1) };
            write_bits(&mut buf, &mut count, v, n);
            expect.push((v, n));
        }
        let mut r = BitReader::new(&buf);
        for &(v, n) in &expect {
            assert_eq!(r.read_bits(n), Ok(v), "width {n}");
        }
        let left = r.bits_total() - r.bits_read();
        assert_eq!(left, usize::from(count));
        assert_eq!(r.read_bits(left as u32 + 1), Err(Eof));
    }

    #[test]
    fn chunk_bstream_unary_prefix() {
        for (byte, ones, used) in [
            (0b0000_0000u8, 0u32, 1usize),
            (0b1000_0000, 1, 2),
            (0b1100_0000, 2, 3),
            (0b1110_0000, 3, 4),
            (0b1111_0000, 4, 4),
            (0b1111_1111, 4, 4),
        ] {
            let data = [byte];
            let mut r = BitReader::new(&data);
            assert_eq!(r.read_unary(4), Ok(ones));
            assert_eq!(r.bits_read(), used);
            // Same at the very end of a stream, through the slow path.
            let tail = [byte >> (8 - used)];
            let mut r2 = BitReader::new(&tail);
            r2.read_bits(8 - used as u32).ok();
            assert_eq!(r2.read_unary(4), Ok(ones), "byte {byte:08b}");
        }
        let mut r = BitReader::new(&[0b1111_1111]);
        r.read_bits(6).ok();
        assert_eq!(r.read_unary(4), Err(Eof));
    }
}
