//! `/api/auth/mfa/…`: TOTP enrolment, recovery codes, the factors a user has, and the second
//! step of a sign-in (`verify`) — with an `mfaToken` from a password step, or with a session
//! that must step up (a route with `mfa: true`).

use super::signed_in;
use crate::accounts::mfa::{self, Pending};
use crate::accounts::passkeys;
use crate::auth::{Amr, Identity};
use crate::control::web::extract::{Auth, Client, Fields, JsonObject};
use crate::control::web::views::rfc3339;
use crate::error::Reject;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::{now, User};
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Who a call is for: a signed-in user, or one enrolling in the middle of a sign-in.
pub enum Caller {
    Session(Identity, User),
    Enrolling {
        token: String,
        pending: Pending,
        user: User,
    },
}

impl Caller {
    pub fn user(&self) -> &User {
        match self {
            Caller::Session(_, u) | Caller::Enrolling { user: u, .. } => u,
        }
    }
}

async fn user_of(state: &State, id: &Identity) -> Result<User, Reject> {
    state
        .store
        .user_by_id(id.user.id)
        .await?
        .ok_or(Reject::Unauthenticated {
            invalid_token: true,
            message: "This account is gone",
        })
}

/// The caller by `mfaToken` in the body (only a sign-in that must enrol) or by session.
pub async fn caller(
    state: &State,
    headers: &HeaderMap,
    body: &Map<String, Value>,
) -> Result<Caller, Reject> {
    if let Some(token) = body.get("mfaToken") {
        let token = token
            .as_str()
            .ok_or_else(|| Reject::BadRequest("mfaToken must be a string".into()))?;
        let (pending, user) = mfa::pending(state, token).await?;
        if !pending.enroll {
            return Err(Reject::Forbidden(
                "This mfaToken is for a second step, not for enrolment",
            ));
        }
        return Ok(Caller::Enrolling {
            token: token.to_string(),
            pending,
            user,
        });
    }
    let authn = state
        .auth
        .from_headers(headers, &state.config().cookie.name, now())
        .await;
    let id = crate::auth::require(authn).map_err(Reject::from)?;
    let user = user_of(state, &id).await?;
    Ok(Caller::Session(id, user))
}

/// `POST /mfa/totp/setup` → `{secret, otpauthUrl, qrSvg}`.
pub async fn totp_setup(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let c = caller(&state, &headers, &body).await?;
    let s = mfa::setup_totp(&state, c.user()).await?;
    Ok(Json(json!({
        "secret": s.secret,
        "otpauthUrl": s.otpauth_url,
        "qrSvg": s.qr_svg,
    })))
}

fn code_field(body: &Map<String, Value>, name: &str) -> Result<String, Reject> {
    let mut f = Fields::new(body);
    let code = f.string(name);
    f.finish_400()?;
    code.ok_or(Reject::Internal)
}

/// `POST /mfa/totp/enable {code}` → `{recoveryCodes}`; with an enrolment `mfaToken`, also
/// what the sign-in would have given.
pub async fn totp_enable(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    let c = caller(&state, &headers, &body).await?;
    let code = code_field(&body, "code")?;
    let codes = mfa::enable_totp(&state, c.user(), &code).await?;
    let answer = Map::from_iter([("recoveryCodes".to_string(), json!(codes))]);
    enrolled(&state, &client, c, Amr::OTP, answer).await
}

/// The answer to an enrolment: `answer` for a signed-in caller; for one enrolling during a
/// sign-in, `answer` with what the sign-in would have given (the factor now proved).
pub async fn enrolled(
    state: &State,
    client: &ClientInfo,
    caller: Caller,
    factor: Amr,
    answer: Map<String, Value>,
) -> Result<Response, Reject> {
    match caller {
        Caller::Session(..) => Ok(Json(Value::Object(answer)).into_response()),
        Caller::Enrolling {
            token,
            pending,
            user,
        } => {
            mfa::complete(state, &token).await?;
            let amr = Amr::parse(&pending.first).with(factor);
            let (cookie, body) =
                signed_in::body(state, &user, client, pending.surface, pending.remember, amr)
                    .await?;
            // The sign-in's answer with the enrolment's fields (a bare token becomes `{token}`).
            let mut out = match body {
                Value::Object(o) => o,
                token => Map::from_iter([("token".to_string(), token)]),
            };
            out.extend(answer);
            Ok(signed_in::respond(cookie, Value::Object(out)))
        }
    }
}

/// Ends a pending sign-in with its second factor: the session, as its first endpoint answers.
pub async fn finish_sign_in(
    state: &State,
    client: &ClientInfo,
    token: &str,
    pending: &Pending,
    user: &User,
    second: Amr,
) -> Result<Response, Reject> {
    mfa::complete(state, token).await?;
    let amr = Amr::parse(&pending.first).with(second);
    signed_in::answer(state, user, client, pending.surface, pending.remember, amr).await
}

/// `POST /mfa/totp/disable {code}`.
pub async fn totp_disable(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let code = code_field(&body, "code")?;
    let user = user_of(&state, &id).await?;
    mfa::disable_totp(&state, &user, &code).await?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /mfa/recovery-codes {code}` → a new set. The code is a current TOTP code; a user
/// with passkeys only proves the second factor by a session that signed in with one.
pub async fn recovery_codes(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let user = user_of(&state, &id).await?;
    let st = mfa::status(&state, user.id).await?;
    if st.totp {
        let code = code_field(&body, "code")?;
        mfa::check_totp(&state, &user, &code).await?;
    } else if st.passkeys.is_empty() {
        return Err(Reject::BadRequest(
            "Set up an authenticator app or a passkey first".into(),
        ));
    } else if !id.session.amr.second_factor() {
        return Err(Reject::StepUpRequired);
    }
    let codes = mfa::new_recovery_codes(&state, &user).await?;
    Ok(Json(json!({ "recoveryCodes": codes })))
}

/// `GET /mfa` → `{totp, passkeys, recoveryCodesLeft}`.
pub async fn status(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<Value>, Reject> {
    let st = mfa::status(&state, id.user.id).await?;
    let passkeys: Vec<Value> = st
        .passkeys
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "createdAt": rfc3339(p.created_at),
                "lastUsedAt": p.last_used_at.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({
        "totp": st.totp,
        "passkeys": passkeys,
        "recoveryCodesLeft": st.recovery_left,
    })))
}

/// The one second factor a verify call brings.
enum Proof {
    Code(String),
    Recovery(String),
    Credential(Value),
}

fn proof(body: &Map<String, Value>) -> Result<Proof, Reject> {
    let mut f = Fields::new(body);
    let code = f.opt_string("code");
    let recovery = f.opt_string("recoveryCode");
    f.finish_400()?;
    let credential = body.get("credential").filter(|c| !c.is_null()).cloned();
    match (code, recovery, credential) {
        (Some(c), None, None) => Ok(Proof::Code(c)),
        (None, Some(r), None) => Ok(Proof::Recovery(r)),
        (None, None, Some(c)) => Ok(Proof::Credential(c)),
        _ => Err(Reject::BadRequest(
            "Send exactly one of code, recoveryCode or credential".into(),
        )),
    }
}

/// Checks `proof` for `user`; the method it adds to the session. `key` names the passkey
/// check begun by `/mfa/webauthn/start`.
async fn check(state: &State, user: &User, proof: Proof, key: &str) -> Result<Amr, Reject> {
    match proof {
        Proof::Code(c) => mfa::check_totp(state, user, &c).await.map(|_| Amr::OTP),
        Proof::Recovery(r) => mfa::check_recovery(state, user, &r).await.map(|_| Amr::OTP),
        Proof::Credential(c) => passkeys::second_finish(state, user, key, c)
            .await
            .map(|_| Amr::HWK),
    }
}

/// Where a session's passkey step-up is kept.
fn step_up_key(id: &Identity) -> String {
    format!("session:{}", id.session_id)
}

/// `POST /mfa/verify {mfaToken, code | recoveryCode | credential}`: the session the sign-in
/// would have given. Without `mfaToken`, a signed-in caller steps up: a new session whose
/// sign-in includes the second factor replaces theirs (`{user, session}` + cookie).
pub async fn verify(
    S(state): S<Arc<State>>,
    Client(client): Client,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    let proof = proof(&body)?;
    if let Some(token) = body.get("mfaToken") {
        let token = token
            .as_str()
            .ok_or_else(|| Reject::BadRequest("mfaToken must be a string".into()))?;
        let (pending, user) = mfa::pending(&state, token).await?;
        if pending.enroll {
            return Err(Reject::BadRequest(
                "Enrol a second factor first (mfa/totp/setup or webauthn/register/start)".into(),
            ));
        }
        let second = check(&state, &user, proof, &format!("token:{token}")).await?;
        return finish_sign_in(&state, &client, token, &pending, &user, second).await;
    }
    let id = session(&state, &headers).await?;
    let user = user_of(&state, &id).await?;
    let second = check(&state, &user, proof, &step_up_key(&id)).await?;
    stepped_up(&state, &client, &id, &user, second).await
}

/// The signed-in caller of a step-up; without any credentials, the call lacks its `mfaToken`.
async fn session(state: &State, headers: &HeaderMap) -> Result<Identity, Reject> {
    let authn = state
        .auth
        .from_headers(headers, &state.config().cookie.name, now())
        .await;
    match crate::auth::require(authn) {
        Ok(id) => Ok(id),
        Err(crate::auth::NoIdentity::Missing) => Err(Reject::BadRequest(
            "Send mfaToken, or sign in first to step up".into(),
        )),
        Err(why) => Err(why.into()),
    }
}

/// Replaces the caller's session with one that includes `second`.
pub async fn stepped_up(
    state: &State,
    client: &ClientInfo,
    id: &Identity,
    user: &User,
    second: Amr,
) -> Result<Response, Reject> {
    let amr = id.session.amr.with(second);
    let resp = super::altogic::signed_in(state, user, client, amr).await?;
    state.end_session(id).await?;
    Ok(resp)
}

/// `POST /mfa/webauthn/start {mfaToken}` (or signed in, to step up) → `{publicKey}`.
pub async fn webauthn_start(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    if let Some(token) = body.get("mfaToken") {
        let token = token
            .as_str()
            .ok_or_else(|| Reject::BadRequest("mfaToken must be a string".into()))?;
        let (_, user) = mfa::pending(&state, token).await?;
        let options = passkeys::second_start(&state, &user, &format!("token:{token}")).await?;
        return Ok(Json(options));
    }
    let id = session(&state, &headers).await?;
    let user = user_of(&state, &id).await?;
    Ok(Json(
        passkeys::second_start(&state, &user, &step_up_key(&id)).await?,
    ))
}
