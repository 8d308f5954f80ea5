//! Validation of the `oauth:` section.

use super::error::ConfigError;
use super::file_oauth::{OAuthFile, ProviderFile};
use super::runtime_oauth::*;
use secrecy::SecretString;
use std::time::Duration;

pub(super) fn oauth(f: OAuthFile, production: bool, errs: &mut Vec<ConfigError>) -> OAuth {
    let d = |v: Option<super::HumanDuration>, secs: u64| {
        v.map(|d| d.0).unwrap_or(Duration::from_secs(secs))
    };
    let success_url = f.success_url.unwrap_or_else(|| "/".into());
    if !crate::redirect::is_local_path(&success_url) {
        errs.push(ConfigError::at(
            "oauth.success_url",
            "must be a path on this site, like \"/\"",
        ));
    }
    let refresh = Refresh {
        cookie: f
            .refresh
            .cookie
            .unwrap_or_else(|| "nuxt-aegis-refresh".into()),
        ttl: d(f.refresh.ttl, 7 * 86_400),
        absolute: d(f.refresh.absolute, 30 * 86_400),
        grace: d(f.refresh.grace, 10),
        rotate: f.refresh.rotate.unwrap_or(true),
    };
    if refresh.grace > Duration::from_secs(60) {
        errs.push(ConfigError::at(
            "oauth.refresh.grace",
            "must be at most 60s: it is a window for parallel requests",
        ));
    }
    let providers = f
        .providers
        .into_iter()
        .filter_map(|(name, p)| provider(&name, p, production, errs).map(|p| (name, p)))
        .collect();
    OAuth {
        success_url,
        allow_signup: f.allow_signup.unwrap_or(true),
        link_by_verified_email: f.link_by_verified_email.unwrap_or(false),
        code_ttl: d(f.code_ttl, 60),
        refresh,
        providers,
    }
}

fn provider(
    name: &str,
    p: ProviderFile,
    production: bool,
    errs: &mut Vec<ConfigError>,
) -> Option<Provider> {
    let at = |k: &str| format!("oauth.providers.{name}.{k}");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        errs.push(ConfigError::at(
            format!("oauth.providers.{name}"),
            "use letters, digits, '-' or '_' (it is a URL segment)",
        ));
        return None;
    }
    let kind = match p.kind.as_str() {
        "mock" if production => {
            errs.push(ConfigError::at(
                at("kind"),
                "the mock provider signs anyone in as its personas, so it is refused in production (server.environment; production by default once public_url or a listener is not loopback): remove it, or set server.environment: development to try it on a private host",
            ));
            return None;
        }
        "mock" => ProviderKind::Mock {
            personas: p
                .personas
                .iter()
                .map(|x| Persona {
                    sub: x.sub.clone(),
                    email: x.email.clone(),
                    name: x.name.clone(),
                    picture: x.picture.clone(),
                    email_verified: x.email_verified.unwrap_or(true),
                    claims: x.claims.clone().into_iter().collect(),
                })
                .collect(),
        },
        "google" => ProviderKind::Oidc {
            issuer: p
                .issuer
                .clone()
                .unwrap_or_else(|| "https://accounts.google.com".into()),
        },
        "oidc" | "auth0" => match &p.issuer {
            Some(i) if i.starts_with("https://") || i.starts_with("http://") => {
                ProviderKind::Oidc { issuer: i.clone() }
            }
            _ => {
                errs.push(ConfigError::at(
                    at("issuer"),
                    "an https:// issuer URL is required for this kind",
                ));
                return None;
            }
        },
        "github" => ProviderKind::Github {
            auth_url: p
                .auth_url
                .clone()
                .unwrap_or_else(|| "https://github.com/login/oauth/authorize".into()),
            token_url: p
                .token_url
                .clone()
                .unwrap_or_else(|| "https://github.com/login/oauth/access_token".into()),
            api_url: p
                .api_url
                .clone()
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
        },
        other => {
            errs.push(ConfigError::at(
                at("kind"),
                format!("{other:?} is not one of mock, oidc, google, auth0, github"),
            ));
            return None;
        }
    };
    if let ProviderKind::Mock { personas } = &kind {
        if personas.is_empty() {
            errs.push(ConfigError::at(at("personas"), "list at least one persona"));
        }
        for (i, persona) in personas.iter().enumerate() {
            for k in persona.claims.keys() {
                if RESERVED_CLAIMS.contains(&k.as_str()) {
                    errs.push(ConfigError::at(
                        at(&format!("personas[{i}].{k}")),
                        "is set by the mock provider itself (issuer, audience, times, nonce)",
                    ));
                }
            }
        }
    }
    let groups = p.groups.and_then(|g| match super::pointer::parse(&g.from) {
        Ok(ptr) => Some(ptr),
        Err(why) => {
            errs.push(ConfigError::at(at("groups.from"), why));
            None
        }
    });
    let client_secret = match p
        .client_secret
        .as_ref()
        .map(|s| super::env::expand(secrecy::ExposeSecret::expose_secret(s)))
    {
        Some(Ok(s)) => SecretString::from(s),
        Some(Err(missing)) => {
            errs.push(ConfigError::at(at("client_secret"), missing));
            SecretString::from(String::new())
        }
        None => SecretString::from(String::new()),
    };
    let mut claims = std::collections::BTreeMap::new();
    for (k, c) in p.claims {
        match (c.value, c.from) {
            (Some(v), None) => {
                claims.insert(k, ClaimSource::Static(v));
            }
            (None, Some(f)) => {
                claims.insert(k, ClaimSource::From(f));
            }
            _ => errs.push(ConfigError::at(
                at(&format!("claims.{k}")),
                "give exactly one of value or from",
            )),
        }
    }
    let default_scopes: Vec<String> = match kind {
        ProviderKind::Github { .. } => vec!["read:user".into(), "user:email".into()],
        _ => vec!["openid".into(), "email".into(), "profile".into()],
    };
    Some(Provider {
        name: name.to_string(),
        kind,
        client_id: p.client_id,
        client_secret,
        scopes: p.scopes.unwrap_or(default_scopes),
        role: p.role.unwrap_or_else(|| "user".into()),
        claims,
        groups,
    })
}

/// The ID-token claims the mock provider sets itself; a persona cannot carry them.
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "auth_time",
    "jti",
];
