//! Email (`email_configs`) over SMTP, as Alertmanager 0.25's `notify/email`.
//!
//! - Connection: `smarthost` (`host:port`); port 465 speaks TLS from the
//!   first byte; otherwise `require_tls: true` (the default) demands
//!   STARTTLS and fails when the server does not offer it, and
//!   `require_tls: false` stays in plain text (Alertmanager does not try
//!   STARTTLS then either). `tls_config` supplies CA, client certificate,
//!   `server_name` and `insecure_skip_verify`. `hello` is the EHLO name.
//! - Authentication when `auth_username` is set: PLAIN or LOGIN, whichever
//!   the server offers, with `auth_password` or `auth_password_file` (read
//!   per delivery). CRAM-MD5 (`auth_secret` alone) is not supported.
//! - Envelope: `from` (exactly one address) and every address of `to`.
//! - Headers: every configured header is a template; `Subject` defaults to
//!   `{{ template "email.default.subject" . }}`, `To` and `From` to the
//!   rendered `to` and `from`. `Date` and `Message-Id` are added.
//! - Body: `text` and `html` templates (`html` defaults to
//!   `email.default.html`, Aerowatch's compact alert list when the template
//!   set has no other); both present → `multipart/alternative` with HTML
//!   last (preferred, RFC 2046 §5.1.4); one → that part alone.
//!
//! SMTP 5xx replies, bad addresses and template errors are permanent;
//! connection, TLS, timeout and 4xx failures are retryable. The whole
//! exchange is bounded by the notification's timeout.

use std::collections::BTreeMap;

use alertmanager::config::{EmailConfig, TlsConfig};
use alertmanager::NotifyError;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Identity, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::render::{RenderError, Renderer};
use crate::{permanent, retryable, Ctx};

/// Alertmanager's `DefaultEmailSubject`.
pub const DEFAULT_SUBJECT: &str = r#"{{ template "email.default.subject" . }}"#;

/// A rendered email, before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEmail {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients (the rendered `to`).
    pub to: String,
    /// Headers, canonical names, rendered.
    pub headers: BTreeMap<String, String>,
    /// Text body (empty: none).
    pub text: String,
    /// HTML body (empty: none).
    pub html: String,
}

/// Renders from, to, headers and bodies.
pub fn render(cfg: &EmailConfig, r: &Renderer) -> Result<RenderedEmail, RenderError> {
    let from = r.text(&cfg.from)?;
    let to = r.text(&cfg.to)?;
    let mut templates = cfg.headers.clone();
    templates
        .entry("Subject".into())
        .or_insert_with(|| DEFAULT_SUBJECT.to_string());
    templates.entry("To".into()).or_insert_with(|| cfg.to.clone());
    templates.entry("From".into()).or_insert_with(|| cfg.from.clone());
    let mut headers = BTreeMap::new();
    for (name, t) in &templates {
        let v = r
            .text(t)
            .map_err(|e| RenderError(format!("executing {name:?} header template: {e}")))?;
        headers.insert(name.clone(), v);
    }
    let text = r
        .text(&cfg.text)
        .map_err(|e| RenderError(format!("executing email text template: {e}")))?;
    let html = r
        .text(&cfg.html)
        .map_err(|e| RenderError(format!("executing email html template: {e}")))?;
    Ok(RenderedEmail {
        from,
        to,
        headers,
        text,
        html,
    })
}

/// Builds the MIME message.
pub fn build_message(e: &RenderedEmail) -> Result<Message, NotifyError> {
    let from: Mailboxes = e
        .from
        .parse()
        .map_err(|err| permanent(format!("parsing from addresses: {err}")))?;
    let from_addr = match from.iter().collect::<Vec<_>>().as_slice() {
        [one] => one.email.clone(),
        _ => return Err(permanent("must be exactly one from address")),
    };
    let to: Mailboxes =
        e.to.parse()
            .map_err(|err| permanent(format!("parsing to addresses: {err}")))?;
    let rcpts: Vec<Address> = to.iter().map(|m| m.email.clone()).collect();
    if rcpts.is_empty() {
        return Err(permanent("no to addresses"));
    }
    let envelope = lettre::address::Envelope::new(Some(from_addr), rcpts)
        .map_err(|err| permanent(format!("email envelope: {err}")))?;

    let mut b = Message::builder().envelope(envelope).date_now();
    let mut has_message_id = false;
    for (name, value) in &e.headers {
        match name.as_str() {
            "From" => {
                let mb: Mailbox = value
                    .parse()
                    .map_err(|err| permanent(format!("parsing From header: {err}")))?;
                b = b.from(mb);
            }
            "To" => {
                let list: Mailboxes = value
                    .parse()
                    .map_err(|err| permanent(format!("parsing To header: {err}")))?;
                b = b.mailbox(lettre::message::header::To::from(list));
            }
            "Subject" => b = b.subject(value.clone()),
            // lettre sets these from the body.
            "Content-Type" | "Content-Transfer-Encoding" | "Mime-Version" => {}
            _ => {
                if name == "Message-Id" {
                    has_message_id = true;
                }
                let hn = HeaderName::new_from_ascii(name.clone())
                    .map_err(|_| permanent(format!("invalid header name {name:?}")))?;
                b = b.raw_header(HeaderValue::new(hn, value.clone()));
            }
        }
    }
    if !has_message_id {
        b = b.message_id(None);
    }
    let built = match (e.text.is_empty(), e.html.is_empty()) {
        (false, false) => b.multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(e.text.clone()))
                .singlepart(SinglePart::html(e.html.clone())),
        ),
        (true, false) => b.singlepart(SinglePart::html(e.html.clone())),
        _ => b.singlepart(SinglePart::plain(e.text.clone())),
    };
    built.map_err(|err| permanent(format!("building email: {err}")))
}

pub(crate) async fn send(ctx: &Ctx<'_>, cfg: &EmailConfig) -> Result<(), NotifyError> {
    let data = ctx.data(&ctx.alerts);
    let r = ctx.renderer(&data);
    let rendered = render(cfg, &r).map_err(|e| permanent(format!("template: {e}")))?;
    let message = build_message(&rendered)?;

    let (host, port) = split_host_port(&cfg.smarthost)?;
    let tls_cfg = cfg.tls_config.clone().unwrap_or_default();
    let tls = if port == 465 {
        Tls::Wrapper(tls_parameters(ctx, &host, &tls_cfg).await?)
    } else if cfg.require_tls.unwrap_or(true) {
        Tls::Required(tls_parameters(ctx, &host, &tls_cfg).await?)
    } else {
        Tls::None
    };
    let hello = if cfg.hello.is_empty() { "localhost" } else { &cfg.hello };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .tls(tls)
        .hello_name(ClientId::Domain(hello.to_string()))
        .timeout(Some(ctx.n.timeout));
    if !cfg.auth_username.is_empty() {
        let password = match (&cfg.auth_password, &cfg.auth_password_file) {
            (Some(p), _) => p.expose().to_string(),
            (None, Some(f)) => ctx.read_secret_file("SMTP auth_password", f).await?,
            (None, None) => String::new(),
        };
        if password.is_empty() {
            let why = if cfg.auth_secret.is_some() {
                "CRAM-MD5 (auth_secret) is not supported by Aerowatch; set auth_password for PLAIN or LOGIN"
            } else {
                "auth_username is set but no auth_password"
            };
            return Err(permanent(why));
        }
        builder = builder
            .credentials(Credentials::new(cfg.auth_username.clone(), password))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    let transport = builder.build();
    match tokio::time::timeout(ctx.n.timeout, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(classify(&cfg.smarthost, e)),
        Err(_) => Err(retryable(format!(
            "SMTP delivery to {} timed out after {}",
            cfg.smarthost,
            crate::humantime(ctx.n.timeout)
        ))),
    }
}

fn classify(smarthost: &str, e: lettre::transport::smtp::Error) -> NotifyError {
    if e.to_string().contains("STARTTLS is not supported") {
        // Alertmanager's wording, and like Alertmanager a retry: the server
        // may be mid-reconfiguration.
        return retryable(format!(
            "require_tls: true (default), but {smarthost:?} does not advertise the STARTTLS extension"
        ));
    }
    let mut msg = format!("SMTP {smarthost}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    // 5xx replies and client-side refusals (no usable auth mechanism, bad
    // input) will not change on retry; the network and 4xx replies may.
    if e.is_permanent() || e.is_client() {
        permanent(msg)
    } else {
        retryable(msg)
    }
}

fn split_host_port(smarthost: &str) -> Result<(String, u16), NotifyError> {
    let bad = || permanent(format!("invalid address {smarthost:?}: want host:port"));
    let (host, port) = if let Some(rest) = smarthost.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        smarthost.rsplit_once(':').ok_or_else(bad)?
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

async fn tls_parameters(ctx: &Ctx<'_>, host: &str, t: &TlsConfig) -> Result<TlsParameters, NotifyError> {
    let domain = t
        .server_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| host.to_string());
    let mut b = TlsParameters::builder(domain).dangerous_accept_invalid_certs(t.insecure_skip_verify);
    let read = |what: &'static str, inline: Option<String>, file: Option<String>| async move {
        if let Some(s) = inline.filter(|s| !s.is_empty()) {
            return Ok::<_, NotifyError>(Some(s.into_bytes()));
        }
        let Some(f) = file.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let path = ctx.inner.resolve_path(&f);
        tokio::fs::read(&path)
            .await
            .map(Some)
            .map_err(|e| permanent(format!("reading {what} file {}: {e}", path.display())))
    };
    if let Some(ca) = read("smtp tls_config.ca", t.ca.clone(), t.ca_file.clone()).await? {
        let cert = Certificate::from_pem(&ca).map_err(|e| permanent(format!("smtp tls_config CA: {e}")))?;
        b = b.add_root_certificate(cert);
    }
    let cert = read("smtp tls_config.cert", t.cert.clone(), t.cert_file.clone()).await?;
    let key = read(
        "smtp tls_config.key",
        t.key.as_ref().map(|k| k.expose().to_string()),
        t.key_file.clone(),
    )
    .await?;
    if let (Some(cert), Some(key)) = (cert, key) {
        let id = Identity::from_pem(&cert, &key).map_err(|e| permanent(format!("smtp tls_config client cert: {e}")))?;
        b = b.identify_with(id);
    }
    b.build_rustls().map_err(|e| permanent(format!("smtp TLS setup: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smarthost_parses() {
        assert_eq!(
            split_host_port("smtp.example.com:587"),
            Ok(("smtp.example.com".into(), 587))
        );
        assert_eq!(split_host_port("[::1]:25"), Ok(("::1".into(), 25)));
        assert!(split_host_port("smtp.example.com").is_err());
        assert!(split_host_port(":25").is_err());
    }

    #[test]
    fn builds_multipart_alternative_with_html_last() {
        let e = RenderedEmail {
            from: "Aerowatch <aw@example.com>".into(),
            to: "a@example.com, b@example.com".into(),
            headers: BTreeMap::from([
                ("From".to_string(), "Aerowatch <aw@example.com>".to_string()),
                ("To".to_string(), "a@example.com, b@example.com".to_string()),
                ("Subject".to_string(), "[FIRING:1] Down — 数据库".to_string()),
                ("X-Team".to_string(), "db".to_string()),
            ]),
            text: "plain".into(),
            html: "<p>html</p>".into(),
        };
        let m = build_message(&e).expect("message");
        let raw = String::from_utf8_lossy(&m.formatted()).into_owned();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let (t, h) = (raw.find("text/plain"), raw.find("text/html"));
        assert!(t.is_some() && h.is_some() && t < h, "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("X-Team: db"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert_eq!(m.envelope().to().len(), 2);

        let two_from = RenderedEmail {
            from: "a@example.com, b@example.com".into(),
            ..e.clone()
        };
        assert!(!build_message(&two_from).unwrap_err().retryable);
        let html_only = RenderedEmail {
            text: String::new(),
            ..e
        };
        let raw = String::from_utf8_lossy(&build_message(&html_only).expect("html").formatted()).into_owned();
        assert!(!raw.contains("multipart"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
    }
}
