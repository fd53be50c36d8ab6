//! TCP probes: success is a completed connect; nothing is sent.
use crate::config::TcpCheck;
use crate::Attempt;

pub(crate) async fn probe(check: &TcpCheck) -> Attempt {
    // Resolution happens per probe so a moved DNS name is followed; the
    // caller's timeout bounds both resolution and connect.
    match tokio::net::TcpStream::connect(check.address.as_str()).await {
        Ok(stream) => {
            drop(stream);
            Attempt::ok()
        }
        Err(e) => Attempt::failed(format!("connect {}: {e}", check.address)),
    }
}
