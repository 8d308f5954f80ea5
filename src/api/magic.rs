//! `POST /api/auth/magic-link {email, returnTo?}`: mails a one-use sign-in link valid for ten
//! minutes. The answer is the same whether the address has an account; requests are throttled
//! per client and per address.

use super::extract::{Client, Fields, JsonObject};
use super::links::link;
use super::login::rate_limit;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const MAGIC_MESSAGE: &str =
    "If an account exists for that email, a sign-in link is on its way.";
pub const MAGIC_TTL: Duration = Duration::from_secs(600);

pub async fn request(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    let email = f.email("email");
    let back = f
        .opt_string("returnTo")
        .filter(|r| crate::redirect::redirect_allowed(r, &state.config().server.redirect_origins));
    f.finish_400()?;
    let email = email.ok_or(Reject::Internal)?;
    request_link(&state, email, back)?;
    Ok(Json(json!({ "message": MAGIC_MESSAGE })))
}

/// Throttles per address, then mails the link in the background (after the caller has
/// answered, so the timing says nothing about whether the address has an account). The
/// per-client limit is the caller's.
pub fn request_link(state: &Arc<State>, email: String, back: Option<String>) -> Result<(), Reject> {
    super::login::mail_rate_limit(state, &email, "magic_link")?;
    let st = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&st, &email, back.as_deref()).await {
            tracing::error!(error = %e, "magic link not prepared");
        }
    });
    Ok(())
}

async fn send(
    state: &State,
    email: &str,
    back: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(());
    };
    if !user.reachable_by_email() {
        return Ok(());
    }
    let token =
        one_time::issue(state.store.as_ref(), user.id, Purpose::MagicLink, MAGIC_TTL).await?;
    let page = state
        .config()
        .api
        .magic_page
        .clone()
        .unwrap_or_else(|| "/magic-link".into());
    let mut query = vec![("token", token.as_str())];
    if let Some(b) = back {
        query.push(("returnTo", b));
    }
    let url = link(&state.config(), &page, &query);
    state
        .mailer
        .send(Kind::MagicLink, &user.email, &user.name, &url, MAGIC_TTL);
    Ok(())
}
