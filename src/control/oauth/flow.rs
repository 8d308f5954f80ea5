//! `GET /auth/{provider}`: without `code`, send the browser to the provider (state, PKCE S256,
//! nonce, bound to this browser by a short-lived cookie); with `code`, check all of that, verify
//! the ID token, map the user, and hand `/auth/callback` a one-time code.

use super::hash;
use super::identity::{self, Refusal};
use super::page::{fail, ours, Failure};
use crate::config::{Provider, ProviderKind};
use crate::control::web::extract::Client;
use crate::state::State;
use crate::store::{now, OAuthState};
use axum::extract::{Path, Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The cookie binding a sign-in, and then its one-time code, to the browser that began it.
pub const STATE_COOKIE: &str = "portcullis_oauth";
const STATE_TTL: i64 = 600;

pub async fn provider(
    S(state): S<Arc<State>>,
    Client(client): Client,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let cfg = state.config();
    // Each start stores a state: per client, a flood is refused before any is stored.
    if let (Some(limiter), Some(ip)) = (&cfg.oauth_limiter, client.ip) {
        if let Err(retry_after_secs) = limiter.keys.check(ip) {
            crate::metrics::rate_limited("oauth");
            return crate::error::Reject::RateLimited { retry_after_secs }.into_response();
        }
    }
    let Some(p) = cfg.oauth.providers.get(&name) else {
        return fail(StatusCode::NOT_FOUND, "No such sign-in provider").into_response();
    };
    let result = if let Some(err) = q.get("error") {
        let desc = q
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        Err(fail(
            StatusCode::BAD_REQUEST,
            format!("The provider answered {err}{desc}"),
        ))
    } else if let Some(code) = q.get("code") {
        finish(&state, p, code, &q, &headers).await
    } else {
        start(&state, p, &q).await
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn start(
    state: &State,
    p: &Provider,
    q: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let (url, csrf, verifier, nonce) = match p.kind {
        ProviderKind::Github { .. } => {
            let (url, csrf, verifier) = super::github::authorize(state, p)?;
            (url, csrf, verifier, String::new())
        }
        _ => super::oidc::oidc_authorize(state, p, q).await?,
    };
    let (browser, browser_hash) = crate::auth::one_time::generate();
    let redirect_to = q
        .get("redirectTo")
        .filter(|r| crate::redirect::redirect_allowed(r, &state.config().server.redirects()))
        .cloned();
    state
        .store
        .save_oauth_state(&OAuthState {
            state_hash: hash(&csrf),
            provider: p.name.clone(),
            browser_hash,
            pkce_verifier: verifier,
            nonce,
            redirect_to,
            expires_at: now() + STATE_TTL,
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "saving oauth state failed");
            ours()
        })?;
    let cookie = super::auth_cookie(state, STATE_COOKIE, &browser, STATE_TTL);
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, url), (header::SET_COOKIE, cookie)],
    )
        .into_response())
}

async fn finish(
    state: &State,
    p: &Provider,
    code: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, Failure> {
    let bad = |m: &str| fail(StatusCode::BAD_REQUEST, m);
    let state_param = q
        .get("state")
        .ok_or_else(|| bad("The sign-in state is missing"))?;
    let browser = crate::request::credentials::cookie(headers, STATE_COOKIE)
        .ok_or_else(|| bad("This sign-in did not start in this browser"))?;
    let saved = state
        .store
        .take_oauth_state(&hash(state_param), now())
        .await
        .map_err(|_| ours())?
        .ok_or_else(|| bad("Unknown or expired sign-in state"))?;
    if saved.browser_hash != hash(&browser) || saved.provider != p.name {
        return Err(bad("This sign-in belongs to another browser"));
    }
    let profile = match p.kind {
        ProviderKind::Github { .. } => {
            super::github::profile(state, p, code, &saved.pkce_verifier).await?
        }
        _ => super::oidc::oidc_profile(state, p, code, &saved).await?,
    };
    let user = identity::resolve(state, p, &profile)
        .await
        .map_err(|r| match r {
            Refusal::Inactive => fail(StatusCode::FORBIDDEN, "This account is not active"),
            Refusal::SignupClosed => fail(
                StatusCode::FORBIDDEN,
                "Signing up through this provider is closed",
            ),
            Refusal::EmailTaken => fail(
                StatusCode::CONFLICT,
                "An account with this email already exists; sign in with it first",
            ),
            Refusal::NoEmail => fail(
                StatusCode::BAD_REQUEST,
                "The provider did not share an email address",
            ),
            Refusal::Store(e) => {
                tracing::error!(error = %e, "store error while signing in");
                ours()
            }
        })?;
    if let Some(pointer) = &p.groups {
        // The provider's say on groups replaces what it said at the last sign-in, and only that.
        let names = crate::accounts::groups::from_claims(&p.name, pointer, &profile.raw);
        let source = crate::groups::oauth_source(&p.name);
        crate::accounts::groups::set(state, user.id, &source, &names, Some(&source))
            .await
            .map_err(|_| ours())?;
    }
    let extra = Value::Object(identity::token_claims(p, &profile, &user)).to_string();
    let (code, code_hash) = crate::auth::one_time::generate();
    let expires = now() + state.config().oauth.code_ttl.as_secs() as i64;
    state
        .store
        .save_auth_code(&code_hash, user.id, &extra, expires, &saved.browser_hash)
        .await
        .map_err(|_| ours())?;
    let mut location = format!("/auth/callback?code={code}");
    if let Some(r) = &saved.redirect_to {
        location.push_str(&format!("&redirectTo={}", crate::redirect::escape_query(r)));
    }
    // The state cookie stays: `/auth/token` redeems the code only for the browser holding it,
    // so a code sent to someone else signs nobody in.
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}
