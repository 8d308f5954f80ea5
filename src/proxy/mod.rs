//! The data plane. `Gateway` implements Pingora's `ProxyHttp` and only delegates: each phase
//! calls a named module.

pub mod client_ip;
pub mod control;
pub mod decide;
pub mod head_deadline;
pub mod identity;
pub mod request_id;
pub mod respond;
pub mod routes;
pub mod shutdown;
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
    /// `control`, `forward`, `redirect` or `deny`, for the metrics.
    decision: &'static str,
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
            _in_flight: shutdown::InFlight::start(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> pingora::Result<bool> {
        let cfg = ctx.live.clone();
        ctx.client = client_info(session, &cfg.server.trusted_proxies);
        request_id::assign(session.req_header_mut())?;
        identity::strip(session.req_header_mut(), &cfg.identity.prefix);
        let req = session.req_header();
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
            req.uri.path(),
            req.uri.path_and_query().map(|pq| pq.as_str()),
            &req.headers,
        )
        .await;
        match decision {
            Decision::Control => {
                ctx.control = true;
                ctx.decision = "control";
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
            Decision::Redirect { route, location } => {
                ctx.route = Some(route);
                ctx.decision = "redirect";
                respond::redirect(session, &location).await?;
                Ok(true)
            }
            Decision::Deny { route, reject } => {
                ctx.route = route;
                ctx.decision = "deny";
                respond::reject(session, &reject).await?;
                Ok(true)
            }
            Decision::Forward { route, identity } => {
                forward_canonical_path(session.req_header_mut())?;
                if let Some(id) = &identity {
                    identity::inject(session.req_header_mut(), &cfg.identity, id);
                    let upstream = &cfg.routes[route].upstream;
                    if cfg
                        .config
                        .upstreams
                        .get(upstream)
                        .is_some_and(|u| u.assertion)
                    {
                        identity::assert(session.req_header_mut(), &self.state, id, upstream);
                    }
                    if !cfg.identity.forward_token {
                        identity::drop_credentials(session.req_header_mut(), &cfg.cookie.name);
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

/// Sends the upstream the path the route was chosen on (see [`routes::forward_form`]).
fn forward_canonical_path(req: &mut RequestHeader) -> pingora::Result<()> {
    let Some(path) = routes::forward_form(req.uri.path()) else {
        return Ok(());
    };
    let target = match req.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let uri = http::Uri::try_from(target)
        .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "canonical path", e))?;
    req.set_uri(uri);
    Ok(())
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
        path = req.uri.path(),
        status,
        route,
        user = ctx.identity.as_ref().map(|i| i.user.id),
        client = ?ctx.client.ip,
        micros = elapsed.as_micros() as u64,
        error = e.map(|e| e.etype().as_str()),
        request_id = request_id::of(req).and_then(|v| v.to_str().ok()),
    );
}
