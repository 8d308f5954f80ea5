//! Validation of the general sections: every problem is collected with its path, and what
//! comes out is the runtime [`Config`].

use super::error::ConfigError;
use super::file::{self, BoolOrAuto, FileConfig};
use super::runtime::*;
use super::validate_routing::{api_routes, routes, upstreams};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// NIST SP 800-63B: at least 8 characters.
const DEFAULT_MIN_PASSWORD: usize = 8;
/// Ceiling on how far `exp`/`nbf` may be stretched for clock skew.
const MAX_LEEWAY: Duration = Duration::from_secs(30);

pub(super) fn validate(f: FileConfig, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let mut server = server(f.server, base, &mut errs);
    let database = Database {
        url: f
            .database
            .url
            .unwrap_or_else(|| "sqlite://data/portcullis.db".into()),
        max_connections: f.database.max_connections.unwrap_or(8).max(1),
        outage_grace: f
            .database
            .outage_grace
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(60)),
    };
    if crate::config::backend(&database.url).is_none() {
        errs.push(ConfigError::at(
            "database.url",
            "must be a sqlite:// or postgres:// URL",
        ));
    }
    let tokens = tokens(f.tokens, base, server.production, &mut errs);
    super::validate_deployment::cookie(
        f.cookie.secure.as_ref(),
        &server.public_url,
        server.production,
        &mut errs,
    );
    let cookie = cookie(f.cookie, &server.public_url, &mut errs);
    let upstreams = upstreams(f.upstreams, &mut errs);
    let identity = super::identity_headers::from_file(f.identity_headers, &mut errs);
    let networks = super::validate_policy::networks(f.networks, &mut errs);
    let routes = routes(
        f.routes,
        &upstreams,
        identity.forward_token,
        &networks,
        &mut errs,
    );
    server.redirect_hosts = routes.iter().filter_map(|r| r.host.clone()).collect();
    let api = api_routes(f.api, &mut errs);
    for ((key, _), (_, at)) in EDGE_ROUTE_DEFAULTS.iter().zip(api.edges()) {
        if at.is_some() && server.trusted_proxies.is_empty() {
            errs.push(ConfigError::at(
                format!("api.routes.{key}"),
                "is answered only to server.trusted_proxies, which is empty: list the edge proxy's address there",
            ));
        }
    }
    let rate_limits = RateLimits {
        login: f
            .rate_limits
            .login
            .and_then(|l| limit(l, "rate_limits.login", &mut errs)),
        oauth: limit(
            f.rate_limits.oauth.unwrap_or(file::LimitFile {
                per_minute: 60,
                burst: Some(20),
            }),
            "rate_limits.oauth",
            &mut errs,
        ),
        account: account_backoff(f.rate_limits.account, &mut errs),
        api_key: f
            .rate_limits
            .api_key
            .and_then(|l| limit(l, "rate_limits.api_key", &mut errs)),
        oidc_token: limit(
            f.rate_limits.oidc_token.unwrap_or(file::LimitFile {
                per_minute: 300,
                burst: Some(60),
            }),
            "rate_limits.oidc_token",
            &mut errs,
        ),
        oidc_client: limit(
            f.rate_limits.oidc_client.unwrap_or(file::LimitFile {
                per_minute: 600,
                burst: Some(120),
            }),
            "rate_limits.oidc_client",
            &mut errs,
        ),
    };
    let passwords = Passwords {
        min_length: f.passwords.min_length.unwrap_or(DEFAULT_MIN_PASSWORD),
        // Half the cores: argon2 fills whatever a core leaves idle and each hash sweeps 19 MiB
        // through the caches, so more threads than that slow proxied requests on every core
        // (measured: 4 threads on 2 cores, authenticated p99 ×3.2 during a login flood; 1, ×1.25).
        max_concurrent_hashes: f
            .passwords
            .max_concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
            .max(1),
        reset_ttl: f
            .passwords
            .reset_ttl
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(3600)),
    };
    super::validate_deployment::mail(&f.mail, server.production, &mut errs);
    let mail = mail(f.mail, &server.data_dir, &mut errs);
    let oauth = super::validate_oauth::oauth(f.oauth, server.production, &mut errs);
    let pages = pages(f.pages, base, &mut errs);
    let mfa = super::validate_mfa::mfa(f.mfa, &server.public_url, base, &mut errs);
    let directory = super::validate_directory::directory(f.directory, base, &mut errs);
    let mut api = api;
    api.login_page = pages.login_path.clone();
    api.magic_page = pages.login_path.as_ref().map(|_| "/magic-link".to_string());
    api.account_page = pages.login_path.as_ref().map(|_| "/account".to_string());
    api.admin_console = pages.admin_path.clone();
    let audit = audit(f.audit, base, &mut errs);
    let oidc_provider = super::validate_oidc::oidc_provider(
        f.oidc_provider,
        &server.public_url,
        &server.data_dir,
        server.production,
        &networks,
        &mut errs,
    );
    if let Some(op) = &oidc_provider {
        if pages.login_path.is_none() {
            errs.push(ConfigError::at(
                "oidc_provider.enabled",
                "the provider signs users in on the gateway's pages: turn pages on (pages.enabled)",
            ));
        }
        api.oidc = Some(op.path.clone());
        api.oidc_discovery = Some(op.discovery_path());
    }
    if pages.login_path.is_some() {
        api.other_pages = vec!["/forgot-password".to_string(), mail.reset_path.clone()];
        if let Some(m) = pages.mfa_path() {
            api.other_pages.extend([m.clone(), format!("{m}/enroll")]);
        }
        if f.signup.enabled.unwrap_or(false) {
            api.other_pages
                .extend(["/signup".to_string(), "/verify".to_string()]);
        }
    }
    api.aegis = !oauth.providers.is_empty();
    api.mock = oauth
        .providers
        .values()
        .any(|p| matches!(p.kind, crate::config::ProviderKind::Mock { .. }));
    if passwords.min_length < DEFAULT_MIN_PASSWORD || passwords.min_length > 128 {
        errs.push(ConfigError::at(
            "passwords.min_length",
            "must be between 8 and 128 (NIST SP 800-63B)",
        ));
    }
    let hard_delete = f.users.delete == Some(file::DeleteFile::Hard);
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
            hard_delete,
            avatar_max_size: f.users.avatar_max_size.unwrap_or(2 << 20),
            signup_enabled: f.signup.enabled.unwrap_or(false),
            verify_email: f.signup.verify_email.unwrap_or(true),
            oauth,
            pages,
            confirm_ttl: f
                .signup
                .confirm_ttl
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(86_400)),
            mail,
            mfa,
            directory,
            audit,
            oidc_provider: oidc_provider.map(std::sync::Arc::new),
        })
    } else {
        Err(errs)
    }
}

fn audit(a: file::AuditFile, base: &Path, errs: &mut Vec<ConfigError>) -> crate::config::Audit {
    let retention = a
        .retention
        .map(|d| d.0)
        .unwrap_or(Duration::from_secs(365 * 86_400));
    if retention < Duration::from_secs(86_400) {
        errs.push(ConfigError::at("audit.retention", "must be at least 1d"));
    }
    let output = match a.output.as_deref() {
        None | Some("none") => None,
        Some("stdout") => Some(crate::config::AuditOutput::Stdout),
        Some("") => {
            errs.push(ConfigError::at(
                "audit.output",
                "stdout, or a file path (or leave it out)",
            ));
            None
        }
        Some(path) => Some(crate::config::AuditOutput::File(base.join(path))),
    };
    crate::config::Audit { retention, output }
}

pub(super) fn socket(text: &str, path: &str, errs: &mut Vec<ConfigError>) -> Option<SocketAddr> {
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

fn server(s: file::ServerFile, base: &Path, errs: &mut Vec<ConfigError>) -> Server {
    let fallback: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let tls = s.tls.and_then(|t| tls(t, base, errs));
    let listen_plain = s.listen.is_some() || tls.is_none();
    let listen = s.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen = socket(listen, "server.listen", errs).unwrap_or(fallback);
    let redirect_to_https = s.redirect_to_https.unwrap_or(false);
    if redirect_to_https && tls.is_none() {
        errs.push(ConfigError::at(
            "server.redirect_to_https",
            "needs server.tls (there is no https listener to send clients to)",
        ));
    }
    if let Some(t) = tls.as_ref().filter(|t| listen_plain && t.listen == listen) {
        errs.push(ConfigError::at(
            "server.tls.listen",
            format!("{} is server.listen too", t.listen),
        ));
    }
    let admin_listen = s
        .admin_listen
        .as_deref()
        .and_then(|a| socket(a, "server.admin_listen", errs));
    let public_url = s.public_url.unwrap_or_else(|| match &tls {
        Some(t) if !listen_plain || redirect_to_https => {
            format!("https://localhost:{}", t.listen.port())
        }
        _ => format!("http://localhost:{}", listen.port()),
    });
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
    let mut redirect_origins = Vec::new();
    for (i, o) in s.redirect_origins.iter().enumerate() {
        match url::Url::parse(o) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.origin().ascii_serialization() == o.trim_end_matches('/') =>
            {
                redirect_origins.push(u.origin().ascii_serialization())
            }
            _ => errs.push(ConfigError::at(
                format!("server.redirect_origins[{i}]"),
                format!("{o:?} is not an origin like \"https://app.example.com\""),
            )),
        }
    }
    let threads = s.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let public_url = public_url.trim_end_matches('/').to_string();
    let listeners: Vec<SocketAddr> = listen_plain
        .then_some(listen)
        .into_iter()
        .chain(tls.as_ref().map(|t| t.listen))
        .chain(admin_listen)
        .collect();
    let exposed = !super::validate_deployment::loopback_only(&public_url, &listeners);
    let production = super::validate_deployment::production(s.environment, !exposed);
    Server {
        public_origin: origin_of(&public_url),
        listen,
        admin_listen,
        public_url,
        production,
        exposed,
        trusted_proxies,
        redirect_origins,
        redirect_hosts: Vec::new(),
        listen_plain,
        tls,
        http2: s.http2.unwrap_or(true),
        redirect_to_https,
        max_header_size: s.max_header_size.unwrap_or(32 * 1024).max(1024),
        body_timeout: client_deadline(s.body_timeout),
        header_timeout: client_deadline(s.header_timeout),
        threads: threads.max(1),
        grace_period: s
            .grace_period
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(10)),
        max_body_size: s.max_body_size.unwrap_or(1 << 20),
        data_dir: PathBuf::from(s.data_dir.unwrap_or_else(|| "data".into())),
    }
}

fn tokens(
    t: file::TokensFile,
    base: &Path,
    production: bool,
    errs: &mut Vec<ConfigError>,
) -> Tokens {
    let key = match t.algorithm.unwrap_or(file::AlgorithmFile::HS256) {
        file::AlgorithmFile::HS256 => {
            if let Some(s) = &t.secret {
                let secret = secrecy::ExposeSecret::expose_secret(s);
                super::validate_deployment::secret(secret, production, errs);
                let len = secret.len();
                if len < MIN_SECRET_BYTES {
                    errs.push(ConfigError::at(
                        "tokens.secret",
                        format!("is {len} bytes; at least {MIN_SECRET_BYTES} are required (or leave it out to have one generated)"),
                    ));
                }
            }
            TokenKey::Hs256(t.secret)
        }
        file::AlgorithmFile::EdDSA => match (t.private_key_file, t.public_key_file) {
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
    };
    let idle_timeout = t.idle_timeout.map(|d| d.0);
    if idle_timeout.is_some_and(|d| d < Duration::from_secs(2)) {
        errs.push(ConfigError::at(
            "tokens.idle_timeout",
            "must be at least 2s",
        ));
    }
    let max_session_age = t.max_session_age.map(|d| d.0);
    if max_session_age.is_some_and(|d| d.is_zero()) {
        errs.push(ConfigError::at(
            "tokens.max_session_age",
            "must be more than 0s",
        ));
    }
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
        idle_timeout,
        max_session_age,
        fresh_for: t.fresh_for.map(|d| d.0).unwrap_or(Duration::from_secs(600)),
        assertion_key_file: t.assertion_key_file.map(|p| base.join(p)),
    }
}

fn cookie(c: file::CookieFile, public_url: &str, errs: &mut Vec<ConfigError>) -> Cookie {
    let secure = match c.secure {
        None | Some(BoolOrAuto::Word(_)) => public_url.starts_with("https://"),
        Some(BoolOrAuto::Bool(b)) => b,
    };
    let same_site = match c.same_site.unwrap_or(file::SameSiteFile::Lax) {
        file::SameSiteFile::Lax => SameSite::Lax,
        file::SameSiteFile::Strict => SameSite::Strict,
        file::SameSiteFile::None => SameSite::None,
    };
    if same_site == SameSite::None && !secure {
        errs.push(ConfigError::at(
            "cookie.same_site",
            "none requires a Secure cookie (an https public_url or secure: true)",
        ));
    }
    let domain = c
        .domain
        .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    if let Some(d) = &domain {
        let host = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let covers = host == *d || host.ends_with(&format!(".{d}"));
        if let Some(why) = crate::hosts::pattern_error(d).filter(|_| !d.starts_with('*')) {
            errs.push(ConfigError::at("cookie.domain", format!("{d:?}: {why}")));
        } else if d.starts_with('*') || !d.contains('.') || !covers {
            errs.push(ConfigError::at(
                "cookie.domain",
                format!("{d:?} must be a parent domain of server.public_url's host {host:?} (browsers refuse the cookie otherwise)"),
            ));
        }
    }
    // Where the cookie is Secure, the default name carries the `__Host-` prefix: the browser
    // then refuses it unless it is Secure, host-only (no Domain) and Path=/, so a sibling
    // subdomain cannot plant or shadow it. Shared with subdomains (`domain`), it can only be
    // `__Secure-`.
    let name = c.name.unwrap_or_else(|| match (secure, &domain) {
        (true, None) => "__Host-portcullis_session".into(),
        (true, Some(_)) => "__Secure-portcullis_session".into(),
        (false, _) => "portcullis_session".into(),
    });
    if name.starts_with("__Host-") && domain.is_some() {
        errs.push(ConfigError::at(
            "cookie.name",
            "a __Host- cookie cannot have a Domain: use __Secure- with cookie.domain",
        ));
    }
    if (name.starts_with("__Host-") || name.starts_with("__Secure-")) && !secure {
        errs.push(ConfigError::at(
            "cookie.name",
            "the __Host- and __Secure- prefixes need a Secure cookie (an https public_url or secure: true)",
        ));
    }
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
        domain,
        secure,
        same_site,
    }
}

/// The TLS listener: every certificate file is loaded now, so a missing file, a key that is
/// not the certificate's or a bad host pattern stops the config here, named.
fn tls(t: file::TlsFile, base: &Path, errs: &mut Vec<ConfigError>) -> Option<Tls> {
    let before = errs.len();
    let listen = socket(&t.listen, "server.tls.listen", errs);
    let pair = |cert: &str, key: &str| crate::certs::Pair {
        cert_file: base.join(cert),
        key_file: base.join(key),
    };
    let default = pair(&t.cert_file, &t.key_file);
    let mut not_after = Vec::new();
    let mut check =
        |p: &crate::certs::Pair, at: String, errs: &mut Vec<ConfigError>| match crate::certs::load(
            p,
        ) {
            Ok(l) => not_after.push((p.cert_file.clone(), l.not_after)),
            Err(why) => errs.push(ConfigError::at(at, why)),
        };
    check(&default, "server.tls.cert_file".into(), errs);
    let mut certificates = Vec::new();
    for (i, c) in t.certificates.into_iter().enumerate() {
        let at = format!("server.tls.certificates[{i}]");
        if c.hosts.is_empty() {
            errs.push(ConfigError::at(
                format!("{at}.hosts"),
                "name at least one host",
            ));
        }
        for h in &c.hosts {
            if let Some(why) = crate::hosts::pattern_error(&h.to_ascii_lowercase()) {
                errs.push(ConfigError::at(
                    format!("{at}.hosts"),
                    format!("{h:?}: {why}"),
                ));
            }
        }
        let p = pair(&c.cert_file, &c.key_file);
        check(&p, format!("{at}.cert_file"), errs);
        certificates.push((c.hosts, p));
    }
    let hsts = super::validate_deployment::hsts(t.hsts, errs);
    (errs.len() == before).then_some(Tls {
        listen: listen?,
        default,
        certificates,
        not_after,
        hsts,
    })
}

/// A deadline on what a client sends: 10 s unless set, never under 100 ms.
fn client_deadline(d: Option<super::duration::HumanDuration>) -> Duration {
    d.map(|d| d.0)
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_millis(100))
}

fn account_backoff(
    f: Option<file::AccountBackoffFile>,
    errs: &mut Vec<ConfigError>,
) -> crate::config::BackoffPolicy {
    let d = crate::config::BackoffPolicy::default();
    let free_failures = f.and_then(|f| f.free_failures).unwrap_or(d.free_failures);
    let max_wait = f
        .and_then(|f| f.max_backoff.map(|d| d.0))
        .unwrap_or(Duration::from_secs(d.max_wait as u64));
    if free_failures == 0 {
        errs.push(ConfigError::at(
            "rate_limits.account.free_failures",
            "allow at least one failed password before waiting",
        ));
    }
    // Longer waits would let an attacker lock the real user out.
    if max_wait.is_zero() || max_wait > Duration::from_secs(900) {
        errs.push(ConfigError::at(
            "rate_limits.account.max_backoff",
            "between 1s and 15 minutes",
        ));
    }
    crate::config::BackoffPolicy {
        free_failures,
        max_wait: max_wait.as_secs() as i64,
    }
}

pub(super) fn limit(l: file::LimitFile, path: &str, errs: &mut Vec<ConfigError>) -> Option<Limit> {
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

/// `scheme://host[:port]` of a URL (the part a browser sends as `Origin`).
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{}", host.to_ascii_lowercase())
}

fn mail(m: file::MailFile, data_dir: &Path, errs: &mut Vec<ConfigError>) -> Mail {
    let from_text = m
        .from
        .unwrap_or_else(|| "Portcullis <no-reply@localhost>".into());
    let from = from_text.parse().unwrap_or_else(|_| {
        errs.push(ConfigError::at(
            "mail.from",
            format!("{from_text:?} is not an address like \"Name <no-reply@example.com>\""),
        ));
        lettre::message::Mailbox::new(
            None,
            lettre::Address::new("no-reply", "localhost").unwrap_or_else(|_| unreachable_address()),
        )
    });
    let transport = match m.smtp {
        None => MailTransport::Outbox(
            m.outbox_dir
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("outbox")),
        ),
        Some(s) => {
            let security = match s.security.unwrap_or(file::SmtpSecurityFile::StartTls) {
                file::SmtpSecurityFile::None => SmtpSecurity::None,
                file::SmtpSecurityFile::StartTls => SmtpSecurity::StartTls,
                file::SmtpSecurityFile::Tls => SmtpSecurity::Tls,
            };
            let default_port = match security {
                SmtpSecurity::Tls => 465,
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::None => 25,
            };
            MailTransport::Smtp(Smtp {
                host: s.host,
                port: s.port.unwrap_or(default_port),
                security,
                username: s.username,
                password: s.password,
                timeout: s.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
            })
        }
    };
    let reset_path = m.reset_path.unwrap_or_else(|| "/reset-password".into());
    if !reset_path.starts_with('/') {
        errs.push(ConfigError::at(
            "mail.reset_path",
            "must be a path starting with '/'",
        ));
    }
    Mail {
        from,
        transport,
        reset_path,
        product_name: m.product_name.unwrap_or_else(|| "Portcullis".into()),
    }
}

#[allow(clippy::panic)]
fn unreachable_address() -> lettre::Address {
    // "no-reply@localhost" is a literal valid address.
    panic!("invalid built-in address")
}

fn pages(p: file::PagesFile, base: &Path, errs: &mut Vec<ConfigError>) -> Pages {
    let login_path = p.login_path.unwrap_or_else(|| "/login".into());
    if !crate::redirect::is_local_path(&login_path) {
        errs.push(ConfigError::at(
            "pages.login_path",
            "must be a path like \"/login\"",
        ));
    }
    let primary_color = p.primary_color.unwrap_or_else(|| "#3355ff".into());
    let hex = primary_color.strip_prefix('#').unwrap_or("");
    if !(matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())) {
        errs.push(ConfigError::at(
            "pages.primary_color",
            "must be a colour like \"#3355ff\"",
        ));
    }
    if let Some(logo) = &p.logo_url {
        if !(logo.starts_with("https://") || crate::redirect::is_local_path(logo)) {
            errs.push(ConfigError::at(
                "pages.logo_url",
                "must be an https:// URL or a path on this site",
            ));
        }
    }
    let dir = p.templates_dir.as_ref().map(|d| base.join(d));
    // On errors the config is refused, so the empty placeholder is never rendered.
    let templates = crate::config::templates::load(dir.as_deref()).unwrap_or_else(|problems| {
        for problem in problems {
            errs.push(ConfigError::at("pages.templates_dir", problem));
        }
        Default::default()
    });
    let enabled = p.enabled.unwrap_or(true);
    let admin_path = match p.admin_path {
        None | Some(file::RouteSetting::Enabled(true)) => Some("/account/admin".to_string()),
        Some(file::RouteSetting::Enabled(false)) => None,
        Some(file::RouteSetting::Path(path)) => {
            if !crate::redirect::is_local_path(&path) || path.len() < 2 || path.ends_with('/') {
                errs.push(ConfigError::at(
                    "pages.admin_path",
                    "must be a path like \"/account/admin\" (or false)",
                ));
            }
            Some(path)
        }
    };
    Pages {
        templates,
        admin_path: admin_path.filter(|_| enabled),
        login_path: enabled.then_some(login_path),
        product_name: p.product_name.unwrap_or_else(|| "Portcullis".into()),
        logo_url: p.logo_url,
        primary_color,
    }
}

#[cfg(test)]
mod tests {
    use crate::redirect::is_local_path;

    #[test]
    fn only_same_origin_relative_paths_are_local() {
        for ok in ["/", "/app", "/app/x?tab=1#top", "/a%20b"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil.example",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil.example",
            "%2F%2Fevil.example",
            " /app",
            "/\tevil",
            "/%09/evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
