//! The data plane. `Gateway` implements Pingora's `ProxyHttp` and only delegates: each phase
//! calls a named module.

mod act;
pub mod client_ip;
pub mod control;
mod edge;
pub mod head_deadline;
mod headers;
pub mod identity;
mod observe;
pub mod request_id;
pub mod respond;
pub mod shutdown;
mod streams;
pub mod tls;

use crate::decision::{self, Decision, RequestFacts};
use crate::live::Live;
use crate::request::ClientInfo;
use crate::state::State;
use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use std::sync::Arc;
use std::time::Instant;

pub struct Gateway {
    state: Arc<State>,
    api: control::ControlPlane,
}

impl Gateway {
    /// Registers the request under its session or API key (none for an anonymous request), so
    /// that revoking it closes the connection (HTTP/1.1) or ends the one stream (HTTP/2, whose
    /// connection carries other requests too).
    fn hold_tunnel(
        &self,
        session: &mut Session,
        by: Option<(uuid::Uuid, crate::auth::SessionEntry)>,
    ) -> Option<crate::tunnels::Registration> {
        let (sid, entry) = by?;
        let cut = match head_deadline::connection_cut(session) {
            Some(cut) => cut,
            None => {
                let cut = crate::tunnels::Cut::new();
                session.abort = Some(Box::pin(crate::tunnels::until_cut(cut.clone())));
                cut
            }
        };
        Some(self.state.auth.cache.hold_tunnel(sid, &entry, cut))
    }

    /// `control`: the runtime the auth API's handlers run on (not the worker's).
    pub fn new(state: Arc<State>, control: tokio::runtime::Handle) -> Self {
        Gateway {
            api: control::ControlPlane::new(crate::control::router(state.clone()), control),
            state,
        }
    }
}

/// The decision on a request: the checks that need no credentials, the credential lookup
/// (from memory, the store on a miss) when the route needs it, then its rule.
pub(crate) async fn decide(state: &State, live: &Live, facts: &RequestFacts<'_>) -> Decision {
    let needs = match decision::pre_auth(live, facts) {
        decision::PreAuth::Needs(needs) => needs,
        decision::PreAuth::Decided(decided) => return decided,
    };
    let authn = if needs.credentials(live) {
        state
            .auth
            .from_request(facts.headers, &live.cookie.name, crate::store::now())
            .await
    } else {
        None
    };
    decision::authorize(live, needs, authn, facts)
}

/// Per-request state shared across phases.
pub struct Ctx {
    /// The config this request started under; a reload mid-request does not change it.
    live: Arc<Live>,
    started: Instant,
    route: Option<usize>,
    /// The user the request was forwarded for, for the access log.
    user: Option<i64>,
    client: ClientInfo,
    /// `control`, `forward`, `redirect`, `options` or `deny`, for the metrics.
    decision: &'static str,
    /// Why a request was refused, for the access log.
    reason: Option<String>,
    /// The session the request was forwarded for, should its answer become a stream.
    session: Option<(uuid::Uuid, crate::auth::SessionEntry)>,
    /// An upgraded connection's or an event stream's place among the open tunnels, so
    /// revoking its session ends it.
    tunnel: Option<crate::tunnels::Registration>,
    _in_flight: shutdown::InFlight,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            live: self.state.config(),
            started: Instant::now(),
            route: None,
            user: None,
            client: ClientInfo::default(),
            decision: "none",
            reason: None,
            session: None,
            tunnel: None,
            _in_flight: shutdown::InFlight::start(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> pingora::Result<bool> {
        let live = ctx.live.clone();
        let peer = peer_ip(session);
        ctx.client = client_info(session, &live.server.trusted_proxies);
        request_id::assign(session.req_header_mut())?;
        if tls::misdirected(session) {
            ctx.decision = "deny";
            respond::reject(session, &crate::error::Reject::Misdirected).await?;
            return Ok(true);
        }
        if let Some(to) = tls::https_location(session, &live) {
            ctx.decision = "redirect";
            respond::redirect_with(session, http::StatusCode::PERMANENT_REDIRECT, &to).await?;
            return Ok(true);
        }
        let req = session.req_header();
        let facts = RequestFacts {
            method: &req.method,
            raw_target: req.raw_path(),
            host: request_host(req),
            headers: &req.headers,
            client_ip: ctx.client.ip,
            forwarded: false,
            at: crate::clock::now(),
            count: true,
        };
        let decision = decide(&self.state, &live, &facts).await;
        // Whatever the decision, nothing a client says about identity, the URL or the method
        // goes further. (The decision reads none of it; an edge proxy's check is answered
        // here, and reads the original URL and method its trusted sender put there.)
        if !matches!(decision, Decision::EdgeCheck(_)) {
            identity::strip(session.req_header_mut(), &live.identity.prefix);
            let trusted = client_ip::peer_trusted(peer, &live.server.trusted_proxies);
            client_ip::strip_untrusted(session.req_header_mut(), trusted);
        }
        observe::decided(&live, &decision);
        observe::audit_denial(
            &self.state,
            &live,
            &decision,
            &ctx.client,
            session.req_header(),
        );
        ctx.decision = decision.kind();
        ctx.route = decision.route();
        match &decision {
            Decision::Deny(d) => ctx.reason = Some(d.reject.message()),
            Decision::Forward(f) => {
                ctx.user = f.identity.as_ref().map(|i| i.user.id);
                ctx.session = f.identity.as_ref().map(|i| (i.holder(), i.session));
                if session.is_upgrade_req() {
                    ctx.tunnel = self.hold_tunnel(session, ctx.session);
                }
            }
            _ => {}
        }
        let next = act::on(
            &self.state,
            &self.api,
            session,
            &ctx.client,
            &live,
            &decision,
        )
        .await?;
        Ok(matches!(next, act::Next::Answered))
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Ctx,
    ) -> pingora::Result<Box<HttpPeer>> {
        let name = ctx
            .route
            .map(|r| ctx.live.routes[r].upstream.as_str())
            .unwrap_or("");
        ctx.live
            .upstreams
            .peer(name)
            .map(Box::new)
            // An upstream whose name does not resolve (yet): the app's side failed, 502.
            .ok_or_else(|| {
                Error::explain(ErrorType::ConnectNoRoute, "upstream has no address").into_up()
            })
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        client_ip::forwarding_headers(req, peer_ip(session), &ctx.live.server.trusted_proxies)
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut pingora::http::ResponseHeader,
        ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        // The gateway's own version, whatever the app spoke (RFC 9110 §6.2); the HTTP/2 writer
        // ignores it.
        resp.set_version(http::Version::HTTP_11);
        // A server-sent event stream lives as long as a WebSocket: it ends with its session.
        let event_stream = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if event_stream && ctx.tunnel.is_none() {
            ctx.tunnel = self.hold_tunnel(session, ctx.session);
        }
        if resp.status == http::StatusCode::SWITCHING_PROTOCOLS || event_stream {
            if let Some(t) = &mut ctx.tunnel {
                t.opened();
            }
        }
        if let Some(id) = request_id::of(session.req_header()) {
            resp.insert_header(request_id::HEADER, id.clone())?;
        }
        // The gateway owns the HTTPS listener: its policy replaces an app's own.
        if let Some(v) = tls::hsts(session) {
            resp.insert_header(http::header::STRICT_TRANSPORT_SECURITY, v.clone())?;
        }
        Ok(())
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, _ctx: &mut Ctx) -> FailToProxy {
        let reject = respond::from_proxy_error(e);
        let mut code = 0;
        if let Some(r) = &reject {
            code = r.status().as_u16();
            if respond::reject_and_close(session, r).await.is_err() {
                code = 0;
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        observe::finished(session, e, ctx);
    }
}

/// The host a request names: an absolute-form target's authority, else `Host` (with any port).
pub(crate) fn request_host(req: &RequestHeader) -> Option<&str> {
    req.uri.host().or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// The socket peer's address.
pub(crate) fn peer_ip(session: &Session) -> Option<std::net::IpAddr> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
}

fn client_info(session: &Session, trusted: &[ipnet::IpNet]) -> ClientInfo {
    let req = session.req_header();
    ClientInfo {
        ip: client_ip::client_ip(peer_ip(session), &req.headers, trusted),
        user_agent: req
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}
