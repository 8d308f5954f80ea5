//! Route hosts: an exact name, or `*.` and a name for exactly one more label in front of it
//! (`*.tools.example.test` matches `a.tools.example.test`, not `tools.example.test` nor
//! `a.b.tools.example.test`), as a certificate's wildcard does. Compared without the port,
//! ignoring ASCII case; patterns are stored lower-cased. Used by the routes, the config's
//! checks and the redirect policy alike.

/// Whether `host` (no port) is covered by `pattern`.
pub fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => {
            host.len() > suffix.len()
                && host.is_char_boundary(host.len() - suffix.len())
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && !host[..host.len() - suffix.len()].contains('.')
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}

/// Why a configured host pattern is refused, if it is.
pub fn pattern_error(pattern: &str) -> Option<&'static str> {
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    if name.contains('*') {
        return Some("a host may have one wildcard, as its whole first label (\"*.example.com\")");
    }
    if name.contains(':') {
        return Some("a host is matched without its port; leave the port out");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Some("not a host name (letters, digits and '-' in dot-separated labels)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let p = "*.tools.example.test";
        assert!(matches(p, "a.tools.example.test"));
        assert!(matches(p, "A-1.Tools.Example.TEST"));
        assert!(!matches(p, "tools.example.test"));
        assert!(!matches(p, ".tools.example.test"));
        assert!(!matches(p, "a.b.tools.example.test"));
        assert!(!matches(p, "atools.example.test"));
        assert!(!matches(p, "a.tools.example.test.evil"));
        assert!(matches("app.example.test", "APP.example.test"));
        assert!(!matches("app.example.test", "x.app.example.test"));
    }

    #[test]
    fn patterns_are_checked() {
        for ok in ["a.test", "*.a.test", "localhost", "x-1.y"] {
            assert_eq!(pattern_error(ok), None, "{ok}");
        }
        for bad in [
            "*.*.a.test",
            "a.*.test",
            "*a.test",
            "a.test:8080",
            "",
            "*.",
            "a..test",
            "-a.test",
            "a b.test",
        ] {
            assert!(pattern_error(bad).is_some(), "{bad}");
        }
    }
}
