//! The session cookie: HttpOnly, Secure per config, SameSite per config, Path=/, and
//! `Domain=cookie.domain` when set (one sign-in for every subdomain). A browser session
//! cookie unless the user asked to be remembered.

use crate::config::{Config, SameSite};
use http::HeaderValue;

fn build(cfg: &Config, value: String) -> cookie::CookieBuilder<'static> {
    let same_site = match cfg.cookie.same_site {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    };
    let c = cookie::Cookie::build((cfg.cookie.name.clone(), value))
        .http_only(true)
        .secure(cfg.cookie.secure)
        .same_site(same_site)
        .path("/");
    match &cfg.cookie.domain {
        Some(d) => c.domain(d.clone()),
        None => c,
    }
}

fn header(c: cookie::CookieBuilder<'static>) -> HeaderValue {
    // Name and token are header-safe (config-checked name, base64url token).
    HeaderValue::from_str(&c.build().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` carrying a session token; persistent (for the token's lifetime) when remembered.
pub fn session(cfg: &Config, token: &str, remember: bool) -> HeaderValue {
    let mut c = build(cfg, token.to_string());
    if remember {
        c = c.max_age(cookie::time::Duration::seconds(
            cfg.tokens.expiration_long.as_secs() as i64,
        ));
    }
    header(c)
}

/// `Set-Cookie` that removes the session cookie, with the same attributes it was set with.
pub fn clear(cfg: &Config) -> HeaderValue {
    header(
        build(cfg, String::new())
            .max_age(cookie::time::Duration::ZERO)
            .expires(cookie::time::OffsetDateTime::UNIX_EPOCH),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public URL makes the config production's, which needs mail to go somewhere.
    fn cfg(yaml: &str) -> Config {
        let yaml = format!("{yaml}\nmail: {{ outbox: true }}\n");
        crate::config::from_yaml(&yaml, &Default::default(), std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn attributes_follow_config_and_clearing_repeats_them() {
        let c = cfg("server: { public_url: \"https://id.example.com\" }\ncookie: { name: sid, same_site: strict }");
        let set = session(&c, "tok", false);
        let set = set.to_str().unwrap();
        for attr in ["sid=tok", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attr), "{attr}: {set}");
        }
        assert!(!set.contains("Max-Age"));
        let remembered = session(&c, "tok", true);
        assert!(remembered
            .to_str()
            .unwrap()
            .contains(&format!("Max-Age={}", 7 * 86400)));
        let gone = clear(&c);
        let gone = gone.to_str().unwrap();
        for attr in [
            "sid=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=0",
        ] {
            assert!(gone.contains(attr), "{attr}: {gone}");
        }
        let plain = cfg("server: { public_url: \"http://localhost:8080\" }");
        assert!(!session(&plain, "t", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
        let forced =
            cfg("server: { public_url: \"http://localhost:8080\" }\ncookie: { secure: true }");
        assert!(session(&forced, "t", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn a_secure_cookie_is_host_prefixed_by_default() {
        let c = cfg("server: { public_url: \"https://id.example.com\" }");
        let set = session(&c, "tok", false);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-portcullis_session=tok"), "{set}");
        assert!(set.contains("Path=/") && set.contains("Secure"), "{set}");
        assert!(!set.contains("Domain"), "{set}");
        let plain = cfg("server: { public_url: \"http://localhost:8080\" }");
        assert!(session(&plain, "t", false)
            .to_str()
            .unwrap()
            .starts_with("portcullis_session="));
        let bad = crate::config::from_yaml(
            "server: { public_url: \"http://localhost:8080\" }\ncookie: { name: __Host-sid }",
            &Default::default(),
            std::path::Path::new("."),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn a_cookie_shared_with_subdomains_is_secure_prefixed_and_must_cover_the_gateway() {
        let c = cfg("server: { public_url: \"https://id.example.test\" }\ncookie: { domain: \".Example.test\" }");
        let set = session(&c, "tok", false);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Secure-portcullis_session=tok"), "{set}");
        assert!(set.contains("Domain=example.test"), "{set}");
        assert!(clear(&c).to_str().unwrap().contains("Domain=example.test"));
        for bad in [
            "server: { public_url: \"https://id.example.test\" }\ncookie: { domain: other.test }",
            "server: { public_url: \"https://id.example.test\" }\ncookie: { domain: test }",
            "server: { public_url: \"https://id.example.test\" }\ncookie: { domain: \"*.example.test\" }",
            "server: { public_url: \"https://id.example.test\" }\ncookie: { domain: example.test, name: __Host-sid }",
        ] {
            let r = crate::config::from_yaml(bad, &Default::default(), std::path::Path::new("."));
            assert!(r.is_err(), "{bad}");
        }
    }
}
