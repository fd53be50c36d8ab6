//! The grouping key in the URL path: `job/<job>{/<label>/<value>}`, with
//! the Pushgateway's `@base64` suffix for values that contain `/` (or are empty).
use model::{is_valid_label_name, Labels, LabelsBuilder};

/// A malformed grouping path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid grouping key {path:?}: {reason}")]
pub struct GroupingError {
    path: String,
    reason: String,
}

fn decode_base64url(s: &str) -> Option<String> {
    // RFC 4648 URL-safe alphabet; padding optional, as the Pushgateway accepts.
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses the part of the path after `/metrics/`, e.g.
/// `job/backup/instance/db1`, into the grouping labels.
pub fn parse_grouping_path(path: &str) -> Result<Labels, GroupingError> {
    let err = |reason: &str| GroupingError {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if parts.len() < 2 || !parts.len().is_multiple_of(2) {
        return Err(err("expected job/<job> followed by label/value pairs"));
    }
    let mut b = LabelsBuilder::new();
    for pair in parts.chunks(2) {
        let (raw_name, raw_value) = (pair[0], pair[1]);
        let (name, value) = match raw_name.strip_suffix("@base64") {
            Some(n) => (
                n,
                decode_base64url(raw_value).ok_or_else(|| err("value is not valid base64url"))?,
            ),
            None => (raw_name, raw_value.to_string()),
        };
        if !is_valid_label_name(name) {
            return Err(err(&format!("invalid label name {name:?}")));
        }
        if b.get(name).is_some() {
            return Err(err(&format!("label {name:?} appears twice")));
        }
        if name == "job" && value.is_empty() {
            return Err(err("job name must not be empty"));
        }
        b.set(name, value);
    }
    if parts[0] != "job" && parts[0] != "job@base64" {
        return Err(err("the path must start with job/<job>"));
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_grouping_labels() {
        let l = parse_grouping_path("job/backup/instance/db1").unwrap();
        assert_eq!(l.get("job"), Some("backup"));
        assert_eq!(l.get("instance"), Some("db1"));
        let l = parse_grouping_path("job/x/path@base64/L3Zhci90bXA").unwrap();
        assert_eq!(l.get("path"), Some("/var/tmp"));
        let l = parse_grouping_path("job@base64/YmFja3Vw").unwrap();
        assert_eq!(l.get("job"), Some("backup"));
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "job",
            "job/x/instance",
            "nojob/x",
            "job/x/bad-name/v",
            "job/x/a/1/a/2",
            "job/",
            "job/x/p@base64/!!",
        ] {
            assert!(parse_grouping_path(bad).is_err(), "{bad}");
        }
    }
}
