//! `node_uname_info{sysname,release,version,machine,nodename,domainname}` from
//! `/proc/sys/kernel/*`: the same strings uname(2) returns, through the
//! configured procfs.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let kernel = |file: &str| read(&c.procfs(&format!("sys/kernel/{file}"))).map(|s| s.trim().to_string());
    let sysname = kernel("ostype")?;
    let release = kernel("osrelease")?;
    let version = kernel("version")?;
    let nodename = kernel("hostname")?;
    let domainname = kernel("domainname").unwrap_or_default();
    // `arch` exists since Linux 6.1; before it, the architecture this binary was built for is the host's.
    let machine = kernel("arch").unwrap_or_else(|_| std::env::consts::ARCH.to_string());
    out.push(
        "node_uname_info",
        &[
            ("sysname", &sysname),
            ("release", &release),
            ("version", &version),
            ("machine", &machine),
            ("nodename", &nodename),
            ("domainname", &domainname),
        ],
        1.0,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn info_labels() {
        let s = run(collect);
        let series = "node_uname_info{domainname=\"(none)\", machine=\"x86_64\", nodename=\"fixture-host\", release=\"6.1.0-test\", sysname=\"Linux\", version=\"#1 SMP PREEMPT_DYNAMIC Debian 6.1.0\"}";
        assert_eq!(value(&s, series), Some(1.0), "{s:?}");
    }
}
