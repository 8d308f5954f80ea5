//! The token endpoint (RFC 6749 §3.2, OpenID Connect Core §3.1.3), introspection (RFC 7662)
//! and revocation (RFC 7009). Each authenticates the client by its registered method first;
//! answers are JSON, never cached; errors are RFC 6749 §5.2's.

use super::{cors, json_error, no_cache, on, params, On};
use crate::oidc::client_auth::{authenticate, Presented};
use crate::oidc::error::OAuthError;
use crate::oidc::flow::{self, CodeExchange, Notice};
use crate::state::State;
use axum::body::Bytes;
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The form, and the client it authenticates.
async fn client<'o>(
    on: &'o On<'_>,
    hasher: &crate::auth::PasswordHasher,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
    now: i64,
) -> Result<&'o crate::config::Client, OAuthError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = Presented::read(auth, form)?;
    // RFC 7523 §3: the assertion's audience is the token endpoint (the issuer is taken too,
    // as many libraries send it).
    let audiences = [
        on.url("token"),
        on.op.issuer.clone(),
        on.url("introspect"),
        on.url("revoke"),
    ];
    authenticate(
        &on.op.clients,
        &presented,
        &audiences,
        &on.provider.client_auth,
        hasher,
        &on.provider.http,
        now,
    )
    .await
}

fn form_of(headers: &HeaderMap, body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::invalid_request(
            "The body must be application/x-www-form-urlencoded",
        ));
    }
    params(body)
}

/// Seconds to wait when the caller's address, or the registered client it names, is over
/// its token-endpoint limit: checked before any credential, so guessing a secret is slowed.
fn throttled(
    live: &crate::live::Live,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Option<u64> {
    if let (Some(l), Some(ip)) = (&live.oidc_token_limiter, ip) {
        if let Err(wait) = l.keys.check(ip) {
            return Some(wait);
        }
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = Presented::read(auth, form).ok()?;
    let id = presented.claimed()?;
    // Only registered clients are counted: made-up ids cannot grow the table.
    let registered = live
        .oidc_provider
        .as_ref()
        .is_some_and(|op| op.clients.contains_key(id));
    let l = live.oidc_client_limiter.as_ref()?;
    registered
        .then(|| l.keys.check(id.to_string()).err())
        .flatten()
}

/// 429 with `Retry-After` and an OAuth-shaped body (`slow_down`, RFC 8628 §3.5's name for
/// "too fast").
fn slow_down(wait: u64) -> Response {
    let body = serde_json::json!({
        "error": "slow_down",
        "error_description": format!("Too many token requests: try again in {wait} s"),
    });
    let mut r = (http::StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    no_cache(r.headers_mut());
    r.headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from(wait));
    r
}

pub async fn token(
    S(state): S<Arc<State>>,
    crate::control::web::extract::Client(caller): crate::control::web::extract::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(on) = on(&state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let now = crate::store::now();
    let mut label = "unknown".to_string();
    let form = form_of(&headers, &body);
    // A body that is not a form still has its Basic client counted.
    let none = BTreeMap::new();
    let counted = form.as_ref().unwrap_or(&none);
    if let Some(wait) = throttled(&state.config(), caller.ip, &headers, counted) {
        crate::metrics::rate_limited("oidc_token");
        crate::metrics::oidc_request("token", "unknown", "rate_limited");
        return slow_down(wait);
    }
    let outcome = async {
        let form = form?;
        let c = client(&on, &state.passwords, &headers, &form, now).await?;
        label = c.id.clone();
        let ctx = on.ctx(&state);
        let get = |k: &str| form.get(k).map(String::as_str);
        let (tokens, notice) = match get("grant_type") {
            Some("authorization_code") => {
                let code =
                    get("code").ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
                let x = CodeExchange {
                    code,
                    redirect_uri: get("redirect_uri"),
                    verifier: get("code_verifier"),
                };
                flow::exchange(&ctx, c, x, now).await
            }
            Some("refresh_token") => {
                let t = get("refresh_token")
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
                flow::refresh(&ctx, c, t, now).await
            }
            Some("client_credentials") => (
                flow::client_credentials(&ctx, c, get("scope"), now).await,
                Notice::None,
            ),
            Some(other) => {
                return Err(OAuthError::unsupported_grant_type(format!(
                    "{other:?} is not supported"
                )))
            }
            None => return Err(OAuthError::invalid_request("grant_type is missing")),
        };
        let kind = match notice {
            Notice::CodeReused => Some(crate::audit::kinds::OIDC_CODE_REUSED),
            Notice::RefreshReused => Some(crate::audit::kinds::OIDC_REFRESH_REUSED),
            Notice::None => None,
        };
        if let Some(kind) = kind {
            state.audit.record(
                crate::audit::Event::new(kind)
                    .failed("replayed")
                    .by_system("oidc")
                    .change("client", None::<String>, c.id.clone()),
            );
        }
        let tokens = tokens?;
        state.audit.record(
            crate::audit::Event::new(crate::audit::kinds::OIDC_TOKENS_ISSUED)
                .by_system("oidc")
                .change("client", None::<String>, c.id.clone())
                .change(
                    "grant_type",
                    None::<String>,
                    get("grant_type").unwrap_or("").to_string(),
                ),
        );
        Ok(tokens)
    }
    .await;
    let mut r = match &outcome {
        Ok(t) => {
            let mut r = axum::Json(t.body()).into_response();
            no_cache(r.headers_mut());
            r
        }
        Err(e) => json_error(e),
    };
    crate::metrics::oidc_request(
        "token",
        super::client_label(&on.op, Some(&label)),
        outcome.as_ref().err().map_or("ok", |e| e.code),
    );
    cors(&on.op, &headers, &mut r);
    r
}

pub async fn introspect(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(on) = on(&state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let now = crate::store::now();
    let outcome = async {
        let form = form_of(&headers, &body)?;
        let c = client(&on, &state.passwords, &headers, &form, now).await?;
        // RFC 7662 §4: only clients that can authenticate may ask.
        if c.is_public() {
            return Err(OAuthError::invalid_client(
                "Introspection is for confidential clients",
            ));
        }
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        Ok((
            c.id.clone(),
            flow::introspect(&on.ctx(&state), c, token, now).await?,
        ))
    }
    .await;
    let (r, label, code) = match outcome {
        Ok((id, v)) => {
            let mut r = axum::Json(v).into_response();
            no_cache(r.headers_mut());
            (r, id, "ok")
        }
        Err(e) => (json_error(&e), "unknown".into(), e.code),
    };
    crate::metrics::oidc_request(
        "introspect",
        super::client_label(&on.op, Some(&label)),
        code,
    );
    r
}

pub async fn revoke(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(on) = on(&state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let now = crate::store::now();
    let outcome = async {
        let form = form_of(&headers, &body)?;
        let c = client(&on, &state.passwords, &headers, &form, now).await?;
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        flow::revoke(&on.ctx(&state), c, token, now).await?;
        Ok(c.id.clone())
    }
    .await;
    let (mut r, label, code) = match outcome {
        // RFC 7009 §2.2: 200 whether or not there was such a token.
        Ok(id) => (http::StatusCode::OK.into_response(), id, "ok"),
        Err(e) => (json_error(&e), "unknown".into(), e.code),
    };
    no_cache(r.headers_mut());
    cors(&on.op, &headers, &mut r);
    crate::metrics::oidc_request("revoke", super::client_label(&on.op, Some(&label)), code);
    r
}
