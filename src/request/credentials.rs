//! Where a request carries its token: `Authorization: Bearer` first, then the session cookie.

use http::header::{AUTHORIZATION, COOKIE};
use http::HeaderMap;

#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    None,
    Token(String),
    /// An Authorization header that is not a well-formed Bearer token.
    Malformed,
}

/// Where a script may put its API key instead of `Authorization: Bearer`.
pub const API_KEY: http::HeaderName = http::HeaderName::from_static("x-api-key");

pub fn extract(headers: &HeaderMap, cookie_name: &str) -> Credentials {
    if let Some(v) = headers.get(AUTHORIZATION) {
        let Ok(v) = v.to_str() else {
            return Credentials::Malformed;
        };
        let mut parts = v.trim().splitn(2, ' ');
        return match (parts.next(), parts.next().map(str::trim)) {
            (Some(scheme), Some(token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() =>
            {
                Credentials::Token(token.to_string())
            }
            _ => Credentials::Malformed,
        };
    }
    let mut values = cookies_named(headers, cookie_name);
    match values.next() {
        None => Credentials::None,
        // Two different session cookies mean one was planted (a sibling domain or a longer
        // path can add its own): trust neither.
        Some(first) if values.any(|v| v != first) => Credentials::Malformed,
        Some(token) => Credentials::Token(token.to_string()),
    }
}

/// The non-empty values of every cookie called `name`, in order (names and values trimmed,
/// the value taken whole after the first `=`, as the `cookie` crate reads them).
fn cookies_named<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=')?;
            let v = v.trim();
            (k.trim() == name && !v.is_empty()).then_some(v)
        })
}

/// The value of the first non-empty cookie called `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies_named(headers, name).next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn bearer_then_cookie() {
        assert_eq!(
            extract(&h(&[("authorization", "Bearer abc")]), "s"),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            extract(&h(&[("authorization", "bearer  abc ")]), "s"),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            extract(&h(&[("cookie", "a=1; s=tok")]), "s"),
            Credentials::Token("tok".into())
        );
        assert_eq!(
            extract(&h(&[("authorization", "Basic x")]), "s"),
            Credentials::Malformed
        );
        assert_eq!(
            extract(&h(&[("authorization", "Bearer")]), "s"),
            Credentials::Malformed
        );
        assert_eq!(
            extract(&h(&[("cookie", "other=1")]), "s"),
            Credentials::None
        );
        assert_eq!(
            extract(&h(&[("cookie", "s=a; s=b")]), "s"),
            Credentials::Malformed
        );
        assert_eq!(
            extract(&h(&[("cookie", "s=a"), ("cookie", "s=b")]), "s"),
            Credentials::Malformed
        );
        assert_eq!(
            extract(&h(&[("cookie", "s=a; s=a; s=")]), "s"),
            Credentials::Token("a".into())
        );
    }
}
