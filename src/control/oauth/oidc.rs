//! The OpenID Connect side of sign-in: discovery, the authorization URL (state, PKCE S256,
//! nonce), the code exchange, ID-token verification against the provider's JWKS, userinfo.

use super::identity::Profile;
use super::mock;
use super::page::{fail, Failure};
use crate::config::{Provider, ProviderKind};
use crate::state::State;
use crate::store::OAuthState;
use http::StatusCode;
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
        state.config().server.public_url,
        p.name
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

/// The provider's authorization URL with state, PKCE S256 and nonce: (url, state, verifier, nonce).
pub async fn oidc_authorize(
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

/// Exchanges the code (with the PKCE verifier), verifies the ID token (issuer, audience,
/// expiry, nonce, signature against the JWKS) and completes it with userinfo.
pub async fn oidc_profile(
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
    // The verified token's every claim: the typed claims above drop the ones OIDC does not
    // name (`groups`, `realm_access`, ...), which group and claim mappings read.
    let all = verified_payload(&id_token.to_string());
    profile(state, &client, &claims, all, token.access_token().secret()).await
}

/// The claims of an ID token that has just been verified, every one of them.
fn verified_payload(jwt: &str) -> Map<String, Value> {
    use base64::Engine;
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default()
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
    mut raw: Map<String, Value>,
    access_token: &str,
) -> Result<Profile, Failure> {
    if raw.is_empty() {
        raw = serde_json::to_value(claims)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
    }
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
