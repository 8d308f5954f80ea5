//! The validated configuration the gateway runs on (built by `validate.rs`). Runtime code never re-parses a string:
//! durations are `Duration`, headers are `HeaderName`, paths are compiled patterns.

use super::identity_headers::IdentityHeaders;
use crate::path::pattern::PathPattern;
use http::Method;
use ipnet::IpNet;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub tokens: Tokens,
    pub cookie: Cookie,
    pub upstreams: BTreeMap<String, Upstream>,
    pub routes: Vec<Route>,
    pub identity: IdentityHeaders,
    pub api: ApiRoutes,
    pub rate_limits: RateLimits,
    pub session_cache_max_entries: usize,
    pub passwords: Passwords,
    /// `users.delete: hard` removes rows; soft deletion keeps them, deactivated and marked.
    pub hard_delete: bool,
    pub avatar_max_size: usize,
    pub signup_enabled: bool,
    pub verify_email: bool,
    pub confirm_ttl: Duration,
    pub mail: Mail,
    pub oauth: super::runtime_oauth::OAuth,
    pub pages: Pages,
    pub mfa: Mfa,
    /// The user directory, if one is configured.
    pub directory: Option<super::Ldap>,
    pub audit: Audit,
    /// The OpenID provider (`None`: off).
    pub oidc_provider: Option<std::sync::Arc<super::runtime_oidc::OidcProvider>>,
}

/// The audit trail (`audit:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub retention: Duration,
    pub output: Option<AuditOutput>,
}

/// Where `audit.output` copies the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutput {
    Stdout,
    File(std::path::PathBuf),
}

/// Second factors and passkeys (`mfa:`).
#[derive(Debug, Clone)]
pub struct Mfa {
    pub totp: bool,
    pub issuer: String,
    /// `None`: passkeys are off.
    pub webauthn: Option<WebauthnRp>,
    /// Users with these roles must enrol a second factor at their next password sign-in.
    pub required_for_roles: Vec<String>,
    pub encryption_key_file: Option<PathBuf>,
}

/// The WebAuthn relying party.
#[derive(Debug, Clone)]
pub struct WebauthnRp {
    pub rp_id: String,
    pub rp_name: String,
    /// The first is the primary origin; all are accepted.
    pub origins: Vec<url::Url>,
}

#[derive(Debug, Clone)]
pub struct Pages {
    /// The sign-in page; `None` when the gateway serves no pages.
    pub login_path: Option<String>,
    pub product_name: String,
    pub logo_url: Option<String>,
    pub primary_color: String,
    /// Built-in page templates overlaid with `templates_dir`'s files.
    pub templates: super::templates::Templates,
    /// The admin console; `None` when disabled (or the gateway serves no pages).
    pub admin_path: Option<String>,
}

impl Pages {
    /// The second-step page (a code, a passkey or a recovery code), beside the sign-in page.
    pub fn mfa_path(&self) -> Option<String> {
        self.login_path
            .as_ref()
            .map(|l| format!("{}/mfa", l.trim_end_matches('/')))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpSecurity {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp(Smtp),
    /// One `.eml` file per message, for development.
    Outbox(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: lettre::message::Mailbox,
    pub transport: MailTransport,
    pub reset_path: String,
    pub product_name: String,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// Whether the plain listener runs (`server.listen` set, or no TLS).
    pub listen_plain: bool,
    pub tls: Option<Tls>,
    pub http2: bool,
    pub redirect_to_https: bool,
    /// The routes' host patterns: a browser may be sent back to any of them after signing in.
    pub redirect_hosts: Vec<String>,
    pub admin_listen: Option<SocketAddr>,
    pub public_url: String,
    /// `scheme://host[:port]` of `public_url`: what a same-origin browser sends as `Origin`.
    pub public_origin: String,
    pub trusted_proxies: Vec<IpNet>,
    /// Exact origins a redirect may lead to besides our own paths.
    pub redirect_origins: Vec<String>,
    pub max_header_size: usize,
    pub body_timeout: Duration,
    pub header_timeout: Duration,
    pub threads: usize,
    pub grace_period: Duration,
    pub max_body_size: usize,
    pub data_dir: PathBuf,
    /// `server.environment` is production: development conveniences are refused.
    pub production: bool,
    /// The gateway is reachable beyond this machine (`public_url` or a listener is not
    /// loopback); with `production` false that is worth a warning and a banner.
    pub exposed: bool,
}

/// The HTTPS listener: its address and certificate files (checked when the config loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub listen: SocketAddr,
    pub default: crate::certs::Pair,
    pub certificates: Vec<(Vec<String>, crate::certs::Pair)>,
    /// Each certificate file's leaf `notAfter` (Unix seconds), as loaded.
    pub not_after: Vec<(PathBuf, i64)>,
    /// `Strict-Transport-Security` on every answer over this listener (`None`: off).
    pub hsts: Option<http::HeaderValue>,
}

impl Tls {
    /// Certificates that expire within 14 days (or have), one sentence each.
    pub fn expiring(&self, now: i64) -> Vec<String> {
        const SOON: i64 = 14 * 24 * 3600;
        self.not_after
            .iter()
            .filter(|(_, at)| at - now < SOON)
            .map(|(file, at)| {
                let when = std::time::UNIX_EPOCH + Duration::from_secs((*at).max(0) as u64);
                let when = humantime::format_rfc3339_seconds(when);
                if *at <= now {
                    format!("{} expired on {when}", file.display())
                } else {
                    let days = (at - now) / 86_400;
                    format!("{} expires on {when}, in {days} days", file.display())
                }
            })
            .collect()
    }

    /// Loads the certificates afresh from their files.
    pub fn load(&self) -> Result<crate::certs::Set, String> {
        crate::certs::Set::load(&self.default, &self.certificates)
    }
}

#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
    pub outage_grace: Duration,
}

#[derive(Debug, Clone)]
pub enum TokenKey {
    /// HMAC-SHA256. `None`: generate one on first start and keep it in the data directory.
    Hs256(Option<SecretString>),
    /// Ed25519 keys in PEM files.
    EdDsa {
        private_key_file: PathBuf,
        public_key_file: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub key: TokenKey,
    pub issuer: String,
    pub audience: String,
    pub expiration: Duration,
    pub expiration_long: Duration,
    pub leeway: Duration,
    pub idle_timeout: Option<Duration>,
    pub max_session_age: Option<Duration>,
    /// How long after signing in a session may set a new password without the current one.
    pub fresh_for: Duration,
    pub assertion_key_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    /// `Domain=` of the session cookie (`cookie.domain`); host-only when `None`.
    pub domain: Option<String>,
    pub secure: bool,
    pub same_site: SameSite,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    Addrs(Vec<SocketAddr>),
    /// Host names and ports (a Kubernetes Service, say), resolved when the config loads and
    /// again every few seconds (`tasks::Resolve`); requests go to the addresses last found.
    Named(Vec<(String, u16)>),
    /// The built-in echo upstream that shows what the app would receive.
    Whoami,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub target: UpstreamTarget,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub assertion: bool,
}

/// Whether a route looks at credentials, and whether it needs them. Who among the callers
/// may come is its [`super::Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRule {
    /// Public: never authenticates, never injects identity.
    None,
    /// Injects identity when a valid token comes along; denies only what its policy denies.
    Optional,
    /// Any valid session (or API key), and what its policy asks.
    Required,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub path: PathPattern,
    pub host: Option<String>,
    pub methods: Option<Vec<Method>>,
    pub upstream: String,
    pub auth: AuthRule,
    /// Who may come: `allow` and `deny` blocks (`auth: { roles, mfa, scopes }` is one allow
    /// block).
    pub policy: super::Policy,
    /// Whether a browser without a session is sent to the sign-in page.
    pub redirect_browsers: bool,
    /// Requests per client IP, checked before authentication.
    pub rate_limit: Option<Limit>,
    /// Pass the caller's own token (Bearer, session cookie) on to the app.
    pub forward_token: bool,
}

/// Where each terminated API route is served; `None` when disabled.
#[derive(Debug, Clone, Default)]
pub struct ApiRoutes {
    pub login: Option<String>,
    pub logout: Option<String>,
    pub logout_others: Option<String>,
    pub logout_all: Option<String>,
    pub renew_token: Option<String>,
    pub profile: Option<String>,
    /// Prefix of the Nuxt Users family (`/api/nuxt-users`).
    pub nuxt_users: Option<String>,
    /// The Nuxt Aegis paths (`/auth/...`, `/api/user/me`): served when a provider is configured.
    pub aegis: bool,
    /// The mock identity provider (`/mock/...`): served when a mock provider is configured.
    pub mock: bool,
    /// The sign-in page and its form.
    pub login_page: Option<String>,
    /// The page a magic link opens (confirm, then sign in).
    pub magic_page: Option<String>,
    /// The account page and its forms (`/account`, `/account/avatar`, `/account/sessions`).
    pub account_page: Option<String>,
    /// The admin console and its forms (`/account/admin/...`).
    pub admin_console: Option<String>,
    /// Other pages: forgot-password and the reset page the emailed link opens.
    pub other_pages: Vec<String>,
    /// Prefix of the browser-session family (`/api/auth`: sessions, magic links, avatar).
    pub auth: Option<String>,
    /// The current token's claims (`/api/user/me`).
    pub user_me: Option<String>,
    /// Traefik `ForwardAuth` / Caddy `forward_auth` checks (off unless configured).
    pub forward_auth: Option<String>,
    /// nginx `auth_request` checks (off unless configured).
    pub auth_request: Option<String>,
    /// Envoy `ext_authz` (HTTP service) checks, a prefix: the original path follows it (off
    /// unless configured).
    pub ext_authz: Option<String>,
    /// The OpenID provider's prefix (`oidc_provider.path`) and discovery path, when it is on.
    pub oidc: Option<String>,
    pub oidc_discovery: Option<String>,
}

/// The edge-proxy check endpoints: served only when configured (`true` for the default path),
/// since each takes a path from every app behind the gateway.
pub const EDGE_ROUTE_DEFAULTS: &[(&str, &str)] = &[
    ("forward-auth", "/auth/forward"),
    ("auth-request", "/auth/request"),
    ("ext-authz", "/auth/ext-authz"),
];

/// Which edge proxy's protocol a check endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeAsker {
    /// Traefik `ForwardAuth`, Caddy `forward_auth`: `X-Forwarded-Method/Proto/Host/Uri`;
    /// a browser without a session is redirected to sign in.
    ForwardAuth,
    /// nginx `auth_request`: `X-Original-URL` (or `-URI` and `-Method`); only 200, 401, 403.
    AuthRequest,
    /// Envoy `ext_authz` over HTTP (and Istio's `CUSTOM` action): the original method, host
    /// and path, the path appended to the endpoint's prefix; answered like forward-auth.
    ExtAuthz,
}

/// The API route keys an operator may rename or disable, with their default paths.
pub const API_ROUTE_DEFAULTS: &[(&str, &str)] = &[
    ("login", "/api/login"),
    ("logout", "/api/logout"),
    ("logout-others", "/api/logout-others"),
    ("logout-all", "/api/logout-all"),
    ("renew-token", "/api/renew-token"),
    ("profile", "/api/profile"),
    ("nuxt-users", "/api/nuxt-users"),
    ("auth", "/api/auth"),
    ("user-me", "/api/user/me"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    pub login: Option<Limit>,
    /// `GET /auth/{provider}` per client IP: each one stores a sign-in state.
    pub oauth: Option<Limit>,
    pub account: BackoffPolicy,
    /// Requests per API key.
    pub api_key: Option<Limit>,
    /// The OpenID token endpoint, per client address and per client_id.
    pub oidc_token: Option<Limit>,
    pub oidc_client: Option<Limit>,
}

#[derive(Debug, Clone)]
pub struct Passwords {
    pub min_length: usize,
    pub max_concurrent_hashes: usize,
    pub reset_ttl: Duration,
}

impl Config {
    /// The largest request body the control plane reads for `path`: avatars may be larger.
    pub fn body_limit(&self, path: &str) -> usize {
        let avatar = self.api.auth.as_deref().map(|p| format!("{p}/avatar"));
        let account_avatar = self
            .api
            .account_page
            .as_deref()
            .map(|p| format!("{p}/avatar"));
        if avatar.as_deref() == Some(path) || account_avatar.as_deref() == Some(path) {
            // Room for the multipart envelope around the image.
            self.avatar_max_size + 64 * 1024
        } else {
            self.server.max_body_size
        }
    }
}

impl ApiRoutes {
    /// The routes in the order of [`API_ROUTE_DEFAULTS`].
    pub(super) fn all(&self) -> [&Option<String>; 9] {
        [
            &self.login,
            &self.logout,
            &self.logout_others,
            &self.logout_all,
            &self.renew_token,
            &self.profile,
            &self.nuxt_users,
            &self.auth,
            &self.user_me,
        ]
    }

    pub(super) fn slot(&mut self, key: &str) -> &mut Option<String> {
        match key {
            "login" => &mut self.login,
            "logout" => &mut self.logout,
            "logout-others" => &mut self.logout_others,
            "logout-all" => &mut self.logout_all,
            "renew-token" => &mut self.renew_token,
            "profile" => &mut self.profile,
            "nuxt-users" => &mut self.nuxt_users,
            "auth" => &mut self.auth,
            "forward-auth" => &mut self.forward_auth,
            "auth-request" => &mut self.auth_request,
            "ext-authz" => &mut self.ext_authz,
            _ => &mut self.user_me,
        }
    }

    /// The edge-proxy check endpoints in the order of [`EDGE_ROUTE_DEFAULTS`], with their
    /// paths (`None`: off).
    pub fn edges(&self) -> [(EdgeAsker, &Option<String>); 3] {
        [
            (EdgeAsker::ForwardAuth, &self.forward_auth),
            (EdgeAsker::AuthRequest, &self.auth_request),
            (EdgeAsker::ExtAuthz, &self.ext_authz),
        ]
    }

    /// The edge-proxy check served at this path, if any: the exact path, or for `ext_authz`
    /// anything under its prefix (where the original path follows).
    pub fn edge_asker(&self, path: &str) -> Option<EdgeAsker> {
        self.edges().into_iter().find_map(|(asker, at)| {
            let at = at.as_deref()?;
            let rest = path.strip_prefix(at)?;
            let under = asker == EdgeAsker::ExtAuthz && rest.starts_with('/');
            (rest.is_empty() || under).then_some(asker)
        })
    }

    /// Whether the control plane serves this exact path (no allocation: runs per request).
    pub fn serves(&self, path: &str) -> bool {
        let family = |prefix: &Option<String>| {
            prefix.as_deref().is_some_and(|p| {
                path.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        };
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.all().into_iter().any(|p| p.as_deref() == Some(path))
            || family(&self.nuxt_users)
            || (self.aegis && under("/auth"))
            || (self.mock && under("/mock"))
            || self.login_page.as_deref() == Some(path)
            || self.magic_page.as_deref() == Some(path)
            || family(&self.account_page)
            || family(&self.admin_console)
            || self.other_pages.iter().any(|p| p == path)
            || family(&self.auth)
            || family(&self.oidc)
            || self.oidc_discovery.as_deref() == Some(path)
            || path == JWKS_PATH
    }
}

impl Server {
    /// Where `returnTo`/`redirectTo` may send a browser besides the gateway's own paths.
    pub fn redirects(&self) -> crate::redirect::Policy<'_> {
        crate::redirect::Policy {
            origins: &self.redirect_origins,
            hosts: &self.redirect_hosts,
            https_only: self.public_url.starts_with("https:"),
        }
    }
}

/// Shortest HS256 secret accepted: 256 bits, the size of the HMAC-SHA256 output.
pub const MIN_SECRET_BYTES: usize = 32;

/// Per-account login backoff (see `auth::backoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Failures before the first wait.
    pub free_failures: u32,
    /// The longest wait, in seconds.
    pub max_wait: i64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            free_failures: 5,
            max_wait: 60,
        }
    }
}

/// Where the identity assertion's public key is published (served by the gateway).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The stores a database URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which store `url` names, by its scheme; `None` for one this build cannot open.
pub fn backend(url: &str) -> Option<Backend> {
    match url.split_once(':')?.0 {
        "sqlite" => Some(Backend::Sqlite),
        "postgres" | "postgresql" => Some(Backend::Postgres),
        _ => None,
    }
}
