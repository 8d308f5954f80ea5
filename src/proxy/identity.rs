//! Identity headers: removed from every client request (any case, any route), then set from
//! the verified session, so the upstream can trust them.

use crate::auth::cache::HeaderValues;
use crate::auth::Identity;
use crate::config::{IdentityField as Field, IdentityHeaders};
use http::HeaderValue;
use pingora::http::RequestHeader;

/// Removes every header under the identity prefix. Header names are stored lower-cased, so
/// this catches `x-auth-user-id`, `X-AUTH-USER-ID` and any other spelling; underscores count
/// as dashes, because CGI-style apps (PHP, Django, Rack) read `X_Auth_User_Id` as the same
/// header.
pub fn strip(req: &mut RequestHeader, prefix: &str) {
    // The assertion's name from before it followed the prefix: an app still reading it
    // never gets a client's copy.
    super::headers::remove_where(req, |name| {
        under_prefix(name, prefix) || name == crate::auth::assertion::LEGACY_HEADER
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

/// The identity headers `id` has a value for, with their names (the assertion aside: it is
/// made per upstream, by [`assertion`]).
pub fn pairs<'a>(
    names: &'a IdentityHeaders,
    id: &'a Identity,
) -> impl Iterator<Item = (&'a http::HeaderName, HeaderValue)> + 'a {
    let v = cached_values(id);
    names
        .all()
        .filter_map(move |(f, name)| value(names, v, id, f).map(|v| (name, v)))
}

/// Every header of the list, for an edge proxy's 200: the caller's values, empty where there
/// is none (an anonymous caller, a session's key id), so an edge that copies them replaces
/// whatever a client sent under each name.
pub fn answer(
    names: &IdentityHeaders,
    id: Option<&Identity>,
    assertion: Option<HeaderValue>,
) -> Vec<(http::HeaderName, HeaderValue)> {
    let empty = HeaderValue::from_static("");
    names
        .all()
        .map(|(f, name)| {
            let v = match (f, id) {
                (Field::Assertion, _) => assertion.clone(),
                (_, Some(id)) => value(names, cached_values(id), id, f),
                (_, None) => None,
            };
            (name.clone(), v.unwrap_or_else(|| empty.clone()))
        })
        .collect()
}

/// The user's header values, encoded once per cached user; a clone is a reference count.
fn cached_values(id: &Identity) -> &HeaderValues {
    let u = &id.user;
    u.header_values.get_or_init(|| {
        Box::new(HeaderValues {
            id: header_value(&u.id.to_string()),
            email: header_value(&u.email),
            name: header_value(&u.name),
            role: header_value(&u.role),
            groups: header_value(&u.groups.join(",")),
            picture: u.picture.as_deref().map(header_value),
        })
    })
}

/// One header's value for `id`, if it has one. A key's request names the key and its scopes;
/// a session's, the session.
fn value(
    names: &IdentityHeaders,
    v: &HeaderValues,
    id: &Identity,
    f: Field,
) -> Option<HeaderValue> {
    let key = id.key.as_ref();
    match f {
        Field::UserId => Some(v.id.clone()),
        Field::Email => Some(v.email.clone()),
        Field::Name => Some(v.name.clone()),
        Field::Role => Some(v.role.clone()),
        Field::Groups => Some(v.groups.clone()),
        Field::Amr => Some(id.session.amr.header_value().clone()),
        Field::SessionId => key.is_none().then(|| {
            let mut session = [0; uuid::fmt::Hyphenated::LENGTH];
            header_value(id.session_id.hyphenated().encode_lower(&mut session))
        }),
        Field::KeyId => key.map(|k| k.id_header.clone()),
        Field::Scopes => key.map(|k| k.scopes_header.clone()),
        Field::Picture => v.picture.clone().filter(|_| names.picture),
        Field::Assertion => None,
    }
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
pub fn assert(
    req: &mut RequestHeader,
    state: &crate::state::State,
    names: &IdentityHeaders,
    id: &Identity,
    upstream: &str,
) {
    if let Some(v) = assertion(state, id, upstream) {
        let _ = req.insert_header(names.name(Field::Assertion).clone(), v);
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

    fn test_names(picture: bool) -> IdentityHeaders {
        let yaml = format!("identity_headers: {{ picture: {picture} }}\n");
        crate::config::from_yaml(&yaml, &Default::default(), std::path::Path::new("."))
            .unwrap()
            .identity
    }

    fn id(user_id: i64, name: &str) -> Identity {
        Identity {
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
        }
    }

    #[test]
    fn injects_the_users_values_encoded_once() {
        let names = test_names(true);
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
    fn an_edge_answer_carries_every_header_of_the_list() {
        for picture in [true, false] {
            let names = test_names(picture);
            let as_map = |v: Vec<(http::HeaderName, HeaderValue)>| {
                assert_eq!(
                    v.len(),
                    Field::ALL.len(),
                    "one value per header of the list"
                );
                v.into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                    .collect::<std::collections::HashMap<_, _>>()
            };
            let anonymous = as_map(answer(&names, None, None));
            for (_, name) in names.all() {
                assert_eq!(anonymous[name.as_str()], "", "{name}");
            }
            let zoe = id(7, "Zoë");
            let signed = as_map(answer(
                &names,
                Some(&zoe),
                Some(HeaderValue::from_static("jwt")),
            ));
            assert_eq!(signed["x-auth-user-id"], "7");
            assert_eq!(signed["x-auth-groups"], "eng,ops");
            assert_eq!(signed["x-auth-amr"], "pwd");
            assert_eq!(signed["x-auth-assertion"], "jwt");
            assert_eq!(signed["x-auth-key-id"], "", "a session has no key");
            let pic = if picture {
                "https://p.example/z.png"
            } else {
                ""
            };
            assert_eq!(signed["x-auth-picture"], pic);
        }
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
