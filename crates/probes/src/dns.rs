//! DNS probes through the system resolver (`getaddrinfo`, as the monitored
//! service itself resolves names): success is an answer that holds every
//! expected address. Record types beyond A/AAAA need a resolver crate.
use crate::config::DnsCheck;
use crate::Attempt;

pub(crate) async fn probe(check: &DnsCheck) -> Attempt {
    // The port is required by the API and ignored by resolution.
    let answers: Vec<std::net::IpAddr> = match tokio::net::lookup_host((check.name.as_str(), 0)).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(e) => return Attempt::failed(format!("resolving {}: {e}", check.name)),
    };
    if answers.is_empty() {
        return Attempt::failed(format!("resolving {}: no addresses", check.name));
    }
    let missing: Vec<String> = check
        .expect
        .iter()
        .filter(|ip| !answers.contains(ip))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        Attempt::ok()
    } else {
        let got: Vec<String> = answers.iter().map(ToString::to_string).collect();
        Attempt::failed(format!(
            "{} resolved to {} without {}",
            check.name,
            got.join(", "),
            missing.join(", ")
        ))
    }
}
