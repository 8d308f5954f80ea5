//! `/api/auth/webauthn/…`: passkey registration and removal (signed in, or enrolling with an
//! `mfaToken`), and sign-in with a passkey alone.

use super::mfa::{caller, enrolled, Caller};
use crate::accounts::passkeys;
use crate::auth::Amr;
use crate::control::web::extract::{Auth, Client, Fields, JsonObject};
use crate::error::Reject;
use crate::state::State;
use axum::extract::{Path, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Value};
use std::sync::Arc;

/// `POST /webauthn/register/start {name}` → `{publicKey}`.
pub async fn register_start(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let c = caller(&state, &headers, &body).await?;
    let mut f = Fields::new(&body);
    let name = f.opt_string("name");
    f.finish_400()?;
    let name = name
        .map(|n| n.trim().chars().take(64).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Passkey".into());
    Ok(Json(
        passkeys::register_start(&state, c.user(), &name).await?,
    ))
}

/// `POST /webauthn/register/finish` with the credential's JSON (or `{mfaToken, credential}`)
/// → `{id, name}`; when enrolling, also what the sign-in would have given.
pub async fn register_finish(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    let c = caller(&state, &headers, &body).await?;
    let credential = match body.get("credential") {
        Some(c) => c.clone(),
        None => Value::Object(body.clone()),
    };
    let row = passkeys::register_finish(&state, c.user(), credential).await?;
    let mut answer = serde_json::Map::from_iter([
        ("id".to_string(), json!(row.id)),
        ("name".to_string(), json!(row.name)),
    ]);
    if let Caller::Enrolling { user, .. } = &c {
        // The account's first factor: recovery codes come with it.
        let codes = crate::accounts::mfa::new_recovery_codes(&state, user).await?;
        answer.insert("recoveryCodes".into(), json!(codes));
    }
    enrolled(&state, &client, c, Amr::HWK, answer).await
}

/// `DELETE /webauthn/{id}`.
pub async fn remove(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(pk): Path<String>,
) -> Result<Json<Value>, Reject> {
    let user = state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::NotFound)?;
    if passkeys::remove(&state, &user, &pk).await? {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(Reject::NotFound)
    }
}

/// `POST /webauthn/login/start {}` → `{publicKey, flowId}`.
pub async fn login_start(S(state): S<Arc<State>>) -> Result<Json<Value>, Reject> {
    let (mut options, flow_id) = passkeys::login_start(&state).await?;
    options["flowId"] = json!(flow_id);
    Ok(Json(options))
}

/// `POST /webauthn/login/finish {flowId, credential, mode?}` → `{user, session}` + cookie, or
/// `{token}` with `"mode": "token"`.
pub async fn login_finish(
    S(state): S<Arc<State>>,
    Client(client): Client,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    let mut f = Fields::new(&body);
    let flow = f.string("flowId");
    let mode = f.opt_string("mode");
    if !matches!(body.get("credential"), Some(Value::Object(_))) {
        f.error("credential", "must be the credential's JSON (toJSON())");
    }
    f.finish_400()?;
    let (Some(flow), Some(credential)) = (flow, body.get("credential").cloned()) else {
        return Err(Reject::Internal);
    };
    crate::accounts::login::rate_limit(&state, &client)?;
    let user = passkeys::login_finish(&state, &flow, credential).await?;
    crate::metrics::login_attempt("passkey");
    match mode.as_deref() {
        Some("token") => {
            let token = state.start_session(&user, false, &client, Amr::HWK).await?;
            Ok(Json(json!({ "token": token })).into_response())
        }
        None | Some("session") => super::altogic::signed_in(&state, &user, &client, Amr::HWK).await,
        Some(_) => Err(Reject::BadRequest(
            "mode must be \"token\" or \"session\"".into(),
        )),
    }
}
