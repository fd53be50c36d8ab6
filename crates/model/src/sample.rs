/// The bit pattern Prometheus writes for a staleness marker: a signalling NaN
/// distinct from the NaN that arithmetic produces.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker as an `f64`.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// True when `v` carries the staleness marker's exact bit pattern.
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a timestamp in milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be a staleness marker (see [`is_stale_nan`]).
    pub v: f64,
}

impl Sample {
    /// Bit-exact equality, so that NaN equals NaN and staleness markers are
    /// told apart from ordinary NaNs.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_a_nan_distinct_from_arithmetic_nan() {
        assert!(STALE_NAN.is_nan());
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
        let zero = std::hint::black_box(0.0f64);
        assert!(!is_stale_nan(zero / zero));
    }
}
