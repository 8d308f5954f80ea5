//! `/api/auth/api-keys`: a signed-in user's keys (an admin's for a service account with
//! `owner`). Only a session may call these: a key cannot make, see or revoke keys.

use super::users::require_admin;
use crate::accounts::api_keys;
use crate::control::web::extract::{Auth, JsonObject};
use crate::control::web::views::rfc3339;
use crate::error::Reject;
use crate::state::State;
use crate::store::ApiKeyRow;
use axum::extract::{Path, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn view(k: &ApiKeyRow) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": crate::auth::api_keys::scopes(&k.scopes),
        "createdAt": rfc3339(k.created_at),
        "expiresAt": k.expires_at.map(rfc3339),
        "lastUsedAt": k.last_used_at.map(rfc3339),
    })
}

/// `POST /api-keys {name, scopes?, expiresIn?, owner?}` → 201 with the key, shown only here.
pub async fn create(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Response, Reject> {
    for k in body.keys() {
        if !["name", "scopes", "expiresIn", "owner"].contains(&k.as_str()) {
            return Err(Reject::invalid(k, "is not a known field"));
        }
    }
    let name = match body.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => return Err(Reject::invalid("name", "is required (a string)")),
    };
    let scopes: Vec<String> = match body.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| Reject::invalid("scopes", "must be a list of strings"))?,
        Some(_) => return Err(Reject::invalid("scopes", "must be a list of strings")),
    };
    let expires_in = match body.get("expiresIn") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match crate::config::parse_duration(s) {
            Ok(d) if d.as_secs() >= 60 && d.as_secs() <= 10 * 366 * 86_400 => Some(d),
            _ => {
                return Err(Reject::invalid(
                    "expiresIn",
                    "must be a duration from 1 minute to 10 years, like \"90d\"",
                ))
            }
        },
        Some(_) => {
            return Err(Reject::invalid(
                "expiresIn",
                "must be a duration like \"90d\"",
            ))
        }
    };
    let owner = match body.get("owner") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|o| *o > 0)
                .ok_or_else(|| Reject::invalid("owner", "must be a user id"))?,
        ),
    };
    let owner = match owner {
        Some(o) if o != id.user.id => {
            require_admin(&id)?;
            match state.store.user_by_id(o).await? {
                Some(u) if u.active && u.deleted_at.is_none() => u,
                _ => return Err(Reject::invalid("owner", "is not an active user")),
            }
        }
        _ => state
            .store
            .user_by_id(id.user.id)
            .await?
            .ok_or(Reject::NotFound)?,
    };
    let (row, key) = api_keys::create(&state, &owner, &name, &scopes, expires_in)
        .await
        .map_err(|e| match e {
            Reject::BadRequest(m) => Reject::invalid("name", m),
            e => e,
        })?;
    let mut out = view(&row);
    out["key"] = json!(key);
    out.as_object_mut().map(|o| o.remove("lastUsedAt"));
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /api-keys` → the caller's live keys, never a secret.
pub async fn list(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<Value>, Reject> {
    let keys = state.store.api_keys(id.user.id).await?;
    Ok(Json(Value::Array(keys.iter().map(view).collect())))
}

/// `DELETE /api-keys/{id}`: the caller's own key (an admin's: any), refused from now on.
pub async fn revoke(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(key): Path<String>,
) -> Result<Json<Value>, Reject> {
    let owner = (require_admin(&id).is_err()).then_some(id.user.id);
    if api_keys::revoke(&state, &key, owner).await? {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(Reject::NotFound)
    }
}
