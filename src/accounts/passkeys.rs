//! Passkeys with webauthn-rs: registration, sign-in without a password (discoverable
//! credentials), and use as a second factor. Every ceremony's state is a flow in the store
//! (single use, five minutes), so it may finish on another instance. Sign counters are
//! checked by webauthn-rs; a counter that went backwards (a cloned authenticator) is refused
//! and logged.

use crate::auth::one_time;
use crate::error::Reject;
use crate::mfa::rp;
use crate::state::State;
use crate::store::{now, PasskeyRow, User};
use base64::Engine;
use serde_json::{json, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnError,
};

const TTL: i64 = 300;
const REGISTER: &str = "webauthn_register";
const SIGN_IN: &str = "webauthn_login";
const SECOND: &str = "webauthn_second";

fn webauthn(state: &State) -> Result<Webauthn, Reject> {
    state
        .config()
        .mfa
        .webauthn
        .as_ref()
        .and_then(rp::build)
        .ok_or(Reject::NotFound)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn refused(what: &'static str, e: WebauthnError) -> Reject {
    tracing::info!(error = %e, "{what}");
    Reject::Unauthenticated {
        invalid_token: false,
        message: "The passkey was refused",
    }
}

fn bad_credential(e: serde_json::Error) -> Reject {
    Reject::BadRequest(format!(
        "credential is not a WebAuthn credential's JSON: {e}"
    ))
}

fn internal(e: serde_json::Error) -> Reject {
    tracing::error!(error = %e, "a WebAuthn state does not (de)serialise");
    Reject::Internal
}

/// Where a registration in progress is kept: one per user at a time.
fn register_key(user_id: i64) -> String {
    one_time::hash(&format!("register:{user_id}"))
}

/// Starts registering a passkey named `name`: the options for
/// `PublicKeyCredential.parseCreationOptionsFromJSON` (`{publicKey}`).
pub async fn register_start(state: &State, user: &User, name: &str) -> Result<Value, Reject> {
    let wa = webauthn(state)?;
    let existing = state.store.passkeys(user.id).await?;
    let handle = existing
        .first()
        .and_then(|p| Uuid::parse_str(&p.user_handle).ok())
        .unwrap_or_else(Uuid::new_v4);
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let (ccr, reg) = wa
        .start_passkey_registration(handle, &user.email, &user.name, Some(exclude))
        .map_err(|e| refused("passkey registration could not start", e))?;
    let data = json!({ "reg": reg, "name": name, "handle": handle.to_string() });
    let key = register_key(user.id);
    // A registration started again replaces the one before.
    state.store.take_flow(&key, REGISTER, now()).await?;
    state
        .store
        .put_flow(
            &key,
            REGISTER,
            Some(user.id),
            &data.to_string(),
            now() + TTL,
        )
        .await?;
    let mut options = serde_json::to_value(&ccr).map_err(internal)?;
    // A discoverable credential, so it can sign in without a name or password.
    options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("required");
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(true);
    Ok(options)
}

/// Finishes the registration with the browser's credential (`toJSON()` form).
pub async fn register_finish(
    state: &State,
    user: &User,
    credential: Value,
) -> Result<PasskeyRow, Reject> {
    let wa = webauthn(state)?;
    let flow = state
        .store
        .take_flow(&register_key(user.id), REGISTER, now())
        .await?
        .ok_or_else(|| Reject::BadRequest("No passkey registration is in progress".into()))?;
    let data: Value = serde_json::from_str(&flow.data).map_err(internal)?;
    let reg: PasskeyRegistration = serde_json::from_value(data["reg"].clone()).map_err(internal)?;
    let cred: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(bad_credential)?;
    let passkey = wa
        .finish_passkey_registration(&cred, &reg)
        .map_err(|e| refused("passkey registration refused", e))?;
    let row = PasskeyRow {
        id: Uuid::new_v4().to_string(),
        user_id: user.id,
        user_handle: data["handle"].as_str().unwrap_or_default().to_string(),
        credential_id: b64(passkey.cred_id()),
        name: data["name"].as_str().unwrap_or("Passkey").to_string(),
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        created_at: now(),
        last_used_at: None,
    };
    let event = crate::audit::Event::new(crate::audit::kinds::PASSKEY_REGISTERED)
        .target_user(user.id)
        .change("passkey", None::<&str>, &row.id)
        .build();
    state
        .store
        .add_passkey(&row, &[event])
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict => {
                Reject::Conflict("This passkey is registered already".into())
            }
            e => e.into(),
        })?;
    Ok(row)
}

/// Starts a sign-in with any passkey of this site: the options (`{publicKey}`) and the flow's id.
pub async fn login_start(state: &State) -> Result<(Value, String), Reject> {
    let wa = webauthn(state)?;
    let (rcr, auth) = wa
        .start_discoverable_authentication()
        .map_err(|e| refused("passkey sign-in could not start", e))?;
    let (flow_id, hash) = one_time::generate();
    state
        .store
        .put_flow(
            &hash,
            SIGN_IN,
            None,
            &serde_json::to_string(&auth).map_err(internal)?,
            now() + TTL,
        )
        .await?;
    // A button, not the autofill ("conditional") mediation webauthn-rs sets.
    let options = json!({ "publicKey": rcr.public_key });
    Ok((options, flow_id))
}

fn no_such_passkey() -> Reject {
    Reject::Unauthenticated {
        invalid_token: false,
        message: "The passkey was refused",
    }
}

/// Checks an assertion against a stored passkey and stores its new counter.
async fn verified(
    state: &State,
    row: &PasskeyRow,
    check: impl FnOnce(&Passkey) -> Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
) -> Result<(), Reject> {
    let mut passkey: Passkey = serde_json::from_str(&row.passkey).map_err(internal)?;
    let result = check(&passkey).map_err(|e| {
        let cloned = matches!(e, WebauthnError::CredentialPossibleCompromise);
        state.audit.record(
            crate::audit::Event::new(crate::audit::kinds::LOGIN_FAILED)
                .target_user(row.user_id)
                .failed(if cloned {
                    "passkey_counter"
                } else {
                    "passkey_refused"
                }),
        );
        if cloned {
            tracing::warn!(
                user = row.user_id,
                passkey = %row.id,
                "passkey refused: its sign counter did not increase (a cloned authenticator?)"
            );
        }
        refused("passkey assertion refused", e)
    })?;
    passkey.update_credential(&result);
    state
        .store
        .passkey_used(
            &row.id,
            &serde_json::to_string(&passkey).map_err(internal)?,
            now(),
        )
        .await?;
    Ok(())
}

/// Finishes a passkey sign-in: the user it signs in.
pub async fn login_finish(state: &State, flow_id: &str, credential: Value) -> Result<User, Reject> {
    let wa = webauthn(state)?;
    let flow = state
        .store
        .take_flow(&one_time::hash(flow_id), SIGN_IN, now())
        .await?
        .ok_or(Reject::Unauthenticated {
            invalid_token: true,
            message: "The passkey sign-in expired or was used; start again",
        })?;
    let auth: DiscoverableAuthentication = serde_json::from_str(&flow.data).map_err(internal)?;
    let cred: PublicKeyCredential = serde_json::from_value(credential).map_err(bad_credential)?;
    let (handle, cred_id) = wa
        .identify_discoverable_authentication(&cred)
        .map_err(|e| refused("passkey without a user handle", e))?;
    let row = state
        .store
        .passkey_by_credential(&b64(cred_id))
        .await?
        .filter(|r| r.user_handle == handle.to_string())
        .ok_or_else(no_such_passkey)?;
    verified(state, &row, |pk| {
        wa.finish_discoverable_authentication_v2(&cred, auth, pk)
    })
    .await?;
    match state.store.user_by_id(row.user_id).await? {
        Some(u) if u.active && u.deleted_at.is_none() => Ok(u),
        Some(_) => Err(Reject::Forbidden("This account is not active")),
        None => Err(no_such_passkey()),
    }
}

/// Starts a passkey check of a known user (second step or step-up), keyed by `key`.
pub async fn second_start(state: &State, user: &User, key: &str) -> Result<Value, Reject> {
    let wa = webauthn(state)?;
    let passkeys: Vec<Passkey> = state
        .store
        .passkeys(user.id)
        .await?
        .iter()
        .filter_map(|p| serde_json::from_str(&p.passkey).ok())
        .collect();
    if passkeys.is_empty() {
        return Err(Reject::BadRequest("This account has no passkey".into()));
    }
    let (rcr, auth) = wa
        .start_passkey_authentication(&passkeys)
        .map_err(|e| refused("passkey check could not start", e))?;
    let hash = one_time::hash(&format!("second:{key}"));
    state.store.take_flow(&hash, SECOND, now()).await?;
    state
        .store
        .put_flow(
            &hash,
            SECOND,
            Some(user.id),
            &serde_json::to_string(&auth).map_err(internal)?,
            now() + TTL,
        )
        .await?;
    Ok(json!({ "publicKey": rcr.public_key }))
}

/// Finishes the check [`second_start`] began for `user` under `key`.
pub async fn second_finish(
    state: &State,
    user: &User,
    key: &str,
    credential: Value,
) -> Result<(), Reject> {
    let wa = webauthn(state)?;
    let flow = state
        .store
        .take_flow(&one_time::hash(&format!("second:{key}")), SECOND, now())
        .await?
        .filter(|f| f.user_id == Some(user.id))
        .ok_or_else(|| Reject::BadRequest("Start with mfa/webauthn/start".into()))?;
    let auth: PasskeyAuthentication = serde_json::from_str(&flow.data).map_err(internal)?;
    let cred: PublicKeyCredential = serde_json::from_value(credential).map_err(bad_credential)?;
    let row = state
        .store
        .passkey_by_credential(&b64(cred.get_credential_id()))
        .await?
        .filter(|r| r.user_id == user.id)
        .ok_or_else(no_such_passkey)?;
    verified(state, &row, |_| {
        wa.finish_passkey_authentication(&cred, &auth)
    })
    .await
}

/// Removes one of the user's passkeys; recovery codes go with the last factor.
pub async fn remove(state: &State, user: &User, id: &str) -> Result<bool, Reject> {
    let event = crate::audit::Event::new(crate::audit::kinds::PASSKEY_REMOVED)
        .target_user(user.id)
        .change("passkey", Some(id), None::<&str>)
        .build();
    let removed = state.store.delete_passkey(user.id, id, &[event]).await?;
    if removed {
        let st = super::mfa::status(state, user.id).await?;
        if !st.any() {
            state
                .store
                .replace_recovery_codes(user.id, &[], &[])
                .await?;
        }
    }
    Ok(removed)
}
