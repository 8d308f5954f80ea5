//! The data plane. `Gateway` implements Pingora's `ProxyHttp` and only delegates: each phase
//! calls a named module.

pub mod client_ip;
pub mod control;
pub mod decide;
pub mod head_deadline;
pub mod identity;
pub mod readings;
pub mod request_id;
pub mod respond;
pub mod routes;
pub mod shutdown;
pub mod target;
pub mod upstream;

use crate::auth::{ClientInfo, Identity};
use crate::live::Live;
use crate::metrics;
use crate::state::State;
use async_trait::async_trait;
use decide::Decision;
use pingora::http::RequestHeader;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use std::sync::Arc;
use std::time::Instant;

pub struct Gateway {
    state: Arc<State>,
    api: axum::Router,
}

impl Gateway {
    pub fn new(state: Arc<State>) -> Self {
        Gateway {
            api: crate::api::router(state.clone()),
            state,
        }
    }
}

/// Per-request state shared across phases.
pub struct Ctx {
    /// The config this request started under; a reload mid-request does not change it.
    live: Arc<Live>,
    started: Instant,
    route: Option<usize>,
    identity: Option<Identity>,
    client: ClientInfo,
    control: bool,
    /// `control`, `forward`, `redirect`, `options` or `deny`, for the metrics.
    decision: &'static str,
    /// Why a request was refused, for the access log.
    reason: Option<String>,
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
            identity: None,
            client: ClientInfo::default(),
            control: false,
            decision: "none",
            reason: None,
            _in_flight: shutdown::InFlight::start(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> pingora::Result<bool> {
        let cfg = ctx.live.clone();
        let peer = peer_ip(session);
        ctx.client = client_info(session, &cfg.server.trusted_proxies);
        request_id::assign(session.req_header_mut())?;
        identity::strip(session.req_header_mut(), &cfg.identity.prefix);
        let trusted =
            peer.is_some_and(|p| cfg.server.trusted_proxies.iter().any(|n| n.contains(&p)));
        client_ip::strip_untrusted(session.req_header_mut(), trusted);
        let req = session.req_header();
        let parsed = target::parse(req.raw_path(), &req.method, |h| cfg.serves_host(h));
        let host = req.uri.host().or_else(|| {
            req.headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let decision = decide::decide(
            &self.state,
            &cfg,
            ctx.client.ip,
            &req.method,
            host,
            req.raw_path(),
            parsed.as_ref().map_err(|e| *e),
            &req.headers,
        )
        .await;
        let target = match parsed {
            Ok(target::Parsed::Path(t)) => Some(t),
            _ => None,
        };
        match decision {
            Decision::Control => {
                ctx.control = true;
                ctx.decision = "control";
                if let Some(t) = &target {
                    forward_target(session.req_header_mut(), t)?;
                }
                control::serve(
                    session,
                    &self.api,
                    ctx.client.clone(),
                    cfg.body_limit(session.req_header().uri.path()),
                    cfg.server.body_timeout,
                )
                .await?;
                Ok(true)
            }
            Decision::ServerOptions => {
                ctx.decision = "options";
                respond::server_options(session).await?;
                Ok(true)
            }
            Decision::Redirect { route, location } => {
                ctx.route = Some(route);
                ctx.decision = "redirect";
                respond::redirect(session, &location).await?;
                Ok(true)
            }
            Decision::Deny { route, reject } => {
                ctx.route = route;
                ctx.decision = "deny";
                ctx.reason = Some(reject.message());
                // A page load gets a page, except on routes declared for API clients.
                let html = route.is_none_or(|r| cfg.routes[r].redirect_browsers)
                    && decide::is_navigation(
                        &session.req_header().method,
                        &session.req_header().headers,
                    );
                respond::reject_for(session, &reject, html).await?;
                Ok(true)
            }
            Decision::Forward { route, identity } => {
                // Only a decided path is forwarded, and only in the form it was decided on.
                let Some(t) = &target else {
                    return Err(Error::explain(
                        ErrorType::InternalError,
                        "forward without a target",
                    ));
                };
                forward_target(session.req_header_mut(), t)?;
                let r = &cfg.routes[route];
                if !r.forward_token {
                    let keys = &self.state.auth.keys;
                    let authenticated = identity.is_some();
                    identity::drop_credentials(session.req_header_mut(), &cfg.cookie.name, |t| {
                        authenticated || keys.claims_our_issuer(t)
                    });
                }
                if let Some(id) = &identity {
                    identity::inject(session.req_header_mut(), &cfg.identity, id);
                    if cfg
                        .config
                        .upstreams
                        .get(&r.upstream)
                        .is_some_and(|u| u.assertion)
                    {
                        identity::assert(session.req_header_mut(), &self.state, id, &r.upstream);
                    }
                }
                ctx.route = Some(route);
                ctx.decision = "forward";
                ctx.identity = identity;
                Ok(false)
            }
        }
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
            .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "upstream has no address"))
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
        _ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        if let Some(id) = request_id::of(session.req_header()) {
            resp.insert_header(request_id::HEADER, id.clone())?;
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
        access_log(session, e, ctx);
    }
}

/// The socket peer's address.
fn peer_ip(session: &Session) -> Option<std::net::IpAddr> {
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

/// Puts the decided target on the request: its canonical origin-form, and for an
/// absolute-form target its authority as `Host`. Untouched when the client sent that already.
fn forward_target(req: &mut RequestHeader, t: &target::Target) -> pingora::Result<()> {
    if !t.rewritten {
        return Ok(());
    }
    let uri = http::Uri::try_from(t.origin_form())
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "canonical target", e))?;
    req.set_uri(uri);
    if let Some(authority) = &t.authority {
        req.insert_header(http::header::HOST, authority.as_str())?;
    }
    Ok(())
}

/// The path as the client sent it (a refused one included), without the query, which may
/// carry secrets; bounded, and lossy for bytes that are not UTF-8.
fn logged_path(raw: &[u8]) -> String {
    let path = raw.split(|b| *b == b'?').next().unwrap_or_default();
    String::from_utf8_lossy(&path[..path.len().min(512)]).into_owned()
}

/// Metrics and one access-log line. The query string is left out: it may carry secrets.
fn access_log(session: &Session, e: Option<&Error>, ctx: &Ctx) {
    let status = session
        .response_written()
        .map(|r| r.status.as_u16())
        .unwrap_or(0);
    let route = if ctx.control {
        "api"
    } else {
        ctx.route
            .map(|r| ctx.live.routes[r].name.as_str())
            .unwrap_or("none")
    };
    let elapsed = ctx.started.elapsed();
    let req = session.req_header();
    metrics::METRICS
        .proxy_requests
        .with_label_values(&[
            route,
            ctx.decision,
            metrics::method_label(&req.method),
            metrics::status_class(status),
        ])
        .inc();
    metrics::METRICS
        .proxy_seconds
        .with_label_values(&[route, ctx.decision])
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "access",
        method = %req.method,
        path = %logged_path(req.raw_path()),
        status,
        route,
        user = ctx.identity.as_ref().map(|i| i.user.id),
        client = ?ctx.client.ip,
        micros = elapsed.as_micros() as u64,
        error = e.map(|e| e.etype().as_str()),
        reason = ctx.reason.as_deref(),
        request_id = request_id::of(req).and_then(|v| v.to_str().ok()),
    );
}
