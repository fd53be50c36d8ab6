//! `node_disk_*{device}` from `/proc/diskstats`, with node_exporter's names and
//! units (sectors are 512 bytes, times are milliseconds), skipping partitions
//! and virtual devices the way its default device filter does.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// Sector unit of `/proc/diskstats`, whatever the device's own block size.
const SECTOR_BYTES: f64 = 512.0;
const MS: f64 = 1.0 / 1000.0;

/// The stat columns after `major minor name`, in order, as metric name and
/// scale. Kernels print 11 (before 4.18), 15 (before 5.5) or 17 of them.
const COLUMNS: [(&str, f64); 17] = [
    ("node_disk_reads_completed_total", 1.0),
    ("node_disk_reads_merged_total", 1.0),
    ("node_disk_read_bytes_total", SECTOR_BYTES),
    ("node_disk_read_time_seconds_total", MS),
    ("node_disk_writes_completed_total", 1.0),
    ("node_disk_writes_merged_total", 1.0),
    ("node_disk_written_bytes_total", SECTOR_BYTES),
    ("node_disk_write_time_seconds_total", MS),
    ("node_disk_io_now", 1.0),
    ("node_disk_io_time_seconds_total", MS),
    ("node_disk_io_time_weighted_seconds_total", MS),
    ("node_disk_discards_completed_total", 1.0),
    ("node_disk_discards_merged_total", 1.0),
    ("node_disk_discarded_sectors_total", 1.0),
    ("node_disk_discard_time_seconds_total", MS),
    ("node_disk_flush_requests_total", 1.0),
    ("node_disk_flush_requests_time_seconds_total", MS),
];

/// One device's raw columns.
#[derive(Debug, PartialEq)]
pub(super) struct Disk {
    pub name: String,
    pub stats: Vec<f64>,
}

pub(super) fn parse(text: &str) -> Vec<Disk> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            f.next()?.parse::<u32>().ok()?;
            f.next()?.parse::<u32>().ok()?;
            let name = f.next()?.to_string();
            let stats: Option<Vec<f64>> = f.map(|v| v.parse().ok()).collect();
            let stats = stats?;
            // Linux < 2.6.25 printed 4 columns for partitions; nothing usable there.
            (stats.len() >= 11).then_some(Disk { name, stats })
        })
        .collect()
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("diskstats");
    for disk in parse(&read(&path)?) {
        if c.settings.disk_devices_exclude.is_match(&disk.name) {
            continue;
        }
        for ((metric, scale), raw) in COLUMNS.iter().zip(&disk.stats) {
            out.push(metric, &[("device", &disk.name)], raw * scale);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn units_and_default_device_filter() {
        let s = run(collect);
        let v = |series: &str| value(&s, series);
        assert_eq!(v("node_disk_reads_completed_total{device=\"vda\"}"), Some(10_770.0));
        assert_eq!(v("node_disk_read_bytes_total{device=\"vda\"}"), Some(589_544.0 * 512.0));
        assert_eq!(v("node_disk_read_time_seconds_total{device=\"vda\"}"), Some(4.5));
        assert_eq!(v("node_disk_writes_completed_total{device=\"vda\"}"), Some(33_333.0));
        assert_eq!(
            v("node_disk_written_bytes_total{device=\"vda\"}"),
            Some(1_000.0 * 512.0)
        );
        assert_eq!(v("node_disk_write_time_seconds_total{device=\"vda\"}"), Some(2.0));
        assert_eq!(v("node_disk_io_now{device=\"vda\"}"), Some(0.0));
        assert_eq!(v("node_disk_io_time_seconds_total{device=\"vda\"}"), Some(6.0));
        assert_eq!(v("node_disk_flush_requests_total{device=\"vda\"}"), Some(77.0));
        assert_eq!(v("node_disk_reads_completed_total{device=\"nvme0n1\"}"), Some(1.0));
        // 11-column kernels: no discard or flush series.
        assert_eq!(
            v("node_disk_io_time_weighted_seconds_total{device=\"sdb\"}"),
            Some(0.011)
        );
        assert_eq!(v("node_disk_discards_completed_total{device=\"sdb\"}"), None);
        for skipped in ["loop0", "ram0", "vda1", "nvme0n1p1", "sda1"] {
            assert!(
                !s.iter().any(|(n, _)| n.contains(&format!("device=\"{skipped}\""))),
                "{skipped} should be excluded"
            );
        }
    }
}
