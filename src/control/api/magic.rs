//! `POST /api/auth/magic-link {email, returnTo?}`: mails a one-use sign-in link valid for ten
//! minutes. The answer is the same whether the address has an account; requests are throttled
//! per client and per address.

use crate::accounts::login::rate_limit;
use crate::accounts::magic::request_link;
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub const MAGIC_MESSAGE: &str =
    "If an account exists for that email, a sign-in link is on its way.";

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
        .filter(|r| crate::redirect::redirect_allowed(r, &state.config().server.redirects()));
    f.finish_400()?;
    let email = email.ok_or(Reject::Internal)?;
    request_link(&state, email, back)?;
    Ok(Json(json!({ "message": MAGIC_MESSAGE })))
}
