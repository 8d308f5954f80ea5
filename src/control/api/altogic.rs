//! The tutorial's server routes under `/api/auth`: register (with email verification unless
//! switched off), verify-user (starts a session), login, logout. Answers are `{user, session}`
//! and the session cookie, so an SSR frontend keeps its session in the cookie.

use super::users::name_field;
use crate::accounts::login::{check_password, rate_limit, LoginFailure};
use crate::accounts::mfa::{after_password, Surface};
use crate::accounts::signup::{notify_existing, send_confirmation_to};
use crate::auth::{Amr, Authn};
use crate::control::web::cookies;
use crate::control::web::extract::{Client, Fields, JsonObject};
use crate::control::web::views::{rfc3339, NuxtUser};
use crate::error::Reject;
use crate::request::cross_site::cross_site;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::{now, NewUser, StoreError, User};
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderMap, Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// `{user, session}` with the session cookie set.
pub async fn signed_in(
    state: &State,
    user: &User,
    client: &ClientInfo,
    amr: Amr,
) -> Result<Response, Reject> {
    let (cookie, body) = signed_in_body(state, user, client, amr).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// [`signed_in`] as data: the session cookie and `{user, session}`.
pub async fn signed_in_body(
    state: &State,
    user: &User,
    client: &ClientInfo,
    amr: Amr,
) -> Result<(http::HeaderValue, serde_json::Value), Reject> {
    let started = state
        .start_session_with(user, false, client, &serde_json::Map::new(), None, amr)
        .await?;
    let t = now();
    let session = json!({
        "token": started.token,
        "id": started.session_id.to_string(),
        "userId": user.id,
        "createdAt": rfc3339(t),
        "expiresAt": rfc3339(t + started.expires_in as i64),
    });
    let cookie = cookies::session(&state.config(), &started.token, false);
    Ok((
        cookie,
        json!({ "user": NuxtUser::from(user), "session": session }),
    ))
}

pub async fn register(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    if !state.config().signup_enabled {
        return Err(Reject::NotFound);
    }
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    let email = f.email("email");
    let password = f.new_password("password", state.config().passwords.min_length);
    let name = if body.contains_key("name") {
        name_field(&mut f, "name", true)
    } else {
        None
    };
    f.finish_400()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Reject::Internal);
    };
    crate::accounts::login::mail_rate_limit(&state, &email, "register")?;
    let hash = state.passwords.hash(&SecretString::from(password)).await?;
    let verify = state.config().verify_email;
    let new = NewUser {
        email: email.clone(),
        name: name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string()),
        role: "user".into(),
        password_hash: Some(hash),
        active: !verify,
        email_verified: true,
        now: now(),
    };
    let event = crate::audit::changes::user_created("signup", &new).build();
    match state.store.create_user(new, &[event]).await {
        Ok(user) if !verify => signed_in(&state, &user, &client, Amr::PWD).await,
        Ok(user) => {
            let st = state.clone();
            tokio::spawn(async move {
                let path = format!(
                    "{}/verify-user",
                    st.config().api.auth.clone().unwrap_or_default()
                );
                if let Err(e) = send_confirmation_to(&st, &user, &path, "access_token", None).await
                {
                    tracing::error!(error = %e, "verification mail not prepared");
                }
            });
            Ok(Json(json!({ "user": null, "session": null, "message": super::signup::REGISTER_MESSAGE })).into_response())
        }
        // With verification on, a taken address answers like a free one and its owner is told.
        Err(StoreError::Conflict) if verify => {
            let st = state.clone();
            tokio::spawn(async move {
                let _ = notify_existing(&st, &email).await;
            });
            Ok(Json(json!({ "user": null, "session": null, "message": super::signup::REGISTER_MESSAGE })).into_response())
        }
        Err(StoreError::Conflict) => Err(Reject::Conflict("This email is already taken".into())),
        Err(e) => Err(e.into()),
    }
}

/// The link from the verification mail: activates the account and starts a session. A browser
/// is sent on to the site; an API client gets `{user, session}`.
pub async fn verify_user(
    S(state): S<Arc<State>>,
    Client(client): Client,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Reject> {
    let token = q.get("access_token").map(String::as_str).unwrap_or("");
    let user = crate::accounts::signup::confirm_email(&state, token).await?;
    let answer = signed_in(&state, &user, &client, Amr::EMAIL).await?;
    if crate::request::is_navigation(&Method::GET, &headers) {
        let cookie = answer.headers().get(header::SET_COOKIE).cloned();
        let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
        if let Some(c) = cookie {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        return Ok(r);
    }
    Ok(answer)
}

pub async fn login(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    rate_limit(&state, &client)?;
    let mut f = Fields::new(&body);
    let email = f.email("email");
    let password = f.string("password");
    f.finish_400()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Reject::Internal);
    };
    match check_password(&state, &email, password).await {
        Ok(user) => {
            let second = after_password(&state, &user, Surface::Altogic, false, None).await?;
            match second {
                Some(c) => Ok(Json(c.json()).into_response()),
                None => signed_in(&state, &user, &client, Amr::PWD).await,
            }
        }
        Err(LoginFailure::BadCredentials) => Err(bad_credentials()),
        Err(LoginFailure::Deactivated) => Err(Reject::Forbidden(
            "This account is not active; confirm your email first",
        )),
        Err(LoginFailure::Failed(r)) => Err(r),
    }
}

fn bad_credentials() -> Reject {
    Reject::Unauthenticated {
        invalid_token: false,
        message: "Invalid credentials",
    }
}

/// GET or POST: ends the session, clears the cookie, and goes to the sign-in page. A GET is
/// honoured only from this site, so a link elsewhere cannot sign anyone out.
pub async fn logout(
    S(state): S<Arc<State>>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Reject> {
    if method == Method::GET && cross_site(&headers, &state.config().server.public_origin) {
        return Err(Reject::Forbidden("Cross-site request refused"));
    }
    if let Some(Authn::Authenticated(id)) = state
        .auth
        .from_headers(&headers, &state.config().cookie.name, now())
        .await
    {
        state
            .store
            .revoke_refresh_family(&id.session_id.to_string(), now())
            .await?;
        state.end_session(&id).await?;
    }
    let to = state
        .config()
        .pages
        .login_path
        .clone()
        .unwrap_or_else(|| "/".into());
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, to),
            (
                header::SET_COOKIE,
                cookies::clear(&state.config())
                    .to_str()
                    .unwrap_or("")
                    .to_string(),
            ),
        ],
    )
        .into_response())
}
