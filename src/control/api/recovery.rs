//! Forgotten passwords: `POST …/password/forgot` mails a one-time link to an existing active
//! user, and answers the same whoever asks; `POST …/password/reset` uses it once.

use crate::accounts::login::rate_limit;
use crate::accounts::password::set_password;
use crate::accounts::recovery::send_reset;
use crate::auth::one_time::{self, Purpose};
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use crate::store::now;
use axum::extract::State as S;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub const FORGOT_MESSAGE: &str =
    "If a user with that email exists, a password reset link has been sent.";
pub const RESET_MESSAGE: &str =
    "Password has been reset successfully. You can now log in with your new password.";

pub async fn forgot(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    // The same per-client limit as logins: no mail-bombing an address through us.
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    let email = f.email("email");
    f.finish_400()?;
    let email = email.ok_or(Reject::Internal)?;
    crate::accounts::login::mail_rate_limit(&state, &email, "reset")?;
    // Look-up, token and mail happen after the answer, so its timing says nothing about
    // whether the email has an account.
    let st = state.clone();
    let event = crate::accounts::recovery::requested(&email);
    tokio::spawn(async move {
        if let Err(e) = send_reset(&st, &email, event).await {
            tracing::error!(error = %e, "password reset mail not prepared");
        }
    });
    Ok(Json(json!({ "message": FORGOT_MESSAGE })))
}

pub async fn reset(
    S(state): S<Arc<State>>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let mut f = Fields::new(&body);
    let token = f.string("token");
    let email = f.email("email");
    let password = f.new_password("password", state.config().passwords.min_length);
    let confirmation = f.string("password_confirmation");
    if let (Some(p), Some(c)) = (&password, &confirmation) {
        if p != c {
            f.error("password_confirmation", "does not match the password");
        }
    }
    f.finish_400()?;
    let (Some(token), Some(email), Some(password)) = (token, email, password) else {
        return Err(Reject::Internal);
    };
    let hash = one_time::hash(&token);
    let user_id = state
        .store
        .consume_one_time_token(&hash, Purpose::PasswordReset.as_str(), Some(&email), now())
        .await?
        .ok_or_else(|| Reject::BadRequest("Invalid or expired token".into()))?;
    // Whoever held a session may have known the old password: every session ends.
    set_password(
        &state,
        user_id,
        password,
        None,
        crate::audit::kinds::PASSWORD_RESET_COMPLETED,
    )
    .await?;
    Ok(Json(json!({ "message": RESET_MESSAGE })))
}
