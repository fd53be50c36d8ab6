//! `node_vmstat_<field>` for the `/proc/vmstat` fields node_exporter keeps by
//! default (`oom_kill`, `pgpg*`, `pswp*`, page faults).
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let text = read(&c.procfs("vmstat"))?;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        if !c.settings.vmstat_fields.is_match(name) || !model::is_valid_label_name(name) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            out.push(&format!("node_vmstat_{name}"), &[], v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn default_fields_only() {
        let s = run(collect);
        assert_eq!(value(&s, "node_vmstat_pgmajfault"), Some(5_821.0));
        assert_eq!(value(&s, "node_vmstat_pgfault"), Some(123_456_789.0));
        assert_eq!(value(&s, "node_vmstat_oom_kill"), Some(1.0));
        assert_eq!(value(&s, "node_vmstat_pswpin"), Some(0.0));
        assert_eq!(value(&s, "node_vmstat_nr_free_pages"), None);
        assert_eq!(s.len(), 7, "{s:?}");
    }
}
