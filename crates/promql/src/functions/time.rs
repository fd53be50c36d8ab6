//! `minute`, `hour`, `day_of_week`, `day_of_month`, `day_of_year`,
//! `days_in_month`, `month`, `year`, in UTC. Without an argument they read
//! the evaluation time (`vector(time())`, no labels); with one, each value
//! is taken as Unix seconds (truncated as Go's `int64()` does) and the metric
//! name is dropped. Dates are computed with Go 1.19's `time` arithmetic, so
//! absurd inputs (NaN, ±Inf, 1e300) give the same numbers as in Prometheus.

use model::Labels;

use super::gomath::to_int64;
use super::map_values;
use crate::value::{Point, Series, Steps};

/// A date function: Unix seconds to the value.
pub(super) type DateFn = fn(i64) -> f64;

pub(super) fn date_function(name: &str) -> Option<DateFn> {
    let f: DateFn = match name {
        "minute" => |s| ((abs(s) % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE) as f64,
        "hour" => |s| ((abs(s) % SECONDS_PER_DAY) / SECONDS_PER_HOUR) as f64,
        "day_of_week" => |s| {
            let sec = abs(s).wrapping_add(SECONDS_PER_DAY) % SECONDS_PER_WEEK;
            (sec / SECONDS_PER_DAY) as f64
        },
        "day_of_month" => |s| abs_date(abs(s), true).2 as f64,
        "day_of_year" => |s| (abs_date(abs(s), false).3 + 1) as f64,
        "days_in_month" => |s| {
            let (year, month, _, _) = abs_date(abs(s), true);
            (32 - abs_date(date_abs(year, month, 32), true).2) as f64
        },
        "month" => |s| abs_date(abs(s), true).1 as f64,
        "year" => |s| abs_date(abs(s), false).0 as f64,
        _ => return None,
    };
    Some(f)
}

pub(super) fn date(steps: &Steps, vector: Option<Vec<Series>>, f: DateFn) -> Vec<Series> {
    match vector {
        None => vec![Series {
            labels: Labels::empty(),
            // time.Unix(enh.Ts/1000, 0): integer division, truncating.
            points: steps.iter().map(|t| Point { t, v: f(t / 1000) }).collect(),
        }],
        Some(v) => map_values(steps, v, true, |_, v| Some(f(to_int64(v)))),
    }
}

const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
const SECONDS_PER_WEEK: u64 = 7 * SECONDS_PER_DAY;
const DAYS_PER_400_YEARS: u64 = 365 * 400 + 97;
const DAYS_PER_100_YEARS: u64 = 365 * 100 + 24;
const DAYS_PER_4_YEARS: u64 = 365 * 4 + 1;
const ABSOLUTE_ZERO_YEAR: i64 = -292277022399;
/// `(absoluteZeroYear - internalYear) * 365.2425 * secondsPerDay`.
const ABSOLUTE_TO_INTERNAL: i64 = -9223371966579724800;
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * SECONDS_PER_DAY as i64;
const DAYS_BEFORE: [u64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// Go's `Time.abs()` for `time.Unix(sec, 0).UTC()`: seconds since the
/// absolute zero year, wrapping as Go's integers do.
fn abs(unix: i64) -> u64 {
    // unixSec() round-trips through `sec + unixToInternal` exactly, wrapping included.
    unix.wrapping_add(UNIX_TO_INTERNAL.wrapping_sub(ABSOLUTE_TO_INTERNAL)) as u64
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Go 1.19's `absDate`: (year, month 1-12, day of month, day of year from 0).
fn abs_date(abs: u64, full: bool) -> (i64, u64, u64, u64) {
    let mut d = abs / SECONDS_PER_DAY;

    let mut n = d / DAYS_PER_400_YEARS;
    let mut y = 400 * n;
    d -= DAYS_PER_400_YEARS * n;

    n = d / DAYS_PER_100_YEARS;
    n -= n >> 2;
    y += 100 * n;
    d -= DAYS_PER_100_YEARS * n;

    n = d / DAYS_PER_4_YEARS;
    y += 4 * n;
    d -= DAYS_PER_4_YEARS * n;

    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;

    let year = (y as i64).wrapping_add(ABSOLUTE_ZERO_YEAR);
    let yday = d;
    if !full {
        return (year, 0, 0, yday);
    }
    let mut day = yday;
    if is_leap(year) {
        if day > 31 + 29 - 1 {
            day -= 1;
        } else if day == 31 + 29 - 1 {
            return (year, 2, 29, yday);
        }
    }
    let mut month = day / 31;
    let end = DAYS_BEFORE[month as usize + 1];
    let begin = if day >= end {
        month += 1;
        end
    } else {
        DAYS_BEFORE[month as usize]
    };
    month += 1;
    (year, month, day - begin + 1, yday)
}

/// Go's `time.Date(year, month, day, 0, 0, 0, 0, time.UTC)` as an absolute
/// time (`month` is already in 1..=12).
fn date_abs(year: i64, month: u64, day: u64) -> u64 {
    // daysSinceEpoch
    let mut y = year.wrapping_sub(ABSOLUTE_ZERO_YEAR) as u64;
    let mut n = y / 400;
    y -= 400 * n;
    let mut d = DAYS_PER_400_YEARS.wrapping_mul(n);
    n = y / 100;
    y -= 100 * n;
    d = d.wrapping_add(DAYS_PER_100_YEARS * n);
    n = y / 4;
    y -= 4 * n;
    d = d.wrapping_add(DAYS_PER_4_YEARS * n);
    d = d.wrapping_add(365 * y);

    d = d.wrapping_add(DAYS_BEFORE[month as usize - 1]);
    if is_leap(year) && month >= 3 {
        d = d.wrapping_add(1);
    }
    d = d.wrapping_add(day - 1);
    d.wrapping_mul(SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, unix: i64) -> f64 {
        date_function(name).unwrap()(unix)
    }

    #[test]
    fn ordinary_dates() {
        // 2023-02-28T13:45:30Z, a Tuesday.
        let t = 1677591930;
        assert_eq!(f("year", t), 2023.0);
        assert_eq!(f("month", t), 2.0);
        assert_eq!(f("day_of_month", t), 28.0);
        assert_eq!(f("day_of_year", t), 59.0);
        assert_eq!(f("day_of_week", t), 2.0);
        assert_eq!(f("hour", t), 13.0);
        assert_eq!(f("minute", t), 45.0);
        assert_eq!(f("days_in_month", t), 28.0);
        // Leap day and the day after in 2024.
        assert_eq!(f("day_of_month", 1709164800), 29.0);
        assert_eq!(f("month", 1709164800), 2.0);
        assert_eq!(f("days_in_month", 1709164800), 29.0);
        assert_eq!(f("day_of_year", 1709251200), 61.0);
        assert_eq!(f("days_in_month", 1709251200), 31.0);
        // The epoch was a Thursday; before it, a Wednesday.
        assert_eq!(f("day_of_week", 0), 4.0);
        assert_eq!(f("day_of_week", -1), 3.0);
        assert_eq!(f("year", -1), 1969.0);
        assert_eq!(f("hour", -1), 23.0);
        assert_eq!(f("day_of_year", -1), 365.0);
    }

    #[test]
    fn agrees_with_a_civil_calendar_over_centuries() {
        // Days from civil (Howard Hinnant's algorithm) as an independent check.
        fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
            let y = if m <= 2 { y - 1 } else { y };
            let era = if y >= 0 { y } else { y - 399 } / 400;
            let yoe = y - era * 400;
            let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            era * 146097 + doe - 719468
        }
        for y in [1600i64, 1899, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999] {
            for m in 1..=12 {
                for d in [1, 15, 28] {
                    let t = days_from_civil(y, m, d) * 86400 + 3600;
                    assert_eq!(f("year", t), y as f64);
                    assert_eq!(f("month", t), m as f64);
                    assert_eq!(f("day_of_month", t), d as f64);
                    let next = if m == 12 {
                        days_from_civil(y + 1, 1, 1)
                    } else {
                        days_from_civil(y, m + 1, 1)
                    };
                    assert_eq!(f("days_in_month", t), (next - days_from_civil(y, m, 1)) as f64);
                }
            }
        }
    }
}
