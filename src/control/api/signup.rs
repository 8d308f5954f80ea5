//! Self sign-up (off unless `signup.enabled`): `POST …/register` creates an inactive user and
//! mails a confirmation link; `GET …/confirm?token=` activates the account. The answer is the
//! same whether the email was free or taken; a taken one gets a notice instead of a link.

use super::users::name_field;
use crate::accounts::login::rate_limit;
use crate::accounts::signup::{confirm_email, notify_existing, send_confirmation_to};
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, NewUser, StoreError};
use axum::extract::{Query, State as S};
use axum::Json;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub const REGISTER_MESSAGE: &str = "Check your email to confirm your account.";

pub async fn register(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    if !state.config().signup_enabled {
        return Err(Reject::NotFound);
    }
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    f.only(&["email", "name", "password"], &["role", "active"]);
    let email = f.email("email");
    let name = name_field(&mut f, "name", true);
    let password = f.new_password("password", state.config().passwords.min_length);
    f.finish_400()?;
    let (Some(email), Some(name), Some(password)) = (email, name, password) else {
        return Err(Reject::Internal);
    };
    crate::accounts::login::mail_rate_limit(&state, &email, "register")?;
    let hash = state.passwords.hash(&SecretString::from(password)).await?;
    let new = NewUser {
        email: email.clone(),
        name,
        role: "user".into(),
        password_hash: Some(hash),
        active: false,
        email_verified: true,
        now: now(),
    };
    let event = crate::audit::changes::user_created("signup", &new).build();
    let created = match state.store.create_user(new, &[event]).await {
        Ok(u) => Some(u),
        Err(StoreError::Conflict) => None,
        Err(e) => return Err(e.into()),
    };
    let st = state.clone();
    tokio::spawn(async move {
        let result = match created {
            Some(user) => {
                let prefix = st.config().api.nuxt_users.clone().unwrap_or_default();
                send_confirmation_to(&st, &user, &format!("{prefix}/confirm"), "token", None).await
            }
            None => notify_existing(&st, &email).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "sign-up mail not prepared");
        }
    });
    Ok(Json(json!({ "message": REGISTER_MESSAGE })))
}

/// The link from the confirmation mail.
pub async fn confirm(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    confirm_email(&state, q.get("token").map(String::as_str).unwrap_or("")).await?;
    Ok(Json(
        json!({ "message": "Your email is confirmed. You can now log in." }),
    ))
}
