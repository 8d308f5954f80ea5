//! The request target as the gateway decides on it and forwards it: parsed from the bytes the
//! client sent, refused when any real app server could read it as another path, and put in one
//! canonical origin-form. The upstream is sent exactly that form, never bytes not looked at.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Why a request target is refused (400). The names are metric labels: a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadTarget {
    /// Not origin-form: `admin/x`, `%2fadmin/x`, authority-form, an unparseable URL.
    NotOriginForm,
    /// Absolute-form naming a host this gateway does not serve.
    ForeignAuthority,
    /// `*` with a method other than `OPTIONS`.
    Asterisk,
    /// Bytes that are not UTF-8 once decoded (overlong forms among them).
    NotUtf8,
    /// NUL or another control character, raw or encoded.
    Control,
    /// `\` raw or encoded, or an encoded `/`: separators that servers disagree on.
    Separator,
    /// `.`/`..` in any spelling: encoded, with `;parameters`, doubly encoded, fullwidth.
    DotSegment,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// Escapes nested three deep or more.
    NestedEncoding,
    /// Case, `;parameters` or encoding would select another route under a lenient server.
    RouteDepends,
}

impl BadTarget {
    pub fn label(self) -> &'static str {
        match self {
            BadTarget::NotOriginForm => "not_origin_form",
            BadTarget::ForeignAuthority => "foreign_authority",
            BadTarget::Asterisk => "asterisk",
            BadTarget::NotUtf8 => "not_utf8",
            BadTarget::Control => "control",
            BadTarget::Separator => "separator",
            BadTarget::DotSegment => "dot_segment",
            BadTarget::BadEscape => "bad_escape",
            BadTarget::NestedEncoding => "nested_encoding",
            BadTarget::RouteDepends => "route_depends",
        }
    }
}

impl fmt::Display for BadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadTarget::NotOriginForm => "the request target must be a path starting with '/'",
            BadTarget::ForeignAuthority => "the request names a host this gateway does not serve",
            BadTarget::Asterisk => "'*' is a request target for OPTIONS only",
            BadTarget::NotUtf8 => "the path is not UTF-8",
            BadTarget::Control => "the path holds a control character",
            BadTarget::Separator => "the path holds a backslash or an encoded slash",
            BadTarget::DotSegment => "the path holds a dot segment",
            BadTarget::BadEscape => "the path holds a malformed percent escape",
            BadTarget::NestedEncoding => "the path is encoded more than twice",
            BadTarget::RouteDepends => {
                "its case, ;parameters or encoding would select another route"
            }
        })
    }
}

/// A checked request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The origin-form path as forwarded: the client's escapes (hex upper-cased), slash runs
    /// collapsed, bytes outside RFC 3986 `pchar` percent-encoded.
    pub path: String,
    /// `path` percent-decoded once: what routes are chosen on.
    pub decoded: String,
    /// `decoded` decoded again, when it still holds escapes (what a server decoding twice
    /// reads).
    pub twice: Option<String>,
    /// The query as sent, without `?`.
    pub query: Option<String>,
    /// The host of an absolute-form target (which then stands for `Host`).
    pub authority: Option<String>,
    /// Whether `path?query` differs from what the client sent, so the forwarded request
    /// must be rewritten.
    pub rewritten: bool,
}

/// What a request target is.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Path(Target),
    /// `OPTIONS *`: about the server, not a resource; answered by the gateway.
    ServerOptions,
}

/// Parses a raw request target. `serves_host` says whether an absolute-form authority's host
/// (without port, lower-cased) is one this gateway serves.
pub fn parse(
    raw: &[u8],
    method: &http::Method,
    serves_host: impl Fn(&str) -> bool,
) -> Result<Parsed, BadTarget> {
    if raw == b"*" {
        return if method == http::Method::OPTIONS {
            Ok(Parsed::ServerOptions)
        } else {
            Err(BadTarget::Asterisk)
        };
    }
    if raw.first() == Some(&b'/') {
        return origin(raw, None).map(Parsed::Path);
    }
    use pingora::http::authority::{raw_target_authority, RawTargetAuthority};
    match raw_target_authority(raw) {
        RawTargetAuthority::Absolute {
            scheme,
            authority,
            path_and_query,
        } if scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https") => {
            let authority = std::str::from_utf8(authority).map_err(|_| BadTarget::NotUtf8)?;
            let host = http::uri::Authority::try_from(authority)
                .map_err(|_| BadTarget::NotOriginForm)?
                .host()
                .to_ascii_lowercase();
            if authority.contains('@') || !serves_host(&host) {
                return Err(BadTarget::ForeignAuthority);
            }
            let mut target = match path_and_query.first() {
                Some(b'/') => origin(path_and_query, Some(authority))?,
                None | Some(b'?') => {
                    let mut rooted = Vec::with_capacity(path_and_query.len() + 1);
                    rooted.push(b'/');
                    rooted.extend_from_slice(path_and_query);
                    origin(&rooted, Some(authority))?
                }
                Some(_) => return Err(BadTarget::NotOriginForm),
            };
            // Sent on as origin-form whatever it looked like.
            target.rewritten = true;
            Ok(Parsed::Path(target))
        }
        _ => Err(BadTarget::NotOriginForm),
    }
}

fn origin(raw: &[u8], authority: Option<&str>) -> Result<Target, BadTarget> {
    let (path, query) = match raw.iter().position(|b| *b == b'?') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let query = query
        .map(|q| String::from_utf8(q.to_vec()).map_err(|_| BadTarget::NotUtf8))
        .transpose()?;
    let (canonical, changed) = canonical_path(path)?;
    let decoded = decode_checked(&canonical)?;
    let twice = if has_escape(&decoded) {
        let again = decode_checked(&decoded)?;
        if has_escape(&again) {
            return Err(BadTarget::NestedEncoding);
        }
        Some(again)
    } else {
        None
    };
    Ok(Target {
        path: canonical,
        decoded,
        twice,
        query,
        authority: authority.map(str::to_string),
        rewritten: changed,
    })
}

impl Target {
    /// The origin-form target to forward: path and query.
    pub fn origin_form(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

/// RFC 3986 `pchar` (less `%`, handled apart) and `/`: what may stand unencoded in a path.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex_value(h: u8) -> Option<u8> {
    (h as char).to_digit(16).map(|d| d as u8)
}

/// The escape at `i`, if `b[i..i+3]` is one.
fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') {
        return None;
    }
    let (h, l) = (hex_value(*b.get(i + 1)?)?, hex_value(*b.get(i + 2)?)?);
    Some(h << 4 | l)
}

fn has_escape(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| escape_at(b, i).is_some())
}

/// The forwarded form of a raw path: escapes kept (hex upper-cased), slash runs collapsed,
/// bytes outside `pchar` encoded. Refuses what no reading could make safe.
fn canonical_path(raw: &[u8]) -> Result<(String, bool), BadTarget> {
    if std::str::from_utf8(raw).is_err() {
        return Err(BadTarget::NotUtf8);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut changed = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'/' if out.last() == Some(&b'/') => changed = true,
            b'%' => {
                let v = escape_at(raw, i).ok_or(BadTarget::BadEscape)?;
                if v == b'/' || v == b'\\' {
                    return Err(BadTarget::Separator);
                }
                let upper = [b'%', HEX[usize::from(v >> 4)], HEX[usize::from(v & 15)]];
                changed |= raw[i..i + 3] != upper;
                out.extend_from_slice(&upper);
                i += 3;
                continue;
            }
            b'\\' => return Err(BadTarget::Separator),
            0..=0x1f | 0x7f => return Err(BadTarget::Control),
            b if plain(b) => out.push(b),
            _ => {
                changed = true;
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        i += 1;
    }
    // Only ASCII was pushed.
    let out = String::from_utf8(out).map_err(|_| BadTarget::NotUtf8)?;
    Ok((out, changed))
}

/// One percent-decoding, then the checks every reading must pass.
fn decode_checked(s: &str) -> Result<String, BadTarget> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match escape_at(b, i) {
            Some(v) => {
                // A slash that only decoding makes splits a segment in two for some servers.
                if v == b'/' || v == b'\\' {
                    return Err(BadTarget::Separator);
                }
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| BadTarget::NotUtf8)?;
    check_segments(&decoded)?;
    Ok(decoded)
}

/// Refuses control characters, backslashes and dot segments in every spelling a server may
/// reduce to one: `..;x` (servlet containers drop `;parameters`), trailing dots or spaces
/// (Windows), and compatibility forms such as fullwidth `．．` (NFKC).
pub fn check_segments(decoded: &str) -> Result<(), BadTarget> {
    if decoded.chars().any(char::is_control) {
        return Err(BadTarget::Control);
    }
    if decoded.contains('\\') {
        return Err(BadTarget::Separator);
    }
    for seg in decoded.split('/') {
        if is_dots(seg) {
            return Err(BadTarget::DotSegment);
        }
        if !seg.is_ascii() {
            let folded: String = seg.nfkc().collect();
            if folded.contains(['/', '\\']) || folded.chars().any(char::is_control) {
                return Err(BadTarget::Separator);
            }
            if is_dots(&folded) {
                return Err(BadTarget::DotSegment);
            }
        }
    }
    Ok(())
}

/// `.`, `..`, or either with `;parameters` or trailing dots and spaces.
fn is_dots(seg: &str) -> bool {
    let bare = seg.split(';').next().unwrap_or("");
    !bare.is_empty() && bare.starts_with('.') && bare.trim_end_matches([' ', '.']).is_empty()
}

/// Percent-decodes once; `None` for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(escape_at(bytes, i)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn path(raw: &str) -> Result<Target, BadTarget> {
        match parse(raw.as_bytes(), &Method::GET, |h| h == "app.test")? {
            Parsed::Path(t) => Ok(t),
            Parsed::ServerOptions => panic!("{raw}"),
        }
    }

    #[test]
    fn canonical_form_keeps_escapes_and_collapses_slashes() {
        let t = path("//public///a%20b/caf%c3%a9?q=%2F..%2F").unwrap();
        assert_eq!(t.path, "/public/a%20b/caf%C3%A9");
        assert_eq!(t.decoded, "/public/a b/café");
        assert_eq!(t.query.as_deref(), Some("q=%2F..%2F"));
        assert!(t.rewritten);
        let t = path("/public/a%2Bb;v=1").unwrap();
        assert_eq!(t.decoded, "/public/a+b;v=1");
        assert!(!t.rewritten);
        assert_eq!(path("/zoë").unwrap().path, "/zo%C3%AB");
        assert_eq!(path("/a{b}").unwrap().path, "/a%7Bb%7D");
    }

    #[test]
    fn every_spelling_of_a_dot_segment_is_refused() {
        for p in [
            "/public/../admin",
            "/public/..;/admin",
            "/public/..;x/admin",
            "/public/.;/admin",
            "/public/%2e%2e/admin",
            "/public/.%2E/admin",
            "/public/%2E./admin",
            "/public/%2e%2e;x/admin",
            "/public/%252e%252e/admin",
            "/public/%25252e/admin",
            "/public/%ef%bc%8e%ef%bc%8e/admin",
            "/public/．．/admin",
            "/public/.. /admin",
            "/public/.../admin",
            "/a/./b",
            "/a/.",
        ] {
            let r = path(p);
            assert!(
                matches!(
                    r,
                    Err(BadTarget::DotSegment | BadTarget::NestedEncoding | BadTarget::NotUtf8)
                ),
                "{p}: {r:?}"
            );
        }
        assert_eq!(path("/public/%c0%ae%c0%ae/admin"), Err(BadTarget::NotUtf8));
    }

    #[test]
    fn separators_controls_and_bad_escapes_are_refused() {
        for (p, why) in [
            ("/admin%2fx", BadTarget::Separator),
            ("/admin%2Fx", BadTarget::Separator),
            ("/admin%5cx", BadTarget::Separator),
            ("/admin\\x", BadTarget::Separator),
            ("/admin%252fx", BadTarget::Separator),
            ("/a%ef%bc%8fb", BadTarget::Separator),
            ("/a%00", BadTarget::Control),
            ("/a%0d%0ab", BadTarget::Control),
            ("/a%2500", BadTarget::Control),
            ("/%zz", BadTarget::BadEscape),
            ("/%c3", BadTarget::NotUtf8),
        ] {
            assert_eq!(path(p), Err(why), "{p}");
        }
    }

    #[test]
    fn targets_that_are_not_origin_form() {
        for p in [
            "admin/x",
            "%2fadmin/x",
            "a/../admin/x",
            "example.test:443",
            "x:y",
        ] {
            assert_eq!(path(p), Err(BadTarget::NotOriginForm), "{p}");
        }
        assert_eq!(
            path("http://evil.test/admin/x"),
            Err(BadTarget::ForeignAuthority)
        );
        assert_eq!(
            path("http://u@app.test/admin/x"),
            Err(BadTarget::ForeignAuthority)
        );
        let t = path("http://APP.test:8080/admin//x?y").unwrap();
        assert_eq!(t.origin_form(), "/admin/x?y");
        assert_eq!(t.authority.as_deref(), Some("APP.test:8080"));
        assert!(t.rewritten);
        assert_eq!(path("http://app.test").unwrap().origin_form(), "/");
        assert_eq!(path("http://app.test?q").unwrap().origin_form(), "/?q");
        assert_eq!(
            parse(b"*", &Method::OPTIONS, |_| false),
            Ok(Parsed::ServerOptions)
        );
        assert_eq!(
            parse(b"*", &Method::GET, |_| false),
            Err(BadTarget::Asterisk)
        );
    }

    #[test]
    fn double_encoding_is_read_both_ways() {
        let t = path("/public/a%2541").unwrap();
        assert_eq!(t.decoded, "/public/a%41");
        assert_eq!(t.twice.as_deref(), Some("/public/aA"));
    }
}
