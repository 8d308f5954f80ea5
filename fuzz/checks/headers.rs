//! Cookie and header parsing: any header block yields credentials without a panic; after
//! stripping, no header the app could read as an identity header, a URL or method override or
//! an untrusted forwarding header is left; and no session cookie or Bearer token of ours.
//!
//! Shared by the fuzz target of the same name and by `tests/fuzz_corpus.rs`, which replays
//! the committed corpus in `cargo test`.

use portcullis::proxy::{client_ip, identity};
use portcullis::request::credentials;

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let mut req = match pingora::http::RequestHeader::build("GET", b"/", None) {
        Ok(r) => r,
        Err(_) => return,
    };
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        let _ = req.append_header(name, value);
    }
    let _ = credentials::extract(&req.headers, "portcullis_session");
    let _ = credentials::cookie(&req.headers, "portcullis_session");
    identity::strip(&mut req, "x-auth-");
    for name in req.headers.keys() {
        let n = name.as_str().replace('_', "-");
        assert!(!n.starts_with("x-auth-"), "{name} survived");
    }
    for v in req.headers.get_all(http::header::CONNECTION) {
        let v = String::from_utf8_lossy(v.as_bytes())
            .to_ascii_lowercase()
            .replace('_', "-");
        assert!(
            v.split(',').all(|t| !t.trim().starts_with("x-auth-")),
            "{v}"
        );
    }
    client_ip::strip_untrusted(&mut req, false);
    for name in req.headers.keys() {
        let n = name.as_str().replace('_', "-");
        assert!(
            !n.starts_with("x-forwarded-")
                && !["forwarded", "x-real-ip", "x-original-url", "x-rewrite-url"]
                    .contains(&n.as_str())
                && !n.contains("method-override")
                && n != "x-http-method",
            "{name} survived"
        );
    }
    identity::drop_credentials(&mut req, "portcullis_session", |_| true);
    for v in req.headers.get_all(http::header::AUTHORIZATION) {
        let v = String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase();
        assert!(!v.starts_with("bearer"), "{v}");
    }
    for v in req.headers.get_all(http::header::COOKIE) {
        for pair in v.as_bytes().split(|b| *b == b';') {
            let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
            assert_ne!(name.trim_ascii(), b"portcullis_session");
        }
    }
    // Any value becomes one header-safe line.
    let text = String::from_utf8_lossy(data);
    let v = identity::header_value(&text);
    assert!(v.as_bytes().iter().all(|b| (0x20..0x7f).contains(b)));
}
