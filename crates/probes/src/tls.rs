//! TLS certificate expiry for https checks. reqwest does not expose the peer
//! certificate, so the client's rustls verifier is wrapped: it notes the
//! earliest `notAfter` of the presented chain per server name, then delegates
//! to the normal WebPKI verification.
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::DigitallySignedStruct;

/// Earliest certificate expiry (unix seconds) seen per server name. Pooled
/// connections do not handshake again, so the value of the connection's own
/// handshake stays current until the pool opens a new one.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExpiryLog(Arc<Mutex<HashMap<String, i64>>>);

impl ExpiryLog {
    pub(crate) fn get(&self, host: &str) -> Option<i64> {
        self.0.lock().get(host).copied()
    }
}

/// How a check trusts servers: the web PKI roots (what reqwest uses by
/// default) plus the certificates of `ca_file`, or — `insecure_skip_verify`
/// — any chain (the handshake signature is still checked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsTrust {
    /// Extra trusted roots, DER, from the check's `tls.ca_file`.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Accept any certificate chain.
    pub insecure_skip_verify: bool,
}

impl TlsTrust {
    /// Reads the PEM certificates of a CA file (blocking I/O: config loading).
    pub fn from_ca_file(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
        use rustls::pki_types::pem::PemObject;
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}: not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{path} holds no PEM certificate"));
        }
        Ok(certs)
    }
}

/// A rustls config trusting as `trust` says, with the recording verifier.
pub(crate) fn client_config(log: ExpiryLog, trust: &TlsTrust) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in &trust.extra_roots {
        roots.add(cert.clone()).map_err(|e| format!("CA certificate: {e}"))?;
    }
    let roots = Arc::new(roots);
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.dangerous().set_certificate_verifier(Arc::new(RecordingVerifier {
        inner,
        log,
        skip_chain: trust.insecure_skip_verify,
    }));
    Ok(config)
}

#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    log: ExpiryLog,
    skip_chain: bool,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Recorded before verification on purpose: an expired or untrusted
        // certificate is exactly when its expiry is worth reporting.
        let earliest = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| not_after(c.as_ref()))
            .min();
        if let Some(t) = earliest {
            self.log.0.lock().insert(server_name.to_str().into_owned(), t);
        }
        if self.skip_chain {
            return Ok(ServerCertVerified::assertion());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One DER TLV: tag, contents, rest. Only definite lengths (DER has no others).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)), rest)
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// `notAfter` of an X.509 certificate as unix seconds; a few lines of DER
/// walking instead of a full X.509 parser dependency.
pub(crate) fn not_after(cert: &[u8]) -> Option<i64> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = tlv(cert)? else { return None };
    let (SEQUENCE, tbs, _) = tlv(cert)? else { return None };
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag != 0xa0 {
        // No explicit version: the first field was already the serial number.
        rest = tbs;
    }
    // serialNumber, signature, issuer; then validity.
    for _ in 0..3 {
        rest = tlv(rest)?.2;
    }
    let (SEQUENCE, validity, _) = tlv(rest)? else {
        return None;
    };
    let (_, _, after) = tlv(validity)?;
    let (tag, time, _) = tlv(after)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        (0x18, 14) => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest[i..i + 2].parse::<i64>().ok();
    let (month, day, h, m, sec) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time(0x17, "700101000000Z"), Some(0));
        assert_eq!(parse_time(0x17, "361123122157Z"), Some(2_111_055_717));
        assert_eq!(parse_time(0x18, "20361123122157Z"), Some(2_111_055_717));
        assert_eq!(parse_time(0x18, "20000229120000Z"), Some(951_825_600));
        assert_eq!(parse_time(0x17, "991231235959Z"), Some(946_684_799));
        assert_eq!(parse_time(0x17, "361323122157Z"), None);
        assert_eq!(parse_time(0x17, "3611231221Z"), None);
        assert_eq!(parse_time(0x17, "+61123122157Z"), None);
    }

    #[test]
    fn reads_not_after_from_a_real_certificate() {
        let pem = include_str!("../tests/fixtures/cert.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = decode_base64(&b64);
        assert_eq!(not_after(&der), Some(2_111_055_717));
        assert_eq!(not_after(&der[..der.len() / 2]), None);
        assert_eq!(not_after(b""), None);
    }

    fn decode_base64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').map(val).collect();
        bytes
            .chunks(4)
            .flat_map(|c| {
                let n = c
                    .iter()
                    .enumerate()
                    .fold(0u32, |a, (i, v)| a | (u32::from(*v) << (18 - 6 * i)));
                let out = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
                out.into_iter().take(c.len() - 1)
            })
            .collect()
    }
}
