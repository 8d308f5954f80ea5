//! `POST /auth/token` (one-time code → access token + refresh cookie), `POST /auth/refresh`
//! (rotation with reuse detection), `POST /auth/logout`, `GET /api/user/me`.
//!
//! A refresh token's successor is derived from it (HMAC with a key all instances share), so two
//! parallel refreshes within the grace window get the very same successor; after the window,
//! presenting a rotated token means it was stolen or replayed, and the whole family (the session)
//! is revoked.

use super::hash;
use crate::control::web::extract::{Auth, Client, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, RefreshToken};
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::{header, HeaderMap};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;

fn invalid_code() -> Reject {
    Reject::Unauthenticated {
        invalid_token: true,
        message: "Invalid or expired authorization code",
    }
}

fn invalid_refresh() -> Reject {
    Reject::Unauthenticated {
        invalid_token: true,
        message: "Invalid or expired refresh token",
    }
}

fn refresh_cookie(state: &State, value: &str, max_age: i64) -> String {
    super::auth_cookie(state, &state.config().oauth.refresh.cookie, value, max_age)
}

fn token_body(token: &str, expires_in: u64) -> Value {
    json!({ "token": token, "expiresIn": expires_in, "accessToken": token, "tokenType": "Bearer" })
}

/// The successor of a refresh token: same for every instance and every parallel request.
fn successor(state: &State, raw: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&state.oauth.refresh_key) else {
        return String::new();
    };
    mac.update(raw.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub async fn exchange(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    let mut f = Fields::new(&body);
    let code = f.string("code");
    f.finish_400()?;
    let code = code.ok_or(Reject::Internal)?;
    // Only the browser that began the sign-in (its state cookie) may redeem the code.
    let browser = crate::request::credentials::cookie(&headers, super::flow::STATE_COOKIE)
        .ok_or_else(invalid_code)?;
    let (user_id, claims) = state
        .store
        .consume_auth_code(&hash(&code), &hash(&browser), now())
        .await?
        .ok_or_else(invalid_code)?;
    let user = match state.store.user_by_id(user_id).await? {
        Some(u) if u.active && u.deleted_at.is_none() => u,
        _ => return Err(invalid_code()),
    };
    let extra: Map<String, Value> = serde_json::from_str(&claims).unwrap_or_default();
    let r = &state.config().oauth.refresh;
    let t = now();
    let absolute = t + r.absolute.as_secs() as i64;
    let refresh_expires = (t + r.ttl.as_secs() as i64).min(absolute);
    let started = state
        .start_session_with(
            &user,
            false,
            &client,
            &extra,
            Some(refresh_expires),
            crate::auth::Amr::FED,
        )
        .await?;
    let (raw, raw_hash) = crate::auth::one_time::generate();
    state
        .store
        .save_refresh_token(&RefreshToken {
            token_hash: raw_hash,
            session_id: started.session_id.to_string(),
            user_id,
            claims,
            created_at: t,
            expires_at: refresh_expires,
            absolute_expires_at: absolute,
            rotated_at: None,
            revoked_at: None,
        })
        .await?;
    let cookie = refresh_cookie(&state, &raw, refresh_expires - t);
    let spent = super::auth_cookie(&state, super::flow::STATE_COOKIE, "", 0);
    Ok((
        axum::response::AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, spent)]),
        Json(token_body(&started.token, started.expires_in)),
    )
        .into_response())
}

pub async fn refresh(S(state): S<Arc<State>>, headers: HeaderMap) -> Result<Response, Reject> {
    let cfg = &state.config().oauth.refresh;
    let raw =
        crate::request::credentials::cookie(&headers, &cfg.cookie).ok_or_else(invalid_refresh)?;
    let t = now();
    let row = state
        .store
        .refresh_token(&hash(&raw))
        .await?
        .ok_or_else(invalid_refresh)?;
    if row.revoked_at.is_some() || t >= row.expires_at || t >= row.absolute_expires_at {
        return Err(invalid_refresh());
    }
    let next = if cfg.rotate {
        successor(&state, &raw)
    } else {
        raw.clone()
    };
    let next_expires = (t + cfg.ttl.as_secs() as i64).min(row.absolute_expires_at);
    if cfg.rotate {
        let rotated_now = match row.rotated_at {
            None => {
                let new = RefreshToken {
                    token_hash: hash(&next),
                    created_at: t,
                    expires_at: next_expires,
                    rotated_at: None,
                    revoked_at: None,
                    ..row.clone()
                };
                state
                    .store
                    .rotate_refresh_token(&row.token_hash, &new, t)
                    .await?
            }
            Some(_) => false,
        };
        if !rotated_now {
            // Someone rotated it already: a parallel refresh (fine, same successor) or a replay.
            let current = state
                .store
                .refresh_token(&row.token_hash)
                .await?
                .ok_or_else(invalid_refresh)?;
            let within_grace = current
                .rotated_at
                .is_some_and(|at| t - at < cfg.grace.as_secs() as i64);
            if !within_grace || current.revoked_at.is_some() {
                revoke_family(&state, &row.session_id, "refresh_reuse").await?;
                crate::metrics::revoked("refresh_reuse", 1);
                return Err(invalid_refresh());
            }
        }
    }
    let sid = Uuid::parse_str(&row.session_id).map_err(|_| invalid_refresh())?;
    let extra: Map<String, Value> = serde_json::from_str(&row.claims).unwrap_or_default();
    let (token, expires_in) = state
        .reissue(sid, row.user_id, &extra, next_expires)
        .await?;
    let cookie = refresh_cookie(&state, &next, next_expires - t);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "token": token, "expiresIn": expires_in })),
    )
        .into_response())
}

async fn revoke_family(state: &State, session_id: &str, reason: &str) -> Result<(), Reject> {
    state.store.revoke_refresh_family(session_id, now()).await?;
    if let Ok(sid) = Uuid::parse_str(session_id) {
        state.end_session_by_id(sid, reason).await?;
    }
    Ok(())
}

pub async fn logout(S(state): S<Arc<State>>, headers: HeaderMap) -> Result<Response, Reject> {
    let cfg = &state.config().oauth.refresh;
    if let Some(raw) = crate::request::credentials::cookie(&headers, &cfg.cookie) {
        if let Some(row) = state.store.refresh_token(&hash(&raw)).await? {
            revoke_family(&state, &row.session_id, "logout").await?;
        }
    }
    let authn = state
        .auth
        .from_headers(&headers, &state.config().cookie.name, now())
        .await;
    if let Some(crate::auth::Authn::Authenticated(id)) = authn {
        state
            .store
            .revoke_refresh_family(&id.session_id.to_string(), now())
            .await?;
        state.end_session(&id).await?;
    }
    Ok((
        [(header::SET_COOKIE, refresh_cookie(&state, "", 0))],
        Json(json!({ "success": true })),
    )
        .into_response())
}

/// The current token's claims, completed from the user where the token has none.
pub async fn me(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    headers: HeaderMap,
) -> Result<Json<Value>, Reject> {
    let token = match crate::request::credentials::extract(&headers, &state.config().cookie.name) {
        crate::request::credentials::Credentials::Token(t) => t,
        _ => return Err(Reject::Internal),
    };
    let mut claims = state
        .auth
        .keys
        .verify_value(&token)
        .map_err(|_| Reject::Internal)?;
    for drop in ["sid", "jti", "iss", "aud", "nbf"] {
        claims.remove(drop);
    }
    claims.insert("role".into(), Value::String(id.user.role.clone()));
    claims.insert("groups".into(), json!(id.user.groups));
    if let Some(p) = &id.user.picture {
        // An uploaded avatar wins over the provider's picture; relative paths become URLs.
        let url = if p.starts_with('/') {
            format!("{}{p}", state.config().server.public_url)
        } else {
            p.clone()
        };
        claims.insert("picture".into(), Value::String(url));
    }
    claims
        .entry("name")
        .or_insert_with(|| Value::String(id.user.name.clone()));
    claims
        .entry("email")
        .or_insert_with(|| Value::String(id.user.email.clone()));
    Ok(Json(Value::Object(claims)))
}
