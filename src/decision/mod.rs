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
pub mod policy;

pub use facts::RequestFacts;
pub use outcome::{failure_label, Caller, Check, Decision, Denial, Forward};

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
        policy: None,
        caller: None,
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
    let page = |route: Option<usize>, mut d: Decision| {
        // A page load is refused with a page, except on routes declared for API clients.
        if let Decision::Deny(denial) = &mut d {
            denial.html = route.is_none_or(|r| live.routes[r].redirect_browsers)
                && crate::request::is_navigation(facts.method, facts.headers);
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
    if let (Some(limiter), Some(ip), true) = (
        live.route_limiters.get(route).and_then(Option::as_ref),
        facts.client_ip,
        facts.count,
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
    // A policy that refuses whoever signs in refuses now, before any credential is read.
    if let Some(r) = policy::refused_before_sign_in(&live.routes[route].policy, &facts.policy()) {
        let reject = Reject::Forbidden(policy_refusal(&live.routes[route], Some(r)));
        let mut d = deny(Some(route), Check::Policy, reject);
        if let Decision::Deny(denial) = &mut d {
            denial.failure = Some("forbidden");
            denial.policy = Some(r);
        }
        return Err(page(Some(route), d));
    }
    Ok(Needs { route, target })
}

/// The route's rule and policy applied to what authentication found (`None`: no credentials,
/// or none looked up because the route does not need them).
pub fn authorize(
    live: &Live,
    needs: Needs,
    authn: Option<Authn>,
    facts: &RequestFacts,
) -> Decision {
    let route = &live.routes[needs.route];
    let failure = failure_label(authn.as_ref());
    // Read only for a refusal.
    let navigation = || crate::request::is_navigation(facts.method, facts.headers);
    // Who is asking: a required route without a caller stops here; an optional one takes a
    // failed credential as nobody.
    let (identity, no_identity) = match (route.auth, authn) {
        (AuthRule::None, _) => (None, crate::auth::NoIdentity::Missing),
        (_, Some(Authn::Authenticated(id))) => (Some(id), crate::auth::NoIdentity::Missing),
        (AuthRule::Optional, other) => (None, no_identity(other)),
        (AuthRule::Required, other) => {
            let reject = Reject::from(no_identity(other));
            return sign_in(live, needs, facts, reject, failure, None);
        }
    };
    let policy = (!route.policy.is_empty()).then(|| {
        let who = identity
            .as_ref()
            .map_or(policy::Who::Unknown, policy::Who::known);
        policy::judge(&route.policy, who, &facts.policy())
    });
    match policy.map(|r| r.verdict) {
        None | Some(policy::Verdict::Allow) => {}
        Some(policy::Verdict::SignIn) => {
            let reject = Reject::from(no_identity);
            return sign_in(live, needs, facts, reject, failure, policy);
        }
        // A session a second step would let through (never a key: `policy::judge`).
        Some(policy::Verdict::StepUp) => return step_up(live, needs, facts, policy),
        Some(policy::Verdict::Deny) => {
            let reject = Reject::Forbidden(policy_refusal(route, policy));
            return Decision::Deny(Denial {
                route: Some(needs.route),
                failure: Some("forbidden"),
                reject,
                check: Check::Policy,
                html: route.redirect_browsers && navigation(),
                policy,
                caller: identity.as_ref().map(outcome::Caller::of),
            });
        }
    }
    if let Some(retry_after_secs) = identity.as_ref().and_then(|id| key_limited(live, id)) {
        return Decision::Deny(Denial {
            route: Some(needs.route),
            failure: Some(failure),
            reject: Reject::RateLimited { retry_after_secs },
            check: Check::RateLimit,
            html: route.redirect_browsers && navigation(),
            policy,
            caller: None,
        });
    }
    Decision::Forward(Forward {
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
        policy,
    })
}

/// Why a request carries no identity, from what authentication found.
fn no_identity(authn: Option<Authn>) -> crate::auth::NoIdentity {
    match crate::auth::require(authn) {
        Ok(_) => crate::auth::NoIdentity::Missing,
        Err(why) => why,
    }
}

/// A caller the route needs signed in: a browser's page load goes to the sign-in page and
/// back; anyone else gets the refusal (401, or 503 when the store could not be asked).
fn sign_in(
    live: &Live,
    needs: Needs,
    facts: &RequestFacts,
    reject: Reject,
    failure: &'static str,
    policy: Option<policy::Ruling>,
) -> Decision {
    let route = &live.routes[needs.route];
    let navigation = crate::request::is_navigation(facts.method, facts.headers);
    if let (Reject::Unauthenticated { .. }, true, Some(login)) = (
        &reject,
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
            policy,
        };
    }
    Decision::Deny(Denial {
        route: Some(needs.route),
        failure: Some(failure),
        reject,
        check: Check::Credentials,
        html: navigation && route.redirect_browsers,
        policy,
        caller: None,
    })
}

/// The words of a policy's 403: what the nearest allow block missed, where it is plain.
fn policy_refusal(route: &crate::config::Route, ruling: Option<policy::Ruling>) -> &'static str {
    let Some(r) = ruling else {
        return "The route's policy does not allow this";
    };
    if r.block.is_some_and(|b| b.deny) {
        return "A deny rule of this route refuses the request";
    }
    let only = |key: &str| {
        route.policy.allow.len() == 1
            && route.policy.allow[0]
                .all
                .iter()
                .all(|c| c.key() == key || c.key() == "mfa")
    };
    if only("roles") {
        "Your role does not allow this"
    } else if only("scopes") {
        "This route takes an API key holding its scopes"
    } else {
        "The route's policy does not allow this"
    }
}

/// An API key's requests count against `rate_limits.api_key`: the wait, when over it.
fn key_limited(live: &Live, id: &Identity) -> Option<u64> {
    let (key, limiter) = (id.key.as_ref()?, live.api_key_limiter.as_ref()?);
    limiter.keys.check(key.holder).err()
}

/// A session without a second factor on a route that demands one: a browser goes to the
/// second-step page and back; an API client gets 401 `insufficient_user_authentication`.
fn step_up(
    live: &Live,
    needs: Needs,
    facts: &RequestFacts,
    policy: Option<policy::Ruling>,
) -> Decision {
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
            policy,
        };
    }
    Decision::Deny(Denial {
        route: Some(needs.route),
        failure: Some(STEP_UP),
        reject: Reject::StepUpRequired,
        check: Check::SecondFactor,
        html: navigation && route.redirect_browsers,
        policy,
        caller: None,
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

#[cfg(test)]
mod tests;
