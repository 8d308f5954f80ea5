//! The request id: the client's `X-Request-Id` when it is a sane token (so a trace can start
//! in front of us), otherwise a fresh UUID. It is set on the request itself before anything is
//! decided, so the upstream receives it with the request, and every response (proxied or
//! written by the gateway) and the access log read it back from there.

use http::{HeaderMap, HeaderValue};
use pingora::http::RequestHeader;

/// A parsed name: Pingora inserts it without parsing and copying it again.
pub const HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

/// Puts the request's id on it (the client's if sane, else a new one).
pub fn assign(req: &mut RequestHeader) -> pingora::Result<()> {
    let id = from_headers(&req.headers);
    req.insert_header(HEADER, id)
}

/// The id [`assign`] put on the request.
pub fn of(req: &RequestHeader) -> Option<&HeaderValue> {
    req.headers.get(HEADER)
}

fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
        // From the thread's CSPRNG: `Uuid::new_v4` asks the kernel (getrandom) every time,
        // a system call per request.
        .unwrap_or_else(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_anything_else_replaced() {
        let mut h = HeaderMap::new();
        h.insert(HEADER, "abc-123_x.y".parse().unwrap());
        assert_eq!(from_headers(&h), "abc-123_x.y");
        for bad in ["a b", "a\"b", "", &"x".repeat(129)] {
            h.insert(HEADER, bad.parse().unwrap());
            let id = from_headers(&h);
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok());
        }
    }
}
