//! The built-in mock identity provider: a real OpenID Connect provider (discovery, JWKS,
//! authorize, token, userinfo) with personas from config, for local development and tests.
//! It signs real ID tokens (EdDSA), so the generic OIDC path is what consumes it. Its key is
//! derived from the gateway's secret, so instances sharing the secret publish the same JWKS.

use crate::config::{Config, Persona, Provider, ProviderKind};
use crate::providers::{MockIdp, KID};
use crate::state::State;
use axum::extract::{Form, Query, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use http::{HeaderMap, StatusCode};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

const CODE_AUD: &str = "portcullis-mock-code";
const ACCESS_AUD: &str = "portcullis-mock-access";

/// The issuer URL of the mock provider.
pub fn issuer(state: &State) -> String {
    format!("{}/mock", state.config().server.public_url)
}

fn mock_provider(cfg: &Config) -> Option<(&Provider, &[Persona])> {
    cfg.oauth.providers.values().find_map(|p| match &p.kind {
        ProviderKind::Mock { personas } => Some((p, personas.as_slice())),
        _ => None,
    })
}

fn idp(state: &State) -> Result<&MockIdp, StatusCode> {
    state.oauth.mock.as_ref().ok_or(StatusCode::NOT_FOUND)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub async fn discovery(S(state): S<Arc<State>>) -> Response {
    let iss = issuer(&state);
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email", "email_verified", "name", "picture"],
    }))
    .into_response()
}

pub async fn jwks(S(state): S<Arc<State>>) -> Response {
    match idp(&state) {
        Ok(m) => Json(json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": m.public_x, "kid": KID, "alg": "EdDSA", "use": "sig"
        }]}))
        .into_response(),
        Err(status) => status.into_response(),
    }
}

#[derive(Serialize, Deserialize)]
struct CodeClaims {
    aud: String,
    exp: u64,
    sub: String,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    /// `?mock_id_token=`: a deliberately broken ID token, to exercise the relying party.
    tamper: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct AccessClaims {
    aud: String,
    exp: u64,
    sub: String,
}

/// A protocol error as OAuth 2.0 returns it from the token and userinfo endpoints.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub async fn authorize(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let cfg = state.config();
    let Some((provider, personas)) = mock_provider(&cfg) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let expected_redirect = format!(
        "{}/auth/{}",
        state.config().server.public_url,
        provider.name
    );
    if get("client_id") != provider.client_id || get("redirect_uri") != expected_redirect {
        // Never redirect to an unregistered URI: say so here instead.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown client_id or redirect_uri",
        );
    }
    let back = |params: &[(&str, &str)]| {
        let mut url = format!("{expected_redirect}?");
        let mut pairs: Vec<(&str, &str)> = params.to_vec();
        pairs.push(("state", get("state")));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::redirect::escape_query(v)))
            .collect();
        url.push_str(&query.join("&"));
        (StatusCode::FOUND, [(http::header::LOCATION, url)]).into_response()
    };
    if let Some(err) = q.get("mock_error") {
        return back(&[
            ("error", err),
            ("error_description", "simulated by the mock provider"),
        ]);
    }
    if get("response_type") != "code" {
        return back(&[("error", "unsupported_response_type")]);
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return back(&[
            ("error", "invalid_request"),
            ("error_description", "PKCE S256 is required"),
        ]);
    }
    let chosen = match q.get("user") {
        Some(u) => personas
            .iter()
            .find(|p| &p.sub == u || p.email.eq_ignore_ascii_case(u)),
        None => personas.first(),
    };
    let Some(persona) = chosen else {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "no such persona"),
        ]);
    };
    let Ok(idp) = idp(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let code = idp.sign(&CodeClaims {
        aud: CODE_AUD.into(),
        exp: now() + 60,
        sub: persona.sub.clone(),
        client_id: provider.client_id.clone(),
        redirect_uri: expected_redirect.clone(),
        nonce: q.get("nonce").cloned(),
        challenge: get("code_challenge").to_string(),
        tamper: q.get("mock_id_token").cloned(),
    });
    match code {
        Some(code) => back(&[("code", &code)]),
        None => back(&[("error", "server_error")]),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub async fn token(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let cfg = state.config();
    let (Some((provider, personas)), Ok(idp)) = (mock_provider(&cfg), idp(&state)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (id, secret) = client_credentials(&headers, &f);
    if id != provider.client_id
        || secret != secrecy::ExposeSecret::expose_secret(&provider.client_secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if f.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let Some(code) = f
        .code
        .as_deref()
        .and_then(|c| idp.verify::<CodeClaims>(c, CODE_AUD))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or expired code",
        );
    };
    let verifier = f.code_verifier.unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if challenge != code.challenge
        || f.redirect_uri.as_deref() != Some(code.redirect_uri.as_str())
        || code.client_id != id
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE or redirect_uri mismatch",
        );
    }
    let Some(persona) = personas.iter().find(|p| p.sub == code.sub) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "persona is gone");
    };
    let t = now();
    let mut claims = json!({
        "iss": issuer(&state), "sub": persona.sub, "aud": provider.client_id, "iat": t, "exp": t + 300,
        "nonce": code.nonce, "email": persona.email, "email_verified": persona.email_verified,
        "name": persona.name, "picture": persona.picture,
    });
    with_own_claims(&mut claims, persona);
    let id_token = match code.tamper.as_deref() {
        None => idp.sign(&claims),
        Some(how) => {
            match how {
                "wrong_issuer" => claims["iss"] = json!("https://evil.example"),
                "wrong_audience" => claims["aud"] = json!("someone-else"),
                "bad_nonce" => claims["nonce"] = json!("not-the-nonce"),
                "expired" => {
                    claims["iat"] = json!(t - 7200);
                    claims["exp"] = json!(t - 3600);
                }
                _ => {}
            }
            match how {
                "alg_none" => {
                    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
                    Some(format!(
                        "{}.{}.",
                        b64(br#"{"alg":"none","typ":"JWT"}"#),
                        b64(claims.to_string().as_bytes())
                    ))
                }
                "unknown_key" => MockIdp::from_seed(&[7u8; 32])
                    .ok()
                    .and_then(|other| other.sign(&claims)),
                _ => idp.sign(&claims),
            }
        }
    };
    let access = idp.sign(&AccessClaims {
        aud: ACCESS_AUD.into(),
        exp: t + 300,
        sub: persona.sub.clone(),
    });
    match (id_token, access) {
        (Some(id_token), Some(access)) => Json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 300,
            "id_token": id_token, "scope": "openid email profile",
        }))
        .into_response(),
        _ => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        ),
    }
}

/// Adds the persona's own claims (`groups`, `realm_access`, ...) beside the standard ones.
fn with_own_claims(claims: &mut serde_json::Value, persona: &Persona) {
    if let Some(m) = claims.as_object_mut() {
        for (k, v) in &persona.claims {
            m.insert(k.clone(), v.clone());
        }
    }
}

/// Client id and secret from HTTP Basic or the form body.
fn client_credentials(headers: &HeaderMap, f: &TokenForm) -> (String, String) {
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (decode_form(a), decode_form(b)))
        });
    basic.unwrap_or_else(|| {
        (
            f.client_id.clone().unwrap_or_default(),
            f.client_secret.clone().unwrap_or_default(),
        )
    })
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
fn decode_form(s: &str) -> String {
    crate::path::target::percent_decode(&s.replace('+', " ")).unwrap_or_default()
}

pub async fn userinfo(S(state): S<Arc<State>>, headers: HeaderMap) -> Response {
    let cfg = state.config();
    let (Some((_, personas)), Ok(idp)) = (mock_provider(&cfg), idp(&state)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(access) = token.and_then(|t| idp.verify::<AccessClaims>(t, ACCESS_AUD)) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown or expired access token",
        );
    };
    match personas.iter().find(|p| p.sub == access.sub) {
        Some(p) => {
            let mut info = json!({
                "sub": p.sub, "email": p.email, "email_verified": p.email_verified, "name": p.name, "picture": p.picture,
            });
            with_own_claims(&mut info, p);
            Json(info).into_response()
        }
        None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "persona is gone"),
    }
}
