//! The validated OpenID provider: its issuer and paths, key algorithm, lifetimes and clients,
//! with every choice already made (auth method, redirect URI matching, consent, subject).

use super::Policy;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OidcProvider {
    pub issuer: String,
    /// The prefix every endpoint but discovery lives under (`/oidc`).
    pub path: String,
    pub signing: SigningAlg,
    pub key_dir: PathBuf,
    pub lifetimes: Lifetimes,
    pub clients: BTreeMap<String, Client>,
}

/// Where discovery is served: `{issuer's path}/.well-known/openid-configuration` (Discovery
/// 1.0 §4).
pub const DISCOVERY: &str = "/.well-known/openid-configuration";

impl OidcProvider {
    /// The path of discovery on this gateway.
    pub fn discovery_path(&self) -> String {
        let path = url::Url::parse(&self.issuer)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        format!("{path}{DISCOVERY}")
    }

    /// `{public base}{path}{endpoint}`: an endpoint's absolute URL.
    pub fn endpoint(&self, public_url: &str, name: &str) -> String {
        format!("{}{}/{name}", public_url.trim_end_matches('/'), self.path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub code: Duration,
    pub access_token: Duration,
    pub id_token: Duration,
    pub refresh_token: Duration,
    pub refresh_absolute: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            code: Duration::from_secs(60),
            access_token: Duration::from_secs(600),
            id_token: Duration::from_secs(600),
            refresh_token: Duration::from_secs(30 * 86_400),
            refresh_absolute: Duration::from_secs(90 * 86_400),
        }
    }
}

impl Lifetimes {
    /// The longest a token signed now stays valid: how long a retired key is still published.
    pub fn longest_signed(&self) -> Duration {
        self.access_token.max(self.id_token)
    }
}

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A public client (a browser or native app): PKCE alone binds the code to it.
    None,
    /// A shared secret, compared in constant time (or verified against its argon2 hash).
    Secret {
        secret: ClientSecret,
        /// `client_secret_basic` (Authorization: Basic) or `client_secret_post` (form).
        in_body: bool,
    },
    /// `private_key_jwt` (RFC 7523): an assertion signed with one of the client's keys.
    PrivateKeyJwt(ClientKeys),
}

#[derive(Debug, Clone)]
pub enum ClientSecret {
    Plain(SecretString),
    /// An argon2 PHC string.
    Hash(String),
}

#[derive(Debug, Clone)]
pub enum ClientKeys {
    /// A JWK set given inline.
    Inline(serde_json::Value),
    /// A JWK set fetched from the client (cached).
    Uri(String),
}

/// A registered redirect URI: matched exactly, except a loopback IP literal with no port
/// registered for a native app, which matches any port (RFC 8252 §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectUri {
    Exact(String),
    /// `http://127.0.0.1/cb` or `http://[::1]/cb`: everything but the port must match.
    LoopbackAnyPort {
        host: String,
        rest: String,
    },
}

impl RedirectUri {
    /// Whether `asked` is this URI, byte for byte (or with any port, for loopback).
    pub fn matches(&self, asked: &str) -> bool {
        match self {
            RedirectUri::Exact(u) => u == asked,
            RedirectUri::LoopbackAnyPort { host, rest } => {
                let Some(after) = asked
                    .strip_prefix("http://")
                    .and_then(|a| a.strip_prefix(host.as_str()))
                else {
                    return false;
                };
                let after = match after.strip_prefix(':') {
                    Some(p) => {
                        let digits = p.bytes().take_while(u8::is_ascii_digit).count();
                        if digits == 0 || digits > 5 {
                            return false;
                        }
                        &p[digits..]
                    }
                    None => after,
                };
                after == rest
            }
        }
    }
}

/// The scopes a client may be granted (and what they release).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    OpenId,
    Profile,
    Email,
    Groups,
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::Groups,
        Scope::OfflineAccess,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::Groups => "groups",
            Scope::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.name() == s)
    }

    /// What the consent page says it lets the app do.
    pub fn in_words(self) -> &'static str {
        match self {
            Scope::OpenId => "Know who you are (your account's identifier)",
            Scope::Profile => "See your name and picture",
            Scope::Email => "See your email address",
            Scope::Groups => "See the groups you are in",
            Scope::OfflineAccess => "Keep access while you are signed out",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub authorization_code: bool,
    pub refresh_token: bool,
    pub client_credentials: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Never asked: the operator registered the client for its users.
    Implicit,
    /// Asked at every authorization.
    Explicit,
    /// Asked once, remembered this long per user and scopes.
    Remember(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The user's id, the same for every client.
    Public,
    /// A per-sector hash of the user's id (OIDC Core §8.1): clients of other sectors cannot
    /// correlate their users.
    Pairwise { sector: String },
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub auth: ClientAuth,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Sorted, unique.
    pub scopes: Vec<Scope>,
    pub grants: Grants,
    /// For `client_credentials`: the email of the user its tokens name.
    pub service_account: Option<String>,
    pub consent: Consent,
    pub subject: Subject,
    /// Who may sign in to it.
    pub policy: Policy,
    /// For public clients: the origins of its redirect URIs, allowed by CORS on the token and
    /// userinfo endpoints.
    pub cors_origins: Vec<String>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        matches!(self.auth, ClientAuth::None)
    }

    pub fn redirect_allowed(&self, asked: &str) -> bool {
        self.redirect_uris.iter().any(|r| r.matches(asked))
    }
}

/// The clients by id.
pub type Clients = BTreeMap<String, Client>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_or_on_loopback_with_any_port() {
        let exact = RedirectUri::Exact("https://app.test/cb".into());
        assert!(exact.matches("https://app.test/cb"));
        for other in [
            "https://app.test/cb/",
            "https://APP.test/cb",
            "https://app.test/cb?x=1",
            "https://app.test/Cb",
            "https://app.test:443/cb",
        ] {
            assert!(!exact.matches(other), "{other}");
        }
        let native = RedirectUri::LoopbackAnyPort {
            host: "127.0.0.1".into(),
            rest: "/cb".into(),
        };
        for ok in ["http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"] {
            assert!(native.matches(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:5x/cb",
            "http://127.0.0.1:51234/cb/x",
            "http://127.0.0.1.evil.test/cb",
            "http://127.0.0.1:80@evil.test/cb",
            "https://127.0.0.1:1/cb",
            "http://localhost:1/cb",
            "http://127.0.0.1:123456/cb",
        ] {
            assert!(!native.matches(bad), "{bad}");
        }
    }
}
