//! `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.
use super::{read, HostCollector, HostError};
use crate::sample::Samples;

pub(super) fn parse(text: &str) -> Option<[f64; 3]> {
    let mut f = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

pub(super) fn collect(c: &HostCollector, out: &mut Samples) -> Result<(), HostError> {
    let path = c.procfs("loadavg");
    let Some([l1, l5, l15]) = parse(&read(&path)?) else {
        return Err(HostError::Parse {
            path,
            what: "want three load averages".to_string(),
        });
    };
    out.push("node_load1", &[], l1);
    out.push("node_load5", &[], l5);
    out.push("node_load15", &[], l15);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{run, value};

    #[test]
    fn three_averages() {
        let s = run(collect);
        assert_eq!(value(&s, "node_load1"), Some(0.85));
        assert_eq!(value(&s, "node_load5"), Some(0.98));
        assert_eq!(value(&s, "node_load15"), Some(1.28));
        assert_eq!(parse("0.1 x 0.3"), None);
        assert_eq!(parse(""), None);
    }
}
