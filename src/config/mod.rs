//! Configuration: load the YAML file, apply environment overrides, validate into [`Config`].

mod duration;
pub mod env;
mod error;
pub mod file;
pub mod file_directory;
pub mod file_oauth;
pub mod file_oidc;
pub mod file_policy;
mod identity_headers;
mod nearest;
pub mod pointer;
mod runtime;
mod runtime_directory;
mod runtime_oauth;
mod runtime_oidc;
mod runtime_policy;
pub mod templates;
mod validate;
mod validate_deployment;
mod validate_directory;
mod validate_mfa;
mod validate_oauth;
mod validate_oidc;
mod validate_policy;
mod validate_routing;

pub use duration::{parse as parse_duration, HumanDuration};
pub use error::{ConfigError, ConfigErrors, Where};
pub use identity_headers::{
    Field as IdentityField, IdentityHeaders, DEFAULT_PREFIX as DEFAULT_IDENTITY_PREFIX,
};
pub use runtime::*;
pub use runtime_directory::*;
pub use runtime_oauth::*;
pub use runtime_oidc::*;
pub use runtime_policy::*;
pub use validate_deployment::{warnings, EXAMPLE_SECRETS};
pub use validate_oidc::CLIENT_SECRET_MIN;

use std::path::Path;

/// Deployment overrides read from the environment (secrets stay out of the config file): each
/// `PORTCULLIS_X`, or the file `PORTCULLIS_X_FILE` names.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub jwt_secret: Option<secrecy::SecretString>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub smtp_password: Option<secrecy::SecretString>,
    /// Files named by `…_FILE` that could not be read: the config is refused, naming them.
    pub unreadable: Vec<String>,
}

impl Overrides {
    pub fn from_env() -> Self {
        let mut unreadable = Vec::new();
        let mut var = |k: &str| {
            env::var(k).unwrap_or_else(|why| {
                unreadable.push(why);
                None
            })
        };
        Overrides {
            jwt_secret: var("PORTCULLIS_JWT_SECRET").map(secrecy::SecretString::from),
            database_url: var("PORTCULLIS_DATABASE_URL"),
            listen: var("PORTCULLIS_LISTEN"),
            admin_listen: var("PORTCULLIS_ADMIN_LISTEN"),
            smtp_password: var("PORTCULLIS_SMTP_PASSWORD").map(secrecy::SecretString::from),
            unreadable,
        }
    }
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        source: source.clone(),
        errors: vec![ConfigError {
            at: Where::File,
            message: format!("cannot read the file: {e}"),
        }],
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    from_yaml(&text, overrides, base).map_err(|errors| ConfigErrors { source, errors })
}

/// Parses YAML text; relative file paths in it resolve against `base`.
pub fn from_yaml(
    text: &str,
    overrides: &Overrides,
    base: &Path,
) -> Result<Config, Vec<ConfigError>> {
    if !overrides.unreadable.is_empty() {
        return Err(overrides
            .unreadable
            .iter()
            .map(|why| ConfigError {
                at: Where::Path("environment".into()),
                message: why.clone(),
            })
            .collect());
    }
    let mut file = parse_file(text)?;
    if let Some(s) = &overrides.jwt_secret {
        file.tokens.secret = Some(s.clone());
    }
    if let Some(u) = &overrides.database_url {
        file.database.url = Some(u.clone());
    }
    if let Some(l) = &overrides.listen {
        file.server.listen = Some(l.clone());
    }
    if let Some(l) = &overrides.admin_listen {
        file.server.admin_listen = Some(l.clone());
    }
    if let (Some(p), Some(smtp)) = (&overrides.smtp_password, file.mail.smtp.as_mut()) {
        smtp.password = Some(p.clone());
    }
    validate::validate(file, base)
}

fn parse_file(text: &str) -> Result<file::FileConfig, Vec<ConfigError>> {
    if text.trim().is_empty() {
        return Ok(file::FileConfig::default());
    }
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let at = match inner.location() {
            Some(loc) => Where::Position {
                line: loc.line(),
                column: loc.column(),
            },
            None => Where::Path(path.clone()),
        };
        // The YAML parser's own text may already carry the path and the position; say each
        // once.
        let text = inner.to_string();
        let mut text = text.strip_prefix(&format!("{path}: ")).unwrap_or(&text);
        // Or the path of the map around the key (an unknown key's error names its map).
        if let Some((head, tail)) = text.split_once(": ") {
            if !head.is_empty() && path.starts_with(head) {
                text = tail;
            }
        }
        if let (Where::Position { .. }, Some(i)) = (&at, text.rfind(" at line ")) {
            text = &text[..i];
        }
        let text = with_suggestion(text);
        let message = if path.is_empty() || path == "." {
            text
        } else {
            format!("{path}: {text}")
        };
        vec![ConfigError { at, message }]
    })
}

/// serde's "unknown field `grups`, expected one of `groups`, …" with the nearest known key
/// named at the end.
fn with_suggestion(text: &str) -> String {
    let Some(rest) = text.strip_prefix("unknown field `") else {
        return text.to_string();
    };
    let Some((word, known)) = rest.split_once('`') else {
        return text.to_string();
    };
    let candidates: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    match nearest::closest(word, &candidates) {
        Some(near) => format!("{text} (did you mean `{near}`?)"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Config, Vec<ConfigError>> {
        from_yaml(yaml, &Overrides::default(), Path::new("."))
    }

    const UPSTREAM: &str = "upstreams: { app: { addrs: [\"127.0.0.1:3000\"] } }\n";

    #[test]
    fn every_shipped_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                load(&p, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }

    #[test]
    fn unknown_keys_point_at_line_and_column() {
        let errs = parse("server:\n  listen: \"127.0.0.1:1\"\n  lisen: x\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            matches!(errs[0].at, Where::Position { line: 3, .. }),
            "{:?}",
            errs[0]
        );
        assert!(errs[0].message.contains("lisen"), "{}", errs[0].message);
    }

    #[test]
    fn semantic_problems_are_all_listed_with_paths() {
        let yaml = format!(
            "{UPSTREAM}tokens: {{ secret: short, leeway: 2 minutes }}\nroutes:\n  - {{ path: \"/a\", upstream: app, auth: none }}\n  - {{ path: \"/b\", upstream: nope, auth: required }}\n  - {{ path: \"/c\", upstream: app, auth: {{ roles: [] }} }}\napi: {{ routes: {{ logn: false }} }}\n"
        );
        let errs = parse(&yaml).unwrap_err();
        let paths: Vec<String> = errs
            .iter()
            .map(|e| match &e.at {
                Where::Path(p) => p.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        for want in [
            "tokens.secret",
            "tokens.leeway",
            "routes[1].upstream",
            "routes[2].auth.roles",
            "api.routes.logn",
        ] {
            assert!(
                paths.iter().any(|p| p == want),
                "missing {want} in {paths:?}"
            );
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_known_one() {
        let errs = parse(&format!(
            "{UPSTREAM}routes:\n  - path: \"/**\"\n    upstream: app\n    allow:\n      - {{ grups: [eng] }}\n"
        ))
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].message.contains("unknown field `grups`")
                && errs[0].message.ends_with("(did you mean `groups`?)"),
            "{}",
            errs[0].message
        );
        assert!(
            errs[0].message.starts_with("routes[0].allow[0]"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn humane_durations_and_overrides() {
        let o = Overrides {
            jwt_secret: Some("x".repeat(40).into()),
            database_url: Some("sqlite://elsewhere.db".into()),
            listen: Some("127.0.0.1:9999".into()),
            admin_listen: None,
            smtp_password: None,
            unreadable: Vec::new(),
        };
        let c = from_yaml(
            &format!("{UPSTREAM}tokens: {{ expiration: 2 hours }}"),
            &o,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.tokens.expiration, std::time::Duration::from_secs(7200));
        assert_eq!(c.database.url, "sqlite://elsewhere.db");
        assert_eq!(c.server.listen.port(), 9999);
        assert!(matches!(c.tokens.key, TokenKey::Hs256(Some(_))));
    }

    #[test]
    fn api_routes_rename_and_disable() {
        let c = parse("api: { routes: { login: \"/auth/signin\", logout-all: false } }").unwrap();
        assert_eq!(c.api.login.as_deref(), Some("/auth/signin"));
        assert_eq!(c.api.logout_all, None);
        assert_eq!(c.api.logout.as_deref(), Some("/api/logout"));
    }

    #[test]
    fn edge_checks_are_off_unless_configured() {
        let c = parse("").unwrap();
        assert_eq!((c.api.forward_auth, c.api.auth_request), (None, None));
        let trusted = "server: { trusted_proxies: [\"10.0.0.1\"] }\n";
        let c = parse(&format!(
            "{trusted}api: {{ routes: {{ forward-auth: true, auth-request: \"/_auth\" }} }}"
        ))
        .unwrap();
        assert_eq!(c.api.forward_auth.as_deref(), Some("/auth/forward"));
        assert_eq!(c.api.auth_request.as_deref(), Some("/_auth"));
        for bad in [
            format!("{trusted}api: {{ routes: {{ forward-auth: \"/api/login\" }} }}"),
            "api: { routes: { forward-auth: true } }".to_string(),
        ] {
            let errs = parse(&bad).unwrap_err();
            assert!(
                errs.iter()
                    .any(|e| e.at == Where::Path("api.routes.forward-auth".into())),
                "{bad}: {errs:?}"
            );
        }
    }

    #[test]
    fn host_patterns_with_a_misplaced_or_second_wildcard_are_named() {
        let routes = |host: &str| {
            format!("upstreams: {{ a: {{ addrs: [\"127.0.0.1:1\"] }} }}\nroutes:\n  - {{ path: \"/**\", host: \"{host}\", upstream: a, auth: none }}\n")
        };
        assert!(parse(&routes("*.Tools.example.test")).is_ok());
        for bad in [
            "*.*.example.test",
            "a.*.example.test",
            "app.example.test:8080",
        ] {
            let errs = parse(&routes(bad)).unwrap_err();
            assert!(
                errs.iter()
                    .any(|e| e.at == Where::Path("routes[0].host".into())),
                "{bad}: {errs:?}"
            );
        }
    }

    #[test]
    fn two_api_routes_cannot_share_a_path() {
        let errs = parse("api: { routes: { logout: \"/api/login\" } }").unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.at == Where::Path("api.routes.logout".into())),
            "{errs:?}"
        );
    }

    #[test]
    fn eddsa_needs_both_key_files() {
        let errs = parse("tokens: { algorithm: EdDSA, private_key_file: k.pem }").unwrap_err();
        assert!(
            errs.iter().any(|e| e.at == Where::Path("tokens".into())),
            "{errs:?}"
        );
        // Not a spelling the schema has: the parser points at it and names the choices.
        let errs = parse("tokens: { algorithm: RS256 }").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].at,
            Where::Position {
                line: 1,
                column: 22
            }
        );
        assert_eq!(
            errs[0].message,
            "tokens.algorithm: unknown variant `RS256`, expected `HS256` or `EdDSA`"
        );
    }

    #[test]
    fn cookie_secure_auto_follows_public_url() {
        let c = parse("server: { public_url: \"https://id.example.com\" }\nmail: { outbox: true }")
            .unwrap();
        assert!(c.cookie.secure);
        let c = parse("server: { public_url: \"http://localhost:8080\" }").unwrap();
        assert!(!c.cookie.secure);
    }
}
