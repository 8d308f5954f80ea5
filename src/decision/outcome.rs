//! Every outcome of a decision is a variant of one [`Decision`], carrying what acting on it
//! needs (the canonical target, the identity, what to strip), which [`Check`] decided, and the
//! metric labels it is counted under. Nothing here counts or writes anything.

use super::policy::Ruling;
use crate::auth::{Authn, Identity, Rejection};
use crate::error::Reject;
use crate::path::target::{BadTarget, Target};

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The request head is over `server.max_header_size`.
    HeadSize,
    /// The request target (form, encoding, dot segments, readings that change the route).
    Target(BadTarget),
    /// No route matches host, method and path.
    Route,
    /// The route's per-client `rate_limit`.
    RateLimit,
    /// A state-changing request with the session cookie, from another site.
    CrossSite,
    /// Credentials: none, or not valid, or the store could not be asked.
    Credentials,
    /// The route's `allow`/`deny` blocks (roles, groups, networks, …).
    Policy,
    /// The route's `mfa: true`: the session's sign-in used no second factor.
    SecondFactor,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::HeadSize => "head size",
            Check::Target(_) => "request target",
            Check::Route => "route",
            Check::RateLimit => "rate limit",
            Check::CrossSite => "cross-site",
            Check::Credentials => "credentials",
            Check::Policy => "policy",
            Check::SecondFactor => "second factor",
        }
    }
}

#[derive(Debug)]
pub enum Decision {
    /// A path the gateway serves itself (auth API, pages): the control plane answers, on the
    /// canonical target.
    Control(Target),
    /// `OPTIONS *`: answered by the gateway, about itself.
    ServerOptions,
    /// An edge proxy asks about another request (forward-auth, `auth_request`); that request
    /// gets its own decision.
    EdgeCheck(crate::config::EdgeAsker),
    Forward(Forward),
    /// A browser's page load without a session: to the sign-in page, coming back afterwards.
    Redirect {
        route: usize,
        location: String,
        /// Why there was no session, for the failure metric.
        failure: &'static str,
        /// The policy's ruling, when the route has a policy.
        policy: Option<Ruling>,
    },
    Deny(Denial),
}

/// A request the app gets, and how.
#[derive(Debug)]
pub struct Forward {
    pub route: usize,
    /// Sent on in this (canonical) form.
    pub target: Target,
    /// Whose identity headers to add; `None` for an anonymous request.
    pub identity: Option<Identity>,
    /// The upstream wants a signed identity assertion too.
    pub assertion: bool,
    /// Remove the caller's own token and session cookie before forwarding.
    pub drop_credentials: bool,
    /// The route asks for nothing (`auth: none`): credentials were not even looked at.
    pub public: bool,
    /// The policy's ruling, when the route has a policy.
    pub policy: Option<Ruling>,
}

#[derive(Debug)]
pub struct Denial {
    pub route: Option<usize>,
    pub reject: Reject,
    pub check: Check,
    /// Why presented credentials failed, for the failure metric (`Credentials`, `Role`).
    pub failure: Option<&'static str>,
    /// A page (rather than JSON) for a browser's page load.
    pub html: bool,
    /// The policy's ruling, when the route's policy decided.
    pub policy: Option<Ruling>,
    /// Who was refused, when a caller was known (for the audit trail's `authz.denied`).
    pub caller: Option<Caller>,
}

/// A refused caller: the user, their address, and the API key they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub key_id: Option<String>,
}

impl Caller {
    pub fn of(id: &crate::auth::Identity) -> Caller {
        Caller {
            user_id: id.user.id,
            email: id.user.email.clone(),
            key_id: id.key.as_ref().map(|k| k.id.clone()),
        }
    }
}

impl Decision {
    /// The `outcome` label of `portcullis_auth_decisions_total`; `None` for the control plane,
    /// which counts its own.
    pub fn outcome(&self) -> Option<&'static str> {
        Some(match self {
            Decision::Control(_) | Decision::EdgeCheck(_) => return None,
            Decision::ServerOptions => "server_options",
            Decision::Forward(f) if f.public => "allow_public",
            Decision::Forward(f) if f.identity.is_some() => "allow",
            Decision::Forward(_) => "allow_anonymous",
            Decision::Redirect { .. } => "redirect_to_login",
            Decision::Deny(d) => match d.check {
                Check::HeadSize => "deny_headers_too_large",
                Check::Target(_) => "deny_bad_path",
                Check::Route => "deny_no_route",
                Check::RateLimit => "deny_rate_limited",
                Check::CrossSite => "deny_cross_site",
                Check::Policy => "deny_forbidden",
                Check::SecondFactor => "deny_step_up",
                Check::Credentials => match d.reject {
                    Reject::Unavailable => "deny_unavailable",
                    Reject::Unauthenticated {
                        invalid_token: true,
                        ..
                    } => "deny_invalid_token",
                    _ => "deny_unauthenticated",
                },
            },
        })
    }

    /// A short word for the access log and the metrics' `decision` label.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Control(_) => "control",
            Decision::ServerOptions => "options",
            Decision::EdgeCheck(_) => "edge_check",
            Decision::Forward(_) => "forward",
            Decision::Redirect { .. } => "redirect",
            Decision::Deny(_) => "deny",
        }
    }

    pub fn route(&self) -> Option<usize> {
        match self {
            Decision::Control(_) | Decision::ServerOptions | Decision::EdgeCheck(_) => None,
            Decision::Forward(f) => Some(f.route),
            Decision::Redirect { route, .. } => Some(*route),
            Decision::Deny(d) => d.route,
        }
    }

    /// The route's policy's ruling, if its policy was consulted.
    pub fn ruling(&self) -> Option<Ruling> {
        match self {
            Decision::Forward(f) => f.policy,
            Decision::Redirect { policy, .. } => *policy,
            Decision::Deny(d) => d.policy,
            _ => None,
        }
    }
}

/// Why presented credentials failed, as a metric label; `missing` when none were presented.
pub fn failure_label(authn: Option<&Authn>) -> &'static str {
    match authn {
        None | Some(Authn::Authenticated(_)) => "missing",
        Some(Authn::Unavailable) => "unavailable",
        Some(Authn::Rejected(r)) => match r {
            Rejection::Malformed => "malformed",
            Rejection::Expired => "expired",
            Rejection::Revoked => "revoked",
            Rejection::Inactive => "inactive",
            Rejection::Invalid => "bad_token",
            Rejection::KeyNotAllowed => "api_key_not_allowed",
        },
    }
}
