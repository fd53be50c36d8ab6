//! Authentication and scopes: bearer tokens carrying scopes, and basic-auth
//! users with bcrypt hashes as in Prometheus's web config file.
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use parking_lot::Mutex;
use serde::Deserialize;

use crate::AppState;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Query and read APIs, `/metrics`, the UI.
    Read,
    /// Ingest: remote write, push.
    Write,
    /// Reload, administration.
    Admin,
}

/// One bearer token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token itself (use `${ENV_VAR}` to keep it out of the file).
    pub token: String,
    /// What it grants; all scopes when omitted.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<Scope>,
}

fn all_scopes() -> Vec<Scope> {
    vec![Scope::Read, Scope::Write, Scope::Admin]
}

/// The `auth` section of the config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Bearer tokens with scopes.
    #[serde(default)]
    pub bearer_tokens: Vec<TokenConfig>,
    /// `username: bcrypt hash`, as Prometheus's web config; users get every scope.
    #[serde(default)]
    pub basic_auth_users: HashMap<String, String>,
    /// Serve the read-only status page (`/status`, its assets and the
    /// health, checks and SLO answers it shows) without credentials, so it
    /// can be shown to the people who use the monitored system.
    #[serde(default)]
    pub public_status_page: bool,
}

/// What the status page reads, besides its assets under `/ui/`.
const STATUS_PAGE_PATHS: [&str; 5] = [
    "/status",
    "/api/health",
    "/api/v1/checks",
    "/api/v1/slos",
    "/favicon.ico",
];

/// Whether a request may pass without credentials because the status page
/// is public: reads of the page, its assets and its data only.
fn public_status_request(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && (STATUS_PAGE_PATHS.contains(&path) || path.starts_with("/ui/"))
}

impl AuthConfig {
    /// True when any credential is configured.
    pub fn enabled(&self) -> bool {
        !self.bearer_tokens.is_empty() || !self.basic_auth_users.is_empty()
    }

    /// Checks the section; returns every problem found.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (i, t) in self.bearer_tokens.iter().enumerate() {
            if t.token.len() < 16 {
                errs.push(format!("auth.bearer_tokens[{i}]: token must be at least 16 characters"));
            }
            if t.scopes.is_empty() {
                errs.push(format!("auth.bearer_tokens[{i}]: scopes must not be empty"));
            }
        }
        for (user, hash) in &self.basic_auth_users {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                errs.push(format!("auth.basic_auth_users.{user}: not a bcrypt hash (generate one with htpasswd -nbB or aerowatch hash-password)"));
            }
        }
        errs
    }
}

/// A ready-to-check credential set with a cache of verified basic-auth
/// passwords, because bcrypt is deliberately slow.
pub struct Authenticator {
    config: AuthConfig,
    verified: Mutex<HashMap<String, String>>,
}

impl Authenticator {
    /// Builds from config.
    pub fn new(config: AuthConfig) -> Self {
        Authenticator {
            config,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// True when requests must authenticate.
    pub fn enabled(&self) -> bool {
        self.config.enabled()
    }

    /// True when the status page is open to everyone.
    pub fn public_status_page(&self) -> bool {
        self.config.public_status_page
    }

    fn scopes_for(&self, authorization: Option<&str>) -> Option<BTreeSet<Scope>> {
        let value = authorization?;
        if let Some(token) = value.strip_prefix("Bearer ") {
            return self
                .config
                .bearer_tokens
                .iter()
                .find(|t| constant_time_eq(t.token.as_bytes(), token.trim().as_bytes()))
                .map(|t| t.scopes.iter().copied().collect());
        }
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let hash = self.config.basic_auth_users.get(user)?;
        let cached = self
            .verified
            .lock()
            .get(user)
            .is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()));
        if !cached {
            if !bcrypt::verify(password, hash).unwrap_or(false) {
                return None;
            }
            self.verified.lock().insert(user.to_string(), password.to_string());
        }
        Some(all_scopes().into_iter().collect())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The scope a request needs; `None` for the unauthenticated probes.
/// Alertmanager's API changes state with POST and DELETE (alerts from a
/// Prometheus, silences from amtool): those need `write`.
pub fn required_scope(method: &axum::http::Method, path: &str) -> Option<Scope> {
    match path {
        "/-/healthy" | "/-/ready" => None,
        "/-/reload" | "/-/quit" => Some(Scope::Admin),
        "/api/v1/write" => Some(Scope::Write),
        p if p.starts_with("/api/v1/admin/") => Some(Scope::Admin),
        p if p.starts_with("/metrics/job/") => Some(Scope::Write),
        p if p.starts_with("/api/v1/dashboards")
            && (method == axum::http::Method::POST || method == axum::http::Method::DELETE) =>
        {
            Some(Scope::Write)
        }
        p if p.starts_with("/api/v2/")
            && (method == axum::http::Method::POST || method == axum::http::Method::DELETE) =>
        {
            Some(Scope::Write)
        }
        _ => Some(Scope::Read),
    }
}

/// Middleware enforcing authentication and scopes.
pub async fn enforce(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let auth = st.auth.read().clone();
    if !auth.enabled() {
        return next.run(req).await;
    }
    let Some(needed) = required_scope(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    if auth.public_status_page() && public_status_request(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let header_value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let granted = match header_value {
        Some(h) => tokio::task::spawn_blocking(move || auth.scopes_for(Some(&h)))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match granted {
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"aerowatch\", Bearer")],
            "Unauthorized: send a bearer token or basic-auth credentials\n",
        )
            .into_response(),
        Some(scopes) if !scopes.contains(&needed) => (
            StatusCode::FORBIDDEN,
            format!(
                "Forbidden: this credential lacks the {needed:?} scope needed for {}\n",
                req.uri().path()
            )
            .to_lowercase(),
        )
            .into_response(),
        Some(_) => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_scopes() {
        let a = Authenticator::new(AuthConfig {
            bearer_tokens: vec![TokenConfig {
                token: "reader-token-0123456789".into(),
                scopes: vec![Scope::Read],
            }],
            basic_auth_users: HashMap::new(),
            public_status_page: false,
        });
        let s = a.scopes_for(Some("Bearer reader-token-0123456789")).unwrap();
        assert!(s.contains(&Scope::Read) && !s.contains(&Scope::Write));
        assert!(a.scopes_for(Some("Bearer wrong")).is_none());
        assert!(a.scopes_for(None).is_none());
    }

    #[test]
    fn basic_auth_with_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let a = Authenticator::new(AuthConfig {
            bearer_tokens: vec![],
            basic_auth_users: HashMap::from([("alice".to_string(), hash)]),
            public_status_page: false,
        });
        let ok = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:nope")
        );
        assert!(a.scopes_for(Some(&ok)).is_some());
        assert!(a.scopes_for(Some(&ok)).is_some(), "cached path");
        assert!(a.scopes_for(Some(&bad)).is_none());
    }

    #[test]
    fn validation_reports_weak_tokens_and_bad_hashes() {
        let c = AuthConfig {
            bearer_tokens: vec![TokenConfig {
                token: "short".into(),
                scopes: vec![],
            }],
            basic_auth_users: HashMap::from([("bob".to_string(), "plaintext".to_string())]),
            public_status_page: false,
        };
        assert_eq!(c.validate().len(), 3);
    }

    #[test]
    fn probes_are_open_and_ingest_needs_write() {
        use axum::http::Method;
        assert!(public_status_request(&Method::GET, "/status"));
        assert!(public_status_request(&Method::GET, "/ui/pages/status.js"));
        assert!(!public_status_request(&Method::POST, "/api/health"));
        assert!(!public_status_request(&Method::GET, "/api/v1/query"));
        assert_eq!(required_scope(&Method::GET, "/-/healthy"), None);
        assert_eq!(required_scope(&Method::POST, "/api/v1/write"), Some(Scope::Write));
        assert_eq!(required_scope(&Method::POST, "/-/reload"), Some(Scope::Admin));
        assert_eq!(required_scope(&Method::GET, "/api/v1/query"), Some(Scope::Read));
        assert_eq!(required_scope(&Method::GET, "/api/v2/silences"), Some(Scope::Read));
        assert_eq!(required_scope(&Method::POST, "/api/v2/silences"), Some(Scope::Write));
        assert_eq!(required_scope(&Method::DELETE, "/api/v2/silence/x"), Some(Scope::Write));
    }
}
