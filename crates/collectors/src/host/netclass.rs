//! node_exporter's netclass metrics from `/sys/class/net/<device>/*`:
//! `node_network_up`, `node_network_info{address,broadcast,duplex,operstate,adminstate,ifalias}`
//! and the numeric properties (`mtu_bytes`, `speed_bytes`, `carrier`, ...).
//! Attributes a device lacks (or refuses while down) are left out.
use super::{HostCollector, HostError};
use crate::sample::Samples;

/// Numeric attribute files and the metric each becomes (`node_network_<name>`).
const NUMERIC: [(&str, &str); 9] = [
    ("addr_assign_type", "address_assign_type"),
    ("carrier", "carrier"),
    ("carrier_changes", "carrier_changes_total"),
    ("dormant", "dormant"),
    ("flags", "flags"),
    ("ifindex", "iface_id"),
    ("mtu", "mtu_bytes"),
    ("tx_queue_len", "transmit_queue_length"),
    ("type", "protocol_type"),
];

/// `IFF_UP` of the `flags` attribute.
const IFF_UP: i64 = 0x1;

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let dir = c.settings.sysfs.join("class/net");
    let entries = std::fs::read_dir(&dir).map_err(|source| HostError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut devices: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    devices.sort();
    for device in devices {
        let attr = |name: &str| -> Option<String> {
            std::fs::read_to_string(dir.join(&device).join(name))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let number = |name: &str| -> Option<i64> {
            let s = attr(name)?;
            match s.strip_prefix("0x") {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        };
        let Some(operstate) = attr("operstate") else {
            // Not a device directory (bonding_masters and the like).
            continue;
        };
        let dev = [("device", device.as_str())];
        out.push("node_network_up", &dev, if operstate == "up" { 1.0 } else { 0.0 });
        let adminstate = match number("flags") {
            Some(f) if f & IFF_UP != 0 => "up",
            Some(_) => "down",
            None => "unknown",
        };
        let (address, broadcast, duplex, ifalias) = (
            attr("address").unwrap_or_default(),
            attr("broadcast").unwrap_or_default(),
            attr("duplex").unwrap_or_default(),
            attr("ifalias").unwrap_or_default(),
        );
        out.push(
            "node_network_info",
            &[
                ("device", &device),
                ("address", &address),
                ("broadcast", &broadcast),
                ("duplex", &duplex),
                ("operstate", &operstate),
                ("adminstate", adminstate),
                ("ifalias", &ifalias),
            ],
            1.0,
        );
        for (file, metric) in NUMERIC {
            if let Some(v) = number(file) {
                out.push(&format!("node_network_{metric}"), &dev, v as f64);
            }
        }
        // Mbit/s, -1 when unknown (reported as is, like node_exporter 1.x).
        if let Some(speed) = number("speed") {
            out.push("node_network_speed_bytes", &dev, (speed * 1000 * 1000 / 8) as f64);
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
        assert_eq!(value(&s, "node_network_up{device=\"eth0\"}"), Some(1.0));
        assert_eq!(value(&s, "node_network_up{device=\"eth1\"}"), Some(0.0));
        assert_eq!(value(&s, "node_network_mtu_bytes{device=\"eth0\"}"), Some(1500.0));
        assert_eq!(
            value(&s, "node_network_speed_bytes{device=\"eth0\"}"),
            Some(125_000_000.0)
        );
        assert_eq!(value(&s, "node_network_flags{device=\"eth0\"}"), Some(4099.0));
        assert_eq!(value(&s, "node_network_speed_bytes{device=\"eth1\"}"), None);
        assert_eq!(
            value(
                &s,
                "node_network_info{address=\"52:54:00:12:34:56\", adminstate=\"up\", broadcast=\"ff:ff:ff:ff:ff:ff\", device=\"eth0\", duplex=\"full\", operstate=\"up\"}"
            ),
            Some(1.0),
            "{s:#?}"
        );
        assert!(!s.iter().any(|(n, _)| n.contains("bonding_masters")));
    }
}
