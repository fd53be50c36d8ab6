//! Time intervals (`time_intervals` / `mute_time_intervals`), with the parsing
//! rules, error texts and `ContainsTime` logic of Alertmanager's
//! `timeinterval` package.

use std::fmt;

use chrono::{Datelike, Timelike};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::clock::Timestamp;
use crate::tz::{days_in_month, Location};

/// One `time_interval_spec`: every present field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Minute-of-day ranges, start inclusive, end exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<TimeRange>>,
    /// Weekday ranges (0 = Sunday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<WeekdayRange>>,
    /// Day-of-month ranges; negative values count from the month's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_of_month: Option<Vec<DayOfMonthRange>>,
    /// Month ranges (1 = January).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<MonthRange>>,
    /// Year ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<YearRange>>,
    /// The zone the other fields are evaluated in (UTC when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationName>,
}

impl TimeInterval {
    /// Alertmanager's `ContainsTime`.
    pub fn contains(&self, t: Timestamp) -> bool {
        let local = match &self.location {
            Some(l) => l.0.local(t),
            None => t.naive_utc(),
        };
        let minute = (local.hour() * 60 + local.minute()) as i32;
        if let Some(times) = &self.times {
            if !times.iter().any(|r| minute >= r.start_minute && minute < r.end_minute) {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let dim = days_in_month(local.year(), local.month()) as i32;
            let day = local.day() as i32;
            let hit = days.iter().any(|r| {
                let begin = if r.0.begin < 0 { dim + r.0.begin + 1 } else { r.0.begin };
                let end = if r.0.end < 0 { dim + r.0.end + 1 } else { r.0.end };
                // Skip ranges starting after the end of this month.
                if begin > dim {
                    return false;
                }
                let begin = begin.clamp(-dim, dim);
                let end = end.clamp(-dim, dim);
                day >= begin && day <= end
            });
            if !hit {
                return false;
            }
        }
        if let Some(months) = &self.months {
            let m = local.month() as i32;
            if !months.iter().any(|r| m >= r.0.begin && m <= r.0.end) {
                return false;
            }
        }
        if let Some(weekdays) = &self.weekdays {
            let wd = local.weekday().num_days_from_sunday() as i32;
            if !weekdays.iter().any(|r| wd >= r.0.begin && wd <= r.0.end) {
                return false;
            }
        }
        if let Some(years) = &self.years {
            let y = local.year();
            if !years.iter().any(|r| y >= r.0.begin && y <= r.0.end) {
                return false;
            }
        }
        true
    }
}

/// An inclusive `begin:end` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    /// First value.
    pub begin: i32,
    /// Last value (inclusive).
    pub end: i32,
}

/// Weekdays, 0 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekdayRange(pub InclusiveRange);
/// Days of the month, negative counts from the end (-1 = last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOfMonthRange(pub InclusiveRange);
/// Months, 1 = January.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange(pub InclusiveRange);
/// Years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearRange(pub InclusiveRange);

/// Minutes of the day, `[start_minute, end_minute)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start, minutes after midnight.
    pub start_minute: i32,
    /// Exclusive end, minutes after midnight (1440 for `24:00`).
    pub end_minute: i32,
}

/// A configured time zone, keeping the name for serialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationName(pub Location);

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_int(s: &str) -> Result<i32, String> {
    s.parse::<i32>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
}

/// Splits `a:b` (or `a`) and maps each side with `member`.
fn parse_range(input: &str, member: impl Fn(&str) -> Result<i32, String>) -> Result<InclusiveRange, String> {
    let s = input.to_lowercase();
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {s}, invalid format"));
        }
        return Ok(InclusiveRange {
            begin: member(parts[0])?,
            end: member(parts[1])?,
        });
    }
    let v = member(&s)?;
    Ok(InclusiveRange { begin: v, end: v })
}

impl WeekdayRange {
    /// Parses `monday:friday` or `saturday`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, |m| {
            WEEKDAYS
                .iter()
                .position(|d| *d == m)
                .map(|p| p as i32)
                .ok_or_else(|| format!("{m} is not a valid weekday"))
        })?;
        if r.begin > r.end {
            return Err("start day cannot be before end day".into());
        }
        Ok(WeekdayRange(r))
    }
}

impl DayOfMonthRange {
    /// Parses `1:5`, `-3:-1` or `15`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, parse_int)?;
        if r.begin == 0 || r.begin < -31 || r.begin > 31 {
            return Err(format!("{} is not a valid day of the month: out of range", r.begin));
        }
        if r.end == 0 || r.end < -31 || r.end > 31 {
            return Err(format!("{} is not a valid day of the month: out of range", r.end));
        }
        if r.begin < 0 && r.end > 0 {
            return Err("end day must be negative if start day is negative".into());
        }
        let cb = if r.begin < 0 { 28 + r.begin } else { r.begin };
        let ce = if r.end < 0 { 28 + r.end } else { r.end };
        if cb > ce {
            return Err(format!("end day {} is always before start day {}", r.end, r.begin));
        }
        Ok(DayOfMonthRange(r))
    }
}

impl MonthRange {
    /// Parses `january:march`, `1:3` or `may`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, |m| match MONTHS.iter().position(|x| *x == m) {
            Some(p) => Ok(p as i32 + 1),
            None => m.parse::<i32>().map_err(|_| format!("{m} is not a valid month")),
        })?;
        if r.begin > r.end {
            let name = |i: i32| MONTHS.get((i - 1).max(0) as usize).copied().unwrap_or("?");
            return Err(format!(
                "end month {} is before start month {}",
                name(r.end),
                name(r.begin)
            ));
        }
        Ok(MonthRange(r))
    }
}

impl YearRange {
    /// Parses `2020:2022` or `2030`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, parse_int)?;
        if r.begin > r.end {
            return Err(format!("end year {} is before start year {}", r.end, r.begin));
        }
        Ok(YearRange(r))
    }
}

fn parse_clock(s: &str) -> Result<i32, String> {
    let valid = s.len() == 5
        && s.as_bytes()[2] == b':'
        && s[..2].bytes().all(|b| b.is_ascii_digit())
        && s[3..].bytes().all(|b| b.is_ascii_digit());
    let (h, m) = if valid {
        (parse_int(&s[..2])?, parse_int(&s[3..])?)
    } else {
        (-1, -1)
    };
    if !valid || !((0..24).contains(&h) && (0..60).contains(&m) || (h == 24 && m == 0)) {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    Ok(h * 60 + m)
}

impl TimeRange {
    /// Builds a range from `HH:MM` strings.
    pub fn parse(start: &str, end: &str) -> Result<Self, String> {
        if start.is_empty() || end.is_empty() {
            return Err("both start and end times must be provided".into());
        }
        let s = parse_clock(start)?;
        let e = parse_clock(end)?;
        if s >= e {
            return Err("start time cannot be equal or greater than end time".into());
        }
        Ok(TimeRange {
            start_minute: s,
            end_minute: e,
        })
    }
}

/// Accepts a YAML string or integer as text (YAML turns `- 2030` into a number).
struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

macro_rules! range_serde {
    ($t:ty, $fmt:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = d.deserialize_any(ScalarText)?;
                <$t>::parse(&s).map_err(de::Error::custom)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let f: fn(i32) -> String = $fmt;
                let r = self.0;
                if r.begin == r.end {
                    s.serialize_str(&f(r.begin))
                } else {
                    s.serialize_str(&format!("{}:{}", f(r.begin), f(r.end)))
                }
            }
        }
    };
}

range_serde!(WeekdayRange, |i| WEEKDAYS.get(i as usize).unwrap_or(&"?").to_string());
range_serde!(DayOfMonthRange, |i| i.to_string());
range_serde!(MonthRange, |i| MONTHS
    .get((i - 1).max(0) as usize)
    .unwrap_or(&"?")
    .to_string());
range_serde!(YearRange, |i| i.to_string());

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_time: String,
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawTimeRange::deserialize(d)?;
        TimeRange::parse(&raw.start_time, &raw.end_time).map_err(de::Error::custom)
    }
}

impl Serialize for TimeRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
        RawTimeRange {
            start_time: f(self.start_minute),
            end_time: f(self.end_minute),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LocationName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Location::load(&s).map(LocationName).map_err(de::Error::custom)
    }
}

impl Serialize for LocationName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn parse(y: &str) -> Result<TimeInterval, String> {
        serde_yaml::from_str::<TimeInterval>(y).map_err(|e| e.to_string())
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn business_hours() {
        let ti = parse(
            "times:\n- start_time: '09:00'\n  end_time: '17:00'\nweekdays: ['monday:friday']\nmonths: ['1:3', 'may:august']\nyears: [2023, '2025:2026']\n",
        )
        .unwrap();
        // 2023-01-02 is a Monday.
        assert!(ti.contains(at(2023, 1, 2, 9, 0)));
        assert!(ti.contains(at(2023, 1, 2, 16, 59)));
        assert!(!ti.contains(at(2023, 1, 2, 17, 0)));
        assert!(!ti.contains(at(2023, 1, 1, 10, 0)), "sunday");
        assert!(!ti.contains(at(2023, 4, 3, 10, 0)), "april");
        assert!(!ti.contains(at(2024, 1, 2, 10, 0)), "2024");
        assert!(ti.contains(at(2025, 6, 2, 10, 0)));
    }

    #[test]
    fn days_of_month_with_negative_indices_and_clamping() {
        let ti = parse("days_of_month: ['-3:-1', '1']\n").unwrap();
        assert!(ti.contains(at(2023, 2, 26, 0, 0)));
        assert!(ti.contains(at(2023, 2, 28, 0, 0)));
        assert!(!ti.contains(at(2023, 2, 25, 0, 0)));
        assert!(ti.contains(at(2023, 3, 1, 0, 0)));
        let ti = parse("days_of_month: ['1:31']\n").unwrap();
        assert!(ti.contains(at(2023, 2, 28, 0, 0)));
        let ti = parse("days_of_month: ['30:31']\n").unwrap();
        assert!(!ti.contains(at(2023, 2, 28, 0, 0)));
    }

    #[test]
    fn location_shifts_evaluation() {
        if Location::load("Australia/Sydney").is_err() {
            return;
        }
        let ti = parse("times:\n- start_time: '09:00'\n  end_time: '17:00'\nlocation: Australia/Sydney\n").unwrap();
        // 09:30 in Sydney (AEDT, UTC+11) on 2023-01-10 is 22:30 UTC the day before.
        assert!(ti.contains(at(2023, 1, 9, 22, 30)));
        assert!(!ti.contains(at(2023, 1, 10, 9, 30)));
    }

    #[test]
    fn parse_errors_read_like_alertmanager() {
        let cases = [
            ("weekdays: ['friday:monday']", "start day cannot be before end day"),
            ("weekdays: ['funday']", "funday is not a valid weekday"),
            (
                "days_of_month: ['0']",
                "0 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['-1:5']",
                "end day must be negative if start day is negative",
            ),
            ("days_of_month: ['10:2']", "end day 2 is always before start day 10"),
            (
                "months: ['march:january']",
                "end month january is before start month march",
            ),
            ("months: ['smarch']", "smarch is not a valid month"),
            ("years: ['2022:2020']", "end year 2020 is before start year 2022"),
            (
                "times:\n- start_time: '10:00'\n  end_time: '09:00'",
                "start time cannot be equal or greater than end time",
            ),
            (
                "times:\n- start_time: '25:00'\n  end_time: '26:00'",
                "couldn't parse timestamp 25:00, invalid format",
            ),
            (
                "times:\n- start_time: '10:00'",
                "both start and end times must be provided",
            ),
            ("location: Mars/Base", "unknown time zone Mars/Base"),
        ];
        for (y, want) in cases {
            let err = parse(y).unwrap_err();
            assert!(err.contains(want), "{y}: got {err}");
        }
        assert!(parse("times:\n- start_time: '17:00'\n  end_time: '24:00'").is_ok());
    }

    #[test]
    fn round_trips_through_yaml() {
        let y = "times:\n- start_time: 09:00\n  end_time: '24:00'\nweekdays:\n- monday:friday\n- sunday\nmonths:\n- january:march\nyears:\n- '2030'\n";
        let ti = parse(y).unwrap();
        let out = serde_yaml::to_string(&ti).unwrap();
        assert_eq!(parse(&out).unwrap(), ti);
        assert!(out.contains("monday:friday"));
    }
}
