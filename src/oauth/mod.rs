//! OAuth 2.0 / OpenID Connect sign-in (the Nuxt Aegis contract): provider flow, one-time
//! authorization codes, rotating refresh tokens, and the built-in mock provider.

pub mod callback;
pub mod discovery;
pub mod flow;
pub mod github;
pub mod identity;
pub mod mock;
pub mod oidc;
pub mod page;
pub mod tokens;

use sha2::{Digest, Sha256};

pub struct Runtime {
    /// No redirects: a token or discovery endpoint that redirects is an error, not a hop.
    pub http: reqwest::Client,
    pub discovery: discovery::Cache,
    pub mock: Option<mock::MockIdp>,
    /// Derives a refresh token's successor, so parallel refreshes agree on it.
    pub refresh_key: [u8; 32],
}

impl Runtime {
    /// `secret`: the gateway's signing key material; the keys derived from it are shared by
    /// every instance with the same secret.
    pub fn new(cfg: &crate::config::Config, secret: &[u8]) -> Result<Self, String> {
        let derive = |label: &str| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(label.as_bytes());
            h.update(secret);
            h.finalize().into()
        };
        let has_mock = cfg
            .oauth
            .providers
            .values()
            .any(|p| matches!(p.kind, crate::config::ProviderKind::Mock { .. }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Runtime {
            http,
            discovery: discovery::Cache::default(),
            mock: if has_mock {
                Some(mock::MockIdp::from_seed(&derive("portcullis/mock-idp/"))?)
            } else {
                None
            },
            refresh_key: derive("portcullis/refresh-rotation/"),
        })
    }
}

/// An HttpOnly cookie scoped to `/auth` (the sign-in state, the refresh token).
pub fn auth_cookie(state: &crate::state::State, name: &str, value: &str, max_age: i64) -> String {
    cookie::Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .secure(state.config().cookie.secure)
        .same_site(cookie::SameSite::Lax)
        .path("/auth")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

/// SHA-256 hex, for values stored only as hashes (state, codes, refresh tokens).
pub fn hash(v: &str) -> String {
    crate::auth::one_time::hash(v)
}
