//! A node_exporter-like fleet, scraped every 15 s, pre-encoded as remote
//! write requests the way Prometheus's sender shards and batches them.
//!
//! Every series belongs to one target (`instance`, `job="node"`); a target
//! exposes what node_exporter 1.x exposes on a 4-CPU VM (CPU, memory,
//! filesystems, network, disks, netstat, sockstat, softnet, go_*/process_*,
//! the scrape's own `up`/`scrape_*` series), truncated or padded to the
//! requested number of series per target. Values follow the series' kind:
//! counters grow by irregular increments (and sometimes idle), gauges move
//! with noise, constants stay put. Timestamps are the target's scrape time:
//! a fixed offset inside the 15 s interval plus a few ms of jitter.
//!
//! Series are sharded by a hash of their index over `shards` senders (as
//! Prometheus's queue manager shards by series reference); each shard's
//! stream of samples, round by round, is cut into requests of `batch`
//! samples, so a series' samples stay in time order within its shard.
use std::time::{SystemTime, UNIX_EPOCH};

use prost::encoding::{encode_key, encode_varint, WireType};

use super::proto;

pub const SCRAPE_MS: i64 = 15_000;

/// splitmix64: deterministic, seedable, good enough for synthetic data.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a series' value evolves from one scrape to the next.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Seconds counters (CPU, disk time): increments of about `rate` per
    /// second with noise, two decimals.
    Seconds { rate: f64 },
    /// Integer counters (bytes, packets, events): bursty, idle part of the time.
    Count { rate: f64, idle: f64 },
    /// Byte gauges moving by pages.
    Bytes { base: f64, pages: f64 },
    /// Small float gauges (load, temperatures): noise around a mean.
    Float { mean: f64, sd: f64, quantum: f64 },
    /// Integer gauges (fds, sockets, procs).
    Int { mean: f64, sd: f64 },
    /// Sizes, limits, flags, info metrics.
    Const { v: f64 },
}

struct Def {
    name: String,
    labels: Vec<(&'static str, String)>,
    kind: Kind,
}

fn def(name: impl Into<String>, labels: &[(&'static str, &str)], kind: Kind) -> Def {
    Def {
        name: name.into(),
        labels: labels.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        kind,
    }
}

const CPUS: usize = 4;

/// The series one node_exporter target exposes, most important first (the
/// tail is what gets dropped when fewer series per target are asked for).
fn node_template(rng: &mut Rng) -> Vec<Def> {
    use Kind::*;
    let mut d = Vec::with_capacity(640);
    // The scrape's own series.
    d.push(def("up", &[], Const { v: 1.0 }));
    d.push(def(
        "scrape_duration_seconds",
        &[],
        Float {
            mean: 0.03,
            sd: 0.005,
            quantum: 0.000001,
        },
    ));
    for n in ["scrape_samples_scraped", "scrape_samples_post_metric_relabeling"] {
        d.push(def(n, &[], Const { v: 500.0 }));
    }
    d.push(def("scrape_series_added", &[], Const { v: 0.0 }));
    // CPU.
    for cpu in 0..CPUS {
        let c = cpu.to_string();
        for (mode, rate) in [
            ("idle", 0.85),
            ("iowait", 0.004),
            ("irq", 0.0),
            ("nice", 0.0005),
            ("softirq", 0.003),
            ("steal", 0.001),
            ("system", 0.04),
            ("user", 0.1),
        ] {
            let kind = if rate == 0.0 {
                Const { v: 0.0 }
            } else {
                Seconds {
                    rate: rate * (0.5 + rng.unit()),
                }
            };
            d.push(def("node_cpu_seconds_total", &[("cpu", &c), ("mode", mode)], kind));
        }
        for mode in ["nice", "user"] {
            d.push(def(
                "node_cpu_guest_seconds_total",
                &[("cpu", &c), ("mode", mode)],
                Const { v: 0.0 },
            ));
        }
        d.push(def(
            "node_cpu_scaling_frequency_hertz",
            &[("cpu", &c)],
            Float {
                mean: 2.45e9,
                sd: 2e8,
                quantum: 1e6,
            },
        ));
        for (n, rate) in [
            ("node_schedstat_running_seconds_total", 0.15),
            ("node_schedstat_waiting_seconds_total", 0.01),
        ] {
            d.push(def(n, &[("cpu", &c)], Seconds { rate }));
        }
        d.push(def(
            "node_schedstat_timeslices_total",
            &[("cpu", &c)],
            Count { rate: 400.0, idle: 0.0 },
        ));
        d.push(def(
            "node_softnet_processed_total",
            &[("cpu", &c)],
            Count { rate: 300.0, idle: 0.0 },
        ));
        d.push(def("node_softnet_dropped_total", &[("cpu", &c)], Const { v: 0.0 }));
        d.push(def(
            "node_softnet_times_squeezed_total",
            &[("cpu", &c)],
            Count { rate: 0.01, idle: 0.9 },
        ));
    }
    for (n, mean) in [("node_load1", 0.6), ("node_load5", 0.5), ("node_load15", 0.45)] {
        d.push(def(
            n,
            &[],
            Float {
                mean,
                sd: 0.1,
                quantum: 0.01,
            },
        ));
    }
    // Memory (/proc/meminfo).
    let total = 8.0 * 1024.0 * 1024.0 * 1024.0;
    for (n, k) in [
        ("MemTotal", Const { v: total }),
        (
            "MemFree",
            Bytes {
                base: total * 0.3,
                pages: 2000.0,
            },
        ),
        (
            "MemAvailable",
            Bytes {
                base: total * 0.6,
                pages: 2000.0,
            },
        ),
        ("Buffers", Bytes { base: 2e8, pages: 20.0 }),
        (
            "Cached",
            Bytes {
                base: 2.5e9,
                pages: 500.0,
            },
        ),
        ("SwapCached", Const { v: 0.0 }),
        (
            "Active",
            Bytes {
                base: 3e9,
                pages: 800.0,
            },
        ),
        (
            "Inactive",
            Bytes {
                base: 1.5e9,
                pages: 300.0,
            },
        ),
        (
            "Active_anon",
            Bytes {
                base: 1.8e9,
                pages: 600.0,
            },
        ),
        ("Inactive_anon", Bytes { base: 1e8, pages: 30.0 }),
        (
            "Active_file",
            Bytes {
                base: 1.2e9,
                pages: 200.0,
            },
        ),
        (
            "Inactive_file",
            Bytes {
                base: 1.4e9,
                pages: 200.0,
            },
        ),
        ("Unevictable", Const { v: 32768.0 }),
        ("Mlocked", Const { v: 32768.0 }),
        ("SwapTotal", Const { v: 0.0 }),
        ("SwapFree", Const { v: 0.0 }),
        (
            "Dirty",
            Bytes {
                base: 1e6,
                pages: 100.0,
            },
        ),
        ("Writeback", Const { v: 0.0 }),
        (
            "AnonPages",
            Bytes {
                base: 1.9e9,
                pages: 600.0,
            },
        ),
        ("Mapped", Bytes { base: 4e8, pages: 50.0 }),
        ("Shmem", Bytes { base: 3e7, pages: 5.0 }),
        ("KReclaimable", Bytes { base: 2e8, pages: 30.0 }),
        ("Slab", Bytes { base: 3e8, pages: 40.0 }),
        ("SReclaimable", Bytes { base: 2e8, pages: 30.0 }),
        ("SUnreclaim", Bytes { base: 1e8, pages: 10.0 }),
        (
            "KernelStack",
            Bytes {
                base: 1.2e7,
                pages: 4.0,
            },
        ),
        ("PageTables", Bytes { base: 3e7, pages: 8.0 }),
        ("NFS_Unstable", Const { v: 0.0 }),
        ("Bounce", Const { v: 0.0 }),
        ("WritebackTmp", Const { v: 0.0 }),
        ("CommitLimit", Const { v: total / 2.0 }),
        (
            "Committed_AS",
            Bytes {
                base: 5e9,
                pages: 1000.0,
            },
        ),
        ("VmallocTotal", Const { v: 3.5184372087808e13 }),
        ("VmallocUsed", Bytes { base: 4e7, pages: 2.0 }),
        ("VmallocChunk", Const { v: 0.0 }),
        ("Percpu", Const { v: 3.2768e6 }),
        ("HardwareCorrupted", Const { v: 0.0 }),
        (
            "AnonHugePages",
            Bytes {
                base: 2e8,
                pages: 512.0,
            },
        ),
        ("ShmemHugePages", Const { v: 0.0 }),
        ("ShmemPmdMapped", Const { v: 0.0 }),
        ("FileHugePages", Const { v: 0.0 }),
        ("FilePmdMapped", Const { v: 0.0 }),
        ("HugePages_Total", Const { v: 0.0 }),
        ("HugePages_Free", Const { v: 0.0 }),
        ("HugePages_Rsvd", Const { v: 0.0 }),
        ("HugePages_Surp", Const { v: 0.0 }),
        ("Hugepagesize", Const { v: 2097152.0 }),
        ("DirectMap4k", Const { v: 2.5e8 }),
        ("DirectMap2M", Const { v: 7.5e9 }),
        ("DirectMap1G", Const { v: 2.147483648e9 }),
    ] {
        d.push(def(format!("node_memory_{n}_bytes"), &[], k));
    }
    // Filesystems.
    for (dev, mnt, fs, size) in [
        ("/dev/vda1", "/", "ext4", 1.0e11),
        ("/dev/vda15", "/boot/efi", "vfat", 1.1e8),
        ("/dev/vdb", "/var/lib/docker", "xfs", 5.0e11),
        ("tmpfs", "/run", "tmpfs", 8.0e8),
        ("tmpfs", "/run/lock", "tmpfs", 5.2e6),
        ("tmpfs", "/run/user/1000", "tmpfs", 8.0e8),
    ] {
        let l = [("device", dev), ("fstype", fs), ("mountpoint", mnt)];
        let used = size * (0.1 + 0.6 * rng.unit());
        d.push(def(
            "node_filesystem_avail_bytes",
            &l,
            Bytes {
                base: size - used,
                pages: 300.0,
            },
        ));
        d.push(def(
            "node_filesystem_free_bytes",
            &l,
            Bytes {
                base: size - used * 0.95,
                pages: 300.0,
            },
        ));
        d.push(def("node_filesystem_size_bytes", &l, Const { v: size }));
        d.push(def(
            "node_filesystem_files",
            &l,
            Const {
                v: (size / 16384.0).round(),
            },
        ));
        d.push(def(
            "node_filesystem_files_free",
            &l,
            Int {
                mean: size / 20000.0,
                sd: 30.0,
            },
        ));
        d.push(def("node_filesystem_readonly", &l, Const { v: 0.0 }));
        d.push(def("node_filesystem_device_error", &l, Const { v: 0.0 }));
    }
    // Network.
    for (dev, scale) in [("eth0", 1.0), ("eth1", 0.1), ("lo", 0.3), ("docker0", 0.05)] {
        let l = [("device", dev)];
        for dir in ["receive", "transmit"] {
            for (what, rate, idle) in [
                ("bytes", 2e5, 0.0),
                ("packets", 300.0, 0.0),
                ("errs", 0.001, 0.99),
                ("drop", 0.01, 0.95),
                ("fifo", 0.0, 1.0),
                ("compressed", 0.0, 1.0),
            ] {
                d.push(def(
                    format!("node_network_{dir}_{what}_total"),
                    &l,
                    Count {
                        rate: rate * scale,
                        idle,
                    },
                ));
            }
        }
        d.push(def("node_network_receive_frame_total", &l, Const { v: 0.0 }));
        d.push(def(
            "node_network_receive_multicast_total",
            &l,
            Count {
                rate: 0.2 * scale,
                idle: 0.5,
            },
        ));
        d.push(def("node_network_transmit_colls_total", &l, Const { v: 0.0 }));
        d.push(def("node_network_transmit_carrier_total", &l, Const { v: 0.0 }));
        for (n, v) in [
            ("node_network_up", 1.0),
            ("node_network_mtu_bytes", 1500.0),
            ("node_network_speed_bytes", 1.25e9),
            ("node_network_carrier", 1.0),
            ("node_network_transmit_queue_length", 1000.0),
            ("node_network_iface_id", 2.0),
            ("node_network_flags", 4099.0),
            ("node_network_address_assign_type", 0.0),
            ("node_network_dormant", 0.0),
            ("node_network_protocol_type", 1.0),
            ("node_network_net_dev_group", 0.0),
            ("node_network_carrier_changes_total", 2.0),
        ] {
            d.push(def(n, &l, Const { v }));
        }
    }
    // Disks.
    for (dev, scale) in [("vda", 1.0), ("vdb", 0.4), ("dm-0", 0.2), ("sr0", 0.0)] {
        let l = [("device", dev)];
        let count = |rate: f64| {
            if scale == 0.0 {
                Const { v: 0.0 }
            } else {
                Count {
                    rate: rate * scale,
                    idle: 0.3,
                }
            }
        };
        let secs = |rate: f64| {
            if scale == 0.0 {
                Const { v: 0.0 }
            } else {
                Seconds { rate: rate * scale }
            }
        };
        d.push(def("node_disk_reads_completed_total", &l, count(5.0)));
        d.push(def("node_disk_reads_merged_total", &l, count(1.0)));
        d.push(def("node_disk_read_bytes_total", &l, count(8e4)));
        d.push(def("node_disk_read_time_seconds_total", &l, secs(0.004)));
        d.push(def("node_disk_writes_completed_total", &l, count(20.0)));
        d.push(def("node_disk_writes_merged_total", &l, count(8.0)));
        d.push(def("node_disk_written_bytes_total", &l, count(4e5)));
        d.push(def("node_disk_write_time_seconds_total", &l, secs(0.02)));
        d.push(def(
            "node_disk_io_now",
            &l,
            Int {
                mean: 0.3 * scale,
                sd: 0.5,
            },
        ));
        d.push(def("node_disk_io_time_seconds_total", &l, secs(0.03)));
        d.push(def("node_disk_io_time_weighted_seconds_total", &l, secs(0.05)));
        d.push(def("node_disk_discards_completed_total", &l, count(0.05)));
        d.push(def("node_disk_discards_merged_total", &l, Const { v: 0.0 }));
        d.push(def("node_disk_discarded_sectors_total", &l, count(10.0)));
        d.push(def("node_disk_discard_time_seconds_total", &l, secs(0.0001)));
        d.push(def("node_disk_flush_requests_total", &l, count(2.0)));
        d.push(def("node_disk_flush_requests_time_seconds_total", &l, secs(0.001)));
    }
    // Kernel counters and gauges.
    for (n, rate) in [
        ("node_context_switches_total", 3000.0),
        ("node_forks_total", 5.0),
        ("node_intr_total", 2000.0),
        ("node_vmstat_pgpgin", 50.0),
        ("node_vmstat_pgpgout", 400.0),
        ("node_vmstat_pgfault", 8000.0),
        ("node_vmstat_pgmajfault", 0.2),
        ("node_vmstat_pswpin", 0.0),
        ("node_vmstat_pswpout", 0.0),
        ("node_vmstat_oom_kill", 0.0),
    ] {
        let k = if rate == 0.0 {
            Const { v: 0.0 }
        } else {
            Count { rate, idle: 0.0 }
        };
        d.push(def(n, &[], k));
    }
    for (n, rate, idle) in [
        ("Icmp_InErrors", 0.001, 0.99),
        ("Icmp_InMsgs", 0.2, 0.5),
        ("Icmp_OutMsgs", 0.2, 0.5),
        ("Icmp6_InErrors", 0.0, 1.0),
        ("Icmp6_InMsgs", 0.05, 0.8),
        ("Icmp6_OutMsgs", 0.05, 0.8),
        ("Ip_Forwarding", 0.0, 1.0),
        ("Ip6_InOctets", 100.0, 0.5),
        ("Ip6_OutOctets", 100.0, 0.5),
        ("IpExt_InOctets", 2e5, 0.0),
        ("IpExt_OutOctets", 1.5e5, 0.0),
        ("Tcp_ActiveOpens", 3.0, 0.1),
        ("Tcp_InErrs", 0.001, 0.99),
        ("Tcp_InSegs", 250.0, 0.0),
        ("Tcp_OutRsts", 0.5, 0.3),
        ("Tcp_OutSegs", 260.0, 0.0),
        ("Tcp_PassiveOpens", 2.0, 0.1),
        ("Tcp_RetransSegs", 0.2, 0.4),
        ("TcpExt_ListenDrops", 0.0, 1.0),
        ("TcpExt_ListenOverflows", 0.0, 1.0),
        ("TcpExt_SyncookiesFailed", 0.0, 1.0),
        ("TcpExt_SyncookiesRecv", 0.0, 1.0),
        ("TcpExt_SyncookiesSent", 0.0, 1.0),
        ("TcpExt_TCPSynRetrans", 0.05, 0.8),
        ("TcpExt_TCPTimeouts", 0.1, 0.6),
        ("Udp_InDatagrams", 20.0, 0.0),
        ("Udp_InErrors", 0.0, 1.0),
        ("Udp_NoPorts", 0.1, 0.6),
        ("Udp_OutDatagrams", 20.0, 0.0),
        ("Udp_RcvbufErrors", 0.0, 1.0),
        ("Udp_SndbufErrors", 0.0, 1.0),
        ("Udp6_InDatagrams", 0.5, 0.5),
        ("Udp6_InErrors", 0.0, 1.0),
        ("Udp6_NoPorts", 0.0, 1.0),
        ("Udp6_OutDatagrams", 0.5, 0.5),
        ("Udp6_RcvbufErrors", 0.0, 1.0),
        ("Udp6_SndbufErrors", 0.0, 1.0),
        ("UdpLite_InErrors", 0.0, 1.0),
        ("UdpLite6_InErrors", 0.0, 1.0),
    ] {
        let k = if rate == 0.0 {
            Const { v: 0.0 }
        } else {
            Count { rate, idle }
        };
        d.push(def(format!("node_netstat_{n}"), &[], k));
    }
    d.push(def("node_netstat_Tcp_CurrEstab", &[], Int { mean: 40.0, sd: 3.0 }));
    for (n, mean) in [
        ("FRAG_inuse", 0.0),
        ("FRAG_memory", 0.0),
        ("RAW_inuse", 0.0),
        ("TCP_alloc", 60.0),
        ("TCP_inuse", 40.0),
        ("TCP_mem", 5.0),
        ("TCP_mem_bytes", 20480.0),
        ("TCP_orphan", 0.0),
        ("TCP_tw", 12.0),
        ("UDPLITE_inuse", 0.0),
        ("UDP_inuse", 4.0),
        ("UDP_mem", 2.0),
        ("UDP_mem_bytes", 8192.0),
        ("sockets_used", 400.0),
        ("TCP6_inuse", 8.0),
        ("UDP6_inuse", 2.0),
        ("RAW6_inuse", 0.0),
        ("FRAG6_inuse", 0.0),
        ("FRAG6_memory", 0.0),
        ("UDPLITE6_inuse", 0.0),
    ] {
        let k = if mean == 0.0 {
            Const { v: 0.0 }
        } else {
            Int {
                mean,
                sd: (mean / 10.0f64).max(1.0),
            }
        };
        d.push(def(format!("node_sockstat_{n}"), &[], k));
    }
    for (chip, sensor, mean) in [
        ("platform_coretemp_0", "temp1", 48.0),
        ("platform_coretemp_0", "temp2", 46.0),
        ("platform_coretemp_0", "temp3", 47.0),
        ("pci0000:00_0000:00:03_0", "temp1", 38.0),
    ] {
        let l = [("chip", chip), ("sensor", sensor)];
        d.push(def(
            "node_hwmon_temp_celsius",
            &l,
            Float {
                mean,
                sd: 1.0,
                quantum: 1.0,
            },
        ));
        d.push(def("node_hwmon_temp_crit_celsius", &l, Const { v: 100.0 }));
    }
    let boot = 1.7e9 + (rng.below(10_000_000) as f64);
    for (n, k) in [
        ("node_boot_time_seconds", Const { v: boot }),
        ("node_procs_running", Int { mean: 2.0, sd: 1.0 }),
        ("node_procs_blocked", Int { mean: 0.1, sd: 0.3 }),
        ("node_entropy_available_bits", Int { mean: 256.0, sd: 0.0 }),
        ("node_entropy_pool_size_bits", Const { v: 256.0 }),
        ("node_filefd_allocated", Int { mean: 2500.0, sd: 20.0 }),
        (
            "node_filefd_maximum",
            Const {
                v: 9.223372036854776e18,
            },
        ),
        ("node_nf_conntrack_entries", Int { mean: 300.0, sd: 15.0 }),
        ("node_nf_conntrack_entries_limit", Const { v: 262144.0 }),
        (
            "node_timex_offset_seconds",
            Float {
                mean: 0.0,
                sd: 0.0002,
                quantum: 0.000001,
            },
        ),
        ("node_timex_sync_status", Const { v: 1.0 }),
        (
            "node_timex_maxerror_seconds",
            Float {
                mean: 0.3,
                sd: 0.05,
                quantum: 0.000001,
            },
        ),
        ("node_textfile_scrape_error", Const { v: 0.0 }),
        ("node_time_seconds", Seconds { rate: 1.0 }),
    ] {
        d.push(def(n, &[], k));
    }
    d.push(def(
        "node_time_zone_offset_seconds",
        &[("time_zone", "UTC")],
        Const { v: 0.0 },
    ));
    d.push(def(
        "node_uname_info",
        &[
            ("domainname", "(none)"),
            ("machine", "x86_64"),
            ("nodename", "web-01"),
            ("release", "6.1.0-18-cloud-amd64"),
            ("sysname", "Linux"),
            ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"),
        ],
        Const { v: 1.0 },
    ));
    d.push(def(
        "node_os_info",
        &[
            ("id", "debian"),
            ("name", "Debian GNU/Linux"),
            ("pretty_name", "Debian GNU/Linux 12 (bookworm)"),
            ("version", "12 (bookworm)"),
            ("version_codename", "bookworm"),
            ("version_id", "12"),
        ],
        Const { v: 1.0 },
    ));
    d.push(def(
        "node_exporter_build_info",
        &[
            ("branch", "HEAD"),
            ("goversion", "go1.21.4"),
            ("revision", "7333465abf9efba81876303bb57e6fadb946041b"),
            ("tags", "netgo osusergo static_build"),
            ("version", "1.7.0"),
        ],
        Const { v: 1.0 },
    ));
    // The exporter's own Go runtime.
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        d.push(def(
            "go_gc_duration_seconds",
            &[("quantile", q)],
            Float {
                mean: 4e-5,
                sd: 1e-5,
                quantum: 1e-9,
            },
        ));
    }
    d.push(def("go_gc_duration_seconds_sum", &[], Seconds { rate: 0.0001 }));
    d.push(def("go_gc_duration_seconds_count", &[], Count { rate: 0.1, idle: 0.3 }));
    d.push(def("go_goroutines", &[], Int { mean: 8.0, sd: 1.0 }));
    d.push(def("go_threads", &[], Const { v: 7.0 }));
    d.push(def("go_info", &[("version", "go1.21.4")], Const { v: 1.0 }));
    for (n, k) in [
        (
            "alloc_bytes",
            Bytes {
                base: 3e6,
                pages: 100.0,
            },
        ),
        ("alloc_bytes_total", Count { rate: 6e4, idle: 0.0 }),
        ("buck_hash_sys_bytes", Const { v: 1.46e6 }),
        ("frees_total", Count { rate: 500.0, idle: 0.0 }),
        ("gc_sys_bytes", Const { v: 8.6e6 }),
        (
            "heap_alloc_bytes",
            Bytes {
                base: 3e6,
                pages: 100.0,
            },
        ),
        (
            "heap_idle_bytes",
            Bytes {
                base: 4e6,
                pages: 100.0,
            },
        ),
        (
            "heap_inuse_bytes",
            Bytes {
                base: 4.5e6,
                pages: 50.0,
            },
        ),
        (
            "heap_objects",
            Int {
                mean: 20000.0,
                sd: 1500.0,
            },
        ),
        ("heap_released_bytes", Bytes { base: 2e6, pages: 50.0 }),
        ("heap_sys_bytes", Const { v: 1.2e7 }),
        (
            "last_gc_time_seconds",
            Float {
                mean: 1.7e9,
                sd: 0.0,
                quantum: 1e-9,
            },
        ),
        ("lookups_total", Const { v: 0.0 }),
        ("mallocs_total", Count { rate: 520.0, idle: 0.0 }),
        ("mcache_inuse_bytes", Const { v: 4800.0 }),
        ("mcache_sys_bytes", Const { v: 15600.0 }),
        (
            "mspan_inuse_bytes",
            Bytes {
                base: 1.1e5,
                pages: 1.0,
            },
        ),
        ("mspan_sys_bytes", Const { v: 1.6e5 }),
        ("next_gc_bytes", Bytes { base: 6e6, pages: 20.0 }),
        ("other_sys_bytes", Const { v: 1.1e6 }),
        ("stack_inuse_bytes", Const { v: 8.2e5 }),
        ("stack_sys_bytes", Const { v: 8.2e5 }),
        ("sys_bytes", Const { v: 2.4e7 }),
    ] {
        d.push(def(format!("go_memstats_{n}"), &[], k));
    }
    for (n, k) in [
        ("process_cpu_seconds_total", Seconds { rate: 0.003 }),
        ("process_max_fds", Const { v: 1048576.0 }),
        ("process_open_fds", Int { mean: 10.0, sd: 0.5 }),
        (
            "process_resident_memory_bytes",
            Bytes {
                base: 2.2e7,
                pages: 20.0,
            },
        ),
        ("process_start_time_seconds", Const { v: boot + 12.34 }),
        ("process_virtual_memory_bytes", Const { v: 7.3e8 }),
        (
            "process_virtual_memory_max_bytes",
            Const {
                v: 1.8446744073709552e19,
            },
        ),
    ] {
        d.push(def(n, &[], k));
    }
    d.push(def("promhttp_metric_handler_requests_in_flight", &[], Const { v: 1.0 }));
    for code in ["200", "500", "503"] {
        let k = if code == "200" {
            Count {
                rate: 1.0 / 15.0,
                idle: 0.0,
            }
        } else {
            Const { v: 0.0 }
        };
        d.push(def("promhttp_metric_handler_requests_total", &[("code", code)], k));
    }
    for cause in ["encoding", "gathering"] {
        d.push(def(
            "promhttp_metric_handler_errors_total",
            &[("cause", cause)],
            Const { v: 0.0 },
        ));
    }
    // node_exporter's per-collector scrape stats: first to go when trimming.
    for c in [
        "arp",
        "bcache",
        "bonding",
        "btrfs",
        "conntrack",
        "cpu",
        "cpufreq",
        "diskstats",
        "dmi",
        "edac",
        "entropy",
        "fibrechannel",
        "filefd",
        "filesystem",
        "hwmon",
        "infiniband",
        "ipvs",
        "loadavg",
        "mdadm",
        "meminfo",
        "netclass",
        "netdev",
        "netstat",
        "nfs",
        "nfsd",
        "nvme",
        "os",
        "powersupplyclass",
        "pressure",
        "rapl",
        "schedstat",
        "selinux",
        "sockstat",
        "softnet",
        "stat",
        "tapestats",
        "textfile",
        "thermal_zone",
        "time",
        "timex",
        "udp_queues",
        "uname",
        "vmstat",
        "xfs",
        "zfs",
    ] {
        let l = [("collector", c)];
        d.push(def(
            "node_scrape_collector_duration_seconds",
            &l,
            Float {
                mean: 0.002,
                sd: 0.0005,
                quantum: 1e-9,
            },
        ));
        d.push(def("node_scrape_collector_success", &l, Const { v: 1.0 }));
    }
    d
}

/// One series of the fleet and its evolving value.
struct Series {
    /// `TimeSeries.labels` fields, already encoded.
    labels_enc: Vec<u8>,
    target: usize,
    kind: Kind,
    v: f64,
    rng: Rng,
}

impl Series {
    fn initial(kind: Kind, rng: &mut Rng) -> f64 {
        match kind {
            Kind::Seconds { rate } => ((rate * 86_400.0 * (1.0 + 30.0 * rng.unit())) * 100.0).round() / 100.0,
            Kind::Count { rate, .. } => (rate * 86_400.0 * (1.0 + 30.0 * rng.unit())).round(),
            Kind::Bytes { base, .. } => (base / 4096.0).round() * 4096.0,
            Kind::Float { mean, quantum, .. } => (mean / quantum).round() * quantum,
            Kind::Int { mean, .. } => mean.round(),
            Kind::Const { v } => v,
        }
    }

    fn step(&mut self) {
        let r = &mut self.rng;
        self.v = match self.kind {
            Kind::Seconds { rate } => {
                let inc = rate * 15.0 * (0.6 + 0.8 * r.unit());
                ((self.v + inc) * 100.0).round() / 100.0
            }
            Kind::Count { rate, idle } => {
                if r.unit() < idle {
                    self.v
                } else {
                    // Bursty: exponential-ish increments around the rate.
                    let burst = -(1.0 - r.unit()).ln();
                    self.v + (rate * 15.0 * burst).round()
                }
            }
            Kind::Bytes { base, pages } => {
                let delta = ((r.unit() - 0.5) * 2.0 * pages).round() * 4096.0;
                // Pulled back towards the base so it does not wander off.
                let pull = ((base - self.v) * 0.05 / 4096.0).round() * 4096.0;
                (self.v + delta + pull).max(0.0)
            }
            Kind::Float { mean, sd, quantum } => {
                let noise = (r.unit() + r.unit() + r.unit() - 1.5) * 2.0 * sd;
                let x = self.v * 0.7 + (mean + noise) * 0.3;
                (x / quantum).round() * quantum
            }
            Kind::Int { mean, sd } => (mean + (r.unit() + r.unit() - 1.0) * 2.0 * sd).round().max(0.0),
            Kind::Const { v } => v,
        };
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub targets: usize,
    pub per_target: usize,
    pub rounds: usize,
    pub batch: usize,
    pub shards: usize,
    pub seed: u64,
}

/// One pre-encoded remote write request.
pub struct Request {
    /// Snappy block-compressed `WriteRequest`.
    pub body: Vec<u8>,
    pub samples: usize,
    /// Scrape round of its first sample.
    pub round: usize,
}

/// The whole workload: one request list per sender.
pub struct Workload {
    pub shards: Vec<Vec<Request>>,
    pub series: usize,
    pub samples: usize,
    pub raw_bytes: usize,
    pub body_bytes: usize,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Series of one target in the template before trimming/padding.
    pub template_len: usize,
}

fn encode_labels(d: &Def, instance: &str) -> Vec<u8> {
    let mut ls: Vec<(&str, &str)> = vec![("__name__", &d.name), ("instance", instance), ("job", "node")];
    ls.extend(d.labels.iter().map(|(n, v)| (*n, v.as_str())));
    ls.sort_unstable();
    let mut out = Vec::with_capacity(160);
    for (name, value) in ls {
        let l = proto::Label {
            name: name.to_string(),
            value: value.to_string(),
        };
        prost::encoding::message::encode(1, &l, &mut out);
    }
    out
}

fn target_ts(spec: &Spec, t0: i64, offsets: &[i64], target: usize, round: usize) -> i64 {
    // A few ms of scrape jitter, the same for every series of the scrape.
    let jitter = (mix(spec.seed ^ ((target as u64) << 32) ^ round as u64) % 5) as i64;
    t0 + offsets[target] + round as i64 * SCRAPE_MS + jitter
}

/// Builds the fleet and encodes all requests. Deterministic for a given spec.
pub fn generate(spec: &Spec) -> Workload {
    let mut rng = Rng(spec.seed);
    let mut template_len = 0;
    let mut series: Vec<Series> = Vec::with_capacity(spec.targets * spec.per_target);
    for t in 0..spec.targets {
        let instance = format!("10.{}.{}.{}:9100", 16 + t / 65_536, (t / 256) % 256, t % 256);
        let mut defs = node_template(&mut rng);
        template_len = defs.len();
        let mut pad = 0;
        while defs.len() < spec.per_target {
            let i = pad.to_string();
            defs.push(def(
                "node_textfile_custom_gauge",
                &[("index", &i)],
                Kind::Int { mean: 100.0, sd: 10.0 },
            ));
            pad += 1;
        }
        defs.truncate(spec.per_target);
        for d in defs {
            let mut srng = Rng(rng.next());
            let v = Series::initial(d.kind, &mut srng);
            series.push(Series {
                labels_enc: encode_labels(&d, &instance),
                target: t,
                kind: d.kind,
                v,
                rng: srng,
            });
        }
    }
    // Each target is scraped at a fixed offset inside the interval; rounds
    // end about now so both servers see fresh data.
    let offsets: Vec<i64> = (0..spec.targets).map(|_| rng.below(SCRAPE_MS as u64) as i64).collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let t0 = (now - (spec.rounds as i64 + 1) * SCRAPE_MS) / SCRAPE_MS * SCRAPE_MS;
    let mut target_order: Vec<usize> = (0..spec.targets).collect();
    target_order.sort_by_key(|&t| offsets[t]);

    // Series of each shard, in scrape order (target by offset, then exposition order).
    let mut by_target: Vec<Vec<usize>> = vec![Vec::new(); spec.targets];
    for (i, s) in series.iter().enumerate() {
        by_target[s.target].push(i);
    }
    let mut shard_series: Vec<Vec<usize>> = vec![Vec::new(); spec.shards];
    for &t in &target_order {
        for &i in &by_target[t] {
            shard_series[(mix(i as u64 ^ spec.seed) % spec.shards as u64) as usize].push(i);
        }
    }
    let mut states: Vec<Option<Series>> = series.into_iter().map(Some).collect();
    let mut owned: Vec<Vec<Series>> = shard_series
        .iter()
        .map(|ids| {
            ids.iter()
                .map(|&i| states[i].take().expect("each series in one shard"))
                .collect()
        })
        .collect();
    let total_series: usize = owned.iter().map(Vec::len).sum();

    let shards: Vec<(Vec<Request>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = owned
            .iter_mut()
            .map(|mine| scope.spawn(|| encode_shard(spec, t0, &offsets, mine)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("encoder thread")).collect()
    });
    let raw_bytes = shards.iter().map(|s| s.1).sum();
    let shards: Vec<Vec<Request>> = shards.into_iter().map(|s| s.0).collect();
    let samples = shards.iter().flatten().map(|r| r.samples).sum();
    let body_bytes = shards.iter().flatten().map(|r| r.body.len()).sum();
    let first_ts = t0 + offsets.iter().min().copied().unwrap_or(0);
    let last_ts = target_ts(
        spec,
        t0,
        &offsets,
        *target_order.last().unwrap_or(&0),
        spec.rounds.saturating_sub(1),
    );
    Workload {
        shards,
        series: total_series,
        samples,
        raw_bytes,
        body_bytes,
        first_ts,
        last_ts,
        template_len,
    }
}

/// Encodes one shard's requests; returns them and the uncompressed byte count.
fn encode_shard(spec: &Spec, t0: i64, offsets: &[i64], mine: &mut [Series]) -> (Vec<Request>, usize) {
    let mut out = Vec::new();
    let mut raw_total = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(spec.batch * 200);
    let mut n = 0;
    let mut first_round = 0;
    let mut enc = snap::raw::Encoder::new();
    let mut sample = Vec::with_capacity(32);
    let mut flush = |buf: &mut Vec<u8>, n: &mut usize, round: usize, out: &mut Vec<Request>| {
        if *n == 0 {
            return;
        }
        raw_total += buf.len();
        let body = enc.compress_vec(buf).expect("snappy");
        out.push(Request {
            body,
            samples: *n,
            round,
        });
        buf.clear();
        *n = 0;
    };
    for round in 0..spec.rounds {
        for s in mine.iter_mut() {
            if round > 0 {
                s.step();
            }
            let ts = target_ts(spec, t0, offsets, s.target, round);
            if n == 0 {
                first_round = round;
            }
            sample.clear();
            prost::encoding::message::encode(
                2,
                &proto::Sample {
                    value: s.v,
                    timestamp: ts,
                },
                &mut sample,
            );
            encode_key(1, WireType::LengthDelimited, &mut buf);
            encode_varint((s.labels_enc.len() + sample.len()) as u64, &mut buf);
            buf.extend_from_slice(&s.labels_enc);
            buf.extend_from_slice(&sample);
            n += 1;
            if n == spec.batch {
                flush(&mut buf, &mut n, first_round, &mut out);
            }
        }
    }
    flush(&mut buf, &mut n, first_round, &mut out);
    (out, raw_total)
}

/// Decodes a request back with prost's generated decoder (the servers' view).
pub fn decode(req: &Request) -> proto::WriteRequest {
    use prost::Message;
    let raw = snap::raw::Decoder::new().decompress_vec(&req.body).expect("snappy");
    proto::WriteRequest::decode(raw.as_slice()).expect("protobuf")
}
