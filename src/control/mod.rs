//! The control plane: the terminated auth API, the pages and the OAuth flows as one axum
//! `Router`, called in-process by the proxy. Each family mounts its routes (`api`, `pages`,
//! `oauth`), declaring beside each route its operations for the OpenAPI document; `web` holds
//! what they share (extractors, cookies, the cross-site guard, views). Every path comes from
//! config and may be renamed or disabled.

pub mod api;
pub mod console;
pub mod oauth;
pub mod oidc;
pub mod openapi;
pub mod pages;
mod schemas;
pub mod web;

use crate::error::Reject;
use crate::state::State;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::sync::Arc;

pub fn router(state: Arc<State>) -> Router {
    routes(state).0
}

/// The OpenAPI document of what this config serves.
pub fn openapi(state: Arc<State>) -> utoipa::openapi::OpenApi {
    let cfg = state.config();
    routes(state.clone()).1.openapi(
        &cfg.server.public_url,
        &cfg.cookie.name,
        &cfg.oauth.refresh.cookie,
    )
}

/// Routes being mounted, with their documented operations.
#[derive(Default)]
pub struct Mount {
    router: Router<Arc<State>>,
    doc: openapi::Doc,
}

impl Mount {
    /// Serves `m` at `path` (nothing when the config disabled it); other methods get 405.
    pub fn add(&mut self, path: &Option<String>, m: MethodRouter<Arc<State>>, ops: &[openapi::Op]) {
        if let Some(p) = path {
            self.doc.record(p, ops);
            self.router = std::mem::take(&mut self.router)
                .route(p, m.fallback(|| async { Reject::MethodNotAllowed }));
        }
    }
}

/// The router and its OpenAPI document.
pub fn routes(state: Arc<State>) -> (Router, openapi::Doc) {
    use http::Method as M;
    use openapi::{Answer as A, Op};
    let mut m = Mount::default();
    m.add(
        &Some(crate::config::JWKS_PATH.into()),
        get(api::jwks::get),
        &[Op::new(M::GET, "Gateway", "Keys that sign identity assertions").answer(A::JwkSet)],
    );
    api::pruvious(&mut m, &state);
    api::nuxt_users(&mut m, &state);
    api::altogic(&mut m, &state);
    api::mfa(&mut m, &state);
    api::keys(&mut m, &state);
    pages::mount(&mut m, &state);
    console::mount(&mut m, &state);
    oauth::mount(&mut m, &state);
    oidc::mount(&mut m, &state);
    let Mount { router: r, doc } = m;
    let r = r
        .route_layer(axum::middleware::from_fn(count_request))
        .fallback(|| async { Reject::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::csrf::guard,
        ))
        .layer(DefaultBodyLimit::max(state.config().server.max_body_size))
        .layer(axum::middleware::from_fn(no_store))
        .layer(axum::middleware::from_fn(audit_scope))
        .with_state(state);
    (r, doc)
}

/// Runs the request inside its audit context: the client as the proxy saw it and the
/// request's id, method, host and path (never its query), for the events it causes.
async fn audit_scope(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let client = req
        .extensions()
        .get::<crate::request::ClientInfo>()
        .cloned()
        .unwrap_or_default();
    let meta =
        crate::audit::context::RequestMeta::from_parts(req.method(), req.uri(), req.headers());
    crate::audit::context::scope(crate::audit::context::Ctx::new(client, meta), next.run(req)).await
}

/// Auth answers carry tokens, user data and one-time links: no cache may keep them. A
/// handler that set its own policy (an avatar image) keeps it.
async fn no_store(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .entry(http::header::CACHE_CONTROL)
        .or_insert(http::HeaderValue::from_static("no-store"));
    resp
}

/// Counts each call of one of our endpoints by its route template (bounded: the router's own
/// routes, never the client's path) and outcome.
async fn count_request(
    path: axum::extract::MatchedPath,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let resp = next.run(req).await;
    crate::metrics::METRICS
        .api_requests
        .with_label_values(&[
            path.as_str(),
            crate::metrics::outcome(resp.status().as_u16()),
        ])
        .inc();
    resp
}
