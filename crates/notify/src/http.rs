//! HTTP plumbing shared by Slack, PagerDuty and webhooks: clients built from
//! Prometheus' `http_config` (cached per transport settings), per-request
//! authentication and headers, bounded response reading and Alertmanager's
//! status classification (`notify.Retrier`).

use std::collections::HashMap;
use std::time::Duration;

use alertmanager::config::{HttpConfig, TlsConfig};
use alertmanager::NotifyError;
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};

use crate::{permanent, retryable, Ctx};

/// How much of a response body is read at most.
const MAX_BODY: usize = 64 * 1024;
/// How much of a response body an error message quotes.
pub(crate) const MAX_ERROR_BODY: usize = 512;
/// Go's `http.Client` stops after 10 redirects.
const MAX_REDIRECTS: usize = 10;
/// Transport settings are few; the cache only grows with config variety.
const MAX_CACHED_CLIENTS: usize = 64;

/// The transport settings a client is built from. Authentication and
/// headers are applied per request, so rotated secrets need no new client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct ClientKey {
    ca_file: Option<String>,
    ca: Option<String>,
    cert_file: Option<String>,
    cert: Option<String>,
    key_file: Option<String>,
    key: Option<String>,
    insecure_skip_verify: bool,
    min_version: Option<String>,
    max_version: Option<String>,
    proxy_url: Option<String>,
    no_proxy: Option<String>,
    proxy_from_environment: bool,
    follow_redirects: bool,
}

impl ClientKey {
    fn of(cfg: Option<&HttpConfig>) -> ClientKey {
        let mut k = ClientKey {
            follow_redirects: true,
            ..ClientKey::default()
        };
        let Some(cfg) = cfg else { return k };
        if let Some(t) = &cfg.tls_config {
            k.ca_file = t.ca_file.clone();
            k.ca = t.ca.clone();
            k.cert_file = t.cert_file.clone();
            k.cert = t.cert.clone();
            k.key_file = t.key_file.clone();
            k.key = t.key.as_ref().map(|s| s.expose().to_string());
            k.insecure_skip_verify = t.insecure_skip_verify;
            k.min_version = t.min_version.clone();
            k.max_version = t.max_version.clone();
        }
        k.proxy_url = cfg.proxy_url.clone().filter(|s| !s.is_empty());
        k.no_proxy = cfg.no_proxy.clone().filter(|s| !s.is_empty());
        k.proxy_from_environment = cfg.proxy_from_environment.unwrap_or(false);
        k.follow_redirects = cfg.follow_redirects.unwrap_or(true);
        k
    }
}

pub(crate) struct Http {
    clients: Mutex<HashMap<ClientKey, reqwest::Client>>,
}

/// A response: status, content type and (at most 64 KiB of) body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

/// A request to make.
pub(crate) struct Request<'a> {
    pub(crate) url: &'a str,
    pub(crate) body: Vec<u8>,
    pub(crate) http_config: Option<&'a HttpConfig>,
    pub(crate) timeout: Duration,
    /// Overrides any `Authorization` from the http_config (Slack bot token).
    pub(crate) bearer: Option<&'a str>,
}

impl Http {
    pub(crate) fn new() -> Http {
        Http {
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, ctx: &Ctx<'_>, cfg: Option<&HttpConfig>) -> Result<reqwest::Client, NotifyError> {
        let key = ClientKey::of(cfg);
        if let Some(c) = self.clients.lock().get(&key) {
            return Ok(c.clone());
        }
        let client = build_client(ctx, &key, cfg.and_then(|c| c.tls_config.as_ref())).await?;
        let mut cache = self.clients.lock();
        if cache.len() >= MAX_CACHED_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// POSTs a JSON body. Transport failures are retryable; the status is
    /// for the caller to judge (see [`check_status`]).
    pub(crate) async fn post_json(&self, ctx: &Ctx<'_>, req: Request<'_>) -> Result<Reply, NotifyError> {
        let url = parse_url(req.url)?;
        let client = self.client(ctx, req.http_config).await?;
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(cfg) = req.http_config {
            apply_http_config(ctx, cfg, &mut headers).await?;
        }
        if let Some(token) = req.bearer {
            headers.insert(AUTHORIZATION, header_value(&format!("Bearer {token}"), "bot token")?);
        }
        let send = client
            .post(url)
            .headers(headers)
            .timeout(req.timeout)
            .body(req.body)
            .send();
        let mut resp = match send.await {
            Ok(r) => r,
            // Without the URL: Slack webhook URLs are credentials.
            Err(e) => return Err(transport_error(e)),
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_BODY.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                // A 2xx whose body broke off still counts as delivered by
                // status; callers that need the body see it cut short.
                Err(_) => break,
            }
        }
        Ok(Reply {
            status,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn transport_error(e: reqwest::Error) -> NotifyError {
    let e = e.without_url();
    let what = if e.is_redirect() {
        "redirect refused"
    } else if e.is_timeout() {
        "request timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // reqwest's Display omits the cause chain, which holds the useful part
    // ("connection refused", "certificate ..."); the dispatcher retries all
    // transport errors.
    let mut msg = format!("{what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    // A refused redirect is the target's configuration, not a passing fault.
    if e.is_redirect() {
        permanent(msg)
    } else {
        retryable(msg)
    }
}

/// Parses a target URL; only http(s) is accepted and the URL is never
/// echoed (it may carry a token).
pub(crate) fn parse_url(url: &str) -> Result<reqwest::Url, NotifyError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| permanent(format!("invalid URL <redacted>: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(permanent(format!(
            "unsupported URL scheme {other:?} (only http and https)"
        ))),
    }
}

/// Alertmanager's `notify.Retrier.Check`: 2xx succeeds; 5xx and the extra
/// `retry_codes` are retryable; anything else is permanent. The message
/// quotes the (truncated) body.
pub(crate) fn check_status(reply: &Reply, retry_codes: &[u16]) -> Result<(), NotifyError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let retry = (500..600).contains(&reply.status) || retry_codes.contains(&reply.status);
    let mut msg = format!("unexpected status code {}", reply.status);
    let body = reply.body.trim();
    if !body.is_empty() {
        msg.push_str(": ");
        msg.push_str(&truncate_body(body));
    }
    Err(NotifyError {
        message: msg,
        retryable: retry,
    })
}

/// A response body cut for an error message.
pub(crate) fn truncate_body(body: &str) -> String {
    crate::render::truncate(body, MAX_ERROR_BODY).0
}

fn header_value(v: &str, what: &str) -> Result<HeaderValue, NotifyError> {
    HeaderValue::from_str(v).map_err(|_| permanent(format!("{what} is not a valid HTTP header value")))
}

async fn apply_http_config(ctx: &Ctx<'_>, cfg: &HttpConfig, headers: &mut HeaderMap) -> Result<(), NotifyError> {
    if cfg.oauth2.is_some() {
        return Err(permanent(
            "http_config.oauth2 is not supported by Aerowatch; use authorization or basic_auth",
        ));
    }
    if let Some(raw) = &cfg.http_headers {
        for (name, value) in extra_headers(ctx, raw).await? {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| permanent(format!("http_headers: invalid header name {name:?}")))?;
            headers.append(name, header_value(&value, "http_headers value")?);
        }
    }
    if let Some(ba) = &cfg.basic_auth {
        let password = match (&ba.password, &ba.password_file) {
            (Some(p), _) => p.expose().to_string(),
            (None, Some(f)) => ctx.read_secret_file("basic_auth password", f).await?,
            (None, None) => String::new(),
        };
        let token = base64(format!("{}:{}", ba.username, password).as_bytes());
        headers.insert(AUTHORIZATION, header_value(&format!("Basic {token}"), "basic_auth")?);
    }
    if let Some(auth) = &cfg.authorization {
        let kind = auth.kind.as_deref().filter(|k| !k.is_empty()).unwrap_or("Bearer");
        let creds = match (&auth.credentials, &auth.credentials_file) {
            (Some(c), _) => c.expose().to_string(),
            (None, Some(f)) => ctx.read_secret_file("authorization credentials", f).await?,
            (None, None) => String::new(),
        };
        headers.insert(
            AUTHORIZATION,
            header_value(&format!("{kind} {creds}"), "authorization")?,
        );
    } else if let Some(t) = &cfg.bearer_token {
        headers.insert(
            AUTHORIZATION,
            header_value(&format!("Bearer {}", t.expose()), "bearer_token")?,
        );
    } else if let Some(f) = &cfg.bearer_token_file {
        let t = ctx.read_secret_file("bearer_token", f).await?;
        headers.insert(
            AUTHORIZATION,
            header_value(&format!("Bearer {t}"), "bearer_token_file")?,
        );
    }
    Ok(())
}

/// Prometheus' `http_headers`: `{Name: {values: [...], secrets: [...], files: [...]}}`.
async fn extra_headers(ctx: &Ctx<'_>, raw: &serde_yaml::Value) -> Result<Vec<(String, String)>, NotifyError> {
    let bad = || permanent("http_headers must map header names to {values, secrets, files}");
    let Some(map) = raw.as_mapping() else {
        return if raw.is_null() { Ok(Vec::new()) } else { Err(bad()) };
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let name = k.as_str().ok_or_else(bad)?.to_string();
        let Some(spec) = v.as_mapping() else { return Err(bad()) };
        for field in ["values", "secrets", "files"] {
            let Some(list) = spec.get(field) else { continue };
            let items = list.as_sequence().ok_or_else(bad)?;
            for item in items {
                let s = item.as_str().ok_or_else(bad)?;
                let value = if field == "files" {
                    ctx.read_secret_file("http_headers", s).await?
                } else {
                    s.to_string()
                };
                out.push((name.clone(), value));
            }
        }
    }
    Ok(out)
}

async fn build_client(ctx: &Ctx<'_>, key: &ClientKey, tls: Option<&TlsConfig>) -> Result<reqwest::Client, NotifyError> {
    let follow = key.follow_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if !follow {
            attempt.stop()
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("stopped after {MAX_REDIRECTS} redirects"))
        } else if !matches!(attempt.url().scheme(), "http" | "https") {
            attempt.error("refusing to follow a redirect to a non-HTTP(S) URL")
        } else {
            attempt.follow()
        }
    });
    let mut b = reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .redirect(policy)
        .use_rustls_tls();
    if !key.proxy_from_environment {
        b = b.no_proxy();
    }
    if let Some(p) = &key.proxy_url {
        let mut proxy = reqwest::Proxy::all(p.as_str()).map_err(|e| permanent(format!("invalid proxy_url: {e}")))?;
        if let Some(np) = &key.no_proxy {
            proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
        }
        b = b.proxy(proxy);
    }
    if let Some(t) = tls {
        if let Some(pem) = pem_source(ctx, "tls_config.ca", t.ca.as_deref(), t.ca_file.as_deref()).await? {
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| permanent(format!("tls_config CA: {e}")))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        let cert = pem_source(ctx, "tls_config.cert", t.cert.as_deref(), t.cert_file.as_deref()).await?;
        let key_pem = pem_source(
            ctx,
            "tls_config.key",
            t.key.as_ref().map(|k| k.expose()),
            t.key_file.as_deref(),
        )
        .await?;
        if let (Some(mut cert), Some(key_pem)) = (cert, key_pem) {
            cert.push(b'\n');
            cert.extend_from_slice(&key_pem);
            let id =
                reqwest::Identity::from_pem(&cert).map_err(|e| permanent(format!("tls_config client cert: {e}")))?;
            b = b.identity(id);
        }
        if t.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(v) = t.min_version.as_deref() {
            b = b.min_tls_version(tls_version(v)?);
        }
        if let Some(v) = t.max_version.as_deref() {
            b = b.max_tls_version(tls_version(v)?);
        }
        if t.server_name.as_deref().is_some_and(|s| !s.is_empty()) {
            tracing::warn!("tls_config.server_name is not supported for HTTP receivers; the URL's host is verified");
        }
    }
    b.build().map_err(|e| permanent(format!("building HTTP client: {e}")))
}

async fn pem_source(
    ctx: &Ctx<'_>,
    what: &str,
    inline: Option<&str>,
    file: Option<&str>,
) -> Result<Option<Vec<u8>>, NotifyError> {
    if let Some(s) = inline.filter(|s| !s.is_empty()) {
        return Ok(Some(s.as_bytes().to_vec()));
    }
    let Some(f) = file.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let path = ctx.inner.resolve_path(f);
    tokio::fs::read(&path)
        .await
        .map(Some)
        .map_err(|e| permanent(format!("reading {what} file {}: {e}", path.display())))
}

fn tls_version(v: &str) -> Result<reqwest::tls::Version, NotifyError> {
    match v {
        "TLS10" => Ok(reqwest::tls::Version::TLS_1_0),
        "TLS11" => Ok(reqwest::tls::Version::TLS_1_1),
        "TLS12" => Ok(reqwest::tls::Version::TLS_1_2),
        "TLS13" => Ok(reqwest::tls::Version::TLS_1_3),
        other => Err(permanent(format!("unknown TLS version {other:?}"))),
    }
}

/// Standard base64 with padding (basic auth).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn status_classification_follows_the_retrier() {
        let reply = |status: u16, body: &str| Reply {
            status,
            content_type: String::new(),
            body: body.to_string(),
        };
        assert!(check_status(&reply(200, ""), &[]).is_ok());
        assert!(check_status(&reply(202, ""), &[]).is_ok());
        let e = check_status(&reply(500, "boom"), &[]).unwrap_err();
        assert!(e.retryable);
        assert_eq!(e.message, "unexpected status code 500: boom");
        assert!(!check_status(&reply(400, ""), &[]).unwrap_err().retryable);
        assert!(check_status(&reply(429, ""), &[429]).unwrap_err().retryable);
        assert!(!check_status(&reply(302, ""), &[429]).unwrap_err().retryable);
        let long = "x".repeat(2000);
        let e = check_status(&reply(400, &long), &[]).unwrap_err();
        assert!(e.message.chars().count() < 600, "{}", e.message.len());
        assert!(e.message.ends_with('…'));
    }

    #[test]
    fn urls_must_be_http() {
        assert!(parse_url("https://hooks.slack.com/services/x").is_ok());
        let e = parse_url("file:///etc/passwd").unwrap_err();
        assert!(!e.retryable);
        let e = parse_url("not a url with secret").unwrap_err();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}
