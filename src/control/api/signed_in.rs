//! A session just earned, answered as the sign-in endpoint that started it would: the one
//! place the second step (`/mfa/verify`, enrolment) and the first share.

use crate::accounts::mfa::Surface;
use crate::auth::Amr;
use crate::control::web::cookies;
use crate::control::web::views::user_envelope;
use crate::error::Reject;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::User;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::SET_COOKIE;
use http::HeaderValue;
use serde_json::Value;

pub async fn answer(
    state: &State,
    user: &User,
    client: &ClientInfo,
    surface: Surface,
    remember: bool,
    amr: Amr,
) -> Result<Response, Reject> {
    let (cookie, body) = body(state, user, client, surface, remember, amr).await?;
    Ok(respond(cookie, body))
}

/// [`answer`] as data: the cookie the surface sets (if any) and the JSON body, for an answer
/// that adds fields of its own (enrolment's recovery codes).
pub async fn body(
    state: &State,
    user: &User,
    client: &ClientInfo,
    surface: Surface,
    remember: bool,
    amr: Amr,
) -> Result<(Option<HeaderValue>, Value), Reject> {
    match surface {
        Surface::Pruvious => {
            let token = state.start_session(user, remember, client, amr).await?;
            Ok((None, Value::String(token)))
        }
        Surface::Nuxt => {
            let token = state.start_session(user, remember, client, amr).await?;
            let cookie = cookies::session(&state.config(), &token, remember);
            Ok((Some(cookie), user_envelope(user)))
        }
        // The page's own scripts (passkeys) read the JSON and go on with the cookie.
        Surface::Altogic | Surface::Page => {
            let (cookie, body) = super::altogic::signed_in_body(state, user, client, amr).await?;
            Ok((Some(cookie), body))
        }
    }
}

/// A JSON answer, with the session cookie when there is one.
pub fn respond(cookie: Option<HeaderValue>, body: Value) -> Response {
    let mut r = Json(body).into_response();
    if let Some(c) = cookie {
        r.headers_mut().insert(SET_COOKIE, c);
    }
    r
}
