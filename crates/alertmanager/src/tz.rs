//! Minimal IANA time zone support for time intervals' `location`.
//!
//! Alertmanager resolves `location: Europe/Berlin` through Go's
//! `time.LoadLocation`, which reads the system zoneinfo files. We do the same
//! (TZif v1/v2 plus the POSIX-TZ footer used past the last transition) rather
//! than pull in a crate that compiles the whole tz database into the binary.
//! `$ZONEINFO` overrides the directory, as it does for Go.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Offset, TimeZone};

use crate::clock::Timestamp;

/// A time zone: UTC, the machine's local zone, or a zone loaded from tzdata.
#[derive(Debug, Clone)]
pub enum Location {
    /// Coordinated Universal Time.
    Utc,
    /// The machine's local time zone (`Local` in the config).
    Local,
    /// A named zone from the tz database.
    Zone(Arc<Zone>),
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Location {
    /// Resolves a location name the way Go's `time.LoadLocation` does:
    /// `""`/`UTC` is UTC, `Local` is the machine zone, anything else is a
    /// tz database name.
    pub fn load(name: &str) -> Result<Location, String> {
        match name {
            "" | "UTC" => Ok(Location::Utc),
            "Local" => Ok(Location::Local),
            _ => Zone::load(name).map(|z| Location::Zone(Arc::new(z))),
        }
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        match self {
            Location::Utc => "UTC",
            Location::Local => "Local",
            Location::Zone(z) => &z.name,
        }
    }

    /// Seconds east of UTC in effect at `t`.
    pub fn offset_at(&self, t: Timestamp) -> i64 {
        match self {
            Location::Utc => 0,
            Location::Local => chrono::Local
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc() as i64,
            Location::Zone(z) => z.offset_at(t.timestamp()),
        }
    }

    /// The wall-clock date and time at `t` in this zone.
    pub fn local(&self, t: Timestamp) -> chrono::NaiveDateTime {
        t.naive_utc() + chrono::Duration::seconds(self.offset_at(t))
    }
}

/// A zone parsed from a TZif file.
#[derive(Debug)]
pub struct Zone {
    name: String,
    transitions: Vec<i64>,
    transition_types: Vec<u8>,
    offsets: Vec<(i64, bool)>,
    footer: Option<PosixTz>,
}

fn zoneinfo_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = std::env::var("ZONEINFO") {
        dirs.push(PathBuf::from(d));
    }
    for d in [
        "/usr/share/zoneinfo",
        "/usr/lib/zoneinfo",
        "/usr/share/lib/zoneinfo",
        "/etc/zoneinfo",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

impl Zone {
    /// Loads `name` (e.g. `Europe/Berlin`) from the zoneinfo directories.
    pub fn load(name: &str) -> Result<Zone, String> {
        // Names are relative paths inside the database; refuse anything that
        // could escape it.
        if name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(format!("unknown time zone {name}"));
        }
        for dir in zoneinfo_dirs() {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                return Zone::parse(name, &bytes).map_err(|e| format!("time zone {name}: {e}"));
            }
        }
        Err(format!("unknown time zone {name}"))
    }

    /// Parses TZif data.
    pub fn parse(name: &str, data: &[u8]) -> Result<Zone, String> {
        let mut r = Reader { data, pos: 0 };
        let hdr = r.header()?;
        let mut time_size = 4;
        let mut counts = hdr.1;
        if hdr.0 >= b'2' {
            // Skip the v1 block and use the 64-bit one that follows.
            r.skip(block_len(&counts, 4))?;
            let hdr2 = r.header()?;
            counts = hdr2.1;
            time_size = 8;
        }
        let [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] = counts;
        let mut transitions = Vec::with_capacity(timecnt);
        for _ in 0..timecnt {
            transitions.push(if time_size == 8 { r.i64()? } else { r.i32()? as i64 });
        }
        let transition_types = r.take(timecnt)?.to_vec();
        let mut offsets = Vec::with_capacity(typecnt);
        for _ in 0..typecnt {
            let off = r.i32()? as i64;
            let isdst = r.take(1)?[0] != 0;
            r.skip(1)?;
            offsets.push((off, isdst));
        }
        if offsets.is_empty() {
            return Err("no local time types".into());
        }
        if transition_types.iter().any(|&t| t as usize >= offsets.len()) {
            return Err("transition refers to unknown type".into());
        }
        r.skip(charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt)?;
        let footer = if time_size == 8 {
            let rest = &data[r.pos.min(data.len())..];
            std::str::from_utf8(rest)
                .ok()
                .map(|s| s.trim_matches('\n').trim())
                .filter(|s| !s.is_empty())
                .and_then(PosixTz::parse)
        } else {
            None
        };
        Ok(Zone {
            name: name.to_string(),
            transitions,
            transition_types,
            offsets,
            footer,
        })
    }

    fn offset_at(&self, unix: i64) -> i64 {
        let idx = self.transitions.partition_point(|&t| t <= unix);
        if idx == 0 {
            // Before the first transition: the first standard-time type.
            return self.offsets.iter().find(|(_, dst)| !dst).unwrap_or(&self.offsets[0]).0;
        }
        if idx == self.transitions.len() {
            if let Some(f) = &self.footer {
                return f.offset_at(unix);
            }
        }
        self.offsets[self.transition_types[idx - 1] as usize].0
    }
}

fn block_len(c: &[usize; 6], time_size: usize) -> usize {
    let [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] = *c;
    timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("truncated file")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(|_| ())
    }
    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn header(&mut self) -> Result<(u8, [usize; 6]), String> {
        let magic = self.take(4)?;
        if magic != b"TZif" {
            return Err("not a TZif file".into());
        }
        let version = self.take(1)?[0];
        self.skip(15)?;
        let mut counts = [0usize; 6];
        for c in counts.iter_mut() {
            *c = usize::try_from(self.i32()?).map_err(|_| "negative count")?;
        }
        Ok((version, counts))
    }
}

/// A POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3`.
#[derive(Debug, Clone, PartialEq)]
struct PosixTz {
    std_offset: i64,
    dst: Option<(i64, Rule, Rule)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RuleDate {
    /// `Mm.w.d`
    MonthWeekDay(u32, u32, u32),
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u32),
    /// `n`: day 0..=365, leap days counted.
    Julian0(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    date: RuleDate,
    /// Seconds after local midnight (may be negative or exceed a day).
    time: i64,
}

impl PosixTz {
    fn parse(s: &str) -> Option<PosixTz> {
        let mut p = s;
        skip_name(&mut p)?;
        let std_offset = -parse_offset(&mut p)?;
        if p.is_empty() {
            return Some(PosixTz { std_offset, dst: None });
        }
        skip_name(&mut p)?;
        let dst_offset = if p.starts_with(',') || p.is_empty() {
            std_offset + 3600
        } else {
            -parse_offset(&mut p)?
        };
        let mut rules = p.strip_prefix(',')?.split(',');
        let start = parse_rule(rules.next()?)?;
        let end = parse_rule(rules.next()?)?;
        Some(PosixTz {
            std_offset,
            dst: Some((dst_offset, start, end)),
        })
    }

    fn offset_at(&self, unix: i64) -> i64 {
        let Some((dst_offset, start, end)) = self.dst else {
            return self.std_offset;
        };
        let year = chrono::DateTime::from_timestamp(unix + self.std_offset, 0)
            .map(|d| d.year())
            .unwrap_or(1970);
        let start_utc = rule_instant(year, &start) - self.std_offset;
        let end_utc = rule_instant(year, &end) - dst_offset;
        let in_dst = if start_utc < end_utc {
            unix >= start_utc && unix < end_utc
        } else {
            // Southern hemisphere: DST spans the new year.
            unix >= start_utc || unix < end_utc
        };
        if in_dst {
            dst_offset
        } else {
            self.std_offset
        }
    }
}

fn skip_name(p: &mut &str) -> Option<()> {
    if let Some(rest) = p.strip_prefix('<') {
        let end = rest.find('>')?;
        *p = &rest[end + 1..];
        return Some(());
    }
    let n = p.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(p.len());
    if n < 3 {
        return None;
    }
    *p = &p[n..];
    Some(())
}

/// `[+-]hh[:mm[:ss]]` in seconds.
fn parse_offset(p: &mut &str) -> Option<i64> {
    let mut sign = 1;
    if let Some(r) = p.strip_prefix('-') {
        sign = -1;
        *p = r;
    } else if let Some(r) = p.strip_prefix('+') {
        *p = r;
    }
    let n = p.find(|c: char| !(c.is_ascii_digit() || c == ':')).unwrap_or(p.len());
    let (num, rest) = p.split_at(n);
    *p = rest;
    let mut secs = 0;
    let mut mult = 3600;
    for part in num.split(':') {
        secs += part.parse::<i64>().ok()? * mult;
        mult /= 60;
    }
    Some(sign * secs)
}

fn parse_rule(s: &str) -> Option<Rule> {
    let (date, time) = match s.split_once('/') {
        Some((d, t)) => {
            let mut t = t;
            (d, parse_offset(&mut t)?)
        }
        None => (s, 7200),
    };
    let date = if let Some(m) = date.strip_prefix('M') {
        let mut it = m.split('.').map(|x| x.parse::<u32>().ok());
        let (mo, w, d) = (it.next()??, it.next()??, it.next()??);
        if !(1..=12).contains(&mo) || !(1..=5).contains(&w) || d > 6 {
            return None;
        }
        RuleDate::MonthWeekDay(mo, w, d)
    } else if let Some(j) = date.strip_prefix('J') {
        RuleDate::Julian1(j.parse().ok()?)
    } else {
        RuleDate::Julian0(date.parse().ok()?)
    };
    Some(Rule { date, time })
}

/// The rule's local instant in `year`, as seconds since the epoch "local".
fn rule_instant(year: i32, r: &Rule) -> i64 {
    let day = match r.date {
        RuleDate::MonthWeekDay(m, w, d) => {
            let first = NaiveDate::from_ymd_opt(year, m, 1).unwrap_or_default();
            let wd1 = first.weekday().num_days_from_sunday();
            let mut day = 1 + (d + 7 - wd1) % 7 + (w - 1) * 7;
            let dim = days_in_month(year, m);
            while day > dim {
                day -= 7;
            }
            NaiveDate::from_ymd_opt(year, m, day).unwrap_or(first)
        }
        RuleDate::Julian1(n) => {
            let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
            let mut d = jan1 + chrono::Duration::days(n.saturating_sub(1) as i64);
            if first_leap_day_passed(year, n) {
                d += chrono::Duration::days(1);
            }
            d
        }
        RuleDate::Julian0(n) => {
            NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default() + chrono::Duration::days(n as i64)
        }
    };
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp() + r.time
}

fn first_leap_day_passed(year: i32, n: u32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some() && n >= 60
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    match (
        NaiveDate::from_ymd_opt(ny, nm, 1),
        NaiveDate::from_ymd_opt(year, month, 1),
    ) {
        (Some(a), Some(b)) => (a - b).num_days() as u32,
        _ => 30,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ts(y: i32, m: u32, d: u32, h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn posix_rules() {
        let tz = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2040-07-01 is summer, 2040-01-15 winter.
        assert_eq!(tz.offset_at(ts(2040, 7, 1, 12).timestamp()), 7200);
        assert_eq!(tz.offset_at(ts(2040, 1, 15, 12).timestamp()), 3600);
        // Last Sunday of March 2040 is the 25th; switch at 01:00 UTC.
        assert_eq!(tz.offset_at(ts(2040, 3, 25, 0).timestamp()), 3600);
        assert_eq!(tz.offset_at(ts(2040, 3, 25, 1).timestamp()), 7200);
        let south = PosixTz::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(south.offset_at(ts(2040, 1, 10, 0).timestamp()), 11 * 3600);
        assert_eq!(south.offset_at(ts(2040, 7, 10, 0).timestamp()), 10 * 3600);
        let fixed = PosixTz::parse("<+0330>-3:30").unwrap();
        assert_eq!(fixed.offset_at(0), 3 * 3600 + 1800);
        assert_eq!(PosixTz::parse("EST5EDT,M3.2.0,M11.1.0").unwrap().std_offset, -5 * 3600);
    }

    #[test]
    fn loads_system_zones_when_available() {
        let Ok(loc) = Location::load("Europe/Berlin") else {
            // No tzdata on this machine: nothing to check.
            return;
        };
        assert_eq!(loc.offset_at(ts(2023, 7, 1, 12)), 7200);
        assert_eq!(loc.offset_at(ts(2023, 1, 1, 12)), 3600);
        assert_eq!(loc.offset_at(ts(2045, 7, 1, 12)), 7200);
        assert_eq!(loc.name(), "Europe/Berlin");
        assert!(Location::load("No/Such_Zone").is_err());
        assert!(Location::load("../etc/passwd").is_err());
    }

    #[test]
    fn utc_and_days_in_month() {
        assert_eq!(Location::load("UTC").unwrap().offset_at(ts(2023, 7, 1, 0)), 0);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(2023, 12), 31);
    }
}
