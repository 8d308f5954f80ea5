//! `oidc_provider:` → [`OidcProvider`]: every client's auth method, redirect URIs, scopes,
//! grants, consent, subject and policy checked, each problem at its key.

use super::error::ConfigError;
use super::file_oidc::{ClientFile, ConsentFile, OidcProviderFile};
use super::runtime_oidc::*;
use super::validate_policy::Networks;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

/// The shortest client secret accepted (`portcullis oidc hash-secret` asks the same).
pub const CLIENT_SECRET_MIN: usize = 16;

/// The provider, or `None` when it is off (its section is still checked).
pub(super) fn oidc_provider(
    f: OidcProviderFile,
    public_url: &str,
    data_dir: &Path,
    production: bool,
    networks: &Networks,
    errs: &mut Vec<ConfigError>,
) -> Option<OidcProvider> {
    let enabled = f.enabled.unwrap_or(false);
    let issuer = f
        .issuer
        .unwrap_or_else(|| public_url.to_string())
        .trim_end_matches('/')
        .to_string();
    match url::Url::parse(&issuer) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http")
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            if enabled && u.scheme() == "http" && production && !loopback(&u) {
                errs.push(ConfigError::at(
                    "oidc_provider.issuer",
                    "must be https in production (OpenID Connect Core §3.1.2.1)",
                ));
            }
        }
        _ => errs.push(ConfigError::at(
            "oidc_provider.issuer",
            format!("{issuer:?} is not an http(s) URL without query or fragment"),
        )),
    }
    let path = f.path.unwrap_or_else(|| "/oidc".into());
    if !path.starts_with('/')
        || path.len() < 2
        || path.ends_with('/')
        || path.contains(['?', '#', '*'])
    {
        errs.push(ConfigError::at(
            "oidc_provider.path",
            format!("{path:?} must be a path like \"/oidc\""),
        ));
    }
    let signing = match f.signing.as_deref().unwrap_or("RS256") {
        "RS256" => SigningAlg::Rs256,
        "ES256" => SigningAlg::Es256,
        "EdDSA" => SigningAlg::EdDsa,
        other => {
            errs.push(ConfigError::at(
                "oidc_provider.signing",
                format!("{other:?} is not RS256, ES256 or EdDSA"),
            ));
            SigningAlg::Rs256
        }
    };
    let lifetimes = lifetimes(&f.lifetimes, errs);
    let mut clients = Clients::new();
    for (id, c) in f.clients {
        if let Some(client) = client(&id, c, production, networks, errs) {
            clients.insert(id, client);
        }
    }
    enabled.then(|| OidcProvider {
        issuer,
        path,
        signing,
        key_dir: f
            .key_dir
            .map(Into::into)
            .unwrap_or_else(|| data_dir.join("oidc-keys")),
        lifetimes,
        clients,
    })
}

fn lifetimes(l: &super::file_oidc::LifetimesFile, errs: &mut Vec<ConfigError>) -> Lifetimes {
    let d = Lifetimes::default();
    let pick =
        |v: &Option<super::HumanDuration>, default, key: &str, errs: &mut Vec<ConfigError>| {
            let v = v.map(|h| h.0).unwrap_or(default);
            if v.is_zero() {
                errs.push(ConfigError::at(
                    format!("oidc_provider.lifetimes.{key}"),
                    "must be longer than zero",
                ));
            }
            v
        };
    let out = Lifetimes {
        code: pick(&l.code, d.code, "code", errs),
        access_token: pick(&l.access_token, d.access_token, "access_token", errs),
        id_token: pick(&l.id_token, d.id_token, "id_token", errs),
        refresh_token: pick(&l.refresh_token, d.refresh_token, "refresh_token", errs),
        refresh_absolute: pick(
            &l.refresh_absolute,
            d.refresh_absolute,
            "refresh_absolute",
            errs,
        ),
    };
    if out.code > std::time::Duration::from_secs(600) {
        errs.push(ConfigError::at(
            "oidc_provider.lifetimes.code",
            "at most 10 minutes (RFC 6749 §4.1.2)",
        ));
    }
    if out.refresh_absolute < out.refresh_token {
        errs.push(ConfigError::at(
            "oidc_provider.lifetimes.refresh_absolute",
            "must be at least refresh_token",
        ));
    }
    out
}

fn loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An absolute http(s) URL without fragment; `http` beyond loopback only in development.
fn absolute(v: &str, at: &str, production: bool, errs: &mut Vec<ConfigError>) -> Option<url::Url> {
    match url::Url::parse(v) {
        Ok(u)
            if u.fragment().is_none()
                && u.host().is_some()
                && matches!(u.scheme(), "https" | "http") =>
        {
            if u.scheme() == "http" && production && !loopback(&u) {
                errs.push(ConfigError::at(
                    at,
                    format!("{v:?}: http to a host beyond loopback is refused in production (RFC 9700 §2.6): use https"),
                ));
            }
            Some(u)
        }
        Ok(u)
            if u.fragment().is_none()
                && !matches!(
                    u.scheme(),
                    "https" | "http" | "javascript" | "data" | "file"
                )
                && u.scheme().contains('.') =>
        {
            // A native app's private-use scheme (RFC 8252 §7.1: reverse domain name).
            Some(u)
        }
        _ => {
            errs.push(ConfigError::at(
                at,
                format!("{v:?} must be an absolute URL without a fragment (https://app.example.com/callback)"),
            ));
            None
        }
    }
}

fn client(
    id: &str,
    c: ClientFile,
    production: bool,
    networks: &Networks,
    errs: &mut Vec<ConfigError>,
) -> Option<Client> {
    let before = errs.len();
    let at = |k: &str| format!("oidc_provider.clients.{id}.{k}");
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        errs.push(ConfigError::at(
            format!("oidc_provider.clients.{id}"),
            "a client id is letters, digits, '-', '_' or '.'",
        ));
    }
    // The secret, from the environment or as its hash.
    let secret = match (c.secret, c.secret_hash) {
        (Some(_), Some(_)) => {
            errs.push(ConfigError::at(
                at("secret_hash"),
                "give secret or secret_hash, not both",
            ));
            None
        }
        (Some(s), None) => match super::env::expand(s.expose_secret()) {
            Ok(v) if v.len() >= CLIENT_SECRET_MIN => {
                Some(ClientSecret::Plain(SecretString::from(v)))
            }
            Ok(_) => {
                errs.push(ConfigError::at(
                    at("secret"),
                    format!("at least {CLIENT_SECRET_MIN} characters"),
                ));
                None
            }
            Err(why) => {
                errs.push(ConfigError::at(at("secret"), why));
                None
            }
        },
        (None, Some(h)) => match argon2::PasswordHash::new(&h) {
            Ok(p) if p.algorithm.as_str().starts_with("argon2") => Some(ClientSecret::Hash(h)),
            _ => {
                errs.push(ConfigError::at(
                    at("secret_hash"),
                    "must be an argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)",
                ));
                None
            }
        },
        (None, None) => None,
    };
    let has_secret = secret.is_some();
    let method = c.auth_method.clone().unwrap_or_else(|| {
        if has_secret {
            "client_secret_basic".into()
        } else if c.jwks.is_some() || c.jwks_uri.is_some() {
            "private_key_jwt".into()
        } else {
            "none".into()
        }
    });
    let auth = match (method.as_str(), secret) {
        ("client_secret_basic", Some(s)) => ClientAuth::Secret {
            secret: s,
            in_body: false,
        },
        ("client_secret_post", Some(s)) => ClientAuth::Secret {
            secret: s,
            in_body: true,
        },
        ("client_secret_basic" | "client_secret_post", None) => {
            errs.push(ConfigError::at(
                at("auth_method"),
                format!("{method} needs secret or secret_hash"),
            ));
            ClientAuth::None
        }
        ("private_key_jwt", None) => match (c.jwks, c.jwks_uri) {
            (Some(j), None) if j.get("keys").is_some_and(|k| k.is_array()) => {
                ClientAuth::PrivateKeyJwt(ClientKeys::Inline(j))
            }
            (None, Some(u)) => {
                absolute(&u, &at("jwks_uri"), production, errs);
                ClientAuth::PrivateKeyJwt(ClientKeys::Uri(u))
            }
            _ => {
                errs.push(ConfigError::at(
                    at("jwks"),
                    "private_key_jwt needs jwks ({ keys: [...] }) or jwks_uri, one of them",
                ));
                ClientAuth::None
            }
        },
        ("none", None) => ClientAuth::None,
        ("private_key_jwt" | "none", Some(_)) => {
            errs.push(ConfigError::at(
                at("auth_method"),
                format!("{method} takes no secret"),
            ));
            ClientAuth::None
        }
        (other, _) => {
            errs.push(ConfigError::at(
                at("auth_method"),
                format!("{other:?} is not client_secret_basic, client_secret_post, private_key_jwt or none"),
            ));
            ClientAuth::None
        }
    };
    // Grants.
    let mut grants = Grants::default();
    for g in c
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()])
    {
        match g.as_str() {
            "authorization_code" => grants.authorization_code = true,
            "refresh_token" => grants.refresh_token = true,
            "client_credentials" => grants.client_credentials = true,
            other => errs.push(ConfigError::at(
                at("grant_types"),
                format!("{other:?} is not authorization_code, refresh_token or client_credentials (no implicit, no password: RFC 9700 §2.1.2, §2.4)"),
            )),
        }
    }
    if grants.refresh_token && !grants.authorization_code {
        errs.push(ConfigError::at(
            at("grant_types"),
            "refresh_token comes with authorization_code",
        ));
    }
    if grants.client_credentials {
        if matches!(auth, ClientAuth::None) {
            errs.push(ConfigError::at(
                at("grant_types"),
                "client_credentials is for confidential clients (a secret or private_key_jwt)",
            ));
        }
        if c.service_account.is_none() {
            errs.push(ConfigError::at(
                at("service_account"),
                "client_credentials names the user its tokens are for (a service account's email)",
            ));
        }
    }
    // Redirect URIs.
    let mut redirect_uris = Vec::new();
    let mut hosts = std::collections::BTreeSet::new();
    let mut cors_origins = Vec::new();
    for (i, r) in c.redirect_uris.iter().enumerate() {
        let key = at(&format!("redirect_uris[{i}]"));
        let Some(u) = absolute(r, &key, production, errs) else {
            continue;
        };
        if let Some(h) = u.host_str() {
            hosts.insert(h.to_string());
        }
        if matches!(u.scheme(), "http" | "https") {
            cors_origins.push(u.origin().ascii_serialization());
        }
        let literal = matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        redirect_uris.push(
            if u.scheme() == "http" && literal && u.port().is_none() && !r.contains("]:") {
                let host = u
                    .host_str()
                    .map(|h| {
                        if h.contains(':') {
                            format!("[{h}]")
                        } else {
                            h.to_string()
                        }
                    })
                    .unwrap_or_default();
                let rest = r
                    .strip_prefix("http://")
                    .and_then(|x| x.strip_prefix(host.as_str()))
                    .unwrap_or("/")
                    .to_string();
                RedirectUri::LoopbackAnyPort { host, rest }
            } else {
                RedirectUri::Exact(r.clone())
            },
        );
    }
    if grants.authorization_code && c.redirect_uris.is_empty() {
        errs.push(ConfigError::at(
            at("redirect_uris"),
            "list at least one (the code flow sends the browser back there)",
        ));
    }
    cors_origins.sort();
    cors_origins.dedup();
    for (i, r) in c.post_logout_redirect_uris.iter().enumerate() {
        absolute(
            r,
            &at(&format!("post_logout_redirect_uris[{i}]")),
            production,
            errs,
        );
    }
    if let Some(b) = &c.backchannel_logout_uri {
        if let Some(u) = absolute(b, &at("backchannel_logout_uri"), production, errs) {
            if !matches!(u.scheme(), "http" | "https") {
                errs.push(ConfigError::at(
                    at("backchannel_logout_uri"),
                    "must be http(s)",
                ));
            }
        }
    }
    // Scopes.
    let mut scopes = Vec::new();
    for s in c
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["openid".into(), "profile".into(), "email".into()])
    {
        match Scope::parse(&s) {
            Some(x) => scopes.push(x),
            None => errs.push(ConfigError::at(
                at("scopes"),
                format!("{s:?} is not one of openid, profile, email, groups, offline_access"),
            )),
        }
    }
    scopes.sort();
    scopes.dedup();
    if grants.authorization_code && !scopes.contains(&Scope::OpenId) {
        errs.push(ConfigError::at(
            at("scopes"),
            "an OpenID Connect client needs openid",
        ));
    }
    if scopes.contains(&Scope::OfflineAccess) && !grants.refresh_token {
        errs.push(ConfigError::at(
            at("scopes"),
            "offline_access needs the refresh_token grant",
        ));
    }
    let consent = match c.consent {
        None => Consent::Implicit,
        Some(ConsentFile::Word(w)) if w == "implicit" => Consent::Implicit,
        Some(ConsentFile::Word(w)) if w == "explicit" => Consent::Explicit,
        Some(ConsentFile::Remember(r)) if !r.remember.0.is_zero() => {
            Consent::Remember(r.remember.0)
        }
        Some(_) => {
            errs.push(ConfigError::at(
                at("consent"),
                "implicit, explicit or { remember: \"30 days\" }",
            ));
            Consent::Explicit
        }
    };
    if scopes.contains(&Scope::OfflineAccess) && consent == Consent::Implicit {
        // Offline access outlives the browser's sign-in: the user says so (OIDC Core §11).
        errs.push(ConfigError::at(
            at("consent"),
            "offline_access is granted only with consent: explicit or { remember }",
        ));
    }
    let subject = match c.subject.as_deref().unwrap_or("public") {
        "public" => Subject::Public,
        "pairwise" => match (&c.sector_identifier, hosts.len()) {
            (Some(s), _) => Subject::Pairwise { sector: s.clone() },
            (None, 1) => Subject::Pairwise {
                sector: hosts.iter().next().cloned().unwrap_or_default(),
            },
            (None, _) => {
                errs.push(ConfigError::at(
                    at("sector_identifier"),
                    "pairwise subjects with redirect URIs on several hosts need a sector_identifier (OIDC Core §8.1)",
                ));
                Subject::Public
            }
        },
        other => {
            errs.push(ConfigError::at(
                at("subject"),
                format!("{other:?} is not public or pairwise"),
            ));
            Subject::Public
        }
    };
    let route_at = |k: &str| at(k);
    let (_, policy) = super::validate_policy::route_policy(
        &route_at,
        Some(super::file::AuthFile::Keyword("required".into())),
        c.allow,
        c.deny,
        networks,
        errs,
    );
    (errs.len() == before).then(|| Client {
        id: id.to_string(),
        name: c.name.unwrap_or_else(|| id.to_string()),
        auth,
        redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        backchannel_logout_uri: c.backchannel_logout_uri,
        scopes,
        grants,
        service_account: c.service_account.map(|s| s.trim().to_ascii_lowercase()),
        consent,
        subject,
        policy,
        cors_origins,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{from_yaml, ConfigError};

    fn errors(yaml: &str) -> Vec<ConfigError> {
        from_yaml(yaml, &Default::default(), std::path::Path::new("."))
            .err()
            .unwrap_or_default()
    }

    fn provider(yaml: &str) -> crate::config::OidcProvider {
        from_yaml(yaml, &Default::default(), std::path::Path::new("."))
            .unwrap()
            .oidc_provider
            .map(|p| (*p).clone())
            .unwrap()
    }

    #[test]
    fn a_client_gets_every_default() {
        let p = provider(
            "oidc_provider:\n  enabled: true\n  clients:\n    grafana:\n      secret: \"0123456789abcdef0123\"\n      redirect_uris: [\"https://grafana.test/login/generic_oauth\"]\n",
        );
        assert_eq!(p.issuer, "http://localhost:8080");
        assert_eq!(p.path, "/oidc");
        assert_eq!(p.discovery_path(), "/.well-known/openid-configuration");
        let c = &p.clients["grafana"];
        assert!(matches!(
            c.auth,
            super::ClientAuth::Secret { in_body: false, .. }
        ));
        assert_eq!(c.scopes.len(), 3);
        assert!(c.grants.authorization_code && !c.grants.refresh_token);
        assert_eq!(c.consent, super::Consent::Implicit);
        assert!(c.redirect_allowed("https://grafana.test/login/generic_oauth"));
        assert!(!c.redirect_allowed("https://grafana.test/login/generic_oauth/"));
    }

    #[test]
    fn bad_clients_are_named_at_their_keys() {
        let cases = [
            ("redirect_uris: [\"/relative\"]", "redirect_uris[0]"),
            ("redirect_uris: [\"https://a.test/cb#x\"]", "redirect_uris[0]"),
            ("redirect_uris: []", "redirect_uris"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      grant_types: [implicit]", "grant_types"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      grant_types: [authorization_code, client_credentials]", "service_account"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      scopes: [openid, offline_access]\n      grant_types: [authorization_code, refresh_token]", "consent"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      auth_method: client_secret_post", "auth_method"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      auth_method: private_key_jwt", "jwks"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      secret_hash: \"plain\"", "secret_hash"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      scopes: [openid, admin]", "scopes"),
            ("redirect_uris: [\"https://a.test/cb\", \"https://b.test/cb\"]\n      subject: pairwise", "sector_identifier"),
            ("redirect_uris: [\"https://a.test/cb\"]\n      unknown: 1", "oidc_provider.clients.app.unknown"),
        ];
        for (client, key) in cases {
            let yaml =
                format!("oidc_provider:\n  enabled: true\n  clients:\n    app:\n      {client}\n");
            let errs = errors(&yaml);
            assert!(
                errs.iter().any(|e| e.to_string().contains(key)),
                "{client}: {errs:?}"
            );
        }
    }

    #[test]
    fn http_beyond_loopback_is_refused_in_production_only() {
        let client = "oidc_provider:\n  enabled: true\n  clients:\n    app:\n      redirect_uris: [\"http://app.test/cb\", \"http://127.0.0.1/native\"]\n";
        let dev = provider(client);
        assert!(dev.clients["app"].redirect_allowed("http://127.0.0.1:4711/native"));
        let prod =
            format!("server: {{ environment: production }}\nmail: {{ outbox: true }}\n{client}");
        let errs = errors(&prod);
        assert!(
            errs.iter()
                .any(|e| e.to_string().contains("redirect_uris[0]")),
            "{errs:?}"
        );
        assert!(
            !errs
                .iter()
                .any(|e| e.to_string().contains("redirect_uris[1]")),
            "{errs:?}"
        );
    }
}
