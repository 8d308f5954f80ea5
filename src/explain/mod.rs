//! "Why was I denied?": what the gateway does with a request an operator describes — method,
//! target, headers (`Accept`, `Origin`, `Sec-Fetch-*`, `Host`, …), client address, time and
//! caller — and which check decided. It runs the proxy's own decision functions
//! ([`crate::decision`]), so its answer is the proxy's; for a route with a policy it lists
//! every block and every criterion as judged. Served by `portcullis explain` and by
//! `GET /explain` on the admin listener (`entry.rs`); a token is authenticated for real.

mod entry;
mod trace;

pub use entry::{admin, cli, render, CliArgs, ExplainError, HeaderError};
pub use trace::{BlockTrace, CriterionTrace};

use crate::auth::{Amr, Authn, CachedUser, Identity, Rejection, SessionEntry};
use crate::decision::policy::{Verdict, Who};
use crate::decision::{self, Check, Decision, RequestFacts};
use crate::error::Reject;
use crate::live::Live;
use http::{HeaderMap, Method};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

/// Who is asking, as the operator describes them.
pub enum Caller {
    Anonymous,
    /// A signed-in user with these traits (no token needed).
    Described(Described),
    /// What authenticating this token found.
    Token(Authn),
}

/// A signed-in caller as described: a role, and what policies can ask about.
#[derive(Debug, Clone, Default)]
pub struct Described {
    pub role: String,
    /// A proven address.
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// Signed in with a second factor (else with a password alone).
    pub mfa: bool,
}

/// The request, as the operator describes it.
pub struct Asked<'a> {
    pub method: &'a Method,
    /// The request target exactly as a client would send it.
    pub target: &'a str,
    pub headers: &'a HeaderMap,
    /// The client's address, as the gateway would derive it; `None` matches no network.
    pub ip: Option<IpAddr>,
    /// When (Unix seconds).
    pub at: i64,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Explanation {
    pub method: String,
    /// The request target as given.
    pub target: String,
    pub ip: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
    /// The matched route's name and pattern, if any.
    pub route: Option<String>,
    pub pattern: Option<String>,
    pub upstream: Option<String>,
    pub requires: String,
    /// `forward`, `control`, `redirect`, `options` or `deny`.
    pub decision: String,
    /// What the client gets: the app's answer for `forward` (shown as 200), the gateway's
    /// otherwise; 0 for `control`, where the endpoint itself answers.
    pub status: u16,
    /// The check that decided: `head size`, `request target`, `route`, `rate limit`,
    /// `cross-site`, `credentials`, `policy`, `second factor`, or `rule` when the route let
    /// it through.
    pub check: String,
    pub reason: String,
    /// The policy block that decided (`allow[1]`, `deny[0]`, or its `name:`), if one did.
    pub block: Option<String>,
    /// Every block of the route's policy, criterion by criterion.
    pub blocks: Vec<BlockTrace>,
}

/// A caller with the described traits and nothing else known about them.
fn described(d: &Described) -> Authn {
    let email = d.email.clone().unwrap_or_default();
    let mut groups = d.groups.clone();
    groups.sort();
    groups.dedup();
    Authn::Authenticated(Identity {
        user: Arc::new(CachedUser {
            id: 0,
            email_verified: d.email.is_some(),
            email: email.to_ascii_lowercase(),
            name: String::new(),
            role: d.role.clone(),
            active: true,
            picture: None,
            groups,
            header_values: Default::default(),
        }),
        session_id: uuid::Uuid::nil(),
        session: SessionEntry {
            user_id: 0,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            // A password sign-in (what a route demanding a second factor refuses), or one
            // with a one-time code.
            amr: if d.mfa {
                Amr::PWD.with(Amr::OTP)
            } else {
                Amr::PWD
            },
        },
        key: None,
        claims: None,
    })
}

fn why_token(authn: Option<&Authn>) -> Option<&'static str> {
    match authn? {
        Authn::Rejected(r) => Some(match r {
            Rejection::Malformed => "the credentials are malformed",
            Rejection::Expired => "the token or its session has expired",
            Rejection::Revoked => "the session was revoked (logout, renewal or an admin)",
            Rejection::Inactive => "the account is deactivated",
            Rejection::Invalid => {
                "the token is invalid (signature, algorithm, issuer, audience or claims), or the API key is unknown"
            }
            Rejection::KeyNotAllowed => "API keys are not accepted here",
        }),
        Authn::Unavailable => Some("the database is unavailable"),
        Authn::Authenticated(_) => None,
    }
}

/// What the proxy would do with this request, from this caller.
pub fn explain(live: &Live, asked: &Asked<'_>, caller: Caller) -> Explanation {
    let facts = RequestFacts {
        method: asked.method,
        raw_target: asked.target.as_bytes(),
        host: asked
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok()),
        headers: asked.headers,
        client_ip: asked.ip,
        forwarded: false,
        at: asked.at,
        // Explaining spends nobody's allowance.
        count: false,
    };
    let authn = match caller {
        Caller::Anonymous => None,
        Caller::Described(d) => Some(described(&d)),
        Caller::Token(a) => Some(a),
    };
    let why = why_token(authn.as_ref());
    let mut identity = None;
    let decided = match decision::pre_auth(live, &facts) {
        decision::PreAuth::Decided(decided) => decided,
        decision::PreAuth::Needs(needs) => {
            let authn = if needs.credentials(live) { authn } else { None };
            if let Some(Authn::Authenticated(id)) = &authn {
                identity = Some(id.clone());
            }
            decision::authorize(live, needs, authn, &facts)
        }
    };
    let mut e = describe(live, asked, &decided, why);
    if let Some(route) = decided.route().map(|i| &live.routes[i]) {
        let who = identity.as_ref().map_or(Who::Unknown, Who::known);
        e.blocks = trace::blocks(route, who, &facts.policy());
        e.block = decided
            .ruling()
            .filter(|r| r.block.is_some())
            .map(|r| r.block_label(&route.policy).to_string());
    }
    e
}

fn describe(
    live: &Live,
    asked: &Asked<'_>,
    d: &Decision,
    why: Option<&'static str>,
) -> Explanation {
    let mut e = Explanation {
        method: asked.method.to_string(),
        target: asked.target.to_string(),
        ip: asked.ip.map(|ip| ip.to_string()),
        at: jiff::Timestamp::from_second(asked.at)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        route: None,
        pattern: None,
        upstream: None,
        requires: String::new(),
        decision: d.kind().to_string(),
        status: 0,
        check: String::new(),
        reason: String::new(),
        block: None,
        blocks: Vec::new(),
    };
    let route = d.route().map(|i| &live.routes[i]);
    if let Some(r) = route {
        e.route = Some(r.name.clone());
        e.pattern = Some(r.path.as_str().to_string());
        e.upstream = Some(r.upstream.clone());
        e.requires = trace::requirement(r);
    }
    let upstream = e.upstream.clone().unwrap_or_default();
    let block = || {
        route
            .zip(d.ruling())
            .map(|(r, ruling)| ruling.block_label(&r.policy).to_string())
            .unwrap_or_else(|| "none".into())
    };
    match d {
        Decision::Control(_) => {
            e.requires = "whatever that endpoint requires".into();
            e.check = "route".into();
            e.reason = "the gateway serves this path itself (auth API or page)".into();
        }
        Decision::EdgeCheck(_) => {
            e.requires = "a peer in server.trusted_proxies".into();
            e.check = "route".into();
            e.reason = "an edge proxy's forward-auth check: the request it describes gets its own decision".into();
        }
        Decision::ServerOptions => {
            e.status = 204;
            e.check = "request target".into();
            e.reason = "OPTIONS * is answered by the gateway itself".into();
        }
        Decision::Forward(f) => {
            e.status = 200;
            e.check = "rule".into();
            let by = match f.policy.and_then(|r| r.block) {
                Some(_) => format!(" ({} holds)", block()),
                None => String::new(),
            };
            e.reason = match &f.identity {
                Some(id) => format!(
                    "forwarded to upstream {upstream} with the identity headers of a user with role {}{by}",
                    id.user.role
                ),
                None => format!("forwarded to upstream {upstream} without identity{by}"),
            };
        }
        Decision::Redirect { failure, .. } if *failure == crate::decision::STEP_UP => {
            e.status = 302;
            e.check = Check::SecondFactor.name().into();
            e.reason = format!("the session's sign-in used no second factor, which {} asks for; a browser's page load is sent to the second-step page (an API client gets 401)", block());
        }
        Decision::Redirect { policy, .. } => {
            e.status = 302;
            e.check = Check::Credentials.name().into();
            e.reason = match policy.filter(|r| r.verdict == Verdict::SignIn) {
                Some(_) => format!("{} asks who the caller is; a browser's page load is sent to the sign-in page (an API client gets 401)", block()),
                None => format!(
                    "{}; a browser's page load is sent to the sign-in page (an API client gets 401)",
                    why.unwrap_or("no credentials were presented")
                ),
            };
        }
        Decision::Deny(denial) => {
            e.status = denial.reject.status().as_u16();
            e.check = denial.check.name().into();
            e.reason = match (denial.check, &denial.reject) {
                (Check::Target(_) | Check::HeadSize | Check::RateLimit, r) => r.message(),
                (Check::Route, _) => "no route matches this method, host and path (routes are first match; nothing is forwarded without one)".into(),
                (Check::CrossSite, _) => "a state-changing request with the session cookie, from another site".into(),
                (Check::Policy, _) if denial.policy.and_then(|r| r.block).is_some_and(|b| b.deny) => {
                    format!("{} holds, and a deny block refuses whatever the allow blocks say", block())
                }
                (Check::Policy, _) => format!("no allow block holds for this caller and request (requires {})", e.requires),
                (Check::SecondFactor, _) => format!("the session's sign-in used no second factor, which {} asks for", block()),
                (Check::Credentials, Reject::Unavailable) => "the database is unavailable".into(),
                (Check::Credentials, _) if denial.policy.is_some_and(|r| r.verdict == Verdict::SignIn) => {
                    format!("{} asks who the caller is: {}", block(), why.unwrap_or("no credentials were presented"))
                }
                (Check::Credentials, _) => why.unwrap_or("no credentials were presented").into(),
            };
        }
    }
    e
}
