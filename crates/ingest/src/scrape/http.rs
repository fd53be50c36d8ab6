//! The HTTP side of a scrape: one client per scrape pool (TLS and
//! authentication from the job's config) and the request Prometheus makes.
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::config::{ScrapeConfig, TlsConfig};

/// The `Accept` header of Prometheus 2.42: OpenMetrics preferred, then the
/// text format, then anything.
pub const SCRAPE_ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Error of a scrape whose body exceeded `body_size_limit`.
pub const ERR_BODY_SIZE_LIMIT: &str = "body size limit exceeded";

/// Where the credentials come from; files are re-read on every scrape as
/// Prometheus does, so rotating them needs no reload.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic {
        username: String,
        password: Option<String>,
        password_file: Option<String>,
    },
    Header {
        kind: String,
        credentials: Option<String>,
        credentials_file: Option<String>,
    },
}

/// A successfully fetched body (decompressed) and its `Content-Type`.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// Makes scrape requests for the targets of one pool.
#[derive(Debug, Clone)]
pub(crate) struct HttpScraper {
    client: reqwest::Client,
    auth: Auth,
    user_agent: HeaderValue,
    body_size_limit: u64,
}

impl HttpScraper {
    /// Builds the client for `cfg`; fails on unreadable TLS files.
    pub fn new(cfg: &ScrapeConfig, user_agent: &str) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .gzip(true)
            .redirect(reqwest::redirect::Policy::limited(10))
            .pool_idle_timeout(Duration::from_secs(90));
        if cfg.tls_config.is_set() {
            builder = builder.use_preconfigured_tls(rustls_config(&cfg.tls_config)?);
        }
        let client = builder
            .build()
            .map_err(|e| format!("error creating HTTP client: {}", root_cause(&e)))?;
        let auth = if let Some(b) = &cfg.basic_auth {
            Auth::Basic {
                username: b.username.clone(),
                password: b.password.as_ref().map(|s| s.0.clone()),
                password_file: b.password_file.clone().filter(|f| !f.is_empty()),
            }
        } else if let Some(a) = &cfg.authorization {
            Auth::Header {
                kind: a.kind().to_string(),
                credentials: a.credentials.as_ref().map(|s| s.0.clone()),
                credentials_file: a.credentials_file.clone().filter(|f| !f.is_empty()),
            }
        } else if cfg.bearer_token.is_some() || cfg.bearer_token_file.is_some() {
            Auth::Header {
                kind: "Bearer".to_string(),
                credentials: cfg.bearer_token.as_ref().map(|s| s.0.clone()),
                credentials_file: cfg.bearer_token_file.clone().filter(|f| !f.is_empty()),
            }
        } else {
            Auth::None
        };
        let user_agent = HeaderValue::from_str(user_agent).unwrap_or_else(|_| HeaderValue::from_static("Aerowatch"));
        Ok(HttpScraper {
            client,
            auth,
            user_agent,
            body_size_limit: cfg.body_size_limit.0,
        })
    }

    /// GETs `url` within `timeout` (covering the whole body) and returns the
    /// decompressed body. Anything but `200 OK` is an error, as in
    /// Prometheus; errors are worded like Prometheus's.
    pub async fn fetch(&self, url: &str, timeout: Duration) -> Result<Fetched, String> {
        match tokio::time::timeout(timeout, self.fetch_inner(url, timeout)).await {
            Ok(r) => r,
            Err(_) => Err(format!("Get {url:?}: context deadline exceeded")),
        }
    }

    async fn fetch_inner(&self, url: &str, timeout: Duration) -> Result<Fetched, String> {
        let mut req = self
            .client
            .get(url)
            .header(ACCEPT, SCRAPE_ACCEPT_HEADER)
            .header(ACCEPT_ENCODING, "gzip")
            .header(USER_AGENT, self.user_agent.clone())
            .header("X-Prometheus-Scrape-Timeout-Seconds", timeout.as_secs_f64().to_string());
        match &self.auth {
            Auth::None => {}
            Auth::Basic {
                username,
                password,
                password_file,
            } => {
                let pw = resolve_secret(password, password_file, "basic auth password").await?;
                req = req.basic_auth(username, pw);
            }
            Auth::Header {
                kind,
                credentials,
                credentials_file,
            } => {
                let cred = resolve_secret(credentials, credentials_file, "authorization credentials").await?;
                if let Some(c) = cred.filter(|c| !c.is_empty()) {
                    let v = HeaderValue::from_str(&format!("{kind} {c}"))
                        .map_err(|_| "authorization credentials are not a valid header value".to_string())?;
                    req = req.header(AUTHORIZATION, v);
                }
            }
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| format!("Get {url:?}: {}", root_cause(&e)))?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "server returned HTTP status {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let limit = if self.body_size_limit == 0 {
            u64::MAX
        } else {
            self.body_size_limit
        };
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| root_cause(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 >= limit {
                return Err(ERR_BODY_SIZE_LIMIT.to_string());
            }
        }
        Ok(Fetched { body, content_type })
    }
}

async fn read_secret_file(path: &str) -> std::io::Result<String> {
    Ok(tokio::fs::read_to_string(path).await?.trim().to_string())
}

/// A secret given inline or through a file (the file wins, read at every
/// scrape so that rotated secrets are picked up), as Prometheus does.
async fn resolve_secret(inline: &Option<String>, file: &Option<String>, what: &str) -> Result<Option<String>, String> {
    match file {
        Some(f) => read_secret_file(f)
            .await
            .map(Some)
            .map_err(|e| format!("unable to read {what} file {f}: {e}")),
        None => Ok(inline.clone()),
    }
}

/// The innermost error message, e.g. `Connection refused (os error 111)`
/// rather than reqwest's `error sending request for url (...)`.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A rustls client config for `tls`: the CA file or the web roots, a client
/// certificate, and a verifier that checks `server_name` instead of the URL
/// host, or nothing at all with `insecure_skip_verify`.
fn rustls_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(ca) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("unable to load specified CA cert {ca}: {e}"))?;
            if certs.is_empty() {
                return Err(format!("unable to use specified CA cert {ca}"));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("unable to use specified CA cert {ca}: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let roots = Arc::new(roots);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots.clone());
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("unable to read client cert file {cert}: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("unable to read client key file {key}: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("unable to use client certificate {cert}: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    if tls.insecure_skip_verify {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(NoVerify(provider)));
    } else if let Some(name) = tls.server_name.as_deref().filter(|n| !n.is_empty()) {
        let name = ServerName::try_from(name.to_string()).map_err(|e| format!("invalid server_name {name:?}: {e}"))?;
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| e.to_string())?;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(NamedVerifier { inner, name }));
    }
    Ok(config)
}

/// Verifies certificates against a fixed name (`tls_config.server_name`).
#[derive(Debug)]
struct NamedVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: rustls::pki_types::ServerName<'static>,
}

impl ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
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
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is accepted (signatures are
/// still checked so the handshake is with the certificate's key holder).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
