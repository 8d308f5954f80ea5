//! Counting and logging, once per request, from the decision: the decision metrics when it is
//! made, the request metrics and one access-log line when the request ends. No secrets: the
//! query string is left out, and labels are route names and outcomes.

use super::Ctx;
use crate::decision::{Check, Decision};
use crate::metrics;
use pingora::proxy::Session;
use pingora::Error;

/// The decision's own metrics: its outcome, its policy's verdict, and why credentials or a
/// target were refused.
pub fn decided(live: &crate::live::Live, d: &Decision) {
    if let Some(outcome) = d.outcome() {
        metrics::auth_decision(outcome);
    }
    if let (Some(route), Some(ruling)) = (d.route(), d.ruling()) {
        count_policy(live, route, ruling);
    }
    match d {
        Decision::Redirect { failure, .. } => metrics::auth_failure(failure),
        Decision::Deny(denial) => {
            if let Some(f) = denial.failure {
                metrics::auth_failure(f);
            }
            match denial.check {
                Check::Target(why) => metrics::bad_target(why.label()),
                Check::RateLimit => metrics::rate_limited("route"),
                _ => {}
            }
        }
        _ => {}
    }
}

/// `authz.denied` for a request a route's policy (or the cross-site rule) refused: at most
/// one a second per route and client (`audit::Sink::denied`), on the request path's queue.
pub fn audit_denial(
    state: &crate::state::State,
    live: &crate::live::Live,
    d: &Decision,
    client: &crate::request::ClientInfo,
    req: &pingora::http::RequestHeader,
) {
    let Decision::Deny(denial) = d else { return };
    let why = match denial.check {
        Check::Policy => "policy",
        Check::CrossSite => "cross_site",
        _ => return,
    };
    let Some(route) = denial.route.map(|r| &live.routes[r]) else {
        return;
    };
    // Built only for the one denial a second that is recorded, not for those it counts.
    state.audit.denied(&route.name, client.ip, |suppressed| {
        let meta = crate::audit::context::RequestMeta {
            id: super::request_id::of(req)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            method: Some(req.method.as_str().to_string()),
            host: super::request_host(req).map(|h| h.chars().take(256).collect()),
            path: Some(logged_path(req.raw_path()).into_owned()),
        };
        let mut reason = match denial.policy {
            Some(r) => format!("{why}: block {}", r.block_label(&route.policy)),
            None => why.to_string(),
        };
        if suppressed > 0 {
            reason.push_str(&format!(
                " ({suppressed} more in the last second not recorded)"
            ));
        }
        let e = crate::audit::Event::new(crate::audit::kinds::AUTHZ_DENIED)
            .target("route", &route.name)
            .client(client)
            .request(meta)
            .failed(&reason);
        match &denial.caller {
            Some(c) => match &c.key_id {
                Some(k) => e.by_key(&c.email, k),
                None => e.by_user(c.user_id, &c.email),
            },
            None => e.by_anonymous(None),
        }
    });
}

/// Counts a policy's verdict on a request to route `route`, under the deciding block.
fn count_policy(live: &crate::live::Live, route: usize, r: crate::decision::policy::Ruling) {
    let Some(Some(counters)) = live.policy_counters.get(route) else {
        return;
    };
    // Blocks are labelled allow first, then deny (`Live::policy_counters`).
    let allow = live.routes[route].policy.allow.len();
    let block = r
        .block
        .map(|b| b.index as usize + if b.deny { allow } else { 0 });
    counters.count(block, r.verdict.label());
}

/// The path as the client sent it (a refused one included), without the query, which may
/// carry secrets; bounded, and lossy for bytes that are not UTF-8.
fn logged_path(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    let path = raw.split(|b| *b == b'?').next().unwrap_or_default();
    String::from_utf8_lossy(&path[..path.len().min(512)])
}

/// Request metrics and one access-log line.
pub fn finished(session: &Session, e: Option<&Error>, ctx: &Ctx) {
    let status = session
        .response_written()
        .map(|r| r.status.as_u16())
        .unwrap_or(0);
    let meters = ctx.live.route_meters(ctx.route, ctx.decision == "control");
    let elapsed = ctx.started.elapsed();
    let req = session.req_header();
    meters.finished(ctx.decision, &req.method, status, elapsed.as_secs_f64());
    let path = logged_path(req.raw_path());
    crate::access_line::Access {
        method: req.method.as_str(),
        path: &path,
        status,
        route: meters.route(),
        user: ctx.user,
        client: ctx.client.ip,
        micros: elapsed.as_micros() as u64,
        error: e.map(|e| e.etype().as_str()),
        reason: ctx.reason.as_deref(),
        request_id: super::request_id::of(req).and_then(|v| v.to_str().ok()),
    }
    .log();
}
