//! Forward-auth: an edge proxy that stays in place (Traefik `ForwardAuth`, Caddy
//! `forward_auth`, nginx `auth_request`) asks whether a request it holds may reach its app. The
//! original request is read from the headers the edge proxy sets, decided like any proxied
//! request (same routes, rules, limits), and the decision becomes the answer that proxy
//! understands. Plain functions over plain data, like the rest of the decision.

use super::Decision;
use crate::auth::Identity;
use crate::config::EdgeAsker;
use crate::error::Reject;
use crate::live::Live;
use http::{HeaderMap, Method};

/// The request the edge proxy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub method: Method,
    /// As the client sent it (origin-form): the decision does its own parsing and refuses
    /// what a server could read as another path.
    pub target: String,
    pub host: Option<String>,
    /// The absolute URL, to come back to after signing in.
    pub url: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The check request itself, which for `ext_authz` is the original one: its method, and its
/// target with the endpoint's prefix taken off (`None` where it did not start with it).
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub method: &'a Method,
    pub after_prefix: Option<&'a str>,
}

/// The original request from the edge proxy's headers (and for `ext_authz`, from the check
/// request itself), or what is missing or malformed.
pub fn original(
    asker: EdgeAsker,
    headers: &HeaderMap,
    check: Check<'_>,
) -> Result<Original, &'static str> {
    let own_host = header(headers, "x-forwarded-host").or_else(|| header(headers, "host"));
    let (method, scheme, host, target) = match asker {
        // Envoy keeps the original `:authority` and method on the check; a client's own
        // X-Forwarded-Host is never read here (Envoy would pass it on unchecked).
        EdgeAsker::ExtAuthz => (
            Some(check.method.as_str()),
            header(headers, "x-forwarded-proto"),
            header(headers, "host"),
            check
                .after_prefix
                .ok_or("the target does not start with the ext-authz path")?,
        ),
        EdgeAsker::ForwardAuth => (
            header(headers, "x-forwarded-method"),
            header(headers, "x-forwarded-proto"),
            own_host,
            header(headers, "x-forwarded-uri").ok_or("X-Forwarded-Uri is missing")?,
        ),
        EdgeAsker::AuthRequest => {
            let method = header(headers, "x-original-method");
            match header(headers, "x-original-url") {
                Some(url) => {
                    let (scheme, rest) = url
                        .split_once("://")
                        .ok_or("X-Original-URL is not an absolute URL")?;
                    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                    let target = if end == rest.len() { "/" } else { &rest[end..] };
                    (method, Some(scheme), Some(&rest[..end]), target)
                }
                None => (
                    method,
                    header(headers, "x-forwarded-proto"),
                    own_host,
                    header(headers, "x-original-uri")
                        .ok_or("neither X-Original-URL nor X-Original-URI is present")?,
                ),
            }
        }
    };
    let method = match method {
        None => Method::GET,
        Some(m) => {
            Method::from_bytes(m.as_bytes()).map_err(|_| "the original method is malformed")?
        }
    };
    let scheme = match scheme.map(str::to_ascii_lowercase).as_deref() {
        None | Some("http") => "http",
        Some("https") => "https",
        Some(_) => return Err("the original scheme is neither http nor https"),
    };
    if let Some(h) = host {
        if h.is_empty() || h.contains(['/', '\\', '@', ' ']) {
            return Err("the original host is malformed");
        }
    }
    if !target.starts_with('/') {
        return Err("the original target is not a path");
    }
    Ok(Original {
        method,
        url: format!("{scheme}://{}{target}", host.unwrap_or("")),
        target: target.to_string(),
        host: host.map(str::to_string),
    })
}

/// What the edge proxy is told.
#[derive(Debug)]
pub enum Verdict<'a> {
    /// 200: let the request through, with these identity headers to copy onto it.
    Allow {
        route: usize,
        identity: Option<&'a Identity>,
        assertion: bool,
    },
    /// A browser without a session: to the sign-in page, coming back to `url` afterwards.
    /// Forward-auth answers 302; `auth_request` answers 401 with the location in a header
    /// (nginx's `error_page 401` sends the browser there).
    SignIn { location: String },
    /// Refused with this status and body (`auth_request` knows only 401 and 403).
    Refuse { reject: &'a Reject, html: bool },
}

/// The verdict on `inner`, the decision about the original request.
pub fn verdict<'a>(
    live: &Live,
    original: &Original,
    inner: &'a Decision,
) -> Result<Verdict<'a>, Reject> {
    Ok(match inner {
        Decision::Forward(f) => Verdict::Allow {
            route: f.route,
            identity: f.identity.as_ref(),
            assertion: f.assertion,
        },
        Decision::Redirect { failure, .. } => match (&live.pages.login_path, live.pages.mfa_path())
        {
            // A session without the second step a route asks for: to the second-step page.
            (Some(_), Some(page)) if *failure == super::STEP_UP => Verdict::SignIn {
                location: format!(
                    "{}{page}?returnTo={}",
                    live.config.server.public_url.trim_end_matches('/'),
                    crate::redirect::escape_query(&original.url)
                ),
            },
            (Some(login), _) => Verdict::SignIn {
                location: format!(
                    "{}{login}?returnTo={}",
                    live.config.server.public_url.trim_end_matches('/'),
                    crate::redirect::escape_query(&original.url)
                ),
            },
            (None, _) => {
                return Err(Reject::Unauthenticated {
                    invalid_token: false,
                    message: "Authentication is required",
                })
            }
        },
        Decision::Deny(d) => Verdict::Refuse {
            reject: &d.reject,
            html: d.html,
        },
        // The original request is decided with `forwarded`: never the gateway's own paths.
        Decision::Control(_) | Decision::EdgeCheck(_) | Decision::ServerOptions => {
            return Err(Reject::BadRequest(
                "The original request's target is not one an app serves".into(),
            ))
        }
    })
}

/// The status `auth_request` gets for a refusal: nginx treats anything but 2xx, 401 and 403
/// as an error of its own (500).
pub fn auth_request_status(reject: &Reject) -> http::StatusCode {
    if reject.status() == http::StatusCode::UNAUTHORIZED {
        http::StatusCode::UNAUTHORIZED
    } else {
        http::StatusCode::FORBIDDEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orig(asker: EdgeAsker, h: &HeaderMap) -> Result<Original, &'static str> {
        let get = Method::GET;
        let check = Check {
            method: &get,
            after_prefix: None,
        };
        original(asker, h, check)
    }

    #[test]
    fn envoy_sends_the_original_request_as_the_check() {
        let h = headers(&[
            ("host", "app.test"),
            ("x-forwarded-host", "forged.test"),
            ("x-forwarded-proto", "https"),
        ]);
        let delete = Method::DELETE;
        let check = |after_prefix| Check {
            method: &delete,
            after_prefix,
        };
        let o = original(EdgeAsker::ExtAuthz, &h, check(Some("/a/b?x=1"))).unwrap();
        assert_eq!(o.method, Method::DELETE);
        assert_eq!(o.target, "/a/b?x=1");
        assert_eq!(
            o.host.as_deref(),
            Some("app.test"),
            "Host, never X-Forwarded-Host"
        );
        assert_eq!(o.url, "https://app.test/a/b?x=1");
        assert!(original(EdgeAsker::ExtAuthz, &h, check(None)).is_err());
        assert!(original(EdgeAsker::ExtAuthz, &h, check(Some("a"))).is_err());
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn traefik_and_caddy_headers_give_the_original_request() {
        let o = orig(
            EdgeAsker::ForwardAuth,
            &headers(&[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "app.example.test"),
                ("x-forwarded-uri", "/a/%2e%2e/b?x=1"),
            ]),
        )
        .unwrap();
        assert_eq!(o.method, Method::POST);
        assert_eq!(
            o.target, "/a/%2e%2e/b?x=1",
            "kept raw for the decision to judge"
        );
        assert_eq!(o.host.as_deref(), Some("app.example.test"));
        assert_eq!(o.url, "https://app.example.test/a/%2e%2e/b?x=1");
        let bare = orig(
            EdgeAsker::ForwardAuth,
            &headers(&[("host", "gw.test"), ("x-forwarded-uri", "/")]),
        )
        .unwrap();
        assert_eq!(
            (bare.method, bare.url),
            (Method::GET, "http://gw.test/".into())
        );
    }

    #[test]
    fn nginx_headers_give_the_original_request() {
        let o = orig(
            EdgeAsker::AuthRequest,
            &headers(&[
                ("x-original-url", "http://app.test:8080/x/../admin?q"),
                ("x-original-method", "DELETE"),
            ]),
        )
        .unwrap();
        assert_eq!(o.target, "/x/../admin?q");
        assert_eq!(o.host.as_deref(), Some("app.test:8080"));
        assert_eq!(o.method, Method::DELETE);
        let root = orig(
            EdgeAsker::AuthRequest,
            &headers(&[("x-original-url", "https://app.test")]),
        )
        .unwrap();
        assert_eq!(
            (root.target.as_str(), root.url.as_str()),
            ("/", "https://app.test/")
        );
        let by_uri = orig(
            EdgeAsker::AuthRequest,
            &headers(&[("x-original-uri", "/p"), ("x-forwarded-host", "a.test")]),
        )
        .unwrap();
        assert_eq!(by_uri.url, "http://a.test/p");
    }

    #[test]
    fn missing_or_malformed_originals_are_refused() {
        for (asker, h) in [
            (EdgeAsker::ForwardAuth, headers(&[("host", "a.test")])),
            (EdgeAsker::AuthRequest, headers(&[("host", "a.test")])),
            (
                EdgeAsker::AuthRequest,
                headers(&[("x-original-url", "/relative")]),
            ),
            (EdgeAsker::ForwardAuth, headers(&[("x-forwarded-uri", "x")])),
            (
                EdgeAsker::ForwardAuth,
                headers(&[("x-forwarded-uri", "/"), ("x-forwarded-proto", "ftp")]),
            ),
            (
                EdgeAsker::ForwardAuth,
                headers(&[("x-forwarded-uri", "/"), ("x-forwarded-method", "G T")]),
            ),
            (
                EdgeAsker::ForwardAuth,
                headers(&[
                    ("x-forwarded-uri", "/"),
                    ("x-forwarded-host", "evil@a.test"),
                ]),
            ),
        ] {
            assert!(orig(asker, &h).is_err(), "{h:?}");
        }
    }
}
