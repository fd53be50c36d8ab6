//! `node_memory_<Field>_bytes` for every `/proc/meminfo` field, named the way
//! node_exporter names them: `Active(anon)` becomes `Active_anon`, values in kB
//! are turned into bytes, and unit-less fields (`HugePages_*`) keep no suffix.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// `(metric name, value)` per line; malformed lines are skipped.
pub(super) fn parse(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let mut fields = rest.split_whitespace();
            let value: f64 = fields.next()?.parse().ok()?;
            let (value, suffix) = match fields.next() {
                None => (value, ""),
                Some(unit) if unit.eq_ignore_ascii_case("kb") => (value * 1024.0, "_bytes"),
                Some(_) => return None,
            };
            let key = metric_key(key.trim())?;
            Some((format!("node_memory_{key}{suffix}"), value))
        })
        .collect()
}

/// `Active(anon)` → `Active_anon`; any other character a metric name cannot
/// hold becomes `_`.
fn metric_key(key: &str) -> Option<String> {
    let mut out = String::with_capacity(key.len());
    for ch in key.chars() {
        match ch {
            '(' => out.push('_'),
            ')' => {}
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.chars().any(|c| c.is_ascii_alphanumeric()).then_some(out)
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("meminfo");
    let fields = parse(&read(&path)?);
    if fields.is_empty() {
        return Err(HostError::Parse {
            path,
            what: "no fields".to_string(),
        });
    }
    for (name, v) in fields {
        out.push(&name, &[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn names_follow_node_exporter() {
        let s = run(collect);
        assert_eq!(value(&s, "node_memory_MemTotal_bytes"), Some(16_303_568.0 * 1024.0));
        assert_eq!(value(&s, "node_memory_Active_anon_bytes"), Some(1_024.0 * 1024.0));
        assert_eq!(value(&s, "node_memory_Inactive_file_bytes"), Some(2_048.0 * 1024.0));
        assert_eq!(value(&s, "node_memory_HugePages_Total"), Some(0.0));
        assert_eq!(value(&s, "node_memory_Hugepagesize_bytes"), Some(2_097_152.0));
        assert_eq!(value(&s, "node_memory_NFS_Unstable_bytes"), Some(0.0));
        assert_eq!(value(&s, "node_memory_DirectMap4k_bytes"), Some(212_828.0 * 1024.0));
        assert_eq!(value(&s, "node_memory_Committed_AS_bytes"), Some(3_000.0 * 1024.0));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let p = parse("MemTotal: 1 kB\nBroken\nMemFree: x kB\nOdd: 1 MB\n(): 4\n");
        assert_eq!(p, vec![("node_memory_MemTotal_bytes".to_string(), 1024.0)]);
    }
}
