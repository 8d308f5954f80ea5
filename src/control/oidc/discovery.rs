//! Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414) and the JWK set tokens are signed
//! with. Discovery says exactly what is supported: the code flow only, PKCE S256, the
//! configured signing algorithm, the client authentication methods, back-channel and
//! RP-initiated logout.

use super::on;
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue};
use serde_json::json;
use std::sync::Arc;

pub async fn configuration(S(state): S<Arc<State>>) -> Response {
    let Some(on) = on(&state) else {
        return Reject::NotFound.into_response();
    };
    let u = |n: &str| on.url(n);
    let alg = on.op.signing.name();
    let scopes: Vec<&str> = crate::config::Scope::ALL.iter().map(|s| s.name()).collect();
    let body = json!({
        "issuer": on.op.issuer,
        "authorization_endpoint": u("authorize"),
        "token_endpoint": u("token"),
        "userinfo_endpoint": u("userinfo"),
        "jwks_uri": u("jwks"),
        "introspection_endpoint": u("introspect"),
        "revocation_endpoint": u("revoke"),
        "end_session_endpoint": u("end_session"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [alg],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "email", "email_verified", "name", "preferred_username", "picture", "updated_at", "groups"],
        "acr_values_supported": ["0", "1"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    let mut r = axum::Json(body).into_response();
    // Public and the same for everyone: a client may cache it a little.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

pub async fn jwks(S(state): S<Arc<State>>) -> Response {
    let Some(on) = on(&state) else {
        return Reject::NotFound.into_response();
    };
    let mut r = on.provider.keys().jwks().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short, so a rotation reaches clients soon (the old key stays published meanwhile).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}
