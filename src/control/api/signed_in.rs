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

pub async fn answer(
    state: &State,
    user: &User,
    client: &ClientInfo,
    surface: Surface,
    remember: bool,
    amr: Amr,
) -> Result<Response, Reject> {
    match surface {
        Surface::Pruvious => {
            let token = state.start_session(user, remember, client, amr).await?;
            Ok(Json(token).into_response())
        }
        Surface::Nuxt => {
            let token = state.start_session(user, remember, client, amr).await?;
            Ok((
                [(
                    SET_COOKIE,
                    cookies::session(&state.config(), &token, remember),
                )],
                Json(user_envelope(user)),
            )
                .into_response())
        }
        // The page's own scripts (passkeys) read the JSON and go on with the cookie.
        Surface::Altogic | Surface::Page => {
            super::altogic::signed_in(state, user, client, amr).await
        }
    }
}
