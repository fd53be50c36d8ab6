//! Go 1.19's `math.Pow` and `math.Atan2` (pure Go on amd64, unlike glibc's),
//! so that `^` and `atan2` give Prometheus' bits. `Exp`/`Log` inside `Pow`
//! for fractional exponents use the platform's, which may differ from Go's
//! assembly versions in the last bit.
// Constants are written as in Go's source; the compiler rounds them once, as Go's does.
#![allow(clippy::excessive_precision)]

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

// Go's `math.Atan`, shared with the trigonometric functions.
use crate::functions::gomath::atan;

fn is_odd_int(x: f64) -> bool {
    let xi = x.trunc();
    let xf = x - xi;
    xf == 0.0 && xi.abs() < 9.223372036854776e18 && (xi as i64) & 1 == 1
}

/// Go's `math.Frexp`: `f = frac × 2^exp` with `frac` in `[0.5, 1)`.
fn frexp(f: f64) -> (f64, i32) {
    if f == 0.0 || f.is_infinite() || f.is_nan() {
        return (f, 0);
    }
    let (mut f, mut exp) = (f, 0i32);
    if f.abs() < f64::MIN_POSITIVE {
        f *= (1u64 << 52) as f64;
        exp = -52;
    }
    let mut x = f.to_bits();
    exp += ((x >> 52) & 0x7ff) as i32 - 1023 + 1;
    x &= !(0x7ffu64 << 52);
    x |= ((-1i64 + 1023) as u64) << 52;
    (f64::from_bits(x), exp)
}

/// Go's `math.Ldexp`.
fn ldexp(frac: f64, exp: i32) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (mut frac, mut exp) = (frac, exp as i64);
    if frac.abs() < f64::MIN_POSITIVE {
        frac *= (1u64 << 52) as f64;
        exp -= 52;
    }
    let mut x = frac.to_bits();
    exp += ((x >> 52) & 0x7ff) as i64 - 1023;
    if exp < -1075 {
        return 0f64.copysign(frac);
    }
    if exp > 1023 {
        return if frac < 0.0 { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    x &= !(0x7ffu64 << 52);
    x |= ((exp + 1023) as u64) << 52;
    m * f64::from_bits(x)
}

/// Go 1.19's `math.Pow`.
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        if y < 0.0 {
            if is_odd_int(y) {
                return f64::INFINITY.copysign(x);
            }
            return f64::INFINITY;
        } else if y > 0.0 {
            if is_odd_int(y) {
                return x;
            }
            return 0.0;
        }
    }
    if y.is_infinite() {
        if x == -1.0 {
            return 1.0;
        }
        if (x.abs() < 1.0) == (y > 0.0) {
            return 0.0;
        }
        return f64::INFINITY;
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y);
        }
        if y < 0.0 {
            return 0.0;
        } else if y > 0.0 {
            return f64::INFINITY;
        }
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let ya = y.abs();
    let mut yi = ya.trunc();
    let mut yf = ya - yi;
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 9.223372036854775808e18 {
        if x == -1.0 {
            return 1.0;
        }
        if (x.abs() < 1.0) == (y > 0.0) {
            return 0.0;
        }
        return f64::INFINITY;
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, xe) = frexp(x);
    let mut xe = xe as i64;
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
}

/// Go's `math.Atan2`.
pub(crate) fn atan2(y: f64, x: f64) -> f64 {
    // Go constant 3*Pi/4 rounded once.
    const THREE_PI_4: f64 = 2.356194490192345;
    if y.is_nan() || x.is_nan() {
        return f64::NAN;
    }
    if y == 0.0 {
        if x >= 0.0 && !x.is_sign_negative() {
            return 0f64.copysign(y);
        }
        return PI.copysign(y);
    }
    if x == 0.0 {
        return FRAC_PI_2.copysign(y);
    }
    if x.is_infinite() {
        if x > 0.0 {
            if y.is_infinite() {
                return FRAC_PI_4.copysign(y);
            }
            return 0f64.copysign(y);
        }
        if y.is_infinite() {
            return THREE_PI_4.copysign(y);
        }
        return PI.copysign(y);
    }
    if y.is_infinite() {
        return FRAC_PI_2.copysign(y);
    }
    let q = atan(y / x);
    if x < 0.0 {
        if q <= 0.0 {
            return q + PI;
        }
        return q - PI;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_matches_special_cases_and_integers() {
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(2.0, -2.0), 0.25);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(0.0, -1.0), f64::INFINITY);
        assert_eq!(pow(-0.0, -1.0), f64::NEG_INFINITY);
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert_eq!(pow(10.0, 400.0), f64::INFINITY);
        assert!((pow(2.0, 0.3) - 2f64.powf(0.3)).abs() < 1e-15);
    }

    #[test]
    fn pow_and_atan2_match_prometheus_2_42_bits() {
        // Values printed by Prometheus 2.42 (promtool) for `vector(x ^ y)`;
        // glibc's correctly rounded pow differs on several of them.
        let cases = [
            (10.0, 308.0, 1.0000000000000006e308),
            (1.1, 17.0, 5.054470284992943),
            (3.0, -5.0, 4.11522633744856e-3),
            (2.5, 7.0, 610.3515625),
            (10.0, -5.0, 1e-5),
            (1.0001, 1000.0, 1.105165392603197),
            (0.99, 100.0, 0.3660323412732289),
            (1.1, 127.0, 180663.7477303838),
            (1.1, 128.0, 198730.12250342217),
        ];
        for (x, y, want) in cases {
            assert_eq!(pow(x, y), want, "{x} ^ {y}");
        }
        // Fractional exponents go through exp/log: equal up to the last bit.
        for (x, y, want) in [(7.0, 0.3, 1.792789962520997), (123.456, 3.7, 54776609.3406535)] {
            assert!(((pow(x, y) - want) / want).abs() < 1e-15, "{x} ^ {y}");
        }
        assert_eq!(atan2(2.0, 3.0), 0.5880026035475675);
        assert_eq!(atan2(-1.0, -7.0), -2.999695598985629);
        assert_eq!(atan2(1e-5, 1e5), 1e-10);
    }

    #[test]
    fn frexp_ldexp_round_trip() {
        for x in [1.0, 3.5, 1e-310, 123456.789, -0.75] {
            let (f, e) = frexp(x);
            assert!((0.5..1.0).contains(&f.abs()), "{x}");
            assert_eq!(ldexp(f, e), x);
        }
    }

    #[test]
    fn atan2_close_to_libm() {
        for (y, x) in [(1.0, 1.0), (1.0, -1.0), (-3.0, 0.5), (10.0, 0.1), (0.2, 7.0)] {
            assert!((atan2(y, x) - f64::atan2(y, x)).abs() < 1e-15);
        }
        assert_eq!(atan2(0.0, -1.0), PI);
        assert_eq!(atan2(f64::INFINITY, f64::NEG_INFINITY), THREE_PI_4_TEST);
    }

    const THREE_PI_4_TEST: f64 = 2.356194490192345;
}
