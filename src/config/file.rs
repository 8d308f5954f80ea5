//! The config *file* schema: exactly what the operator writes, nothing derived.
//! `runtime.rs` turns it into types where invalid states cannot exist.

use super::duration::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub database: DatabaseFile,
    #[serde(default)]
    pub tokens: TokensFile,
    #[serde(default)]
    pub cookie: CookieFile,
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamFile>,
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    /// Named lists of CIDR blocks, for the routes' `networks` criteria.
    #[serde(default)]
    pub networks: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub identity_headers: IdentityHeadersFile,
    #[serde(default)]
    pub api: ApiFile,
    #[serde(default)]
    pub rate_limits: RateLimitsFile,
    #[serde(default)]
    pub session_cache: SessionCacheFile,
    #[serde(default)]
    pub passwords: PasswordsFile,
    #[serde(default)]
    pub users: UsersFile,
    #[serde(default)]
    pub signup: SignupFile,
    #[serde(default)]
    pub mail: MailFile,
    #[serde(default)]
    pub oauth: super::file_oauth::OAuthFile,
    #[serde(default)]
    pub pages: PagesFile,
    #[serde(default)]
    pub mfa: MfaFile,
    /// A user directory beside the local users (LDAP, Active Directory).
    #[serde(default)]
    pub directory: super::file_directory::DirectoryFile,
    /// The audit trail.
    #[serde(default)]
    pub audit: AuditFile,
    /// The gateway as an OpenID provider for apps that speak OpenID Connect.
    #[serde(default)]
    pub oidc_provider: super::file_oidc::OidcProviderFile,
}

/// The audit trail: how long it is kept, and where else it goes.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    /// Events older than this are purged from the start of the chain (default 365d).
    pub retention: Option<HumanDuration>,
    /// `stdout`, or a file the events are appended to as JSON lines (default: neither).
    pub output: Option<String>,
}

/// Second factors and passkeys.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MfaFile {
    #[serde(default)]
    pub totp: TotpFile,
    #[serde(default)]
    pub webauthn: WebauthnFile,
    #[serde(default)]
    pub required_for_roles: Vec<String>,
    /// 32 random bytes (raw, or 64 hex characters) sealing TOTP secrets; by default a key
    /// derived from the token secret.
    pub encryption_key_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TotpFile {
    pub enabled: Option<bool>,
    pub issuer: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebauthnFile {
    pub enabled: Option<bool>,
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    pub origins: Option<Vec<String>>,
}

/// The gateway's own pages (sign-in, account) and their look.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PagesFile {
    pub enabled: Option<bool>,
    pub login_path: Option<String>,
    pub product_name: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    /// A directory whose `.html` files replace the built-in page templates of the same name.
    pub templates_dir: Option<String>,
    /// The admin console (default `/account/admin`; `false` disables it).
    pub admin_path: Option<RouteSetting>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MailFile {
    pub from: Option<String>,
    /// Without `smtp`, mail goes to `.eml` files under `outbox_dir` (in development, or in
    /// production with `outbox: true`).
    pub smtp: Option<SmtpFile>,
    /// Write mail to `.eml` files on purpose (a production gateway refuses to start without
    /// `smtp` otherwise).
    pub outbox: Option<bool>,
    pub outbox_dir: Option<String>,
    /// Where the reset link points (the page that asks for the new password).
    pub reset_path: Option<String>,
    pub product_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    pub host: String,
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    pub security: Option<SmtpSecurityFile>,
    pub username: Option<String>,
    /// Prefer env PORTCULLIS_SMTP_PASSWORD.
    pub password: Option<secrecy::SecretString>,
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    /// `soft` (default: deactivate and mark deleted) or `hard` (remove the row).
    pub delete: Option<DeleteFile>,
    /// Largest avatar upload, in bytes (default 2 MiB).
    pub avatar_max_size: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SignupFile {
    pub enabled: Option<bool>,
    /// How long an email-confirmation link works.
    pub confirm_ttl: Option<HumanDuration>,
    /// Sign-ups must confirm their email before they get a session (default true).
    pub verify_email: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub public_url: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Origins (`https://app.example.com`) that `returnTo`/`redirectTo` may lead to besides
    /// our own paths; exact matches only.
    #[serde(default)]
    pub redirect_origins: Vec<String>,
    /// Largest request head (all header names and values) accepted; 431 beyond it.
    pub max_header_size: Option<usize>,
    /// A request head must arrive whole within this; the connection is cut otherwise.
    pub header_timeout: Option<HumanDuration>,
    /// The whole body of a request to the auth API must arrive within this; 408 otherwise.
    pub body_timeout: Option<HumanDuration>,
    pub threads: Option<usize>,
    pub grace_period: Option<HumanDuration>,
    pub max_body_size: Option<usize>,
    pub data_dir: Option<String>,
    /// `development` or `production`: production refuses development-only features. The
    /// default is `development` only while `public_url` and every listener are on loopback.
    pub environment: Option<EnvironmentFile>,
    /// An HTTPS listener.
    pub tls: Option<TlsFile>,
    /// HTTP/2 through ALPN on the TLS listener (default true); never h2c.
    pub http2: Option<bool>,
    /// The plain listener answers 308 to https (except `/.well-known/acme-challenge/`).
    pub redirect_to_https: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub listen: String,
    /// PEM: the leaf first, its chain after.
    pub cert_file: String,
    pub key_file: String,
    /// More certificates, chosen by SNI; `cert_file` is the default.
    #[serde(default)]
    pub certificates: Vec<CertificateFile>,
    /// `Strict-Transport-Security` on every HTTPS answer (default: one year); `false` for none.
    pub hsts: Option<HstsFile>,
}

/// `server.tls.hsts`: `true`/`false`, or the header's settings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HstsFile {
    Enabled(bool),
    Settings(HstsSettingsFile),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HstsSettingsFile {
    /// How long browsers keep to HTTPS (`max-age`), e.g. `31536000` or `"365 days"`.
    pub max_age: Option<HumanDuration>,
    pub include_subdomains: Option<bool>,
    /// Asks for the browsers' preload lists (needs include_subdomains and a year or more).
    pub preload: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFile {
    pub hosts: Vec<String>,
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DatabaseFile {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    /// With PostgreSQL: how long cached sessions keep working once the database is lost.
    pub outage_grace: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    pub secret: Option<secrecy::SecretString>,
    pub algorithm: Option<AlgorithmFile>,
    pub private_key_file: Option<String>,
    pub public_key_file: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub expiration: Option<HumanDuration>,
    pub expiration_long: Option<HumanDuration>,
    pub leeway: Option<HumanDuration>,
    /// A session not used for this long ends (remembered sessions excepted). Off by default.
    pub idle_timeout: Option<HumanDuration>,
    /// No session lives longer than this from its sign-in, however often it is renewed.
    pub max_session_age: Option<HumanDuration>,
    /// A sign-in this recent may change the password without the current one (default 10
    /// minutes).
    pub fresh_for: Option<HumanDuration>,
    /// Ed25519 private key (PKCS#8 PEM) for identity assertions; generated into data_dir
    /// when unset. Several instances share one by naming the same file.
    pub assertion_key_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CookieFile {
    pub name: Option<String>,
    /// A parent domain of `public_url`'s host: one sign-in for every subdomain.
    pub domain: Option<String>,
    /// `auto`, `true` or `false`.
    pub secure: Option<BoolOrAuto>,
    pub same_site: Option<SameSiteFile>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(untagged)]
pub enum BoolOrAuto {
    Bool(bool),
    Word(AutoWord),
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    #[serde(default)]
    pub addrs: Vec<String>,
    /// A built-in upstream served by the gateway itself (`whoami`).
    pub builtin: Option<String>,
    pub connect_timeout: Option<HumanDuration>,
    pub read_timeout: Option<HumanDuration>,
    pub write_timeout: Option<HumanDuration>,
    /// Send this upstream a signed identity assertion (`X-Auth-Assertion`).
    #[serde(default)]
    pub assertion: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub name: Option<String>,
    pub path: String,
    pub host: Option<String>,
    pub methods: Option<Vec<String>>,
    pub upstream: String,
    /// `none`, `optional`, `required` or `{ roles, mfa, scopes }` (one allow block); with an
    /// allow list, `optional` unless given.
    pub auth: Option<AuthFile>,
    /// Blocks of criteria: one that holds lets the request through.
    pub allow: Option<Vec<super::file_policy::BlockFile>>,
    /// Blocks of criteria: one that holds refuses the request (403), whatever `allow` says.
    pub deny: Option<Vec<super::file_policy::BlockFile>>,
    /// `redirect` (browsers go to the sign-in page; the default) or `deny` (always 401).
    pub on_unauthenticated: Option<String>,
    /// Requests per client IP on this route; 429 with `Retry-After` beyond it.
    pub rate_limit: Option<LimitFile>,
    /// Overrides `identity_headers.forward_token` for this route.
    pub forward_token: Option<bool>,
}

/// `none`, `optional`, `required`, or `{ roles: [...] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AuthFile {
    Keyword(String),
    Roles(RolesFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesFile {
    #[serde(default)]
    pub roles: Vec<String>,
    /// Step-up: only sessions whose sign-in used a second factor.
    #[serde(default)]
    pub mfa: bool,
    /// Only an API key holding every one of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityHeadersFile {
    pub prefix: Option<String>,
    /// Also pass the user's token (Bearer header, session cookie) to the app. Off by default:
    /// the app gets identity headers and cannot replay the user's credentials.
    pub forward_token: Option<bool>,
    /// Also send the user's picture URL (`{prefix}Picture`).
    pub picture: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    #[serde(default)]
    pub routes: BTreeMap<String, RouteSetting>,
}

/// A path to serve an API route at, or `false` to disable it.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum RouteSetting {
    Enabled(bool),
    Path(String),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsFile {
    pub login: Option<LimitFile>,
    /// `GET /auth/{provider}` per client IP (default 60 a minute, bursts of 20).
    pub oauth: Option<LimitFile>,
    pub account: Option<AccountBackoffFile>,
    /// Requests per API key.
    pub api_key: Option<LimitFile>,
    /// The OpenID provider's token endpoint per client address (default 300 a minute,
    /// bursts of 60).
    pub oidc_token: Option<LimitFile>,
    /// The OpenID provider's token endpoint per client_id (default 600 a minute, bursts of
    /// 120): a guessed secret is slowed even from many addresses.
    pub oidc_client: Option<LimitFile>,
}

/// Per-account login backoff: `{ free_failures: 5, max_backoff: "60s" }`.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct AccountBackoffFile {
    pub free_failures: Option<u32>,
    pub max_backoff: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct LimitFile {
    pub per_minute: u32,
    pub burst: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SessionCacheFile {
    pub max_entries: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordsFile {
    pub min_length: Option<usize>,
    pub max_concurrent_hashes: Option<usize>,
    /// How long a password-reset link works.
    pub reset_ttl: Option<HumanDuration>,
}

/// `mail.smtp.security`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurityFile {
    None,
    StartTls,
    Tls,
}

/// `tokens.algorithm`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmFile {
    HS256,
    EdDSA,
}

/// `users.delete`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeleteFile {
    Soft,
    Hard,
}

/// `server.environment`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentFile {
    Development,
    Production,
}

/// `cookie.same_site`, in any case.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SameSiteFile {
    #[serde(alias = "Lax", alias = "LAX")]
    Lax,
    #[serde(alias = "Strict", alias = "STRICT")]
    Strict,
    #[serde(alias = "None", alias = "NONE")]
    None,
}
