//! HTTP(S) probes: one request, the body read up to a cap, then the assertions.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::{HttpCheck, JsonFieldConfig};
use crate::tls::{self, ExpiryLog, TlsTrust};
use crate::Attempt;

/// Bodies are read at most this far: a health endpoint that streams a gigabyte
/// must cost us one MiB, not the server's memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The two clients a prober needs; redirect policy is per client in reqwest, so
/// one follows and one does not, and both pool connections across probes.
#[derive(Debug, Clone)]
pub(crate) struct HttpClients {
    follow: reqwest::Client,
    no_follow: reqwest::Client,
    /// Clients of checks with their own `tls:` trust, made on first use and
    /// shared by every check with the same trust (each pools connections).
    custom: Arc<Mutex<HashMap<TlsTrust, (reqwest::Client, reqwest::Client)>>>,
    expiry: ExpiryLog,
}

/// The follow-redirects and no-redirects clients for one trust.
fn build_clients(expiry: &ExpiryLog, trust: &TlsTrust) -> Result<(reqwest::Client, reqwest::Client), String> {
    let tls = tls::client_config(expiry.clone(), trust)?;
    let build = |policy| {
        reqwest::Client::builder()
            .redirect(policy)
            .user_agent(concat!("aerowatch-probes/", env!("CARGO_PKG_VERSION")))
            .use_preconfigured_tls(tls.clone())
            .build()
            .map_err(|e| error_chain(&e))
    };
    Ok((
        build(reqwest::redirect::Policy::limited(10))?,
        build(reqwest::redirect::Policy::none())?,
    ))
}

impl HttpClients {
    pub(crate) fn new() -> Result<Self, String> {
        let expiry = ExpiryLog::default();
        let (follow, no_follow) = build_clients(&expiry, &TlsTrust::default())?;
        Ok(HttpClients {
            follow,
            no_follow,
            custom: Arc::default(),
            expiry,
        })
    }

    /// The certificate expiry seen for the URL's host, https only.
    fn cert_expiry(&self, url: &reqwest::Url) -> Option<i64> {
        if url.scheme() != "https" {
            return None;
        }
        // rustls names IPv6 servers without the URL's brackets.
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
        self.expiry.get(host)
    }
}

/// reqwest's top-level message is often just "error sending request"; the cause
/// (connection refused, certificate expired) is further down the chain.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

pub(crate) async fn probe(clients: &HttpClients, check: &HttpCheck) -> Attempt {
    let mut attempt = request(clients, check).await;
    attempt.tls_cert_expiry = clients.cert_expiry(&check.url);
    attempt
}

impl HttpClients {
    /// The client for a check: the shared default one, or the one of its trust.
    fn for_check(&self, check: &HttpCheck) -> Result<reqwest::Client, String> {
        let pair = match &check.tls {
            None => (&self.follow, &self.no_follow),
            Some(trust) => {
                let mut custom = self.custom.lock();
                let pair = match custom.get(trust) {
                    Some(pair) => pair.clone(),
                    None => {
                        let pair = build_clients(&self.expiry, trust)?;
                        custom.insert(trust.as_ref().clone(), pair.clone());
                        pair
                    }
                };
                return Ok(if check.follow_redirects { pair.0 } else { pair.1 });
            }
        };
        Ok(if check.follow_redirects {
            pair.0.clone()
        } else {
            pair.1.clone()
        })
    }
}

async fn request(clients: &HttpClients, check: &HttpCheck) -> Attempt {
    let start = Instant::now();
    let client = match clients.for_check(check) {
        Ok(c) => c,
        Err(e) => return Attempt::failed(format!("TLS setup: {e}")),
    };
    let mut req = client
        .request(check.method.clone(), check.url.clone())
        .headers(check.headers.clone());
    if let Some(b) = &check.body {
        req = req.body(b.clone());
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Attempt::failed(error_chain(&e)),
    };
    let status = resp.status().as_u16();
    let mut attempt = Attempt {
        http_status: Some(status),
        ..Attempt::default()
    };
    let status_ok = if check.expect_status.is_empty() {
        (200..300).contains(&status)
    } else {
        check.expect_status.contains(&status)
    };
    if !status_ok {
        attempt.error = Some(format!("unexpected status code {status}"));
        return attempt;
    }
    let body = match read_capped(&mut resp, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            attempt.error = Some(e);
            return attempt;
        }
    };
    attempt.error = check_body(check, &body).err();
    if attempt.error.is_none() {
        if let Some(max) = check.max_latency {
            let took = start.elapsed();
            if took > max {
                attempt.error = Some(format!("latency {} exceeds max_latency {}", fmt_ms(took), fmt_ms(max)));
            }
        }
    }
    attempt
}

fn fmt_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

async fn read_capped(resp: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    // Dropping the response closes the connection instead of draining the rest.
                    return Err(format!("response body exceeds {cap} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(format!("reading body: {}", error_chain(&e))),
        }
    }
}

fn check_body(check: &HttpCheck, body: &[u8]) -> Result<(), String> {
    if check.body_regex.is_none() && check.body_contains.is_none() && check.json_field.is_none() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(body);
    if let Some(needle) = &check.body_contains {
        if !text.contains(needle.as_str()) {
            return Err(format!("body does not contain {needle:?}"));
        }
    }
    if let Some(re) = &check.body_regex {
        if !re.is_match(&text) {
            return Err(format!("body does not match regex {:?}", re.as_str()));
        }
    }
    if let Some(field) = &check.json_field {
        check_json(field, body)?;
    }
    Ok(())
}

fn check_json(field: &JsonFieldConfig, body: &[u8]) -> Result<(), String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let mut cur = &doc;
    for part in field.path.split('.') {
        let next = match cur {
            serde_json::Value::Object(m) => m.get(part),
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        cur = next.ok_or_else(|| format!("JSON field {:?} not found", field.path))?;
    }
    if json_equal(cur, &field.equals) {
        Ok(())
    } else {
        Err(format!("JSON field {:?} is {cur}, want {}", field.path, field.equals))
    }
}

/// YAML authors write `equals: 200` or `equals: "200"` interchangeably; a string
/// expectation therefore also matches a scalar with the same text.
fn json_equal(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(n), Value::String(s)) => s.trim().parse::<f64>().ok() == n.as_f64(),
        (Value::Bool(b), Value::String(s)) => s.trim() == if *b { "true" } else { "false" },
        _ => got == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(path: &str, equals: serde_json::Value) -> JsonFieldConfig {
        JsonFieldConfig {
            path: path.into(),
            equals,
        }
    }

    #[test]
    fn json_paths_and_loose_equality() {
        let body = br#"{"status":"healthy","db":{"ok":true,"n":[1,2]},"code":200}"#;
        assert!(check_json(&field("status", json!("healthy")), body).is_ok());
        assert!(check_json(&field("db.ok", json!(true)), body).is_ok());
        assert!(check_json(&field("db.ok", json!("true")), body).is_ok());
        assert!(check_json(&field("db.n.1", json!(2)), body).is_ok());
        assert!(check_json(&field("code", json!("200")), body).is_ok());
        assert!(check_json(&field("code", json!(200.0)), body).is_ok());
        let e = check_json(&field("status", json!("down")), body).unwrap_err();
        assert!(e.contains("want \"down\""), "{e}");
        assert!(check_json(&field("missing.x", json!(1)), body)
            .unwrap_err()
            .contains("not found"));
        assert!(check_json(&field("a", json!(1)), b"<html>")
            .unwrap_err()
            .contains("not JSON"));
    }
}
