//! Go's `time.Time` as a template value (UTC only): prints like Go's
//! `Time.String()` and supports the methods templates use, including
//! `Format` with Go reference layouts.

use std::any::Any;

use crate::value::{Object, Value};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// An instant in UTC with nanosecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second, 0..1e9.
    pub nanos: u32,
}

/// Seconds from 0001-01-01 to 1970-01-01, Go's zero `time.Time`.
const ZERO_UNIX: i64 = -62_135_596_800;

impl GoTime {
    pub fn from_unix(secs: i64, nanos: u32) -> GoTime {
        let extra = i64::from(nanos / 1_000_000_000);
        GoTime {
            secs: secs.saturating_add(extra),
            nanos: nanos % 1_000_000_000,
        }
    }

    pub fn from_unix_nanos(nanos: i64) -> GoTime {
        GoTime {
            secs: nanos.div_euclid(1_000_000_000),
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }

    pub fn from_unix_millis(ms: i64) -> GoTime {
        GoTime {
            secs: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) as u32) * 1_000_000,
        }
    }

    /// Go's zero `time.Time` (`0001-01-01 00:00:00 +0000 UTC`).
    pub fn zero() -> GoTime {
        GoTime {
            secs: ZERO_UNIX,
            nanos: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.secs == ZERO_UNIX && self.nanos == 0
    }

    /// A template value of Go type `time.Time`.
    pub fn value(self) -> Value {
        Value::object(TimeValue {
            t: self,
            pointer: false,
        })
    }

    /// A template value of Go type `*time.Time` (what Prometheus' `toTime` returns).
    pub fn pointer_value(self) -> Value {
        Value::object(TimeValue { t: self, pointer: true })
    }

    fn civil(&self) -> Civil {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = CUM[(m - 1) as usize] + d + i64::from(leap && m > 2);
        Civil {
            year: y,
            month: m,
            day: d,
            hour: sod / 3600,
            min: (sod / 60) % 60,
            sec: sod % 60,
            weekday: (days + 4).rem_euclid(7),
            yday,
        }
    }

    /// Go's `Time.Format` with a reference layout (`2006-01-02 15:04:05`).
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let b = layout.as_bytes();
        let mut i = 0;
        let has = |i: usize, s: &str| layout[i..].starts_with(s);
        while i < b.len() {
            let (chunk_len, text): (usize, String) = match b[i] {
                b'J' if has(i, "January") => (7, MONTHS[(c.month - 1) as usize].into()),
                b'J' if has(i, "Jan") => (3, MONTHS[(c.month - 1) as usize][..3].into()),
                b'M' if has(i, "Monday") => (6, DAYS[c.weekday as usize].into()),
                b'M' if has(i, "Mon") => (3, DAYS[c.weekday as usize][..3].into()),
                b'M' if has(i, "MST") => (3, "UTC".into()),
                b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => {
                    let v = match b[i + 1] {
                        b'1' => c.month,
                        b'2' => c.day,
                        b'3' => hour12(c.hour),
                        b'4' => c.min,
                        b'5' => c.sec,
                        _ => c.year.rem_euclid(100),
                    };
                    (2, format!("{v:02}"))
                }
                b'0' if has(i, "002") => (3, format!("{:03}", c.yday)),
                b'1' if has(i, "15") => (2, format!("{:02}", c.hour)),
                b'1' => (1, c.month.to_string()),
                b'2' if has(i, "2006") => (4, format_year(c.year)),
                b'2' => (1, c.day.to_string()),
                b'_' if has(i, "_2006") => (1, "_".into()),
                b'_' if has(i, "__2") => (3, format!("{:>3}", c.yday)),
                b'_' if has(i, "_2") => (2, format!("{:>2}", c.day)),
                b'3' => (1, hour12(c.hour).to_string()),
                b'4' => (1, c.min.to_string()),
                b'5' => (1, c.sec.to_string()),
                b'P' if has(i, "PM") => (2, if c.hour >= 12 { "PM" } else { "AM" }.into()),
                b'p' if has(i, "pm") => (2, if c.hour >= 12 { "pm" } else { "am" }.into()),
                b'-' if has(i, "-07:00:00") => (9, "+00:00:00".into()),
                b'-' if has(i, "-070000") => (7, "+000000".into()),
                b'-' if has(i, "-07:00") => (6, "+00:00".into()),
                b'-' if has(i, "-0700") => (5, "+0000".into()),
                b'-' if has(i, "-07") => (3, "+00".into()),
                b'Z' if has(i, "Z07:00:00") => (9, "Z".into()),
                b'Z' if has(i, "Z070000") => (7, "Z".into()),
                b'Z' if has(i, "Z07:00") => (6, "Z".into()),
                b'Z' if has(i, "Z0700") => (5, "Z".into()),
                b'Z' if has(i, "Z07") => (3, "Z".into()),
                b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                    let ch = b[i + 1];
                    let mut j = i + 1;
                    while j < b.len() && b[j] == ch {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        (1, char::from(b[i]).to_string())
                    } else {
                        let n = j - (i + 1);
                        (j - i, frac(self.nanos, n, ch == b'9', char::from(b[i])))
                    }
                }
                _ => {
                    let ch = layout[i..].chars().next().unwrap_or(' ');
                    (ch.len_utf8(), ch.to_string())
                }
            };
            out.push_str(&text);
            i += chunk_len;
        }
        out
    }
}

fn hour12(h: i64) -> i64 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

fn format_year(y: i64) -> String {
    if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    }
}

fn frac(nanos: u32, n: usize, trim: bool, sep: char) -> String {
    let digits = format!("{nanos:09}");
    let mut d = &digits[..n.min(9)];
    if trim {
        d = d.trim_end_matches('0');
        if d.is_empty() {
            return String::new();
        }
    }
    format!("{sep}{d}")
}

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    weekday: i64,
    yday: i64,
}

impl std::fmt::Display for GoTime {
    /// Go's `Time.String()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
}

struct TimeValue {
    t: GoTime,
    pointer: bool,
}

pub(crate) fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<TimeValue>().map(|tv| tv.t),
        _ => None,
    }
}

impl Object for TimeValue {
    fn type_name(&self) -> &str {
        if self.pointer {
            "*time.Time"
        } else {
            "time.Time"
        }
    }

    fn method_arity(&self, name: &str) -> Option<usize> {
        match name {
            "Format" | "Before" | "After" | "Equal" => Some(1),
            "String" | "Unix" | "UnixMilli" | "UnixMicro" | "UnixNano" | "UTC" | "Local" | "Year" | "Month" | "Day"
            | "Hour" | "Minute" | "Second" | "Nanosecond" | "YearDay" | "Weekday" | "IsZero" => Some(0),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let t = self.t;
        let c = t.civil();
        let other = || {
            args.first().and_then(as_time).ok_or_else(|| {
                format!(
                    "wrong type for value; expected time.Time; got {}",
                    args.first().map(Value::type_name).unwrap_or_default()
                )
            })
        };
        Ok(match name {
            "Format" => match args.first() {
                Some(Value::String(layout)) => Value::from(t.format(layout)),
                Some(v) => return Err(format!("wrong type for value; expected string; got {}", v.type_name())),
                None => return Err("missing layout".into()),
            },
            "String" => Value::from(t.to_string()),
            "Unix" => Value::Int(t.secs),
            "UnixMilli" => Value::Int(
                t.secs
                    .saturating_mul(1000)
                    .saturating_add(i64::from(t.nanos / 1_000_000)),
            ),
            "UnixMicro" => Value::Int(
                t.secs
                    .saturating_mul(1_000_000)
                    .saturating_add(i64::from(t.nanos / 1000)),
            ),
            "UnixNano" => Value::Int(t.secs.saturating_mul(1_000_000_000).saturating_add(i64::from(t.nanos))),
            "UTC" | "Local" => t.value(),
            "Year" => Value::Int(c.year),
            "Month" => Value::from(MONTHS[(c.month - 1) as usize]),
            "Day" => Value::Int(c.day),
            "Hour" => Value::Int(c.hour),
            "Minute" => Value::Int(c.min),
            "Second" => Value::Int(c.sec),
            "Nanosecond" => Value::Int(i64::from(t.nanos)),
            "YearDay" => Value::Int(c.yday),
            "Weekday" => Value::from(DAYS[c.weekday as usize]),
            "IsZero" => Value::Bool(t.is_zero()),
            "Before" => Value::Bool(t < other()?),
            "After" => Value::Bool(t > other()?),
            "Equal" => Value::Bool(t == other()?),
            _ => return Err(format!("can't call method {name}")),
        })
    }

    fn format(&self) -> Option<String> {
        Some(self.t.to_string())
    }

    fn is_stringer(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form() {
        assert_eq!(
            GoTime::from_unix(1_435_065_584, 128_000_000).to_string(),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(GoTime::from_unix(0, 0).to_string(), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(GoTime::from_unix(-1, 0).to_string(), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(GoTime::zero().to_string(), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            GoTime::from_unix(9_223_372_036, 0).to_string(),
            "2262-04-11 23:47:16 +0000 UTC"
        );
    }

    #[test]
    fn layouts() {
        let t = GoTime::from_unix(1_672_671_845, 123_456_789); // 2023-01-02 15:04:05.123456789
        assert_eq!(t.format("2006-01-02"), "2023-01-02");
        assert_eq!(t.format("Jan _2 15:04:05.000"), "Jan  2 15:04:05.123");
        assert_eq!(t.format("Monday, 02-Jan-06 3:04PM MST"), "Monday, 02-Jan-23 3:04PM UTC");
        assert_eq!(t.format(time_rfc3339()), "2023-01-02T15:04:05Z");
        assert_eq!(
            t.format("2006-01-02T15:04:05.999999999Z07:00"),
            "2023-01-02T15:04:05.123456789Z"
        );
        assert_eq!(t.format("002 -0700"), "002 +0000");
    }

    fn time_rfc3339() -> &'static str {
        "2006-01-02T15:04:05Z07:00"
    }
}
