//! `POST /api/nuxt-users/session` (login → `{user}` + session cookie) and
//! `DELETE /api/nuxt-users/session` (revoke server-side, clear the cookie).

use crate::accounts::login::{password_login, rate_limit, LoginFailure, Step};
use crate::accounts::mfa::Surface;
use crate::auth::Authn;
use crate::control::web::cookies;
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::control::web::views::user_envelope;
use crate::error::Reject;
use crate::state::State;
use axum::extract::State as S;
use axum::response::IntoResponse;
use axum::Json;
use http::{header::SET_COOKIE, HeaderMap};
use std::sync::Arc;

pub async fn login(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<impl IntoResponse, Reject> {
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    let email = f.email("email");
    let password = f.string("password");
    let remember = f.opt_bool("rememberMe").unwrap_or(false);
    f.finish_400()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Reject::Internal);
    };
    let step = password_login(
        &state,
        &client,
        &email,
        password,
        remember,
        Surface::Nuxt,
        None,
    );
    match step.await {
        Ok(Step::Session(user, token)) => Ok((
            [(
                SET_COOKIE,
                cookies::session(&state.config(), &token, remember),
            )],
            Json(user_envelope(&user)),
        )
            .into_response()),
        Ok(Step::Second(c)) => Ok(Json(c.json()).into_response()),
        Err(LoginFailure::BadCredentials) => Err(Reject::Unauthenticated {
            invalid_token: false,
            message: "Invalid credentials",
        }),
        Err(LoginFailure::Deactivated) => Err(Reject::Forbidden("This account is not active")),
        Err(LoginFailure::Failed(r)) => Err(r),
    }
}

/// Works with any token or none: whatever session the request names ends, and the cookie goes.
pub async fn logout(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Reject> {
    let authn = state
        .auth
        .from_headers(&headers, &state.config().cookie.name, crate::store::now())
        .await;
    if let Some(Authn::Authenticated(id)) = authn {
        state.end_session(&id).await?;
    }
    Ok((
        [(SET_COOKIE, cookies::clear(&state.config()))],
        Json(serde_json::json!({ "message": "Logged out successfully" })),
    ))
}
