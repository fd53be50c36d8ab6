//! `node_network_{receive,transmit}_<field>_total{device}` from `/proc/net/dev`
//! (`bytes`, `packets`, `errs`, `drop`, `fifo`, `frame`/`colls`, ...), the names
//! node_exporter gives them. Column names come from the file's own header.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// The columns of every kernel since 2.6, used when the header is unreadable.
const RX: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
const TX: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

/// One interface's counters: `(metric name, value)`.
#[derive(Debug, PartialEq)]
pub(super) struct Device {
    pub name: String,
    pub counters: Vec<(String, f64)>,
}

pub(super) fn parse(text: &str) -> Vec<Device> {
    let mut lines = text.lines();
    let _title = lines.next();
    let (rx, tx) = lines.next().and_then(header).unwrap_or_else(|| {
        (
            RX.iter().map(|s| s.to_string()).collect(),
            TX.iter().map(|s| s.to_string()).collect(),
        )
    });
    lines
        .filter_map(|line| {
            let (name, values) = line.rsplit_once(':')?;
            let name = name.trim();
            let values: Option<Vec<f64>> = values.split_whitespace().map(|v| v.parse().ok()).collect();
            let values = values?;
            if name.is_empty() || values.len() != rx.len() + tx.len() {
                return None;
            }
            let names = rx
                .iter()
                .map(|f| format!("node_network_receive_{f}_total"))
                .chain(tx.iter().map(|f| format!("node_network_transmit_{f}_total")));
            Some(Device {
                name: name.to_string(),
                counters: names.zip(values).collect(),
            })
        })
        .collect()
}

/// ` face |bytes packets ...|bytes packets ...` → receive and transmit column names.
fn header(line: &str) -> Option<(Vec<String>, Vec<String>)> {
    let mut parts = line.split('|');
    let _iface = parts.next()?;
    let names = |s: &str| -> Option<Vec<String>> {
        let v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        (!v.is_empty() && v.iter().all(|n| model::is_valid_label_name(n))).then_some(v)
    };
    Some((names(parts.next()?)?, names(parts.next()?)?))
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("net/dev");
    for dev in parse(&read(&path)?) {
        for (metric, v) in &dev.counters {
            out.push(metric, &[("device", &dev.name)], *v);
        }
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
        assert_eq!(
            value(&s, "node_network_receive_bytes_total{device=\"eth0\"}"),
            Some(987_654_321.0)
        );
        assert_eq!(
            value(&s, "node_network_transmit_packets_total{device=\"eth0\"}"),
            Some(654.0)
        );
        assert_eq!(value(&s, "node_network_receive_drop_total{device=\"eth0\"}"), Some(4.0));
        assert_eq!(
            value(&s, "node_network_transmit_errs_total{device=\"eth0\"}"),
            Some(7.0)
        );
        assert_eq!(
            value(&s, "node_network_transmit_colls_total{device=\"eth0\"}"),
            Some(9.0)
        );
        assert_eq!(
            value(&s, "node_network_receive_multicast_total{device=\"lo\"}"),
            Some(0.0)
        );
        // The broken line is skipped, the rest kept.
        assert_eq!(s.len(), 2 * 16, "{s:?}");
    }
}
