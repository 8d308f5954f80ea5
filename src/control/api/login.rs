//! Password login, shared by both contracts: `POST /api/login` (Pruvious: a JWT string) and
//! `POST /api/nuxt-users/session` (Nuxt Users: the user and a cookie). Each maps failures to
//! its own statuses.

use crate::accounts::login::{password_login, rate_limit, LoginFailure, Step};
use crate::accounts::mfa::Surface;
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::error::Reject;
use crate::metrics;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use std::sync::Arc;

/// `POST /api/login`: email + password (+ remember) → a JWT as a JSON string (or the second
/// step's challenge).
pub async fn login(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<serde_json::Value>, Reject> {
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
    let step = password_login(
        &state,
        &client,
        &email,
        password,
        remember,
        Surface::Pruvious,
        None,
    );
    match step.await {
        Ok(Step::Session(_, token)) => Ok(Json(token.into())),
        Ok(Step::Second(c)) => Ok(Json(c.json())),
        Err(LoginFailure::BadCredentials) => Err(Reject::BadCredentials),
        Err(LoginFailure::Deactivated) => Err(Reject::Forbidden("This account is deactivated")),
        Err(LoginFailure::Failed(r)) => Err(r),
    }
}
