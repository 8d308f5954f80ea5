//! Route policies: `deny` and `allow` blocks judged on what the request says (method, client
//! address, time) and who is asking. Synchronous, no allocation: comparisons over what the
//! config compiled. Three-valued: a criterion about identity is unknown while nobody has
//! signed in, so "no block holds" and "a block would hold once you sign in" differ.
//!
//! The rules: `deny` wins over `allow`. A deny block that holds refuses (403). A deny block
//! that needs to know the caller applies once they are known; for a caller not signed in it
//! is judged as holding for "nobody" only if signing in could lift it (then: sign in).
//! Allow blocks are alternatives: one that holds lets the request through; else one that
//! would hold once signed in asks for a sign-in; else one that would hold for the same
//! caller after a second step (a code or a passkey) asks for that step; else 403.

use crate::auth::{Amr, Identity};
use crate::config::{AmrName, Block, Criterion, Policy};
use http::Method;
use serde_json::Value;
use std::net::IpAddr;

/// What a policy reads of the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub method: &'a Method,
    /// The client (the right-most address not in `server.trusted_proxies`); `None` matches
    /// no network.
    pub ip: Option<IpAddr>,
    /// Unix seconds.
    pub at: i64,
}

/// Who is asking, as far as a policy can know.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    /// Nobody has signed in, and signing in could change the answer: criteria about the
    /// caller are unknown.
    Unknown,
    /// Nobody, taken as such: no criterion about the caller holds.
    Nobody,
    /// A caller, and how their sign-in was made (their session's methods, or those a second
    /// step would add).
    Known(&'a Identity, Amr),
}

impl<'a> Who<'a> {
    /// A caller as they signed in.
    pub fn known(id: &'a Identity) -> Self {
        Who::Known(id, id.session.amr)
    }
}

/// One criterion's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Met {
    Hit,
    Miss,
    /// About the caller, who has not signed in.
    NeedsSignIn,
}

impl Met {
    pub fn word(self) -> &'static str {
        match self {
            Met::Hit => "hit",
            Met::Miss => "miss",
            Met::NeedsSignIn => "needs-sign-in",
        }
    }
}

/// A block's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Hit,
    Miss,
    /// Would hold, or could, once the caller signs in.
    SignIn,
    /// Would hold for the same caller after a second step (a code or a passkey).
    StepUp,
}

impl Held {
    pub fn word(self) -> &'static str {
        match self {
            Held::Hit => "hit",
            Held::Miss => "miss",
            Held::SignIn => "needs-sign-in",
            Held::StepUp => "needs-second-factor",
        }
    }
}

/// What the policy says about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    SignIn,
    StepUp,
}

impl Verdict {
    /// The `result` label of `portcullis_policy_decisions_total`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::SignIn => "sign_in",
            Verdict::StepUp => "step_up",
        }
    }
}

/// A block by place: `deny[index]` or `allow[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    pub deny: bool,
    pub index: u16,
}

impl BlockRef {
    pub fn block(self, p: &Policy) -> Option<&Block> {
        let list = if self.deny { &p.deny } else { &p.allow };
        list.get(self.index as usize)
    }
}

/// The verdict and the block that decided it (`None`: no allow block held, or none to hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ruling {
    pub verdict: Verdict,
    pub block: Option<BlockRef>,
}

impl Ruling {
    /// The block's label as the metrics and `explain` show it; `none` when no block decided.
    pub fn block_label(self, p: &Policy) -> &str {
        self.block
            .and_then(|b| b.block(p))
            .map_or("none", |b| b.label.as_str())
    }
}

fn at(deny: bool, i: usize) -> Option<BlockRef> {
    Some(BlockRef {
        deny,
        index: i as u16,
    })
}

/// The policy's verdict on a request from `who`. An empty policy allows (the route's `auth`
/// alone decides).
pub fn judge(p: &Policy, who: Who<'_>, f: &Facts<'_>) -> Ruling {
    let mut deny_unless_signed_in = None;
    for (i, b) in p.deny.iter().enumerate() {
        match truth(&b.all, who, f) {
            Met::Hit => {
                return Ruling {
                    verdict: Verdict::Deny,
                    block: at(true, i),
                }
            }
            // Holds against "nobody", and who the caller is could lift it: they may sign in.
            Met::NeedsSignIn
                if deny_unless_signed_in.is_none() && truth(&b.all, Who::Nobody, f) == Met::Hit =>
            {
                deny_unless_signed_in = at(true, i);
            }
            _ => {}
        }
    }
    let allowed = allow(p, who, f);
    match (allowed.verdict, deny_unless_signed_in) {
        (Verdict::Deny, _) | (_, None) => allowed,
        (_, Some(block)) => Ruling {
            verdict: Verdict::SignIn,
            block: Some(block),
        },
    }
}

fn allow(p: &Policy, who: Who<'_>, f: &Facts<'_>) -> Ruling {
    if p.allow.is_empty() {
        return Ruling {
            verdict: Verdict::Allow,
            block: None,
        };
    }
    let mut sign_in = None;
    for (i, b) in p.allow.iter().enumerate() {
        match truth(&b.all, who, f) {
            Met::Hit => {
                return Ruling {
                    verdict: Verdict::Allow,
                    block: at(false, i),
                }
            }
            Met::NeedsSignIn => sign_in = sign_in.or(at(false, i)),
            Met::Miss => {}
        }
    }
    if let Some(b) = sign_in {
        return Ruling {
            verdict: Verdict::SignIn,
            block: Some(b),
        };
    }
    // Only once no block holds: would one, after a second step?
    match p.allow.iter().position(|b| steps_up(&b.all, who, f)) {
        Some(i) => Ruling {
            verdict: Verdict::StepUp,
            block: at(false, i),
        },
        None => Ruling {
            verdict: Verdict::Deny,
            block: None,
        },
    }
}

/// Whether the policy refuses the request before anyone signs in: a deny block on what the
/// request says alone holds, or no allow block could hold whoever signs in. (Answered so
/// before any credential is looked at; never a sign-in page for a request no sign-in helps.)
pub fn refused_before_sign_in(p: &Policy, f: &Facts<'_>) -> Option<Ruling> {
    let r = judge(p, Who::Unknown, f);
    (r.verdict == Verdict::Deny).then_some(r)
}

/// A block's outcome, as `explain` shows it.
pub fn held(all: &[Criterion], who: Who<'_>, f: &Facts<'_>) -> Held {
    match truth(all, who, f) {
        Met::Hit => Held::Hit,
        Met::NeedsSignIn => Held::SignIn,
        Met::Miss if steps_up(all, who, f) => Held::StepUp,
        Met::Miss => Held::Miss,
    }
}

/// Whether every criterion holds (three-valued: a miss decides; else an unknown).
fn truth(all: &[Criterion], who: Who<'_>, f: &Facts<'_>) -> Met {
    let mut unknown = false;
    for c in all {
        match met(c, who, f) {
            Met::Hit => {}
            Met::Miss => return Met::Miss,
            Met::NeedsSignIn => unknown = true,
        }
    }
    if unknown {
        Met::NeedsSignIn
    } else {
        Met::Hit
    }
}

/// Whether criteria that miss for a signed-in caller would all hold for the same caller after
/// a second step: with a code (`otp`) or a passkey (`hwk`) added to their sign-in. An API key
/// signs nobody in: it has no second step to take.
fn steps_up(all: &[Criterion], who: Who<'_>, f: &Facts<'_>) -> bool {
    let Who::Known(id, amr) = who else {
        return false;
    };
    id.key.is_none()
        && all.iter().any(Criterion::about_sign_in_methods)
        && [Amr::OTP, Amr::HWK]
            .into_iter()
            .any(|m| truth(all, Who::Known(id, amr.with(m)), f) == Met::Hit)
}

/// One criterion's outcome.
pub fn met(c: &Criterion, who: Who<'_>, f: &Facts<'_>) -> Met {
    let yes = |b: bool| if b { Met::Hit } else { Met::Miss };
    match c {
        Criterion::Networks(nets) => {
            // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`.
            yes(f
                .ip
                .map(|ip| ip.to_canonical())
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))))
        }
        Criterion::Methods(ms) => yes(ms.contains(f.method)),
        Criterion::Time(w) => yes(w.holds(f.at)),
        Criterion::Not(inner) => match truth(inner, who, f) {
            Met::Hit => Met::Miss,
            Met::Miss => Met::Hit,
            Met::NeedsSignIn => Met::NeedsSignIn,
        },
        _ => match who {
            Who::Unknown => Met::NeedsSignIn,
            Who::Nobody => Met::Miss,
            Who::Known(id, amr) => yes(about(c, id, amr)),
        },
    }
}

/// A criterion about the caller, for a known caller who signed in by `amr`.
fn about(c: &Criterion, id: &Identity, amr: Amr) -> bool {
    let u = &id.user;
    match c {
        Criterion::Users(emails) => u
            .verified_email()
            .is_some_and(|e| emails.iter().any(|x| x == e)),
        Criterion::EmailDomains(domains) => u
            .verified_email()
            .and_then(|e| e.rsplit_once('@'))
            .is_some_and(|(_, d)| domains.iter().any(|p| domain_matches(p, d))),
        Criterion::Roles(roles) => roles.iter().any(|r| *r == u.role),
        Criterion::Groups(groups) => groups.iter().any(|g| u.in_group(g)),
        Criterion::Claim { path, any_of, .. } => claim_holds(id, path, any_of),
        Criterion::Scopes(scopes) => id
            .key
            .as_ref()
            .is_some_and(|k| scopes.iter().any(|s| k.holds(s))),
        Criterion::Mfa => amr.second_factor(),
        Criterion::Amr(names) => names.iter().any(|n| amr_holds(amr, *n)),
        // The request's own facts are judged in `met`.
        Criterion::Networks(_) | Criterion::Methods(_) | Criterion::Time(_) | Criterion::Not(_) => {
            false
        }
    }
}

/// Whether an address's domain is `pattern`, or, for `*.example.com`, under it at any depth.
/// Both are lower-case (addresses are stored so).
fn domain_matches(pattern: &str, domain: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(parent) => domain
            .strip_suffix(parent)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => domain == pattern,
    }
}

fn amr_holds(amr: Amr, name: AmrName) -> bool {
    match name {
        AmrName::Pwd => amr.has(Amr::PWD),
        AmrName::Otp => amr.has(Amr::OTP),
        AmrName::Hwk => amr.has(Amr::HWK),
        AmrName::Email => amr.has(Amr::EMAIL),
        AmrName::Fed => amr.has(Amr::FED),
        AmrName::Mfa => amr.second_factor(),
    }
}

/// Whether the caller's claim at `path` equals one of `any_of`, or, a list, holds one. The
/// token's own core claims are the caller's: `sub` (the user's id), `sid` (the session),
/// `role` (the user's role now); the others are what an OAuth sign-in put in the token.
fn claim_holds(id: &Identity, path: &[String], any_of: &[Value]) -> bool {
    match path {
        [one] if one == "sub" => any_of.iter().any(|v| decimal_eq(v, id.user.id)),
        [one] if one == "role" => any_of.iter().any(|v| v.as_str() == Some(&id.user.role)),
        [one] if one == "sid" && id.key.is_none() => any_of.iter().any(|v| {
            v.as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .is_some_and(|s| s == id.session_id)
        }),
        _ => {
            let found = id
                .claims
                .as_deref()
                .and_then(|c| crate::config::pointer::resolve(c, path));
            match found {
                Some(Value::Array(items)) => items.iter().any(|i| any_of.contains(i)),
                Some(v) => any_of.contains(v),
                None => false,
            }
        }
    }
}

/// Whether a configured value is the number `n`, written as a number or as its decimal text
/// (`sub` is a string in the token).
fn decimal_eq(v: &Value, n: i64) -> bool {
    match v {
        Value::Number(x) => x.as_i64() == Some(n),
        Value::String(s) => {
            let digits = n.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
            s.len() == digits + usize::from(n < 0) && s.parse::<i64>() == Ok(n)
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
