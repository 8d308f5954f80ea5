//! The request id: the client's `X-Request-Id` when it is a sane token (so a trace can start
//! in front of us), otherwise a fresh UUID. It is set on the request itself before anything is
//! decided, so the upstream receives it with the request, and every response (proxied or
//! written by the gateway) and the access log read it back from there.

use http::HeaderValue;
use pingora::http::RequestHeader;

/// A parsed name: Pingora inserts it without parsing and copying it again.
pub const HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

/// Puts the request's id on it (the client's if sane, else a new one).
pub fn assign(req: &mut RequestHeader) -> pingora::Result<()> {
    let mut values = req.headers.get_all(HEADER).iter();
    // A sane id sent once stays as it came; anything else is replaced by one value.
    if values.next().is_some_and(sane) && values.next().is_none() {
        return Ok(());
    }
    req.insert_header(HEADER, fresh())
}

/// The id [`assign`] put on the request.
pub fn of(req: &RequestHeader) -> Option<&HeaderValue> {
    req.headers.get(HEADER)
}

fn sane(v: &HeaderValue) -> bool {
    let v = v.as_bytes();
    !v.is_empty()
        && v.len() <= MAX_LEN
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A UUID from the thread's CSPRNG (`Uuid::new_v4` asks the kernel, a system call per
/// request), written without an intermediate `String`.
fn fresh() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    HeaderValue::from_bytes(id.hyphenated().encode_lower(&mut text).as_bytes())
        // Hex digits and dashes are always a valid value.
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(values: &[&str]) -> Vec<String> {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        for v in values {
            r.append_header(HEADER, *v).unwrap();
        }
        assign(&mut r).unwrap();
        r.headers
            .get_all(HEADER)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn sane_ids_are_kept_and_anything_else_replaced() {
        assert_eq!(assigned(&["abc-123_x.y"]), ["abc-123_x.y"]);
        let long = "x".repeat(129);
        for bad in [
            &["a b"][..],
            &["a\"b"],
            &[""],
            &[long.as_str()],
            &[],
            &["a", "b"],
        ] {
            let ids = assigned(bad);
            assert_eq!(ids.len(), 1, "{bad:?}");
            assert!(uuid::Uuid::parse_str(&ids[0]).is_ok(), "{bad:?}");
        }
        assert_ne!(assigned(&[]), assigned(&[]));
    }
}
