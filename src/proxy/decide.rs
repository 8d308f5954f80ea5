//! The data-plane decision for one request, as plain functions returning enums: served by the
//! control plane, forwarded (with or without an identity), or refused. Nothing here writes bytes.

use super::target::{BadTarget, Parsed, Target};
use crate::auth::{Authn, Identity};
use crate::config::{AuthRule, Config};
use crate::error::Reject;
use crate::live::Live;
use crate::metrics;
use crate::state::State;
use http::{HeaderMap, Method};
use std::net::IpAddr;

#[derive(Debug)]
pub enum Decision {
    /// A terminated auth endpoint: hand the request to the control plane.
    Control,
    Forward {
        route: usize,
        identity: Option<Identity>,
    },
    Deny {
        route: Option<usize>,
        reject: Reject,
    },
    /// A browser without a session: to the sign-in page, coming back here afterwards.
    Redirect { route: usize, location: String },
    /// `OPTIONS *`: answered by the gateway, about itself.
    ServerOptions,
}

/// Decides what to do with a request, authenticating from the cache when the route needs it.
/// `target` is the request target as [`super::target::parse`] read it.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    state: &State,
    live: &Live,
    client_ip: Option<IpAddr>,
    method: &Method,
    host: Option<&str>,
    raw_target: &[u8],
    target: Result<&Parsed, BadTarget>,
    headers: &HeaderMap,
) -> Decision {
    let cfg = &live.config;
    if head_size(raw_target, headers) > cfg.server.max_header_size {
        metrics::auth_decision("deny_headers_too_large");
        return Decision::Deny {
            route: None,
            reject: Reject::HeadersTooLarge,
        };
    }
    let target: &Target = match target {
        Err(why) => return bad_target(why),
        Ok(Parsed::ServerOptions) => return Decision::ServerOptions,
        Ok(Parsed::Path(t)) => t,
    };
    if is_control(cfg, &target.path) {
        return Decision::Control;
    }
    let host = target.authority.as_deref().or(host);
    let route = match super::readings::route(&live.route_index, &cfg.routes, host, method, target) {
        Ok(Some(route)) => route,
        Ok(None) => {
            metrics::auth_decision("deny_no_route");
            return Decision::Deny {
                route: None,
                reject: Reject::NotFound,
            };
        }
        Err(why) => return bad_target(why),
    };
    if let Some(reject) = rate_limited(live, route, client_ip) {
        return Decision::Deny {
            route: Some(route),
            reject,
        };
    }
    let rule = &cfg.routes[route].auth;
    if *rule == AuthRule::None {
        metrics::auth_decision("allow_public");
        return Decision::Forward {
            route,
            identity: None,
        };
    }
    if crate::api::csrf::refused_cross_site(
        method,
        headers,
        &cfg.cookie.name,
        &cfg.server.public_origin,
    ) {
        metrics::auth_decision("deny_cross_site");
        return Decision::Deny {
            route: Some(route),
            reject: Reject::Forbidden("Cross-site request refused"),
        };
    }
    let authn = state
        .auth
        .from_headers(headers, &cfg.cookie.name, crate::store::now())
        .await;
    let presented = failure_reason(authn.as_ref());
    match authorize(rule, authn) {
        Ok(identity) => {
            metrics::auth_decision(if identity.is_some() {
                "allow"
            } else {
                "allow_anonymous"
            });
            Decision::Forward { route, identity }
        }
        Err(reject @ Reject::Unauthenticated { .. })
            if cfg.routes[route].redirect_browsers && is_navigation(method, headers) =>
        {
            metrics::auth_failure(presented.unwrap_or("missing"));
            match &cfg.pages.login_path {
                Some(login) => {
                    metrics::auth_decision("redirect_to_login");
                    Decision::Redirect {
                        route,
                        location: format!(
                            "{login}?returnTo={}",
                            crate::api::escape_query(&target.origin_form())
                        ),
                    }
                }
                None => Decision::Deny {
                    route: Some(route),
                    reject,
                },
            }
        }
        Err(reject) => {
            metrics::auth_failure(match reject {
                Reject::Forbidden(_) => "forbidden",
                _ => presented.unwrap_or("missing"),
            });
            metrics::auth_decision(match reject {
                Reject::Forbidden(_) => "deny_forbidden",
                Reject::Unavailable => "deny_unavailable",
                Reject::Unauthenticated {
                    invalid_token: true,
                    ..
                } => "deny_invalid_token",
                _ => "deny_unauthenticated",
            });
            Decision::Deny {
                route: Some(route),
                reject,
            }
        }
    }
}

/// A target whose meaning depends on who reads it: refused, saying why.
pub fn bad_target(why: BadTarget) -> Decision {
    metrics::auth_decision("deny_bad_path");
    metrics::bad_target(why.label());
    Decision::Deny {
        route: None,
        reject: Reject::BadRequest(format!("The request target is refused: {why}")),
    }
}

/// Bytes of the request head as sent: target plus each `name: value\r\n`.
fn head_size(target: &[u8], headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + target.len()
}

/// The route's per-client limit, counted before any token is looked at so a flood of bad
/// tokens costs no verification. Clients without a known address are not limited here.
fn rate_limited(live: &Live, route: usize, client_ip: Option<IpAddr>) -> Option<Reject> {
    let limiter = live.route_limiters.get(route)?.as_ref()?;
    let retry_after_secs = limiter.keys.check(client_ip?).err()?;
    metrics::auth_decision("deny_rate_limited");
    metrics::rate_limited("route");
    Some(Reject::RateLimited { retry_after_secs })
}

/// Why presented credentials failed, as a metric label; `None` when none were presented or
/// they were good.
fn failure_reason(authn: Option<&Authn>) -> Option<&'static str> {
    use crate::auth::Rejection;
    match authn? {
        Authn::Authenticated(_) => None,
        Authn::Unavailable => Some("unavailable"),
        Authn::Rejected(r) => Some(match r {
            Rejection::Malformed => "malformed",
            Rejection::Expired => "expired",
            Rejection::Revoked => "revoked",
            Rejection::Inactive => "inactive",
            Rejection::Invalid => "bad_token",
        }),
    }
}

/// A top-level page load by a browser — GET or HEAD that wants HTML and is not a script's
/// fetch — which should be sent to sign in rather than answered with 401 JSON.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if let Some(mode) = h("sec-fetch-mode") {
        return mode == "navigate";
    }
    h("x-requested-with").is_none() && h("accept").is_some_and(|a| a.contains("text/html"))
}

/// Whether the control plane serves this path (exact match on the configured API paths, in
/// the canonical form).
pub fn is_control(cfg: &Config, path: &str) -> bool {
    cfg.api.serves(path)
}

/// Any valid session, or why not. `None` means no credentials were presented.
pub fn require(authn: Option<Authn>) -> Result<Identity, Reject> {
    match authn {
        None => Err(Reject::Unauthenticated {
            invalid_token: false,
            message: "Authentication is required",
        }),
        Some(Authn::Authenticated(id)) => Ok(id),
        Some(Authn::Rejected(r)) => Err(r.into()),
        Some(Authn::Unavailable) => Err(Reject::Unavailable),
    }
}

/// The route's rule applied to what authentication found.
pub fn authorize(rule: &AuthRule, authn: Option<Authn>) -> Result<Option<Identity>, Reject> {
    match rule {
        AuthRule::None => Ok(None),
        AuthRule::Optional => Ok(match authn {
            Some(Authn::Authenticated(id)) => Some(id),
            _ => None,
        }),
        AuthRule::Required => require(authn).map(Some),
        AuthRule::Roles(roles) => {
            let id = require(authn)?;
            if roles.contains(&id.user.role) {
                Ok(Some(id))
            } else {
                Err(Reject::Forbidden("Your role does not allow this"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{CachedUser, Rejection, SessionEntry};
    use std::sync::Arc;

    fn id(role: &str) -> Authn {
        Authn::Authenticated(Identity {
            user: Arc::new(CachedUser {
                id: 1,
                email: "a@b.c".into(),
                name: "A".into(),
                role: role.into(),
                active: true,
                picture: None,
            }),
            session_id: uuid::Uuid::nil(),
            session: SessionEntry {
                user_id: 1,
                token_id: uuid::Uuid::nil(),
                expires_at: 0,
                remember: false,
                revoked: false,
            },
        })
    }

    #[test]
    fn navigations_are_top_level_html_loads() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            m
        };
        let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
        assert!(is_navigation(&Method::GET, &h(&html)));
        assert!(is_navigation(
            &Method::GET,
            &h(&[("sec-fetch-mode", "navigate")])
        ));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("sec-fetch-mode", "cors"), html[0]])
        ));
        assert!(!is_navigation(&Method::POST, &h(&html)));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("accept", "application/json")])
        ));
        assert!(!is_navigation(
            &Method::GET,
            &h(&[("x-requested-with", "XMLHttpRequest"), html[0]])
        ));
    }

    #[test]
    fn rules() {
        let admins = AuthRule::Roles(vec!["admin".into()]);
        assert!(matches!(authorize(&AuthRule::None, None), Ok(None)));
        assert!(matches!(authorize(&AuthRule::Optional, None), Ok(None)));
        assert!(matches!(
            authorize(&AuthRule::Optional, Some(id("user"))),
            Ok(Some(_))
        ));
        assert!(matches!(
            authorize(&AuthRule::Required, None),
            Err(Reject::Unauthenticated {
                invalid_token: false,
                ..
            })
        ));
        assert!(matches!(
            authorize(
                &AuthRule::Required,
                Some(Authn::Rejected(Rejection::Revoked))
            ),
            Err(Reject::Unauthenticated {
                invalid_token: true,
                ..
            })
        ));
        assert!(matches!(
            authorize(&admins, Some(id("user"))),
            Err(Reject::Forbidden(_))
        ));
        assert!(matches!(authorize(&admins, Some(id("admin"))), Ok(Some(_))));
        assert!(matches!(
            authorize(&AuthRule::Required, Some(Authn::Unavailable)),
            Err(Reject::Unavailable)
        ));
    }
}
