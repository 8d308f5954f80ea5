//! The validated configuration the gateway runs on. Runtime code never re-parses a string:
//! durations are `Duration`, headers are `HeaderName`, paths are compiled patterns.

use super::error::ConfigError;
use super::file::{self, AuthFile, BoolOrAuto, FileConfig, RouteSetting};
use crate::proxy::routes::PathPattern;
use http::{HeaderName, Method};
use ipnet::IpNet;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
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
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub public_url: String,
    pub trusted_proxies: Vec<IpNet>,
    pub threads: usize,
    pub grace_period: Duration,
    pub max_body_size: usize,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
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
    pub secure: bool,
    pub same_site: SameSite,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    Addrs(Vec<SocketAddr>),
    /// The built-in echo upstream that shows what the app would receive.
    Whoami,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub target: UpstreamTarget,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRule {
    /// Public: never authenticates, never injects identity.
    None,
    /// Injects identity when a valid token comes along; never denies.
    Optional,
    /// Any valid session.
    Required,
    /// A valid session whose role is one of these.
    Roles(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub path: PathPattern,
    pub host: Option<String>,
    pub methods: Option<Vec<Method>>,
    pub upstream: String,
    pub auth: AuthRule,
}

#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// Lower-cased prefix; any client header starting with it is removed.
    pub prefix: String,
    pub user_id: HeaderName,
    pub email: HeaderName,
    pub name: HeaderName,
    pub role: HeaderName,
    pub session_id: HeaderName,
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
}

/// The API route keys an operator may rename or disable, with their default paths.
pub const API_ROUTE_DEFAULTS: &[(&str, &str)] = &[
    ("login", "/api/login"),
    ("logout", "/api/logout"),
    ("logout-others", "/api/logout-others"),
    ("logout-all", "/api/logout-all"),
    ("renew-token", "/api/renew-token"),
    ("profile", "/api/profile"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    pub login: Option<Limit>,
}

#[derive(Debug, Clone)]
pub struct Passwords {
    pub min_length: usize,
    pub max_concurrent_hashes: usize,
}

impl ApiRoutes {
    /// The routes in the order of [`API_ROUTE_DEFAULTS`].
    fn all(&self) -> [&Option<String>; 6] {
        [
            &self.login,
            &self.logout,
            &self.logout_others,
            &self.logout_all,
            &self.renew_token,
            &self.profile,
        ]
    }

    fn slot(&mut self, key: &str) -> &mut Option<String> {
        match key {
            "login" => &mut self.login,
            "logout" => &mut self.logout,
            "logout-others" => &mut self.logout_others,
            "logout-all" => &mut self.logout_all,
            "renew-token" => &mut self.renew_token,
            _ => &mut self.profile,
        }
    }

    /// Whether the control plane serves this exact path (no allocation: runs per request).
    pub fn serves(&self, path: &str) -> bool {
        self.all().into_iter().any(|p| p.as_deref() == Some(path))
    }
}

/// Shortest HS256 secret accepted: 256 bits, the size of the HMAC-SHA256 output.
pub const MIN_SECRET_BYTES: usize = 32;
/// NIST SP 800-63B: at least 8 characters.
const DEFAULT_MIN_PASSWORD: usize = 8;
/// Ceiling on how far `exp`/`nbf` may be stretched for clock skew.
const MAX_LEEWAY: Duration = Duration::from_secs(30);

pub(super) fn validate(f: FileConfig, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let server = server(f.server, &mut errs);
    let database = Database {
        url: f
            .database
            .url
            .unwrap_or_else(|| "sqlite://data/portcullis.db".into()),
        max_connections: f.database.max_connections.unwrap_or(8).max(1),
    };
    if !database.url.starts_with("sqlite:") {
        errs.push(ConfigError::at(
            "database.url",
            "only sqlite:// URLs are supported by this build",
        ));
    }
    let tokens = tokens(f.tokens, base, &mut errs);
    let cookie = cookie(f.cookie, &server.public_url, &mut errs);
    let upstreams = upstreams(f.upstreams, &mut errs);
    let routes = routes(f.routes, &upstreams, &mut errs);
    let identity = identity(f.identity_headers, &mut errs);
    let api = api_routes(f.api, &mut errs);
    let rate_limits = RateLimits {
        login: f
            .rate_limits
            .login
            .and_then(|l| limit(l, "rate_limits.login", &mut errs)),
    };
    let passwords = Passwords {
        min_length: f.passwords.min_length.unwrap_or(DEFAULT_MIN_PASSWORD),
        max_concurrent_hashes: f.passwords.max_concurrent_hashes.unwrap_or(4).max(1),
    };
    if passwords.min_length < DEFAULT_MIN_PASSWORD || passwords.min_length > 128 {
        errs.push(ConfigError::at(
            "passwords.min_length",
            "must be between 8 and 128 (NIST SP 800-63B)",
        ));
    }
    if errs.is_empty() {
        Ok(Config {
            server,
            database,
            tokens,
            cookie,
            upstreams,
            routes,
            identity,
            api,
            rate_limits,
            session_cache_max_entries: f.session_cache.max_entries.unwrap_or(100_000).max(16),
            passwords,
        })
    } else {
        Err(errs)
    }
}

fn socket(text: &str, path: &str, errs: &mut Vec<ConfigError>) -> Option<SocketAddr> {
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            errs.push(ConfigError::at(
                path,
                format!("{text:?} is not an address like \"127.0.0.1:8080\""),
            ));
            None
        }
    }
}

fn server(s: file::ServerFile, errs: &mut Vec<ConfigError>) -> Server {
    let fallback: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let listen = s.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen = socket(listen, "server.listen", errs).unwrap_or(fallback);
    let admin_listen = s
        .admin_listen
        .as_deref()
        .and_then(|a| socket(a, "server.admin_listen", errs));
    let public_url = s
        .public_url
        .unwrap_or_else(|| format!("http://localhost:{}", listen.port()));
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        errs.push(ConfigError::at(
            "server.public_url",
            "must start with http:// or https://",
        ));
    }
    let mut trusted_proxies = Vec::new();
    for (i, p) in s.trusted_proxies.iter().enumerate() {
        let parsed = p
            .parse::<IpNet>()
            .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(n) => trusted_proxies.push(n),
            Err(_) => errs.push(ConfigError::at(
                format!("server.trusted_proxies[{i}]"),
                format!("{p:?} is not an IP address or CIDR block"),
            )),
        }
    }
    let threads = s.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    Server {
        listen,
        admin_listen,
        public_url: public_url.trim_end_matches('/').to_string(),
        trusted_proxies,
        threads: threads.max(1),
        grace_period: s
            .grace_period
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(10)),
        max_body_size: s.max_body_size.unwrap_or(1 << 20),
        data_dir: PathBuf::from(s.data_dir.unwrap_or_else(|| "data".into())),
    }
}

fn tokens(t: file::TokensFile, base: &Path, errs: &mut Vec<ConfigError>) -> Tokens {
    let algorithm = t.algorithm.as_deref().unwrap_or("HS256");
    let key = match algorithm {
        "HS256" => {
            if let Some(s) = &t.secret {
                if s.len() < MIN_SECRET_BYTES {
                    errs.push(ConfigError::at(
                        "tokens.secret",
                        format!("is {} bytes; at least {MIN_SECRET_BYTES} are required (or leave it out to have one generated)", s.len()),
                    ));
                }
            }
            TokenKey::Hs256(t.secret.map(SecretString::from))
        }
        "EdDSA" => match (t.private_key_file, t.public_key_file) {
            (Some(p), Some(q)) => TokenKey::EdDsa {
                private_key_file: base.join(p),
                public_key_file: base.join(q),
            },
            _ => {
                errs.push(ConfigError::at(
                    "tokens",
                    "EdDSA needs private_key_file and public_key_file (PEM)",
                ));
                TokenKey::Hs256(None)
            }
        },
        other => {
            errs.push(ConfigError::at(
                "tokens.algorithm",
                format!("{other:?} is not supported; use HS256 or EdDSA"),
            ));
            TokenKey::Hs256(None)
        }
    };
    let leeway = t.leeway.map(|d| d.0).unwrap_or(Duration::from_secs(5));
    if leeway > MAX_LEEWAY {
        errs.push(ConfigError::at("tokens.leeway", "must be at most 30s"));
    }
    let expiration = t
        .expiration
        .map(|d| d.0)
        .unwrap_or(Duration::from_secs(4 * 3600));
    let expiration_long = t
        .expiration_long
        .map(|d| d.0)
        .unwrap_or(Duration::from_secs(7 * 86400));
    if expiration < Duration::from_secs(60) {
        errs.push(ConfigError::at(
            "tokens.expiration",
            "must be at least 1 minute",
        ));
    }
    if expiration_long < expiration {
        errs.push(ConfigError::at(
            "tokens.expiration_long",
            "must not be shorter than tokens.expiration",
        ));
    }
    Tokens {
        key,
        issuer: t.issuer.unwrap_or_else(|| "portcullis".into()),
        audience: t.audience.unwrap_or_else(|| "portcullis".into()),
        expiration,
        expiration_long,
        leeway,
    }
}

fn cookie(c: file::CookieFile, public_url: &str, errs: &mut Vec<ConfigError>) -> Cookie {
    let secure = match c.secure {
        None | Some(BoolOrAuto::Word(_)) => public_url.starts_with("https://"),
        Some(BoolOrAuto::Bool(b)) => b,
    };
    let same_site = match c
        .same_site
        .as_deref()
        .unwrap_or("lax")
        .to_ascii_lowercase()
        .as_str()
    {
        "lax" => SameSite::Lax,
        "strict" => SameSite::Strict,
        "none" => SameSite::None,
        other => {
            errs.push(ConfigError::at(
                "cookie.same_site",
                format!("{other:?} is not one of lax, strict, none"),
            ));
            SameSite::Lax
        }
    };
    if same_site == SameSite::None && !secure {
        errs.push(ConfigError::at(
            "cookie.same_site",
            "none requires a Secure cookie (an https public_url or secure: true)",
        ));
    }
    let name = c.name.unwrap_or_else(|| "portcullis_session".into());
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        errs.push(ConfigError::at(
            "cookie.name",
            "use letters, digits, '_' or '-'",
        ));
    }
    Cookie {
        name,
        secure,
        same_site,
    }
}

fn upstreams(
    ups: BTreeMap<String, file::UpstreamFile>,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, Upstream> {
    let mut out = BTreeMap::new();
    for (name, u) in ups {
        let path = format!("upstreams.{name}");
        let target = match (u.builtin.as_deref(), u.addrs.is_empty()) {
            (Some("whoami"), true) => UpstreamTarget::Whoami,
            (Some(other), true) => {
                errs.push(ConfigError::at(
                    format!("{path}.builtin"),
                    format!("{other:?} is not a built-in upstream; the one there is is \"whoami\""),
                ));
                continue;
            }
            (Some(_), false) => {
                errs.push(ConfigError::at(
                    &path,
                    "give either addrs or builtin, not both",
                ));
                continue;
            }
            (None, true) => {
                errs.push(ConfigError::at(
                    format!("{path}.addrs"),
                    "needs at least one address",
                ));
                continue;
            }
            (None, false) => {
                let addrs: Vec<_> = u
                    .addrs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| socket(a, &format!("{path}.addrs[{i}]"), errs))
                    .collect();
                UpstreamTarget::Addrs(addrs)
            }
        };
        let d = |v: Option<super::HumanDuration>, default: u64| {
            v.map(|d| d.0).unwrap_or(Duration::from_secs(default))
        };
        out.insert(
            name,
            Upstream {
                target,
                connect_timeout: d(u.connect_timeout, 2),
                read_timeout: d(u.read_timeout, 30),
                write_timeout: d(u.write_timeout, 30),
            },
        );
    }
    out
}

fn routes(
    rs: Vec<file::RouteFile>,
    upstreams: &BTreeMap<String, Upstream>,
    errs: &mut Vec<ConfigError>,
) -> Vec<Route> {
    let mut out = Vec::new();
    for (i, r) in rs.into_iter().enumerate() {
        let at = |k: &str| format!("routes[{i}].{k}");
        let path = match PathPattern::parse(&r.path) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(ConfigError::at(at("path"), e));
                None
            }
        };
        if !upstreams.contains_key(&r.upstream) {
            errs.push(ConfigError::at(
                at("upstream"),
                format!("no upstream named {:?} under `upstreams`", r.upstream),
            ));
        }
        let methods = r.methods.map(|ms| {
            ms.iter()
                .enumerate()
                .filter_map(
                    |(j, m)| match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                        Ok(m) => Some(m),
                        Err(_) => {
                            errs.push(ConfigError::at(
                                format!("routes[{i}].methods[{j}]"),
                                "not an HTTP method",
                            ));
                            None
                        }
                    },
                )
                .collect()
        });
        let auth = match r.auth {
            AuthFile::Keyword(k) => {
                match k.as_str() {
                    "none" => AuthRule::None,
                    "optional" => AuthRule::Optional,
                    "required" => AuthRule::Required,
                    other => {
                        errs.push(ConfigError::at(
                        at("auth"),
                        format!("{other:?} is not one of none, optional, required, {{ roles: [...] }}"),
                    ));
                        AuthRule::Required
                    }
                }
            }
            AuthFile::Roles(r) => {
                if r.roles.is_empty() || r.roles.iter().any(|x| x.trim().is_empty()) {
                    errs.push(ConfigError::at(
                        at("auth.roles"),
                        "list at least one non-empty role",
                    ));
                }
                AuthRule::Roles(r.roles)
            }
        };
        if let Some(path) = path {
            out.push(Route {
                name: r.name.unwrap_or_else(|| format!("route{i}")),
                path,
                host: r.host.map(|h| h.to_ascii_lowercase()),
                methods,
                upstream: r.upstream,
                auth,
            });
        }
    }
    out
}

fn identity(h: file::IdentityHeadersFile, errs: &mut Vec<ConfigError>) -> IdentityHeaders {
    let prefix = h.prefix.unwrap_or_else(|| "X-Auth-".into());
    let make = |suffix: &str| {
        HeaderName::from_bytes(format!("{prefix}{suffix}").to_ascii_lowercase().as_bytes())
    };
    match (
        make("User-Id"),
        make("Email"),
        make("Name"),
        make("Role"),
        make("Session-Id"),
    ) {
        (Ok(user_id), Ok(email), Ok(name), Ok(role), Ok(session_id)) if !prefix.is_empty() => {
            IdentityHeaders {
                prefix: prefix.to_ascii_lowercase(),
                user_id,
                email,
                name,
                role,
                session_id,
                forward_token: h.forward_token.unwrap_or(false),
            }
        }
        _ => {
            errs.push(ConfigError::at(
                "identity_headers.prefix",
                format!("{prefix:?} cannot start an HTTP header name"),
            ));
            identity(
                file::IdentityHeadersFile {
                    prefix: Some("X-Auth-".into()),
                    forward_token: h.forward_token,
                },
                errs,
            )
        }
    }
}

fn api_routes(a: file::ApiFile, errs: &mut Vec<ConfigError>) -> ApiRoutes {
    let mut out = ApiRoutes::default();
    for (key, default) in API_ROUTE_DEFAULTS {
        let setting = a.routes.get(*key).cloned();
        let path = match setting {
            None | Some(RouteSetting::Enabled(true)) => Some(default.to_string()),
            Some(RouteSetting::Enabled(false)) => None,
            Some(RouteSetting::Path(p)) if p.starts_with('/') && !p.contains(['*', '?', '#']) => {
                Some(p)
            }
            Some(RouteSetting::Path(p)) => {
                errs.push(ConfigError::at(
                    format!("api.routes.{key}"),
                    format!("{p:?} must be an absolute path like \"/api/login\", or false"),
                ));
                None
            }
        };
        *out.slot(key) = path;
    }
    let mut seen = std::collections::BTreeMap::new();
    for ((key, _), path) in API_ROUTE_DEFAULTS.iter().zip(out.all()) {
        if let Some(p) = path {
            if let Some(first) = seen.insert(p.clone(), *key) {
                errs.push(ConfigError::at(
                    format!("api.routes.{key}"),
                    format!("{p:?} is already the path of api.routes.{first}"),
                ));
            }
        }
    }
    for key in a.routes.keys() {
        if !API_ROUTE_DEFAULTS.iter().any(|(k, _)| k == key) {
            let known: Vec<_> = API_ROUTE_DEFAULTS.iter().map(|(k, _)| *k).collect();
            errs.push(ConfigError::at(
                format!("api.routes.{key}"),
                format!("unknown API route; known: {}", known.join(", ")),
            ));
        }
    }
    out
}

fn limit(l: file::LimitFile, path: &str, errs: &mut Vec<ConfigError>) -> Option<Limit> {
    let burst = l.burst.unwrap_or(l.per_minute);
    match (NonZeroU32::new(l.per_minute), NonZeroU32::new(burst)) {
        (Some(per_minute), Some(burst)) => Some(Limit { per_minute, burst }),
        _ => {
            errs.push(ConfigError::at(
                path,
                "per_minute and burst must be at least 1",
            ));
            None
        }
    }
}
