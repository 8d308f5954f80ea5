//! RP-Initiated Logout 1.0: a client sends the browser here to end the gateway session, and
//! with it every app's (the back-channel logouts the session's end queues). The ID token
//! hint is verified with the provider's own keys — its algorithm the key's, so neither
//! `alg: none` nor an HS256 token made with the public key passes — and may be expired
//! (§2). Without a hint that names this browser's session the user is asked first. The
//! browser goes back only to a `post_logout_redirect_uri` registered for the client.

use super::{on, params, On};
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as S};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, StatusCode};
use minijinja::context;
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn get(S(state): S<Arc<State>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let raw = q.unwrap_or_default();
    logout(&state, &headers, raw.as_bytes(), false).await
}

pub async fn post(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    // The confirmation form posts back here with `decision` and its CSRF token.
    let form = crate::control::web::page::form_fields(&body);
    if let (Some(decision), Some(request)) = (form.get("decision"), form.get("request")) {
        if decision != "logout"
            || !crate::control::web::page::csrf_ok(&headers, form.get("csrf").map(String::as_str))
        {
            return message(
                &state,
                &headers,
                StatusCode::FORBIDDEN,
                "Not signed out",
                Some("The form expired; try again from the app."),
                "",
            );
        }
        return logout(&state, &headers, request.as_bytes(), true).await;
    }
    logout(&state, &headers, &body, false).await
}

fn message(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    error: Option<&str>,
    msg: &str,
) -> Response {
    crate::control::web::page::render(
        &state.config(),
        headers,
        "oidc_message.html",
        status,
        context! { title, error, message => msg },
    )
}

/// What a verified hint says.
struct Hint {
    client: String,
    sid: Option<String>,
}

/// The hint, if this provider signed it (expired or not).
fn verify_hint(on: &On<'_>, token: &str) -> Option<Hint> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let keys = on.provider.keys();
    // The algorithm is the key's (RFC 8725 §3.1): `none`, or HS256 over the public key, fail.
    let key = keys.verifier(&header)?;
    let alg = header.alg;
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "aud", "sub"]);
    v.set_issuer(&[on.op.issuer.as_str()]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &v)
        .ok()?
        .claims;
    let client = match &claims["aud"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.first()?.as_str()?.to_string(),
        _ => return None,
    };
    Some(Hint {
        client,
        sid: claims["sid"].as_str().map(str::to_string),
    })
}

fn signed(on: &On<'_>, p: &BTreeMap<String, String>) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p)
        .finish();
    let mac = URL_SAFE_NO_PAD.encode(on.provider.mac("end-session", q.as_bytes()));
    format!("{q}&sig={mac}")
}

fn unsigned(on: &On<'_>, raw: &[u8]) -> Option<BTreeMap<String, String>> {
    let text = std::str::from_utf8(raw).ok()?;
    let (q, mac) = text.rsplit_once("&sig=")?;
    let want = URL_SAFE_NO_PAD.encode(on.provider.mac("end-session", q.as_bytes()));
    aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), mac.as_bytes()).ok()?;
    params(q.as_bytes()).ok()
}

async fn logout(state: &State, headers: &HeaderMap, raw: &[u8], confirmed: bool) -> Response {
    let Some(on) = on(state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let bad = |why: &str| {
        crate::metrics::oidc_request("end_session", "unknown", "invalid_request");
        message(
            state,
            headers,
            StatusCode::BAD_REQUEST,
            "This sign-out request cannot be completed",
            Some(why),
            "",
        )
    };
    let p = if confirmed {
        match unsigned(&on, raw) {
            Some(p) => p,
            None => return bad("The request was changed on its way back"),
        }
    } else {
        match params(raw) {
            Ok(p) => p,
            Err(e) => return bad(&e.description),
        }
    };
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let hint = match get("id_token_hint") {
        None => None,
        Some(t) => match verify_hint(&on, t) {
            Some(h) => Some(h),
            None => return bad("The id_token_hint is not an ID token this provider issued"),
        },
    };
    let client_id = match (hint.as_ref().map(|h| h.client.as_str()), get("client_id")) {
        (Some(a), Some(b)) if a != b => return bad("client_id is not the hint's audience"),
        (a, b) => a.or(b),
    };
    let client = match client_id {
        Some(id) => match on.op.clients.get(id) {
            Some(c) => Some(c),
            None => return bad("The client is not registered"),
        },
        None => None,
    };
    let redirect = match (get("post_logout_redirect_uri"), client) {
        (None, _) => None,
        (Some(_), None) => {
            return bad("post_logout_redirect_uri needs the client (id_token_hint or client_id)")
        }
        (Some(u), Some(c)) if c.post_logout_redirect_uris.iter().any(|r| r == u) => {
            Some(u.to_string())
        }
        (Some(_), Some(_)) => {
            return bad("post_logout_redirect_uri is not one registered for the client")
        }
    };
    let label = super::client_label(&on.op, client_id).to_string();
    let session = crate::control::web::page::session(state, headers)
        .await
        .filter(|i| i.key.is_none());
    if let Some(id) = &session {
        let same = hint
            .as_ref()
            .and_then(|h| h.sid.as_deref())
            .is_some_and(|s| s == crate::oidc::claims::sid(&id.session_id.to_string()));
        if !same && !confirmed {
            crate::metrics::oidc_request("end_session", &label, "confirm");
            return crate::control::web::page::render(
                &on.live,
                headers,
                "oidc_message.html",
                StatusCode::OK,
                context! {
                    title => "Sign out?",
                    message => format!("Sign out of {} and every app you signed in to with it?", on.live.pages.product_name),
                    confirm => true,
                    request => signed(&on, &p),
                    action => format!("{}/end_session", on.op.path),
                },
            );
        }
        if let Err(e) = state.end_session(id).await {
            tracing::error!(error = ?e, "ending a session for RP-initiated logout failed");
            return crate::error::Reject::Internal.into_response();
        }
    }
    crate::metrics::oidc_request("end_session", &label, "ok");
    let clear = crate::control::web::cookies::clear(&on.live);
    let mut r = match redirect {
        Some(u) => {
            let mut to = u;
            if let Some(s) = get("state") {
                to.push(if to.contains('?') { '&' } else { '?' });
                to.push_str(
                    &form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", s)
                        .finish(),
                );
            }
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        None => message(
            state,
            headers,
            StatusCode::OK,
            "Signed out",
            None,
            "You are signed out.",
        ),
    };
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}
