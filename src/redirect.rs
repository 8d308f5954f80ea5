//! Where the gateway may send a browser, and how a value goes into a URL: the policy for every
//! `returnTo`/`redirectTo` (our own paths, or origins listed exactly) and query escaping.

/// Where a `returnTo`/`redirectTo` may send the browser besides our own paths: origins listed
/// exactly, and any host a route names (exact or `*.` pattern, see [`crate::hosts`]).
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub origins: &'a [String],
    pub hosts: &'a [String],
    /// A gateway on https sends browsers to route hosts over https only.
    pub https_only: bool,
}

/// Where a `returnTo`/`redirectTo` may send the browser: one of our own paths, or a URL the
/// policy allows. The origin is computed by a WHATWG URL parser, as the browser will;
/// userinfo, whitespace and backslashes are refused outright.
pub fn redirect_allowed(target: &str, policy: &Policy<'_>) -> bool {
    if is_local_path(target) {
        return true;
    }
    if (policy.origins.is_empty() && policy.hosts.is_empty())
        || target.contains('\\')
        || target.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    url::Url::parse(target).is_ok_and(|u| {
        let listed = || policy.origins.contains(&u.origin().ascii_serialization());
        let routed = || {
            (u.scheme() == "https" || !policy.https_only)
                && u.host_str()
                    .is_some_and(|h| policy.hosts.iter().any(|p| crate::hosts::matches(p, h)))
        };
        matches!(u.scheme(), "http" | "https")
            && u.username().is_empty()
            && u.password().is_none()
            && (listed() || routed())
    })
}

/// A same-origin relative path: starts with one `/`, no scheme, no authority, no backslash or
/// control characters, also after percent-decoding (`//evil`, `/\\evil`, `/%2Fevil`, ...).
pub fn is_local_path(p: &str) -> bool {
    // Browsers drop tabs and newlines inside URLs and read `\\` as `/`, so `/\t/evil` and
    // `/\\evil` lead off-site; the decoded form is checked too for servers that decode first.
    fn local(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.contains('\\')
            && !p.chars().any(char::is_control)
    }
    !p.chars().any(char::is_whitespace)
        && local(p)
        && crate::path::target::percent_decode(p)
            .as_deref()
            .is_some_and(local)
}

/// A query value, percent-encoded: only unreserved characters stay as they are.
pub fn escape_query(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Property tests of the redirect rule: whatever it accepts, a browser resolving it against
/// one of our pages lands on our origin or on an allowlisted one — also after a server has
/// percent-decoded it once.
#[cfg(test)]
mod tests {
    use super::{redirect_allowed, Policy};

    fn only(origins: &[String]) -> Policy<'_> {
        Policy {
            origins,
            hosts: &[],
            https_only: false,
        }
    }
    use proptest::prelude::*;

    const OURS: &str = "https://gw.example";
    const ALLOWED: &str = "https://app.example.com";

    /// Pieces that open-redirect payloads are made of, so the search finds the corners fast.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("/".to_string()),
            Just("//".to_string()),
            Just("\\".to_string()),
            Just("https:".to_string()),
            Just("http:".to_string()),
            Just("javascript:".to_string()),
            Just("data:".to_string()),
            Just("app.example.com".to_string()),
            Just("https://app.example.com".to_string()),
            Just("https://app.example.com.evil.test".to_string()),
            Just("evil.test".to_string()),
            Just("@".to_string()),
            Just(":443".to_string()),
            Just(":8443".to_string()),
            Just("%2f".to_string()),
            Just("%2F".to_string()),
            Just("%5c".to_string()),
            Just("%09".to_string()),
            Just("%0a".to_string()),
            Just("%40".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just(".".to_string()),
            Just("..".to_string()),
            Just("?".to_string()),
            Just("#".to_string()),
            Just("%".to_string()),
            Just("\u{3002}".to_string()),
            Just("\u{ff0f}".to_string()),
            "[a-z]{1,4}",
            any::<char>().prop_map(String::from),
        ]
    }

    fn target() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 1..8).prop_map(|v| v.concat())
    }

    fn lands_safely(target: &str) -> bool {
        let Ok(base) = url::Url::parse(&format!("{OURS}/account/page")) else {
            return false;
        };
        match base.join(target) {
            Ok(u) => {
                let origin = u.origin().ascii_serialization();
                origin == OURS || origin == ALLOWED
            }
            // What a browser cannot resolve, it does not follow.
            Err(_) => true,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        #[test]
        fn whatever_is_accepted_stays_on_allowed_origins(t in target()) {
            let origins = vec![ALLOWED.to_string()];
            if redirect_allowed(&t, &only(&origins)) {
                prop_assert!(lands_safely(&t), "{t:?} leaves");
                if let Some(decoded) = crate::path::target::percent_decode(&t) {
                    prop_assert!(lands_safely(&decoded), "{t:?} decoded leaves");
                }
            }
            if redirect_allowed(&t, &only(&[])) {
                prop_assert!(super::is_local_path(&t));
            }
        }
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(super::escape_query("a+b@c.d"), "a%2Bb%40c.d");
    }

    #[test]
    fn allowlisted_origins_only_exactly() {
        let o = vec![ALLOWED.to_string()];
        for ok in [
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/x?y#z",
            "HTTPS://APP.example.com/x",
            "https://app.example.com:443/x",
            "/local",
        ] {
            assert!(redirect_allowed(ok, &only(&o)), "{ok}");
        }
        for bad in [
            "https://app.example.com.evil.test/",
            "https://app.example.com@evil.test/",
            "https://evil.test@app.example.com/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://app.example.com\\@evil.test/",
            "https://evil.test/https://app.example.com",
            "javascript:alert(1)//https://app.example.com",
            "//app.example.com/",
            " https://app.example.com/",
        ] {
            assert!(!redirect_allowed(bad, &only(&o)), "{bad}");
        }
    }

    #[test]
    fn route_hosts_are_allowed_over_the_gateways_scheme() {
        let hosts = [
            "app.example.test".to_string(),
            "*.tools.example.test".to_string(),
        ];
        let p = Policy {
            origins: &[],
            hosts: &hosts,
            https_only: true,
        };
        for ok in [
            "https://app.example.test/x?y=1",
            "https://APP.example.test:8443/",
            "https://a.tools.example.test/",
        ] {
            assert!(redirect_allowed(ok, &p), "{ok}");
        }
        for bad in [
            "http://app.example.test/",
            "https://tools.example.test/",
            "https://a.b.tools.example.test/",
            "https://app.example.test.evil/",
            "https://evil.test/?app.example.test",
            "https://app.example.test@evil.test/",
            "javascript://app.example.test/%0aalert(1)",
        ] {
            assert!(!redirect_allowed(bad, &p), "{bad}");
        }
        let plain = Policy {
            https_only: false,
            ..p
        };
        assert!(redirect_allowed("http://app.example.test/", &plain));
    }
}
