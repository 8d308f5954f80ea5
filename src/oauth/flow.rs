//! `GET /auth/{provider}`: without `code`, send the browser to the provider (state, PKCE S256,
//! nonce, bound to this browser by a short-lived cookie); with `code`, check all of that, verify
//! the ID token, map the user, and hand `/auth/callback` a one-time code.

use super::identity::{self, Profile, Refusal};
use super::{hash, mock};
use crate::config::{Provider, ProviderKind};
use crate::state::State;
use crate::store::{now, OAuthState};
use axum::extract::{Path, Query, State as S};
use axum::response::{Html, IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const STATE_COOKIE: &str = "portcullis_oauth";
const STATE_TTL: i64 = 600;

/// A failure shown to the person in the browser: no session results from it.
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
             <body><h1>Sign-in failed</h1><p>{}</p><p><a href=\"/\">Back</a></p></body></html>",
            escape_html(&self.1)
        );
        let mut r = (self.0, Html(body)).into_response();
        let h = r.headers_mut();
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

pub fn fail(status: StatusCode, msg: impl Into<String>) -> Failure {
    Failure(status, msg.into())
}

pub fn escape_html(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

pub async fn provider(
    S(state): S<Arc<State>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(p) = state.config.oauth.providers.get(&name) else {
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

pub fn issuer_of(state: &State, p: &Provider) -> Option<String> {
    match &p.kind {
        ProviderKind::Mock { .. } => Some(mock::issuer(state)),
        ProviderKind::Oidc { issuer } => Some(issuer.trim_end_matches('/').to_string()),
        ProviderKind::Github { .. } => None,
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn client(
    state: &State,
    p: &Provider,
    force: bool,
) -> Result<(Client, CoreProviderMetadata), Failure> {
    let Some(issuer) = issuer_of(state, p) else {
        return Err(fail(
            StatusCode::NOT_IMPLEMENTED,
            "This provider kind is not available yet",
        ));
    };
    let meta = state
        .oauth
        .discovery
        .metadata(&issuer, &state.oauth.http, force)
        .await
        .map_err(|e| {
            tracing::error!(provider = %p.name, error = %e, "provider discovery failed");
            fail(
                StatusCode::BAD_GATEWAY,
                "The sign-in provider cannot be reached",
            )
        })?;
    let redirect = RedirectUrl::new(format!(
        "{}/auth/{}",
        state.config.server.public_url, p.name
    ))
    .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "Bad public_url"))?;
    let secret = p.client_secret.expose_secret();
    let secret = (!secret.is_empty()).then(|| ClientSecret::new(secret.to_string()));
    let c = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(p.client_id.clone()),
        secret,
    )
    .set_redirect_uri(redirect);
    Ok((c, meta))
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
        _ => oidc_authorize(state, p, q).await?,
    };
    let (browser, browser_hash) = crate::auth::one_time::generate();
    let redirect_to = q
        .get("redirectTo")
        .filter(|r| crate::config::is_local_path(r))
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
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
            )
        })?;
    let cookie = state_cookie(state, &browser, STATE_TTL);
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, url), (header::SET_COOKIE, cookie)],
    )
        .into_response())
}

/// The provider's authorization URL with state, PKCE S256 and nonce: (url, state, verifier, nonce).
async fn oidc_authorize(
    state: &State,
    p: &Provider,
    q: &HashMap<String, String>,
) -> Result<(String, String, String, String), Failure> {
    let (client, _) = client(state, p, false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in p.scopes.iter().filter(|s| *s != "openid") {
        req = req.add_scope(Scope::new(s.clone()));
    }
    if matches!(p.kind, ProviderKind::Mock { .. }) {
        for key in ["user", "mock_error", "mock_id_token"] {
            if let Some(v) = q.get(key) {
                req = req.add_extra_param(key, v.clone());
            }
        }
    }
    let (url, csrf, nonce) = req.url();
    Ok((
        url.to_string(),
        csrf.secret().clone(),
        verifier.secret().clone(),
        nonce.secret().clone(),
    ))
}

fn state_cookie(state: &State, value: &str, max_age: i64) -> String {
    cookie::Cookie::build((STATE_COOKIE, value.to_string()))
        .http_only(true)
        .secure(state.config.cookie.secure)
        .same_site(cookie::SameSite::Lax)
        .path("/auth")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    read_cookie(headers, name)
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
    let browser = read_cookie(headers, STATE_COOKIE)
        .ok_or_else(|| bad("This sign-in did not start in this browser"))?;
    let saved = state
        .store
        .take_oauth_state(&hash(state_param), now())
        .await
        .map_err(|_| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
            )
        })?
        .ok_or_else(|| bad("Unknown or expired sign-in state"))?;
    if saved.browser_hash != hash(&browser) || saved.provider != p.name {
        return Err(bad("This sign-in belongs to another browser"));
    }
    let profile = match p.kind {
        ProviderKind::Github { .. } => {
            super::github::profile(state, p, code, &saved.pkce_verifier).await?
        }
        _ => oidc_profile(state, p, code, &saved).await?,
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
                fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                )
            }
        })?;
    let extra = Value::Object(identity::token_claims(p, &profile, &user)).to_string();
    let (code, code_hash) = crate::auth::one_time::generate();
    let expires = now() + state.config.oauth.code_ttl.as_secs() as i64;
    state
        .store
        .save_auth_code(&code_hash, user.id, &extra, expires)
        .await
        .map_err(|_| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
            )
        })?;
    let mut location = format!("/auth/callback?code={code}");
    if let Some(r) = &saved.redirect_to {
        location.push_str(&format!("&redirectTo={}", crate::api::escape_query(r)));
    }
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, state_cookie(state, "", 0)),
        ],
    )
        .into_response())
}

/// Exchanges the code (with the PKCE verifier), verifies the ID token (issuer, audience,
/// expiry, nonce, signature against the JWKS) and completes it with userinfo.
async fn oidc_profile(
    state: &State,
    p: &Provider,
    code: &str,
    saved: &OAuthState,
) -> Result<Profile, Failure> {
    let bad = |m: &str| fail(StatusCode::BAD_REQUEST, m);
    let (client, _) = client(state, p, false).await?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|_| {
            fail(
                StatusCode::BAD_GATEWAY,
                "The provider has no token endpoint",
            )
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(saved.pkce_verifier.clone()))
        .request_async(&state.oauth.http)
        .await
        .map_err(|e| {
            tracing::warn!(provider = %p.name, error = %e, "code exchange failed");
            bad("The provider refused the sign-in")
        })?;
    let id_token = token
        .id_token()
        .ok_or_else(|| bad("The provider sent no ID token"))?;
    let nonce = Nonce::new(saved.nonce.clone());
    let claims: CoreIdTokenClaims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(c) => c.clone(),
        Err(first) => {
            // The provider may have rotated its keys: refetch the JWKS once, then give up.
            let (fresh, _) = client_for_retry(state, p).await?;
            let verifier = fresh.id_token_verifier();
            let verified = id_token.claims(&verifier, &nonce).cloned();
            verified.map_err(|e| {
                tracing::warn!(provider = %p.name, error = %e, first = %first, "ID token rejected");
                bad("The provider's ID token is not valid")
            })?
        }
    };
    profile(state, &client, &claims, token.access_token().secret()).await
}

async fn client_for_retry(
    state: &State,
    p: &Provider,
) -> Result<(Client, CoreProviderMetadata), Failure> {
    client(state, p, true).await
}

/// ID-token claims, completed by the userinfo endpoint when there is one.
async fn profile(
    state: &State,
    client: &Client,
    claims: &CoreIdTokenClaims,
    access_token: &str,
) -> Result<Profile, Failure> {
    let mut raw: Map<String, Value> = serde_json::to_value(claims)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    if let Some(url) = client.user_info_url() {
        let info = state
            .oauth
            .http
            .get(url.as_str())
            .bearer_auth(access_token)
            .send()
            .await;
        if let Ok(r) = info {
            if let Ok(Value::Object(m)) = r.json::<Value>().await {
                // Userinfo about someone else is ignored (OIDC Core §5.3.2).
                if m.get("sub").and_then(Value::as_str) == Some(claims.subject().as_str()) {
                    raw.extend(m);
                }
            }
        }
    }
    let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Profile {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        email: s("email"),
        email_verified: raw
            .get("email_verified")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name: s("name"),
        picture: s("picture"),
        raw,
    })
}
