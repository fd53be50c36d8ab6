//! The system-wide counters of `/proc/stat`: interrupts, context switches,
//! boot time, forks and process states.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// `/proc/stat` keys and the node_exporter metrics they become.
const FIELDS: [(&str, &str); 6] = [
    ("intr", "node_intr_total"),
    ("ctxt", "node_context_switches_total"),
    ("btime", "node_boot_time_seconds"),
    ("processes", "node_forks_total"),
    ("procs_running", "node_procs_running"),
    ("procs_blocked", "node_procs_blocked"),
];

/// `(metric, value)` for each known key present; `intr` keeps only its total.
pub(super) fn parse(text: &str) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((_, metric)) = FIELDS.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if let Ok(v) = value.parse::<f64>() {
            out.push((*metric, v));
        }
    }
    out
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("stat");
    let values = parse(&read(&path)?);
    if values.is_empty() {
        return Err(HostError::Parse {
            path,
            what: "none of intr, ctxt, btime, processes, procs_running, procs_blocked".to_string(),
        });
    }
    for (metric, v) in values {
        out.push(metric, &[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn fixture_series() {
        let s = run(collect);
        assert_eq!(value(&s, "node_intr_total"), Some(1_234_567.0));
        assert_eq!(value(&s, "node_context_switches_total"), Some(98_765_432.0));
        assert_eq!(value(&s, "node_boot_time_seconds"), Some(1_700_000_000.0));
        assert_eq!(value(&s, "node_forks_total"), Some(21_777.0));
        assert_eq!(value(&s, "node_procs_running"), Some(2.0));
        assert_eq!(value(&s, "node_procs_blocked"), Some(1.0));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert_eq!(
            parse("ctxt\nbtime x\nprocs_running 3\n"),
            vec![("node_procs_running", 3.0)]
        );
    }
}
