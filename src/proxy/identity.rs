//! Identity headers: removed from every client request (any case, any route), then set from
//! the verified session, so the upstream can trust them.

use crate::auth::cache::HeaderValues;
use crate::auth::Identity;
use crate::config::IdentityHeaders;
use http::HeaderValue;
use pingora::http::RequestHeader;

/// Removes every header under the identity prefix. Header names are stored lower-cased, so
/// this catches `x-auth-user-id`, `X-AUTH-USER-ID` and any other spelling; underscores count
/// as dashes, because CGI-style apps (PHP, Django, Rack) read `X_Auth_User_Id` as the same
/// header.
pub fn strip(req: &mut RequestHeader, prefix: &str) {
    // The assertion header is ours whatever the prefix.
    super::headers::remove_where(req, |name| {
        under_prefix(name, prefix) || name == crate::auth::assertion::HEADER
    });
    // A client naming an identity header in `Connection` would get the header we inject
    // stripped as hop-by-hop on the way to the app; drop such nominations.
    retain_list_items(req, http::header::CONNECTION, b',', b", ", |t| {
        !under_prefix(t, prefix)
    });
}

/// Rewrites a list-valued header keeping only the items `keep` accepts; removes the header
/// when none remain. Untouched when every item is kept. Items are read as bytes, so a value
/// with non-ASCII (obs-text) bytes cannot hide an item from the check.
fn retain_list_items(
    req: &mut RequestHeader,
    name: http::HeaderName,
    sep: u8,
    joiner: &[u8],
    keep: impl Fn(&str) -> bool,
) {
    let keeps = |item: &[u8]| keep(&String::from_utf8_lossy(item));
    let values = || {
        req.headers
            .get_all(&name)
            .iter()
            .flat_map(move |v| v.as_bytes().split(move |b| *b == sep))
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.is_empty())
    };
    // The common case, nothing to drop, allocates nothing.
    if values().all(keeps) {
        return;
    }
    let kept: Vec<&[u8]> = values().filter(|t| keeps(t)).collect();
    let (any, joined) = (!kept.is_empty(), kept.join(joiner));
    req.remove_header(&name);
    if any {
        if let Ok(v) = HeaderValue::from_bytes(&joined) {
            let _ = req.insert_header(name, v);
        }
    }
}

/// Whether a header name falls under the prefix, ignoring case and reading `_` as `-`.
fn under_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(a, b)| a.to_ascii_lowercase() == b || (a == b'_' && b == b'-'))
}

pub fn inject(req: &mut RequestHeader, names: &IdentityHeaders, id: &Identity) {
    for (name, value) in pairs(names, id) {
        // Infallible after encoding; a failure would drop one header, never forward a client's.
        let _ = req.insert_header(name.clone(), value);
    }
}

/// Every identity header's name.
pub fn names(names: &IdentityHeaders) -> impl Iterator<Item = &http::HeaderName> {
    [
        &names.user_id,
        &names.email,
        &names.name,
        &names.role,
        &names.groups,
        &names.session_id,
        &names.amr,
        &names.key_id,
        &names.scopes,
    ]
    .into_iter()
    .chain(names.picture.as_ref())
}

/// The identity headers for `id`: names and values.
pub fn pairs<'a>(
    names: &'a IdentityHeaders,
    id: &Identity,
) -> impl Iterator<Item = (&'a http::HeaderName, HeaderValue)> {
    let u = &id.user;
    // Encoded once per cached user; a clone is a reference count.
    let v = u.header_values.get_or_init(|| {
        Box::new(HeaderValues {
            id: header_value(&u.id.to_string()),
            email: header_value(&u.email),
            name: header_value(&u.name),
            role: header_value(&u.role),
            groups: header_value(&u.groups.join(",")),
            picture: u.picture.as_deref().map(header_value),
        })
    });
    let picture = names.picture.as_ref().zip(v.picture.clone());
    // A key's request names the key and its scopes; a session's, the session.
    let key = id.key.as_ref();
    let session = key.is_none().then(|| {
        let mut session = [0; uuid::fmt::Hyphenated::LENGTH];
        let v = header_value(id.session_id.hyphenated().encode_lower(&mut session));
        (&names.session_id, v)
    });
    [
        (&names.user_id, v.id.clone()),
        (&names.email, v.email.clone()),
        (&names.name, v.name.clone()),
        (&names.role, v.role.clone()),
        (&names.groups, v.groups.clone()),
        (&names.amr, id.session.amr.header_value().clone()),
    ]
    .into_iter()
    .chain(session)
    .chain(key.map(|k| (&names.key_id, k.id_header.clone())))
    .chain(key.map(|k| (&names.scopes, k.scopes_header.clone())))
    .chain(picture)
}

/// The signed identity assertion addressed to `upstream`, if it could be made (a signing
/// failure, which a valid key cannot have, leaves the app the plain headers only).
pub fn assertion(
    state: &crate::state::State,
    id: &Identity,
    upstream: &str,
) -> Option<HeaderValue> {
    let now = crate::store::now() as u64;
    let token = state.asserter.assert(id, upstream, now)?;
    HeaderValue::from_str(&token).ok()
}

/// Adds the signed identity assertion addressed to `upstream`. Without one (a signing
/// failure, which a valid key cannot have) the app gets the plain headers only.
pub fn assert(req: &mut RequestHeader, state: &crate::state::State, id: &Identity, upstream: &str) {
    if let Some(v) = assertion(state, id, upstream) {
        let _ = req.insert_header(crate::auth::assertion::HEADER, v);
    }
}

/// Removes the caller's own credentials — a Bearer token that `is_ours` and the session
/// cookie — so the app behind the gateway never holds a token it could replay. Other
/// `Authorization` schemes and other cookies pass untouched.
pub fn drop_credentials(
    req: &mut RequestHeader,
    cookie_name: &str,
    is_ours: impl Fn(&str) -> bool,
) {
    let says_bearer = |v: &[u8]| {
        v.trim_ascii()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer"))
    };
    let ours = req
        .headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .any(|v| match bearer_token(v.as_bytes()) {
            Some(t) => is_ours(t),
            // Not a Bearer token we can read: the gateway refused it as malformed, so it is
            // no credential of the app's either.
            None => says_bearer(v.as_bytes()),
        });
    if ours {
        req.remove_header(&http::header::AUTHORIZATION);
    }
    // An API key in its own header is the caller's credential for us, never for the app.
    if req
        .headers
        .contains_key(crate::request::credentials::API_KEY)
    {
        req.remove_header(&crate::request::credentials::API_KEY);
    }
    retain_list_items(req, http::header::COOKIE, b';', b"; ", |c| {
        c.split('=').next().map(str::trim) != Some(cookie_name)
    });
}

/// The token of a `Bearer` authorization value.
fn bearer_token(v: &[u8]) -> Option<&str> {
    let v = std::str::from_utf8(v).ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Header-safe form of a value: printable ASCII passes, everything else (UTF-8 names, control
/// characters that could split headers) is percent-encoded.
pub fn header_value(v: &str) -> HeaderValue {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%') {
        if let Ok(h) = HeaderValue::from_str(v) {
            return h;
        }
    }
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_the_users_values_encoded_once() {
        let names = IdentityHeaders {
            prefix: "x-auth-".into(),
            user_id: http::HeaderName::from_static("x-auth-user-id"),
            email: http::HeaderName::from_static("x-auth-email"),
            name: http::HeaderName::from_static("x-auth-name"),
            role: http::HeaderName::from_static("x-auth-role"),
            groups: http::HeaderName::from_static("x-auth-groups"),
            session_id: http::HeaderName::from_static("x-auth-session-id"),
            amr: http::HeaderName::from_static("x-auth-amr"),
            key_id: http::HeaderName::from_static("x-auth-key-id"),
            scopes: http::HeaderName::from_static("x-auth-scopes"),
            forward_token: false,
            picture: Some(http::HeaderName::from_static("x-auth-picture")),
        };
        let id = |user_id: i64, name: &str| Identity {
            user: std::sync::Arc::new(crate::auth::CachedUser {
                id: user_id,
                email: "zo@example.test".into(),
                name: name.into(),
                role: "admin".into(),
                active: true,
                picture: Some("https://p.example/z.png".into()),
                email_verified: true,
                groups: vec!["eng".into(), "ops".into()],
                header_values: Default::default(),
            }),
            session_id: uuid::Uuid::from_u128(0xABCDEF),
            session: crate::auth::cache::SessionEntry {
                user_id,
                token_id: uuid::Uuid::nil(),
                expires_at: 0,
                remember: false,
                revoked: false,
                amr: crate::auth::Amr::PWD,
            },
            key: None,
            claims: None,
        };
        let headers = |id: &Identity| {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            inject(&mut req, &names, id);
            let h = |n: &str| req.headers.get(n).unwrap().to_str().unwrap().to_string();
            [
                h("x-auth-user-id"),
                h("x-auth-email"),
                h("x-auth-name"),
                h("x-auth-role"),
                h("x-auth-session-id"),
                h("x-auth-picture"),
                h("x-auth-groups"),
            ]
        };
        let zoe = id(i64::MIN, "Zoë\r\nX-Evil: 1");
        let first = headers(&zoe);
        assert_eq!(
            first,
            [
                "-9223372036854775808",
                "zo@example.test",
                "Zo%C3%AB%0D%0AX-Evil: 1",
                "admin",
                "00000000-0000-0000-0000-000000abcdef",
                "https://p.example/z.png",
                "eng,ops",
            ]
        );
        assert!(
            zoe.user.header_values.get().is_some(),
            "kept for the next request"
        );
        assert_eq!(headers(&zoe), first);
        // A changed user is a new cache entry, with its own values.
        assert_eq!(
            headers(&id(42, "Ann"))[..3],
            ["42", "zo@example.test", "Ann"]
        );
    }

    #[test]
    fn strips_every_spelling() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("X-Auth-User-Id", "1").unwrap();
        req.append_header("x-auth-role", "admin").unwrap();
        req.append_header("X-AUTH-ANYTHING", "x").unwrap();
        req.append_header("X_Auth_User_Id", "2").unwrap();
        req.append_header("x-auth_role", "admin").unwrap();
        req.append_header("x-other", "keep").unwrap();
        req.append_header("Connection", "keep-alive, X-Auth-Role, x_auth_email")
            .unwrap();
        strip(&mut req, "x-auth-");
        assert_eq!(req.headers.len(), 2);
        assert!(req.headers.get("x-other").is_some());
        assert_eq!(req.headers.get("connection").unwrap(), "keep-alive");
        // Found by fuzzing: an opaque byte in the value must not hide a nomination.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        let v = HeaderValue::from_bytes(b"keep-alive, x-auth-role, \xff").unwrap();
        req.append_header("Connection", v).unwrap();
        strip(&mut req, "x-auth-");
        assert_eq!(
            req.headers.get("connection").unwrap().as_bytes(),
            b"keep-alive, \xff"
        );
    }

    #[test]
    fn drops_only_the_gateway_credentials() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("Authorization", "Bearer abc").unwrap();
        req.append_header("Cookie", "a=1; sess=tok; b=2").unwrap();
        drop_credentials(&mut req, "sess", |t| t == "abc");
        assert!(req.headers.get("authorization").is_none());
        assert_eq!(req.headers.get("cookie").unwrap(), "a=1; b=2");
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("Authorization", "Bearer the-apps-own")
            .unwrap();
        drop_credentials(&mut req, "sess", |t| t == "abc");
        assert_eq!(
            req.headers.get("authorization").unwrap(),
            "Bearer the-apps-own"
        );
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("Authorization", "Basic eDp5").unwrap();
        req.append_header("Cookie", "sess=tok").unwrap();
        drop_credentials(&mut req, "sess", |_| true);
        assert_eq!(req.headers.get("authorization").unwrap(), "Basic eDp5");
        assert!(req.headers.get("cookie").is_none());
        // An unreadable Bearer value goes too, leading spaces or not (found by the fuzzer).
        for v in [" BearerLx", "bearer", "Bearer\tx"] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.append_header("Authorization", v).unwrap();
            drop_credentials(&mut req, "sess", |_| false);
            assert!(req.headers.get("authorization").is_none(), "{v:?}");
        }
    }

    #[test]
    fn values_cannot_split_headers() {
        assert_eq!(header_value("Ann"), "Ann");
        assert_eq!(
            header_value("a\r\nX-Auth-Role: admin"),
            "a%0D%0AX-Auth-Role: admin"
        );
        assert_eq!(header_value("Zoë"), "Zo%C3%AB");
    }
}
