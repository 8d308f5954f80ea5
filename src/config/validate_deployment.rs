//! What depends on where the gateway runs. The environment is `development` only while the
//! public URL and every listener are on loopback, so a gateway moved to a real host turns
//! safe without a switch; in production the development conveniences (the mock provider,
//! mail written to files, example secrets, cookies without `Secure` on HTTPS) are refused
//! with the key and the fix. HSTS for the HTTPS listener, and the warnings every start logs.

use super::error::ConfigError;
use super::file::{self, BoolOrAuto, EnvironmentFile};
use super::runtime::{Config, MailTransport};
use http::HeaderValue;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Values of `tokens.secret` that documentation and examples show: whoever copied one has a
/// secret everyone can read. Placeholders (`change-me…`) are refused by their words too.
pub const EXAMPLE_SECRETS: &[&str] = &[
    "change-me-to-32-or-more-random-bytes-please",
    "at least 32 bytes",
];

/// A year: HSTS's usual `max-age`, and the least the browsers' preload lists take.
const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// Whether `public_url`'s host and every listener are loopback (`localhost`, `127.0.0.0/8`,
/// `::1`): nobody but this machine can reach such a gateway.
pub(super) fn loopback_only(public_url: &str, listeners: &[SocketAddr]) -> bool {
    let host_is_loopback = url::Url::parse(public_url).ok().is_some_and(|u| {
        u.host().is_some_and(|h| match h {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        })
    });
    host_is_loopback && listeners.iter().all(|a| is_loopback(a.ip()))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Production unless the operator says `development`, or says nothing on a loopback-only
/// deployment.
pub(super) fn production(explicit: Option<EnvironmentFile>, loopback_only: bool) -> bool {
    match explicit {
        Some(e) => e == EnvironmentFile::Production,
        None => !loopback_only,
    }
}

/// The `Strict-Transport-Security` value for the HTTPS listener, if any.
pub(super) fn hsts(h: Option<file::HstsFile>, errs: &mut Vec<ConfigError>) -> Option<HeaderValue> {
    let s = match h {
        None | Some(file::HstsFile::Enabled(true)) => file::HstsSettingsFile::default(),
        Some(file::HstsFile::Enabled(false)) => return None,
        Some(file::HstsFile::Settings(s)) => s,
    };
    let max_age = s.max_age.map(|d| d.0).unwrap_or(YEAR);
    let (subdomains, preload) = (
        s.include_subdomains.unwrap_or(false),
        s.preload.unwrap_or(false),
    );
    if preload && !(subdomains && max_age >= YEAR) {
        errs.push(ConfigError::at(
            "server.tls.hsts.preload",
            "the browsers' preload lists take only include_subdomains: true with a max_age of a year or more",
        ));
    }
    let mut v = format!("max-age={}", max_age.as_secs());
    if subdomains {
        v.push_str("; includeSubDomains");
    }
    if preload {
        v.push_str("; preload");
    }
    HeaderValue::from_str(&v).ok()
}

/// In production, mail leaves the machine: no `smtp` is an error unless `outbox: true` says
/// the files are wanted.
pub(super) fn mail(m: &file::MailFile, production: bool, errs: &mut Vec<ConfigError>) {
    match (&m.smtp, m.outbox) {
        (Some(_), Some(true)) => errs.push(ConfigError::at(
            "mail.outbox",
            "true writes mail to files instead of mail.smtp: keep one of them",
        )),
        (None, Some(false)) => errs.push(ConfigError::at(
            "mail.outbox",
            "false needs mail.smtp: there would be nowhere to send mail",
        )),
        (None, None) if production => errs.push(ConfigError::at(
            "mail.smtp",
            "is not set, and in production mail is sent, not written to files: set mail.smtp (host, port, username; the password in PORTCULLIS_SMTP_PASSWORD), or mail.outbox: true to keep .eml files on purpose",
        )),
        _ => {}
    }
}

/// In production, a secret someone else can read is refused (its length is checked in every
/// environment).
pub(super) fn secret(secret: &str, production: bool, errs: &mut Vec<ConfigError>) {
    let lower = secret.to_ascii_lowercase();
    let placeholder = ["change-me", "changeme", "change_me"]
        .iter()
        .any(|w| lower.contains(w));
    if production && (placeholder || EXAMPLE_SECRETS.contains(&secret)) {
        errs.push(ConfigError::at(
            "tokens.secret",
            "is an example value from the documentation: generate your own (openssl rand -base64 48), or leave it out to have one generated into server.data_dir",
        ));
    }
}

/// In production, a session cookie without `Secure` on an HTTPS site is refused: a single
/// plain-HTTP request (a typed URL, a downgrade) would carry the session in clear.
pub(super) fn cookie(
    secure: Option<&BoolOrAuto>,
    public_url: &str,
    production: bool,
    errs: &mut Vec<ConfigError>,
) {
    if production
        && public_url.starts_with("https://")
        && matches!(secure, Some(BoolOrAuto::Bool(false)))
    {
        errs.push(ConfigError::at(
            "cookie.secure",
            "false on an https public_url sends the session over plain HTTP too: remove the key (auto) or set it to true",
        ));
    }
}

/// What every start tells the operator, and `check-config` lists: the settings that are
/// allowed but not what a real deployment wants.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let s = &cfg.server;
    if !s.production && s.exposed {
        out.push(format!(
            "server.environment is development while the gateway is reachable beyond this machine (public_url {}): development mode is not for real users (the mock provider and mail written to files are allowed); set server.environment: production, or remove the key",
            s.public_url
        ));
    }
    if let (true, MailTransport::Outbox(dir)) = (s.production, &cfg.mail.transport) {
        out.push(format!(
            "mail.outbox is true: mail is written to .eml files under {}, not sent (set mail.smtp to send it)",
            dir.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(a: &str) -> SocketAddr {
        a.parse().unwrap()
    }

    #[test]
    fn only_loopback_everywhere_is_development() {
        let local = [at("127.0.0.1:8080"), at("[::1]:9090")];
        assert!(loopback_only("http://localhost:8080", &local));
        assert!(loopback_only("http://127.3.0.1", &local));
        assert!(loopback_only("https://[::1]:8443", &local));
        assert!(loopback_only(
            "http://LOCALHOST",
            &[at("[::ffff:127.0.0.1]:1")]
        ));
        assert!(!loopback_only("https://id.example.com", &local));
        assert!(!loopback_only("http://localhost.example.com", &local));
        assert!(!loopback_only(
            "http://localhost:8080",
            &[at("0.0.0.0:8080")]
        ));
        assert!(!loopback_only(
            "http://localhost:8080",
            &[at("127.0.0.1:1"), at("[::]:2")]
        ));
        assert!(!loopback_only("http://10.0.0.1", &local));
        assert!(!loopback_only("not a url", &local));
        assert!(production(None, false));
        assert!(!production(None, true));
        assert!(!production(Some(EnvironmentFile::Development), false));
        assert!(production(Some(EnvironmentFile::Production), true));
    }

    #[test]
    fn hsts_defaults_to_a_year_and_checks_preload() {
        let mut errs = Vec::new();
        assert_eq!(hsts(None, &mut errs).unwrap(), "max-age=31536000");
        assert!(hsts(Some(file::HstsFile::Enabled(false)), &mut errs).is_none());
        let full = file::HstsSettingsFile {
            max_age: Some(super::super::HumanDuration(Duration::from_secs(63_072_000))),
            include_subdomains: Some(true),
            preload: Some(true),
        };
        assert_eq!(
            hsts(Some(file::HstsFile::Settings(full)), &mut errs).unwrap(),
            "max-age=63072000; includeSubDomains; preload"
        );
        assert!(errs.is_empty());
        let bad = file::HstsSettingsFile {
            preload: Some(true),
            ..Default::default()
        };
        hsts(Some(file::HstsFile::Settings(bad)), &mut errs);
        assert_eq!(errs.len(), 1);
    }

    /// Every token secret the documentation and the shipped files show, read from them.
    fn documented_secrets() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md"), root.join("SECURITY.md")];
        let mut dirs = vec![root.join("config"), root.join("deploy"), root.join("docs")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p
                    .extension()
                    .is_some_and(|x| ["md", "yaml", "yml", "conf"].contains(&x.to_str().unwrap()))
                {
                    files.push(p);
                }
            }
        }
        let mut out = Vec::new();
        for f in files {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                let t = line.trim_start_matches([' ', '#', '-']).trim();
                let value = t
                    .strip_prefix("PORTCULLIS_JWT_SECRET:")
                    .or_else(|| t.strip_prefix("PORTCULLIS_JWT_SECRET="))
                    .or_else(|| t.strip_prefix("secret:"));
                if let Some(v) = value {
                    let v = v
                        .split(" #")
                        .next()
                        .unwrap()
                        .trim()
                        .trim_matches(['"', '\'']);
                    if !v.is_empty() && !v.starts_with(['$', '{']) {
                        out.push(v.to_string());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_secret_the_documentation_shows_is_refused_in_production() {
        let shown = documented_secrets();
        // The reader finds the reference config's own example.
        assert!(shown.iter().any(|s| s == "at least 32 bytes"), "{shown:?}");
        for s in shown {
            let mut errs = Vec::new();
            secret(&s, true, &mut errs);
            assert!(
                !errs.is_empty() || s.len() < 32,
                "{s:?} is shown in the documentation: add it to EXAMPLE_SECRETS"
            );
        }
    }

    #[test]
    fn example_and_placeholder_secrets_are_refused_in_production_only() {
        for s in [EXAMPLE_SECRETS[0], "please-CHANGE-ME-0123456789abcdefghij"] {
            let mut errs = Vec::new();
            secret(s, true, &mut errs);
            assert_eq!(errs.len(), 1, "{s}");
            secret(s, false, &mut errs);
            assert_eq!(errs.len(), 1, "development keeps it");
        }
        let mut errs = Vec::new();
        secret("kq3Z9v0mB1x8rT7yLw2pN6aF4hJ5cD0eG", true, &mut errs);
        assert!(errs.is_empty());
    }
}
