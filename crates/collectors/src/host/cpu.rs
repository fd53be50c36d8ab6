//! `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`
//! from the per-CPU lines of `/proc/stat`.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

/// Clock ticks per second of `/proc/stat` (`USER_HZ`, fixed at 100 by the kernel ABI).
const USER_HZ: f64 = 100.0;

/// The columns of a `cpuN` line, in order, with node_exporter's mode names.
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

/// One CPU's times in seconds, in `/proc/stat` column order.
#[derive(Debug, PartialEq)]
pub(super) struct CpuTimes {
    pub cpu: String,
    pub seconds: Vec<f64>,
}

/// The `cpuN` lines (not the `cpu` total); malformed lines are skipped.
pub(super) fn parse(text: &str) -> Vec<CpuTimes> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let id = fields.next()?.strip_prefix("cpu")?;
            id.parse::<u32>().ok()?;
            let seconds: Option<Vec<f64>> = fields.map(|f| f.parse::<f64>().ok().map(|t| t / USER_HZ)).collect();
            let seconds = seconds?;
            // Kernels since 2.6.11 have at least up to steal; older lines are too short to trust.
            (seconds.len() >= 4).then(|| CpuTimes {
                cpu: id.to_string(),
                seconds,
            })
        })
        .collect()
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("stat");
    let cpus = parse(&read(&path)?);
    if cpus.is_empty() {
        return Err(HostError::Parse {
            path,
            what: "no cpuN lines".to_string(),
        });
    }
    for cpu in &cpus {
        for (mode, v) in MODES.iter().zip(&cpu.seconds) {
            out.push("node_cpu_seconds_total", &[("cpu", &cpu.cpu), ("mode", mode)], *v);
        }
        // Guest time is also counted in user/nice; node_exporter reports it separately.
        for (mode, v) in ["user", "nice"].iter().zip(cpu.seconds.iter().skip(8)) {
            out.push("node_cpu_guest_seconds_total", &[("cpu", &cpu.cpu), ("mode", mode)], *v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn per_cpu_lines_in_seconds() {
        let text = "cpu  200 0 100 1000 0 0 0 0 0 0\ncpu0 100 2 50 500 7 1 3 4 5 6\ncpu1 100 0 50\ncpuX 1 2 3 4\ncpu2 1 2 x 4\nintr 5\n";
        let cpus = parse(text);
        assert_eq!(cpus.len(), 1, "{cpus:?}");
        assert_eq!(cpus[0].cpu, "0");
        assert_eq!(cpus[0].seconds[0], 1.0);
        assert_eq!(cpus[0].seconds[9], 0.06);
    }

    #[test]
    fn fixture_series() {
        let s = run(collect);
        assert_eq!(
            value(&s, "node_cpu_seconds_total{cpu=\"1\", mode=\"idle\"}"),
            Some(10902.83)
        );
        assert_eq!(
            value(&s, "node_cpu_seconds_total{cpu=\"0\", mode=\"steal\"}"),
            Some(3.13)
        );
        assert_eq!(
            value(&s, "node_cpu_guest_seconds_total{cpu=\"0\", mode=\"user\"}"),
            Some(0.0)
        );
        assert_eq!(
            s.iter()
                .filter(|(n, _)| n.starts_with("node_cpu_seconds_total"))
                .count(),
            16
        );
    }
}
