//! Validated OAuth configuration.

use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OAuth {
    pub success_url: String,
    pub allow_signup: bool,
    pub link_by_verified_email: bool,
    pub code_ttl: Duration,
    pub refresh: Refresh,
    pub providers: BTreeMap<String, Provider>,
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub cookie: String,
    pub ttl: Duration,
    pub absolute: Duration,
    pub grace: Duration,
    pub rotate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub picture: Option<String>,
    pub email_verified: bool,
    /// Every other claim the persona carries (ID token and userinfo).
    pub claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// The built-in identity provider, served by the gateway under `/mock`.
    Mock { personas: Vec<Persona> },
    /// Any OpenID Connect provider, by issuer (Google and Auth0 are presets of this).
    Oidc { issuer: String },
    /// GitHub: plain OAuth 2.0 with its user API (endpoints overridable for GitHub Enterprise).
    Github {
        auth_url: String,
        token_url: String,
        api_url: String,
    },
}

#[derive(Debug, Clone)]
pub enum ClaimSource {
    Static(serde_json::Value),
    From(String),
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub role: String,
    pub claims: BTreeMap<String, ClaimSource>,
    /// An RFC 6901 pointer to the claim naming the user's groups; `None`: the provider's
    /// sign-ins leave groups alone.
    pub groups: Option<String>,
}
