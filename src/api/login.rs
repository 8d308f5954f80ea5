//! `POST /api/login`: email + password (+ remember) → a JWT as a JSON string.

use super::extract::{Client, Fields, JsonObject};
use crate::auth::policy::MAX_PASSWORD_CHARS;
use crate::error::Reject;
use crate::metrics;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use secrecy::SecretString;
use std::sync::Arc;

pub async fn login(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<String>, Reject> {
    if let (Some(limiter), Some(ip)) = (&state.login_limiter, client.ip) {
        if let Err(retry_after_secs) = limiter.check(ip) {
            metrics::login_attempt("rate_limited");
            metrics::METRICS
                .ratelimit_rejections
                .with_label_values(&["login"])
                .inc();
            return Err(Reject::RateLimited { retry_after_secs });
        }
    }
    let mut f = Fields::new(&body);
    let email = f.email("email");
    let password = f.string("password");
    let remember = f.opt_bool("remember").unwrap_or(false);
    if let Err(e) = f.finish() {
        metrics::login_attempt("invalid_request");
        return Err(e);
    }
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Reject::Internal);
    };
    // No stored password can be this long (policy), so skip the hash and its cost.
    if password.chars().count() > MAX_PASSWORD_CHARS {
        metrics::login_attempt("bad_credentials");
        return Err(Reject::BadCredentials);
    }
    let password = SecretString::from(password);
    let user = state.store.user_by_email(&email).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = state.passwords.verify(&password, hash).await;
    match user {
        Some(u) if verified && u.active => {
            let token = state.start_session(&u, remember, &client).await?;
            metrics::login_attempt("success");
            Ok(Json(token))
        }
        Some(_) if verified => {
            metrics::login_attempt("inactive");
            Err(Reject::Forbidden("This account is deactivated"))
        }
        _ => {
            metrics::login_attempt("bad_credentials");
            Err(Reject::BadCredentials)
        }
    }
}
