//! The sample codec of the `chunks` file (see `docs/format/block.md`):
//! integer streams (patched frame-of-reference bit packing), timestamps as
//! residuals against the median interval, values as decimal-scaled integers
//! when that is lossless and Gorilla XOR otherwise, pages and series blobs.
//!
//! Decoders never panic and never trust a length before checking it: every
//! failure is a `String` that the reader wraps with file and offset.

use model::Sample;

use super::bits::{BitReader, BitWriter};
use crate::encoding::{put_uvarint, put_varint, Decoder};

/// Samples per page at most; a series' samples are split evenly into pages.
pub(crate) const PAGE_MAX_SAMPLES: usize = 240;
/// Timestamps in one shared column at most (a sanity bound for decoding).
pub(crate) const COLUMN_MAX_SAMPLES: u64 = 1 << 24;

/// Series blob timestamp modes.
const TS_OWN: u8 = 0;
const TS_COLUMN: u8 = 1;

/// Timestamp residual modes.
const TS_DELTA: u8 = 0;
const TS_GRID: u8 = 1;

/// Value encodings of a page.
const VAL_CONST: u8 = 0;
const VAL_XOR: u8 = 1;
const VAL_DECIMAL: u8 = 2;

/// Decimal scaling tries exponents `0..=MAX_DECIMALS`.
const MAX_DECIMALS: usize = 18;
/// Exact powers of ten (every one of these literals is an exact `f64`).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];
/// Integers of the decimal mode stay within ±2^53 (exact in an f64).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;
/// Above this many bits per value, the decimal mode is compared against XOR.
const DECIMAL_CHECK_XOR_BITS: u64 = 20;

type Res<T> = Result<T, String>;

fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Splits `blob` into payload and checks its trailing CRC32.
pub(crate) fn check_crc<'a>(blob: &'a [u8], what: &str) -> Res<&'a [u8]> {
    let Some(split) = blob.len().checked_sub(4) else {
        return Err(format!("{what} of {} bytes is shorter than its checksum", blob.len()));
    };
    let (payload, sum) = blob.split_at(split);
    let mut a = [0u8; 4];
    a.copy_from_slice(sum);
    let stored = u32::from_le_bytes(a);
    let actual = crc(payload);
    if stored != actual {
        return Err(format!(
            "{what} checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        ));
    }
    Ok(payload)
}

fn dec_err(e: crate::encoding::DecodeError) -> String {
    e.to_string()
}

// ---------------------------------------------------------------- integers

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[inline]
fn bitlen(u: u64) -> u32 {
    64 - u.leading_zeros()
}

fn uvarint_len(v: u64) -> u64 {
    u64::from(bitlen(v).max(1)).div_ceil(7)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// How an integer stream is packed.
#[derive(Debug, Clone, Copy)]
struct IntPlan {
    /// Values are `base + q * gcd` (true) or `unzigzag(q) * gcd` (false).
    min_base: bool,
    base: i64,
    gcd: u64,
    width: u32,
    /// Estimated encoded size in bits.
    bits: u64,
}

impl IntPlan {
    #[inline]
    fn q(&self, v: i64) -> u64 {
        if self.min_base {
            (v.wrapping_sub(self.base) as u64) / self.gcd
        } else {
            zigzag((i128::from(v) / i128::from(self.gcd)) as i64)
        }
    }
}

/// Picks the transform and bit width with the smallest estimated size.
fn plan_ints(vals: &[i64]) -> IntPlan {
    let zz = {
        let g = vals.iter().fold(0, |g, v| gcd(g, v.unsigned_abs())).max(1);
        let mut p = IntPlan {
            min_base: false,
            base: 0,
            gcd: g,
            width: 0,
            bits: 0,
        };
        p.bits = size_plan(&mut p, vals);
        p
    };
    let Some(&min) = vals.iter().min() else { return zz };
    let mb = {
        let g = vals.iter().fold(0, |g, v| gcd(g, v.wrapping_sub(min) as u64)).max(1);
        let mut p = IntPlan {
            min_base: true,
            base: min,
            gcd: g,
            width: 0,
            bits: 0,
        };
        p.bits = size_plan(&mut p, vals);
        p
    };
    if mb.bits < zz.bits {
        mb
    } else {
        zz
    }
}

/// Chooses `plan.width` from the histogram of bit lengths; returns the size.
fn size_plan(plan: &mut IntPlan, vals: &[i64]) -> u64 {
    let mut hist = [0u64; 65];
    let mut top = 0;
    for &v in vals {
        let b = bitlen(plan.q(v));
        hist[b as usize] += 1;
        top = top.max(b);
    }
    let n = vals.len() as u64;
    let header = 8
        * (1 + if plan.min_base {
            uvarint_len(zigzag(plan.base))
        } else {
            0
        } + uvarint_len(plan.gcd)
            + 2);
    let mut best = (u64::MAX, 0);
    for w in 0..=top {
        let mut cost = (n * u64::from(w)).div_ceil(8) * 8;
        for b in (w + 1)..=top {
            // An exception: a position gap (about one byte) and the high bits.
            cost += hist[b as usize] * 8 * (1 + u64::from(b - w).div_ceil(7));
        }
        if cost < best.0 {
            best = (cost, w);
        }
    }
    plan.width = best.1;
    header + best.0
}

/// Estimated encoded size of `vals` in bits.
fn int_bits(vals: &[i64]) -> u64 {
    if vals.is_empty() {
        0
    } else {
        plan_ints(vals).bits
    }
}

/// Appends an integer stream (the count is known to the reader). Nothing is
/// written for an empty stream.
///
/// ```text
/// u8 flags (bit 0: min-base) | [varint base] | uvarint gcd | u8 width |
/// ceil(n*width/8) packed bytes | uvarint exceptions | (uvarint gap, uvarint high)*
/// ```
fn put_ints(out: &mut Vec<u8>, vals: &[i64]) {
    if vals.is_empty() {
        return;
    }
    let plan = plan_ints(vals);
    out.push(u8::from(plan.min_base));
    if plan.min_base {
        put_varint(out, plan.base);
    }
    put_uvarint(out, plan.gcd);
    out.push(plan.width as u8);
    let mut w = BitWriter::new();
    let mut exceptions = Vec::new();
    for (i, &v) in vals.iter().enumerate() {
        let q = plan.q(v);
        w.write(q, plan.width);
        if plan.width < 64 && q >> plan.width != 0 {
            exceptions.push((i, q >> plan.width));
        }
    }
    out.extend_from_slice(&w.finish());
    put_uvarint(out, exceptions.len() as u64);
    let mut next = 0;
    for (i, high) in exceptions {
        put_uvarint(out, (i - next) as u64);
        put_uvarint(out, high);
        next = i + 1;
    }
}

/// Reads `n` integers written by [`put_ints`], appending them to `out`.
fn get_ints(d: &mut Decoder, n: usize, out: &mut Vec<i64>) -> Res<()> {
    if n == 0 {
        return Ok(());
    }
    let flags = d.u8().map_err(dec_err)?;
    if flags & !1 != 0 {
        return Err(format!("unknown integer stream flags {flags:#04x}"));
    }
    let min_base = flags & 1 == 1;
    let base = if min_base { d.varint().map_err(dec_err)? } else { 0 };
    let g = d.uvarint().map_err(dec_err)?;
    if g == 0 {
        return Err("integer stream with a zero multiplier".into());
    }
    let width = u32::from(d.u8().map_err(dec_err)?);
    if width > 64 {
        return Err(format!("integer stream bit width {width} > 64"));
    }
    let nbytes = (n as u64 * u64::from(width)).div_ceil(8);
    let packed = d
        .bytes(usize::try_from(nbytes).map_err(|_| "packed integers too long")?)
        .map_err(dec_err)?;
    let start = out.len();
    let mut r = BitReader::new(packed);
    for _ in 0..n {
        let q = r.read(width).ok_or("packed integers truncated")?;
        out.push(q as i64);
    }
    let exceptions = d.uvarint().map_err(dec_err)?;
    if exceptions > n as u64 {
        return Err(format!("{exceptions} exceptions in an integer stream of {n}"));
    }
    let mut next = 0u64;
    for _ in 0..exceptions {
        let at = next
            .checked_add(d.uvarint().map_err(dec_err)?)
            .filter(|&i| i < n as u64);
        let at = at.ok_or("integer stream exception position out of range")?;
        let high = d.uvarint().map_err(dec_err)?;
        if width >= 64 {
            return Err("integer stream exception with a 64-bit width".into());
        }
        let slot = out.get_mut(start + at as usize).ok_or("exception out of range")?;
        *slot = ((*slot as u64) | (high << width)) as i64;
        next = at + 1;
    }
    for v in &mut out[start..] {
        *v = if min_base {
            base.wrapping_add((*v as u64).wrapping_mul(g) as i64)
        } else {
            unzigzag(*v as u64).wrapping_mul(g as i64)
        };
    }
    Ok(())
}

// ---------------------------------------------------------------- timestamps

fn median_delta(ts: &[i64]) -> i64 {
    let mut d: Vec<i64> = ts.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let mid = d.len() / 2;
    *d.select_nth_unstable(mid).1
}

/// Timestamps after the first: `u8 mode | varint D | stream of n-1
/// residuals`. Mode 0: `t[i] = t[i-1] + D + r[i]` (robust to gaps); mode 1:
/// `t[i] = t[0] + i*D + r[i]` (jitter around a fixed grid, one bit cheaper
/// than its differences). Nothing for fewer than two timestamps.
fn put_ts_body(out: &mut Vec<u8>, ts: &[i64]) {
    let Some(&t0) = ts.first().filter(|_| ts.len() >= 2) else {
        return;
    };
    let d = median_delta(ts);
    let delta: Vec<i64> = ts.windows(2).map(|w| w[1].wrapping_sub(w[0]).wrapping_sub(d)).collect();
    let grid: Vec<i64> = (1..ts.len())
        .map(|i| ts[i].wrapping_sub(t0).wrapping_sub((i as i64).wrapping_mul(d)))
        .collect();
    let (mode, res) = if int_bits(&grid) < int_bits(&delta) {
        (TS_GRID, grid)
    } else {
        (TS_DELTA, delta)
    };
    out.push(mode);
    put_varint(out, d);
    put_ints(out, &res);
}

fn get_ts_body(d: &mut Decoder, t0: i64, n: usize, out: &mut Vec<i64>) -> Res<()> {
    let start = out.len();
    out.push(t0);
    if n < 2 {
        return Ok(());
    }
    let mode = d.u8().map_err(dec_err)?;
    let delta = d.varint().map_err(dec_err)?;
    get_ints(d, n - 1, out)?;
    match mode {
        TS_DELTA => {
            let mut t = t0;
            for v in &mut out[start + 1..] {
                t = t.wrapping_add(delta).wrapping_add(*v);
                *v = t;
            }
        }
        TS_GRID => {
            let mut base = t0;
            for v in &mut out[start + 1..] {
                base = base.wrapping_add(delta);
                *v = base.wrapping_add(*v);
            }
        }
        m => return Err(format!("unknown timestamp residual mode {m}")),
    }
    Ok(())
}

/// A shared timestamp column: `uvarint n | varint t0 | ts body | u32 crc`.
pub(crate) fn encode_column(ts: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    put_uvarint(&mut out, ts.len() as u64);
    put_varint(&mut out, ts.first().copied().unwrap_or(0));
    put_ts_body(&mut out, ts);
    let sum = crc(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes a column written by [`encode_column`].
pub(crate) fn decode_column(blob: &[u8]) -> Res<Vec<i64>> {
    let payload = check_crc(blob, "timestamp column")?;
    let mut d = Decoder::new(payload);
    let n = d.uvarint().map_err(dec_err)?;
    if n == 0 || n > COLUMN_MAX_SAMPLES {
        return Err(format!("timestamp column of {n} samples"));
    }
    let t0 = d.varint().map_err(dec_err)?;
    let mut out = Vec::with_capacity((n as usize).min(1 << 16));
    get_ts_body(&mut d, t0, n as usize, &mut out)?;
    if d.remaining() != 0 {
        return Err(format!("{} trailing bytes after a timestamp column", d.remaining()));
    }
    Ok(out)
}

// ---------------------------------------------------------------- values

/// `v` as an integer `k` with `k / 10^d == v` bit for bit.
#[inline]
fn to_decimal(v: f64, d: usize) -> Option<i64> {
    let k = (v * POW10[d]).round();
    if k.is_nan() || k.abs() > MAX_EXACT_INT {
        return None;
    }
    let k = k as i64;
    ((k as f64 / POW10[d]).to_bits() == v.to_bits()).then_some(k)
}

#[inline]
fn is_special(bits: u64) -> bool {
    !f64::from_bits(bits).is_finite()
}

/// The decimal encoding of `vals`, if some exponent represents every finite
/// value exactly: `u8 d | u8 order | uvarint exceptions | (uvarint gap, u64 bits)* |
/// varint header[order] | integer stream of n - order`.
fn encode_decimal(vals: &[u64]) -> Option<(Vec<u8>, u64)> {
    let finite = vals.iter().copied().filter(|b| !is_special(*b));
    let first = finite.clone().next()?;
    let d = (0..=MAX_DECIMALS).find(|&d| {
        to_decimal(f64::from_bits(first), d).is_some()
            && finite.clone().all(|b| to_decimal(f64::from_bits(b), d).is_some())
    })?;
    let mut ints = Vec::with_capacity(vals.len());
    let mut exceptions = Vec::new();
    let mut prev = to_decimal(f64::from_bits(first), d)?;
    for (i, &b) in vals.iter().enumerate() {
        if is_special(b) {
            exceptions.push((i, b));
            ints.push(prev);
        } else {
            prev = to_decimal(f64::from_bits(b), d)?;
            ints.push(prev);
        }
    }
    let d1: Vec<i64> = ints.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let d2: Vec<i64> = d1.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let head_bits = |h: &[i64]| h.iter().map(|&v| 8 * uvarint_len(zigzag(v))).sum::<u64>();
    let mut best: Option<(usize, u64)> = None;
    for order in 0..=2usize.min(vals.len().saturating_sub(1)) {
        let (head, stream): (Vec<i64>, &[i64]) = match order {
            0 => (vec![], &ints),
            1 => (vec![ints[0]], &d1),
            _ => (vec![ints[0], d1[0]], &d2),
        };
        let bits = head_bits(&head) + int_bits(stream);
        if best.is_none_or(|(_, b)| bits < b) {
            best = Some((order, bits));
        }
    }
    let (order, _) = best?;
    let mut out = vec![VAL_DECIMAL, d as u8, order as u8];
    put_uvarint(&mut out, exceptions.len() as u64);
    let mut next = 0;
    for (i, b) in exceptions {
        put_uvarint(&mut out, (i - next) as u64);
        out.extend_from_slice(&b.to_le_bytes());
        next = i + 1;
    }
    match order {
        0 => put_ints(&mut out, &ints),
        1 => {
            put_varint(&mut out, ints[0]);
            put_ints(&mut out, &d1);
        }
        _ => {
            put_varint(&mut out, ints[0]);
            put_varint(&mut out, d1[0]);
            put_ints(&mut out, &d2);
        }
    }
    let bits = out.len() as u64 * 8;
    Some((out, bits))
}

fn decode_decimal(d: &mut Decoder, n: usize, out: &mut Vec<u64>) -> Res<()> {
    let exp = usize::from(d.u8().map_err(dec_err)?);
    let div = *POW10
        .get(exp)
        .ok_or_else(|| format!("decimal exponent {exp} out of range"))?;
    let order = usize::from(d.u8().map_err(dec_err)?);
    if order > 2 || order > n {
        return Err(format!("delta order {order} invalid for {n} values"));
    }
    let count = d.uvarint().map_err(dec_err)?;
    if count > n as u64 {
        return Err(format!("{count} special values among {n}"));
    }
    let mut exceptions = Vec::with_capacity(count as usize);
    let mut next = 0u64;
    for _ in 0..count {
        let at = next
            .checked_add(d.uvarint().map_err(dec_err)?)
            .filter(|&i| i < n as u64);
        let at = at.ok_or("special value position out of range")?;
        exceptions.push((at as usize, d.u64_le()?));
        next = at + 1;
    }
    let mut ints = Vec::with_capacity(n);
    for _ in 0..order {
        ints.push(d.varint().map_err(dec_err)?);
    }
    get_ints(d, n - order, &mut ints)?;
    if order >= 2 {
        // ints = [x0, d1, dd2, ...]: turn the tail into deltas.
        let mut delta = 0i64;
        for v in ints.iter_mut().skip(1) {
            delta = delta.wrapping_add(*v);
            *v = delta;
        }
    }
    if order >= 1 {
        let mut x = 0i64;
        for v in ints.iter_mut() {
            x = x.wrapping_add(*v);
            *v = x;
        }
    }
    let start = out.len();
    out.extend(ints.iter().map(|&k| (k as f64 / div).to_bits()));
    for (i, b) in exceptions {
        out[start + i] = b;
    }
    Ok(())
}

trait U64Le {
    fn u64_le(&mut self) -> Res<u64>;
}

impl U64Le for Decoder<'_> {
    fn u64_le(&mut self) -> Res<u64> {
        let b = self.bytes(8).map_err(dec_err)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Gorilla XOR of value bits: `uvarint byte length | bit stream`.
fn encode_xor(vals: &[u64]) -> Vec<u8> {
    let mut w = BitWriter::new();
    let mut prev = vals.first().copied().unwrap_or(0);
    w.write(prev, 64);
    let (mut lead, mut trail) = (u32::MAX, 0u32);
    for &v in vals.iter().skip(1) {
        let x = v ^ prev;
        prev = v;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        let (l, t) = (x.leading_zeros(), x.trailing_zeros());
        if lead != u32::MAX && l >= lead && t >= trail {
            w.write(0b01, 2);
            w.write(x >> trail, 64 - lead - trail);
        } else {
            w.write(0b11, 2);
            let sig = 64 - l - t;
            w.write(u64::from(l), 6);
            w.write(u64::from(sig - 1), 6);
            w.write(x >> t, sig);
            (lead, trail) = (l, t);
        }
    }
    let bits = w.finish();
    let mut out = vec![VAL_XOR];
    put_uvarint(&mut out, bits.len() as u64);
    out.extend_from_slice(&bits);
    out
}

fn decode_xor(d: &mut Decoder, n: usize, out: &mut Vec<u64>) -> Res<()> {
    let len = d.uvarint().map_err(dec_err)?;
    let bytes = d
        .bytes(usize::try_from(len).map_err(|_| "XOR stream too long")?)
        .map_err(dec_err)?;
    let mut r = BitReader::new(bytes);
    let eof = || "XOR value stream truncated".to_string();
    let mut v = r.read(64).ok_or_else(eof)?;
    out.push(v);
    let (mut lead, mut trail) = (None::<u32>, 0u32);
    for _ in 1..n {
        if r.read(1).ok_or_else(eof)? == 1 {
            if r.read(1).ok_or_else(eof)? == 1 {
                let l = r.read(6).ok_or_else(eof)? as u32;
                let sig = r.read(6).ok_or_else(eof)? as u32 + 1;
                if l + sig > 64 {
                    return Err(format!("XOR window of {l} leading zeros and {sig} bits"));
                }
                lead = Some(l);
                trail = 64 - l - sig;
            }
            let l = lead.ok_or("XOR value reuses a window before defining one")?;
            let x = r.read(64 - l - trail).ok_or_else(eof)?;
            v ^= x << trail;
        }
        out.push(v);
    }
    Ok(())
}

/// Appends the values of one page in the smallest of the three modes.
fn put_values(out: &mut Vec<u8>, vals: &[u64]) {
    let Some(&first) = vals.first() else { return };
    if vals.iter().all(|&v| v == first) {
        out.push(VAL_CONST);
        out.extend_from_slice(&first.to_le_bytes());
        return;
    }
    match encode_decimal(vals) {
        Some((dec, bits)) if bits <= DECIMAL_CHECK_XOR_BITS * vals.len() as u64 => out.extend_from_slice(&dec),
        Some((dec, _)) => {
            let xor = encode_xor(vals);
            out.extend_from_slice(if xor.len() < dec.len() { &xor } else { &dec });
        }
        None => out.extend_from_slice(&encode_xor(vals)),
    }
}

fn get_values(d: &mut Decoder, n: usize, out: &mut Vec<u64>) -> Res<()> {
    match d.u8().map_err(dec_err)? {
        VAL_CONST => {
            let v = d.u64_le()?;
            out.extend(std::iter::repeat_n(v, n));
            Ok(())
        }
        VAL_XOR => decode_xor(d, n, out),
        VAL_DECIMAL => decode_decimal(d, n, out),
        m => Err(format!("unknown value encoding {m}")),
    }
}

// ---------------------------------------------------------------- series

/// Where a series' timestamps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TsSource {
    /// In each page.
    Own,
    /// In a shared column blob of the chunks file, from index `start` on.
    Column {
        /// Absolute offset of the column blob in the chunks file.
        offset: u64,
        /// Its length, checksum included.
        len: u64,
        /// Index of the series' first timestamp within the column.
        start: u64,
    },
}

/// Encodes one series' samples (sorted, unique timestamps, non-empty) into a
/// blob; returns the blob and its number of pages.
///
/// ```text
/// u8 ts mode | [uvarint column offset, uvarint column len, uvarint start] |
/// uvarint pages | page header* | page body* | u32 crc
/// page header: uvarint count | varint first_t (page 0: absolute; then minus
///              the previous page's last_t) | uvarint last_t - first_t | uvarint body len
/// page body:   [ts body, own mode only] | values
/// ```
pub(crate) fn encode_series(ts: &[i64], vals: &[u64], src: TsSource) -> (Vec<u8>, usize) {
    let n = ts.len();
    let pages = n.div_ceil(PAGE_MAX_SAMPLES).max(1);
    let mut out = Vec::with_capacity(n + 32);
    match src {
        TsSource::Own => out.push(TS_OWN),
        TsSource::Column { offset, len, start } => {
            out.push(TS_COLUMN);
            put_uvarint(&mut out, offset);
            put_uvarint(&mut out, len);
            put_uvarint(&mut out, start);
        }
    }
    put_uvarint(&mut out, pages as u64);
    let mut bodies = Vec::with_capacity(n);
    let mut prev_last = 0i64;
    let mut at = 0;
    for p in 0..pages {
        let count = n / pages + usize::from(p < n % pages);
        let (pts, pvals) = (&ts[at..at + count], &vals[at..at + count]);
        at += count;
        let body_start = bodies.len();
        if src == TsSource::Own {
            put_ts_body(&mut bodies, pts);
        }
        put_values(&mut bodies, pvals);
        let (first, last) = (pts[0], pts[count - 1]);
        put_uvarint(&mut out, count as u64);
        put_varint(&mut out, if p == 0 { first } else { first.wrapping_sub(prev_last) });
        put_uvarint(&mut out, last.wrapping_sub(first) as u64);
        put_uvarint(&mut out, (bodies.len() - body_start) as u64);
        prev_last = last;
    }
    out.extend_from_slice(&bodies);
    let sum = crc(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    (out, pages)
}

/// One page of a parsed series blob.
#[derive(Debug, Clone)]
struct Page<'a> {
    count: usize,
    /// Index of the page's first sample within the series.
    start: u64,
    first_t: i64,
    last_t: i64,
    body: &'a [u8],
}

/// A series blob whose checksum and page table were checked.
#[derive(Debug, Clone)]
pub(crate) struct SeriesBlob<'a> {
    pub(crate) ts: TsSource,
    pages: Vec<Page<'a>>,
}

impl<'a> SeriesBlob<'a> {
    /// Checks the checksum and reads the page table.
    pub(crate) fn parse(blob: &'a [u8]) -> Res<Self> {
        let payload = check_crc(blob, "series data")?;
        let mut d = Decoder::new(payload);
        let ts = match d.u8().map_err(dec_err)? {
            TS_OWN => TsSource::Own,
            TS_COLUMN => TsSource::Column {
                offset: d.uvarint().map_err(dec_err)?,
                len: d.uvarint().map_err(dec_err)?,
                start: d.uvarint().map_err(dec_err)?,
            },
            m => return Err(format!("unknown timestamp mode {m}")),
        };
        let num_pages = d.uvarint().map_err(dec_err)?;
        if num_pages == 0 || num_pages > payload.len() as u64 {
            return Err(format!("series data with {num_pages} pages"));
        }
        let mut headers = Vec::with_capacity(num_pages as usize);
        let mut prev_last = 0i64;
        let mut start = 0u64;
        for p in 0..num_pages {
            let count = d.uvarint().map_err(dec_err)?;
            if count == 0 || count > PAGE_MAX_SAMPLES as u64 {
                return Err(format!("page {p} holds {count} samples"));
            }
            let first = d.varint().map_err(dec_err)?;
            let first_t = if p == 0 { first } else { prev_last.wrapping_add(first) };
            let last_t = first_t.wrapping_add(d.uvarint().map_err(dec_err)? as i64);
            let body_len = d.uvarint().map_err(dec_err)?;
            headers.push((count as usize, start, first_t, last_t, body_len));
            start += count;
            prev_last = last_t;
        }
        let mut pages = Vec::with_capacity(headers.len());
        for (count, start, first_t, last_t, body_len) in headers {
            let body = d
                .bytes(usize::try_from(body_len).map_err(|_| "page too long")?)
                .map_err(dec_err)?;
            pages.push(Page {
                count,
                start,
                first_t,
                last_t,
                body,
            });
        }
        if d.remaining() != 0 {
            return Err(format!("{} trailing bytes after the last page", d.remaining()));
        }
        Ok(SeriesBlob { ts, pages })
    }

    /// Total samples.
    pub(crate) fn num_samples(&self) -> u64 {
        self.pages.iter().map(|p| p.count as u64).sum()
    }

    /// Appends the samples within `[mint, maxt]` to `out`. `column` holds the
    /// decoded shared column when the blob refers to one.
    pub(crate) fn decode(&self, column: Option<&[i64]>, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Res<()> {
        let mut ts = Vec::with_capacity(PAGE_MAX_SAMPLES);
        let mut vals = Vec::with_capacity(PAGE_MAX_SAMPLES);
        for (i, p) in self.pages.iter().enumerate() {
            if p.last_t < mint || p.first_t > maxt {
                continue;
            }
            ts.clear();
            vals.clear();
            let mut d = Decoder::new(p.body);
            match (self.ts, column) {
                (TsSource::Own, _) => get_ts_body(&mut d, p.first_t, p.count, &mut ts)?,
                (TsSource::Column { start, .. }, Some(col)) => {
                    let from = start.checked_add(p.start).and_then(|s| usize::try_from(s).ok());
                    let slice = from.and_then(|f| col.get(f..f.checked_add(p.count)?));
                    ts.extend_from_slice(slice.ok_or("page beyond the end of its timestamp column")?);
                }
                (TsSource::Column { .. }, None) => return Err("timestamp column missing".into()),
            }
            if ts.first() != Some(&p.first_t) || ts.last() != Some(&p.last_t) {
                return Err(format!("page {i}: timestamps disagree with the page header"));
            }
            get_values(&mut d, p.count, &mut vals)?;
            if d.remaining() != 0 {
                return Err(format!("page {i}: {} trailing bytes", d.remaining()));
            }
            out.extend(
                ts.iter()
                    .zip(&vals)
                    .filter(|(t, _)| **t >= mint && **t <= maxt)
                    .map(|(&t, &v)| Sample {
                        t,
                        v: f64::from_bits(v),
                    }),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_ints(vals: &[i64]) -> usize {
        let mut out = Vec::new();
        put_ints(&mut out, vals);
        let mut d = Decoder::new(&out);
        let mut got = Vec::new();
        get_ints(&mut d, vals.len(), &mut got).unwrap();
        assert_eq!(got, vals);
        assert_eq!(d.remaining(), 0);
        out.len()
    }

    #[test]
    fn integer_streams_round_trip() {
        round_trip_ints(&[]);
        round_trip_ints(&[0]);
        round_trip_ints(&[i64::MIN, i64::MAX, 0, -1, 1]);
        round_trip_ints(&[i64::MIN]);
        round_trip_ints(&[i64::MAX, i64::MAX - 1]);
        assert!(round_trip_ints(&[0; 240]) < 8);
        let mut v: Vec<i64> = (0..240).map(|i| (i % 7) - 3).collect();
        v[17] = 1_000_000;
        v[200] = -5_000_000_000;
        let n = round_trip_ints(&v);
        assert!(n < 240 * 3 / 8 + 24, "{n}");
        let pages: Vec<i64> = (0..240).map(|i| ((i * 7919) % 2001 - 1000) * 4096).collect();
        assert!(round_trip_ints(&pages) <= 240 * 11 / 8 + 12);
        let big: Vec<i64> = (0..240).map(|i| 1_000_000_000 + i * 13).collect();
        round_trip_ints(&big);
    }

    fn round_trip_values(vals: &[u64]) -> usize {
        let mut out = Vec::new();
        put_values(&mut out, vals);
        let mut d = Decoder::new(&out);
        let mut got = Vec::new();
        get_values(&mut d, vals.len(), &mut got).unwrap();
        assert_eq!(got, vals);
        assert_eq!(d.remaining(), 0);
        out.len()
    }

    #[test]
    fn values_round_trip_bit_exactly() {
        let specials = [
            f64::NAN.to_bits(),
            model::STALE_NAN_BITS,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            0.0f64.to_bits(),
            f64::MIN_POSITIVE.to_bits(),
            f64::MAX.to_bits(),
            1e300f64.to_bits(),
            0.1f64.to_bits(),
            (0.1f64 + 0.2).to_bits(),
        ];
        round_trip_values(&specials);
        round_trip_values(&[model::STALE_NAN_BITS]);
        round_trip_values(&[1.5f64.to_bits(), model::STALE_NAN_BITS, 2.5f64.to_bits()]);
        round_trip_values(&[model::STALE_NAN_BITS, 1.0f64.to_bits(), (-0.0f64).to_bits()]);
        let cents: Vec<u64> = (0..240)
            .map(|i| ((1_234_567 + i * 37) as f64 / 100.0).to_bits())
            .collect();
        assert!(round_trip_values(&cents) < 40);
        let noisy: Vec<u64> = (0..240).map(|i| (i as f64 * 0.7).sin().to_bits()).collect();
        round_trip_values(&noisy);
        for p in POW10 {
            let v: Vec<u64> = (0..10).map(|i| ((i * 12345) as f64 / p).to_bits()).collect();
            round_trip_values(&v);
        }
    }

    fn round_trip_ts(ts: &[i64]) -> usize {
        let col = encode_column(ts);
        assert_eq!(decode_column(&col).unwrap(), ts);
        col.len()
    }

    #[test]
    fn timestamps_round_trip_in_both_residual_modes() {
        let jitter = |i: i64| (i * 7919 % 7) - 3;
        // Jitter around a grid: 3 bits a timestamp (the grid mode).
        let grid: Vec<i64> = (0..240).map(|i| 1_700_000_000_000 + i * 15_000 + jitter(i)).collect();
        assert!(round_trip_ts(&grid) <= 240 * 3 / 8 + 20, "{}", round_trip_ts(&grid));
        // A missed scrape shifts the grid: the delta mode keeps it cheap.
        let gaps: Vec<i64> = grid
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 100)
            .map(|(_, t)| *t)
            .collect();
        assert!(round_trip_ts(&gaps) <= 240 * 4 / 8 + 24, "{}", round_trip_ts(&gaps));
        round_trip_ts(&[i64::MIN, -1, 0, i64::MAX]);
        round_trip_ts(&[5]);
        round_trip_ts(&[i64::MAX, i64::MIN]);
    }

    #[test]
    fn series_blobs_round_trip_and_filter_by_time() {
        let ts: Vec<i64> = (0..1000).map(|i| -500_000 + i * 15_000 + (i % 5) - 2).collect();
        let vals: Vec<u64> = (0..1000).map(|i| (i as f64).to_bits()).collect();
        let (blob, pages) = encode_series(&ts, &vals, TsSource::Own);
        assert_eq!(pages, 5);
        let b = SeriesBlob::parse(&blob).unwrap();
        assert_eq!(b.num_samples(), 1000);
        let mut out = Vec::new();
        b.decode(None, i64::MIN, i64::MAX, &mut out).unwrap();
        assert!(out
            .iter()
            .zip(ts.iter().zip(&vals))
            .all(|(s, (&t, &v))| s.t == t && s.v.to_bits() == v));
        out.clear();
        b.decode(None, ts[300], ts[310], &mut out).unwrap();
        assert_eq!(out.len(), 11);
        assert_eq!(out[0].t, ts[300]);

        let col = encode_column(&ts);
        let decoded = decode_column(&col).unwrap();
        assert_eq!(decoded, ts);
        let src = TsSource::Column {
            offset: 8,
            len: col.len() as u64,
            start: 100,
        };
        let (blob, _) = encode_series(&ts[100..300], &vals[100..300], src);
        let b = SeriesBlob::parse(&blob).unwrap();
        assert_eq!(b.ts, src);
        let mut out = Vec::new();
        b.decode(Some(&decoded), i64::MIN, i64::MAX, &mut out).unwrap();
        assert_eq!(out.len(), 200);
        assert_eq!(out[0].t, ts[100]);
        assert!(b.decode(Some(&decoded[..150]), i64::MIN, i64::MAX, &mut out).is_err());
    }
}
