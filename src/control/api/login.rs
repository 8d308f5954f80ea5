//! Password login, shared by both contracts: `POST /api/login` (Pruvious: a JWT string) and
//! `POST /api/nuxt-users/session` (Nuxt Users: the user and a cookie). Each maps failures to
//! its own statuses.

use crate::accounts::login::{password_login, rate_limit, LoginFailure};
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::error::Reject;
use crate::metrics;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use std::sync::Arc;

/// `POST /api/login`: email + password (+ remember) → a JWT as a JSON string.
pub async fn login(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<String>, Reject> {
    rate_limit(&state, &client)?;
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
    match password_login(&state, &client, &email, password, remember).await {
        Ok((_, token)) => Ok(Json(token)),
        Err(LoginFailure::BadCredentials) => Err(Reject::BadCredentials),
        Err(LoginFailure::Deactivated) => Err(Reject::Forbidden("This account is deactivated")),
        Err(LoginFailure::Failed(r)) => Err(r),
    }
}
