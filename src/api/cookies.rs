//! The session cookie: HttpOnly, Secure per config, SameSite per config, Path=/. A browser
//! session cookie unless the user asked to be remembered.

use crate::config::{Config, SameSite};
use http::HeaderValue;

fn build(cfg: &Config, value: String) -> cookie::CookieBuilder<'static> {
    let same_site = match cfg.cookie.same_site {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    };
    cookie::Cookie::build((cfg.cookie.name.clone(), value))
        .http_only(true)
        .secure(cfg.cookie.secure)
        .same_site(same_site)
        .path("/")
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
