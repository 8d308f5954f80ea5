//! Self sign-up (off unless `signup.enabled`): `POST …/register` creates an inactive user and
//! mails a confirmation link; `GET …/confirm?token=` activates the account. The answer is the
//! same whether the email was free or taken; a taken one gets a notice instead of a link.

use super::extract::{Client, Fields, JsonObject};
use super::links::link;
use super::login::rate_limit;
use super::users::name_field;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use crate::store::{now, Guarded, NewUser, StoreError, User, UserChanges};
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
    super::login::mail_rate_limit(&state, &email, "register")?;
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
    let created = match state.store.create_user(new).await {
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

/// Mails a confirmation link to `{path}?{param}=…` (each API family has its own landing path),
/// carrying `back` — where the person was going — when there is one.
pub async fn send_confirmation_to(
    state: &State,
    user: &User,
    path: &str,
    param: &str,
    back: Option<&str>,
) -> Result<(), StoreError> {
    let ttl = state.config().confirm_ttl;
    let token = one_time::issue(
        state.store.as_ref(),
        user.id,
        Purpose::EmailConfirmation,
        ttl,
    )
    .await?;
    let mut query = vec![(param, token.as_str())];
    if let Some(b) = back.filter(|b| *b != "/") {
        query.push(("returnTo", b));
    }
    let url = link(&state.config(), path, &query);
    state
        .mailer
        .send(Kind::ConfirmEmail, &user.email, &user.name, &url, ttl);
    Ok(())
}

pub async fn notify_existing(state: &State, email: &str) -> Result<(), StoreError> {
    if let Some(user) = state.store.user_by_email(email).await? {
        // Not for an account made from an address nobody proved: it is not this person's.
        if user.deleted_at.is_none() && user.email_verified {
            let url = link(&state.config(), &state.config().mail.reset_path, &[]);
            state.mailer.send(
                Kind::AccountExists,
                &user.email,
                &user.name,
                &url,
                state.config().passwords.reset_ttl,
            );
        }
    }
    Ok(())
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

/// Uses an email-confirmation token once and activates its account.
pub async fn confirm_email(state: &State, token: &str) -> Result<User, Reject> {
    let invalid = || Reject::BadRequest("Invalid or expired confirmation link".into());
    if token.is_empty() {
        return Err(invalid());
    }
    let user_id = state
        .store
        .consume_one_time_token(
            &one_time::hash(token),
            Purpose::EmailConfirmation.as_str(),
            None,
            now(),
        )
        .await?
        .ok_or_else(invalid)?;
    let activate = UserChanges {
        active: Some(true),
        ..Default::default()
    };
    match state.store.update_user(user_id, &activate, now()).await? {
        Guarded::Done(user) => {
            state.user_changed(&user);
            Ok(user)
        }
        Guarded::NotFound | Guarded::LastAdmin => Err(invalid()),
    }
}
