//! Little-endian bit packing for the block sample codec: bit `i` of the
//! stream is bit `i % 8` of byte `i / 8`. The reader never panics: reading
//! past the end returns `None`.

/// Appends bit fields to a byte vector.
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    acc: u128,
    n: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        BitWriter {
            buf: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    /// Writes the low `w` bits of `v` (`w <= 64`).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, w: u32) {
        if w == 0 {
            return;
        }
        self.acc |= u128::from(v & mask(w)) << self.n;
        self.n += w;
        while self.n >= 8 {
            self.buf.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// The bytes, the last one zero-padded.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.buf.push(self.acc as u8);
        }
        self.buf
    }
}

/// The low `w` bits set (`w <= 64`).
#[inline]
pub(crate) fn mask(w: u32) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

/// Reads bit fields written by [`BitWriter`].
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
    acc: u128,
    n: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        BitReader {
            buf,
            pos: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Reads `w <= 64` bits; `None` past the end of the input.
    #[inline]
    pub(crate) fn read(&mut self, w: u32) -> Option<u64> {
        if w == 0 {
            return Some(0);
        }
        if self.n < w {
            self.refill();
            if self.n < w {
                return None;
            }
        }
        let v = (self.acc as u64) & mask(w);
        self.acc >>= w;
        self.n -= w;
        Some(v)
    }

    #[inline]
    fn refill(&mut self) {
        if self.n <= 64 {
            if let Some(b) = self.buf.get(self.pos..self.pos + 8) {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                self.acc |= u128::from(u64::from_le_bytes(a)) << self.n;
                self.n += 64;
                self.pos += 8;
                return;
            }
        }
        while self.n <= 120 {
            let Some(&b) = self.buf.get(self.pos) else { return };
            self.acc |= u128::from(b) << self.n;
            self.n += 8;
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_every_width_round_trip() {
        let mut w = BitWriter::new();
        let mut expect = Vec::new();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..500u32 {
            let width = i % 65;
            x = x.rotate_left(7).wrapping_mul(0x2545_F491_4F6C_DD1D);
            w.write(x, width);
            expect.push((x & mask(width), width));
        }
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        for (v, width) in expect {
            assert_eq!(r.read(width), Some(v));
        }
        assert!(r.read(8).is_none());
    }
}
