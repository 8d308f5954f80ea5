//! The userinfo endpoint (OpenID Connect Core §5.3): the claims an access token's scopes
//! release, for `GET` or `POST` with the token as Bearer (RFC 6750 §2.1) or, on `POST`, in
//! the form (§2.2). A token whose grant ended is refused at once, whatever its `exp`.

use super::{cors, no_cache, on};
use crate::oidc::error::OAuthError;
use crate::state::State;
use axum::body::Bytes;
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method};
use std::sync::Arc;

pub async fn userinfo(
    S(state): S<Arc<State>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(on) = on(&state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let now = crate::store::now();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let in_form = (method == Method::POST)
        .then(|| super::params(&body).ok())
        .flatten()
        .and_then(|f| f.get("access_token").cloned());
    let outcome = async {
        let token = match (bearer, in_form) {
            (Some(_), Some(_)) => return Err(OAuthError::invalid_request("Send the token once")),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return Err(OAuthError::invalid_token("An access token is required")),
        };
        let (c, grant, user) = crate::oidc::flow::access(&on.ctx(&state), &token, now).await?;
        let granted = crate::oidc::claims::scopes(&grant.scopes);
        if !granted.contains(&crate::config::Scope::OpenId) {
            return Err(OAuthError::insufficient_scope(
                "The token was not granted openid",
            ));
        }
        let mut out = serde_json::Map::new();
        out.insert("sub".into(), c.sub.clone().into());
        crate::oidc::claims::user_claims(&user, &granted, &mut out);
        Ok((c.client_id, serde_json::Value::Object(out)))
    }
    .await;
    let (mut r, label, code) = match outcome {
        Ok((client, v)) => (axum::Json(v).into_response(), client, "ok"),
        Err(e) => {
            // RFC 6750 §3: the challenge says why.
            let mut r = (
                e.status,
                axum::Json(
                    serde_json::json!({"error": e.code, "error_description": e.description}),
                ),
            )
                .into_response();
            let challenge = format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                e.code,
                e.description.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            (r, "unknown".to_string(), e.code)
        }
    };
    no_cache(r.headers_mut());
    cors(&on.op, &headers, &mut r);
    crate::metrics::oidc_request("userinfo", super::client_label(&on.op, Some(&label)), code);
    r
}
