//! The OpenID provider's endpoints (`oidc_provider.path`, default `/oidc`), and discovery at
//! `{issuer}/.well-known/openid-configuration`. The protocol's logic is `crate::oidc`; here
//! is how it reads requests and writes answers: parameters once each (RFC 6749 §3.1), errors
//! in the protocol's shape (RFC 6749 §5.2, RFC 6750 §3), no caching, CORS for public
//! browser clients.

pub mod authorize;
pub mod discovery;
pub mod end_session;
pub mod token;
pub mod userinfo;

use crate::config::OidcProvider;
use crate::control::Mount;
use crate::oidc::error::OAuthError;
use crate::oidc::Provider;
use crate::state::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn mount(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Body as B, Op};
    use http::Method as M;
    let cfg = state.config();
    let Some(op) = &cfg.oidc_provider else {
        return;
    };
    let p = &op.path;
    let tag = "OpenID provider";
    m.add(
        &Some(op.discovery_path()),
        get(discovery::configuration),
        &[Op::new(M::GET, tag, "Discovery (OpenID Connect Discovery 1.0)").answer(A::AnyJson)],
    );
    m.add(
        &Some(format!("{p}/jwks")),
        get(discovery::jwks),
        &[Op::new(M::GET, tag, "The keys tokens are signed with").answer(A::JwkSet)],
    );
    m.add(
        &Some(format!("{p}/authorize")),
        get(authorize::get).post(authorize::post),
        &[
            Op::new(M::GET, tag, "Authorization request (code flow)").answer(A::Redirect),
            Op::new(M::POST, tag, "Authorization request (form)")
                .body(B::Form)
                .answer(A::Redirect),
        ],
    );
    m.add(
        &Some(format!("{p}/consent")),
        post(authorize::consent),
        &[Op::new(M::POST, tag, "Allow or deny a client")
            .body(B::Form)
            .answer(A::Redirect)],
    );
    m.add(
        &Some(format!("{p}/token")),
        post(token::token).options(preflight),
        &[Op::new(M::POST, tag, "Token endpoint")
            .body(B::Form)
            .answer(A::AnyJson)],
    );
    m.add(
        &Some(format!("{p}/userinfo")),
        get(userinfo::userinfo)
            .post(userinfo::userinfo)
            .options(preflight),
        &[
            Op::new(M::GET, tag, "The signed-in user's claims").answer(A::AnyJson),
            Op::new(M::POST, tag, "The signed-in user's claims").answer(A::AnyJson),
        ],
    );
    m.add(
        &Some(format!("{p}/introspect")),
        post(token::introspect),
        &[Op::new(M::POST, tag, "Token introspection (RFC 7662)")
            .body(B::Form)
            .answer(A::AnyJson)],
    );
    m.add(
        &Some(format!("{p}/revoke")),
        post(token::revoke),
        &[Op::new(M::POST, tag, "Token revocation (RFC 7009)")
            .body(B::Form)
            .answer(A::AnyJson)],
    );
    m.add(
        &Some(format!("{p}/end_session")),
        get(end_session::get).post(end_session::post),
        &[
            Op::new(M::GET, tag, "RP-initiated logout").answer(A::Redirect),
            Op::new(M::POST, tag, "RP-initiated logout (form)")
                .body(B::Form)
                .answer(A::Redirect),
        ],
    );
}

/// The provider, when it is on: its config (as of this request) and runtime.
pub(crate) struct On<'s> {
    pub live: Arc<crate::live::Live>,
    pub op: Arc<OidcProvider>,
    pub provider: &'s Provider,
}

pub(crate) fn on(state: &State) -> Option<On<'_>> {
    let live = state.config();
    let op = live.oidc_provider.clone()?;
    Some(On {
        live,
        op,
        provider: state.oidc.as_ref()?,
    })
}

impl On<'_> {
    pub fn ctx<'a>(&'a self, state: &'a State) -> crate::oidc::flow::Ctx<'a> {
        crate::oidc::flow::Ctx {
            store: state.store.as_ref(),
            op: &self.op,
            provider: self.provider,
            grace: self.live.oauth.refresh.grace,
        }
    }

    /// An endpoint's absolute URL.
    pub fn url(&self, name: &str) -> String {
        self.op.endpoint(&self.live.server.public_url, name)
    }
}

/// Parameters of a query or form body; a parameter given twice is refused (RFC 6749 §3.1).
pub fn params(raw: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if v.contains('\0') {
            return Err(OAuthError::invalid_request(format!("{k} contains NUL")));
        }
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "{k} is given more than once"
            )));
        }
    }
    Ok(out)
}

/// A JSON error of the token, introspection and revocation endpoints (RFC 6749 §5.2); 401
/// with a Basic challenge when the client's authentication failed.
pub fn json_error(e: &OAuthError) -> Response {
    let body = serde_json::json!({ "error": e.code, "error_description": e.description });
    let mut r = (e.status, axum::Json(body)).into_response();
    if e.code == "invalid_client" {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oidc\""),
        );
    }
    no_cache(r.headers_mut());
    r
}

/// RFC 6749 §5.1: token responses are never cached.
pub fn no_cache(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// CORS for a public browser client: the request's `Origin` when it is one of a public
/// client's redirect URIs' origins.
pub fn cors(op: &OidcProvider, headers: &HeaderMap, r: &mut Response) {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return;
    };
    let allowed = op
        .clients
        .values()
        .filter(|c| c.is_public())
        .any(|c| c.cors_origins.iter().any(|o| o == origin));
    if let (true, Ok(v)) = (allowed, HeaderValue::from_str(origin)) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// A CORS preflight for the token and userinfo endpoints.
async fn preflight(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(on) = on(&state) {
        cors(&on.op, &headers, &mut r);
    }
    if r.headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, dpop"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    r
}

/// A configured client id for the metrics' label, else `unknown` (bounded).
pub fn client_label<'a>(op: &'a OidcProvider, id: Option<&str>) -> &'a str {
    id.and_then(|i| op.clients.get_key_value(i))
        .map(|(k, _)| k.as_str())
        .unwrap_or("unknown")
}
