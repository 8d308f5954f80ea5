//! What the gateway does with one request, decided once, by plain synchronous functions over
//! plain data. [`pre_auth`] runs every check that needs no credentials (head size, the target
//! and its canonical form, control paths, the route and every reading of the path, the route's
//! rate limit, cross-site); [`authorize`] applies the route's rule to what authentication
//! found. The proxy awaits the credential lookup between the two and acts on the result;
//! `explain` calls the very same functions, so it cannot tell an operator anything else.
//! Nothing here counts, logs or writes bytes.

mod facts;
pub mod forwarded;
mod outcome;

pub use facts::RequestFacts;
pub use outcome::{failure_label, Check, Decision, Denial, Forward};

use crate::auth::{Authn, Identity};
use crate::config::AuthRule;
use crate::error::Reject;
use crate::live::Live;
use crate::path::target::{self, Parsed, Target};

/// What [`pre_auth`] found: the route, the canonical target, and whether the route's rule
/// needs the caller's credentials looked up.
#[derive(Debug)]
pub struct Needs {
    pub route: usize,
    pub target: Target,
}

impl Needs {
    /// Whether credentials matter to the route (`auth: none` never looks at them).
    pub fn credentials(&self, live: &Live) -> bool {
        live.routes[self.route].auth != AuthRule::None
    }
}

fn deny(route: Option<usize>, check: Check, reject: Reject) -> Decision {
    Decision::Deny(Denial {
        route,
        reject,
        check,
        failure: None,
        html: false,
    })
}

/// What [`pre_auth`] leaves to do.
#[derive(Debug)]
pub enum PreAuth {
    /// Decided without credentials.
    Decided(Decision),
    /// The route is known; its rule decides, on what authentication finds.
    Needs(Needs),
}

/// Every check that needs no credentials.
pub fn pre_auth(live: &Live, facts: &RequestFacts) -> PreAuth {
    match checks(live, facts) {
        Ok(needs) => PreAuth::Needs(needs),
        Err(decided) => PreAuth::Decided(*decided),
    }
}

fn checks(live: &Live, facts: &RequestFacts) -> Result<Needs, Box<Decision>> {
    let cfg = &live.config;
    let navigation = crate::request::is_navigation(facts.method, facts.headers);
    let page = |route: Option<usize>, mut d: Decision| {
        // A page load is refused with a page, except on routes declared for API clients.
        if let Decision::Deny(denial) = &mut d {
            denial.html = navigation && route.is_none_or(|r| live.routes[r].redirect_browsers);
        }
        Box::new(d)
    };
    if crate::request::head_size(facts.raw_target, facts.headers) > cfg.server.max_header_size {
        return Err(page(
            None,
            deny(None, Check::HeadSize, Reject::HeadersTooLarge),
        ));
    }
    let parsed = target::parse(facts.raw_target, facts.method, |h| live.serves_host(h));
    let target = match parsed {
        Ok(Parsed::Path(t)) => t,
        Ok(Parsed::ServerOptions) => return Err(Box::new(Decision::ServerOptions)),
        Err(why) => return Err(page(None, bad_target(why))),
    };
    if !facts.forwarded {
        if let Some(asker) = cfg.api.edge_asker(&target.path) {
            return Err(Box::new(Decision::EdgeCheck(asker)));
        }
        if cfg.api.serves(&target.path) {
            return Err(Box::new(Decision::Control(target)));
        }
    }
    let host = target.authority.as_deref().or(facts.host);
    let route = match crate::routing::readings::route(
        &live.route_index,
        &cfg.routes,
        host,
        facts.method,
        &target,
    ) {
        Ok(Some(route)) => route,
        Ok(None) => return Err(page(None, deny(None, Check::Route, Reject::NotFound))),
        Err(why) => return Err(page(None, bad_target(why))),
    };
    // Counted before any token is looked at, so a flood of bad tokens costs no verification.
    // Clients without a known address are not limited here.
    if let (Some(limiter), Some(ip)) = (
        live.route_limiters.get(route).and_then(Option::as_ref),
        facts.client_ip,
    ) {
        if let Err(retry_after_secs) = limiter.keys.check(ip) {
            let reject = Reject::RateLimited { retry_after_secs };
            return Err(page(
                Some(route),
                deny(Some(route), Check::RateLimit, reject),
            ));
        }
    }
    let rule = &cfg.routes[route].auth;
    if *rule != AuthRule::None
        && crate::request::cross_site::refused_cross_site(
            facts.method,
            facts.headers,
            &cfg.cookie.name,
            &cfg.server.public_origin,
        )
    {
        let reject = Reject::Forbidden("Cross-site request refused");
        return Err(page(
            Some(route),
            deny(Some(route), Check::CrossSite, reject),
        ));
    }
    Ok(Needs { route, target })
}

/// The route's rule applied to what authentication found (`None`: no credentials, or none
/// looked up because the route does not need them).
pub fn authorize(
    live: &Live,
    needs: Needs,
    authn: Option<Authn>,
    facts: &RequestFacts,
) -> Decision {
    let route = &live.routes[needs.route];
    let failure = failure_label(authn.as_ref());
    let outcome = rule_outcome(&route.auth, authn).and_then(|id| match &id {
        Some(i) => key_rules(live, needs.route, i).map(|()| id),
        None => Ok(id),
    });
    let denied = match outcome {
        // A key signed nobody in: like a password-only session, it cannot pass a step-up.
        Ok(Some(id)) if route.mfa && !id.session.amr.second_factor() => {
            return step_up(live, needs, facts)
        }
        Ok(identity) => {
            return Decision::Forward(Forward {
                route: needs.route,
                identity,
                assertion: live
                    .config
                    .upstreams
                    .get(&route.upstream)
                    .is_some_and(|u| u.assertion),
                drop_credentials: !route.forward_token,
                public: route.auth == AuthRule::None,
                target: needs.target,
            })
        }
        Err(reject) => reject,
    };
    let navigation = crate::request::is_navigation(facts.method, facts.headers);
    if let (Reject::Unauthenticated { .. }, true, Some(login)) = (
        &denied,
        route.redirect_browsers && navigation,
        &live.pages.login_path,
    ) {
        return Decision::Redirect {
            route: needs.route,
            location: format!(
                "{login}?returnTo={}",
                crate::redirect::escape_query(&needs.target.origin_form())
            ),
            failure,
        };
    }
    let check = match denied {
        Reject::Forbidden(_) => Check::Role,
        Reject::RateLimited { .. } => Check::RateLimit,
        _ => Check::Credentials,
    };
    Decision::Deny(Denial {
        route: Some(needs.route),
        failure: Some(if check == Check::Role {
            "forbidden"
        } else {
            failure
        }),
        reject: denied,
        check,
        html: navigation && route.redirect_browsers,
    })
}

/// What an API key may do here: a route with `scopes` takes only a key holding all of them
/// (sessions hold none); a key's requests count against `rate_limits.api_key`.
fn key_rules(live: &Live, route: usize, id: &Identity) -> Result<(), Reject> {
    let scopes = &live.routes[route].scopes;
    if !scopes.is_empty()
        && !id
            .key
            .as_ref()
            .is_some_and(|k| scopes.iter().all(|s| k.holds(s)))
    {
        return Err(Reject::Forbidden(
            "This route takes an API key holding its scopes",
        ));
    }
    if let (Some(key), Some((_, limiter))) = (&id.key, &live.api_key_limiter) {
        limiter
            .check(key.holder)
            .map_err(|retry_after_secs| Reject::RateLimited { retry_after_secs })?;
    }
    Ok(())
}

/// A session without a second factor on a route that demands one: a browser goes to the
/// second-step page and back; an API client gets 401 `insufficient_user_authentication`.
fn step_up(live: &Live, needs: Needs, facts: &RequestFacts) -> Decision {
    let route = &live.routes[needs.route];
    let navigation = crate::request::is_navigation(facts.method, facts.headers);
    if let (true, Some(page)) = (
        route.redirect_browsers && navigation,
        live.config.pages.mfa_path(),
    ) {
        return Decision::Redirect {
            route: needs.route,
            location: format!(
                "{page}?returnTo={}",
                crate::redirect::escape_query(&needs.target.origin_form())
            ),
            failure: STEP_UP,
        };
    }
    Decision::Deny(Denial {
        route: Some(needs.route),
        failure: Some(STEP_UP),
        reject: Reject::StepUpRequired,
        check: Check::SecondFactor,
        html: navigation && route.redirect_browsers,
    })
}

/// The failure label of a refusal for want of a second factor.
pub const STEP_UP: &str = "mfa_required";

/// A target whose meaning depends on who reads it: refused, saying why.
fn bad_target(why: target::BadTarget) -> Decision {
    deny(
        None,
        Check::Target(why),
        Reject::BadRequest(format!("The request target is refused: {why}")),
    )
}

/// A rule applied to what authentication found: the identity to forward (if any), or the
/// refusal.
pub fn rule_outcome(rule: &AuthRule, authn: Option<Authn>) -> Result<Option<Identity>, Reject> {
    match rule {
        AuthRule::None => Ok(None),
        AuthRule::Optional => Ok(match authn {
            Some(Authn::Authenticated(id)) => Some(id),
            _ => None,
        }),
        AuthRule::Required => Ok(Some(crate::auth::require(authn).map_err(Reject::from)?)),
        AuthRule::Roles(roles) => {
            let id = crate::auth::require(authn).map_err(Reject::from)?;
            if roles.contains(&id.user.role) {
                Ok(Some(id))
            } else {
                Err(Reject::Forbidden("Your role does not allow this"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
