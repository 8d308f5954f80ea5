//! User management (admin): create, read (self or admin), update, delete, list, inactive.
//! Deactivating or deleting a user ends all their sessions at once, on the proxy path too.

use crate::auth::Identity;
use crate::control::web::extract::{Auth, Fields, JsonObject};
use crate::control::web::views::{user_envelope, NuxtUser};
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, Guarded, NewUser, StoreError, User, UserChanges};
use axum::extract::{Path, Query, State as S};
use axum::Json;
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::auth::ADMIN_ROLE;

pub fn require_admin(id: &Identity) -> Result<(), Reject> {
    if id.user.role == ADMIN_ROLE {
        Ok(())
    } else {
        Err(Reject::Forbidden("Only an admin may do this"))
    }
}

/// A user id from the path: a positive integer, or 400.
pub fn user_id(raw: &str) -> Result<i64, Reject> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Reject::BadRequest("Invalid user ID".into()))
}

/// A name field: trimmed, non-empty, bounded.
pub fn name_field(f: &mut Fields, field: &str, required: bool) -> Option<String> {
    let n = if required {
        f.string(field)
    } else {
        f.opt_string(field)
    }?
    .trim()
    .to_string();
    match crate::auth::policy::check_name(&n) {
        Ok(()) => Some(n),
        Err(why) => {
            f.error(field, why.to_string());
            None
        }
    }
}

pub async fn create(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    require_admin(&id)?;
    Ok(Json(user_envelope(&create_from(&state, &body).await?)))
}

/// Creates a user from the fields of `POST /api/nuxt-users` (the API's JSON, or the console's
/// form turned into the same object): one set of checks for both.
pub async fn create_from(state: &State, body: &Map<String, Value>) -> Result<User, Reject> {
    let mut f = Fields::new(body);
    f.only(
        &["email", "name", "password", "role", "kind", "groups"],
        &[],
    );
    let groups = f.groups("groups");
    let service = match body.get("kind") {
        None | Some(Value::Null) => false,
        Some(Value::String(k)) if k == "service" => true,
        Some(Value::String(k)) if k == "user" => false,
        Some(_) => {
            f.error("kind", "must be \"user\" or \"service\"");
            false
        }
    };
    if service && body.contains_key("password") {
        f.error("password", "a service account has no password");
    }
    let email = f.email("email");
    let name = name_field(&mut f, "name", true);
    // A service account cannot sign in: only its keys act for it.
    let password = if service {
        None
    } else {
        f.new_password("password", state.config().passwords.min_length)
    };
    let role = f
        .opt_string("role")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|| "user".into());
    if role.is_empty() {
        f.error("role", "must not be empty");
    }
    f.finish_400()?;
    let (Some(email), Some(name)) = (email, name) else {
        return Err(Reject::Internal);
    };
    let hash = match password {
        Some(p) => Some(state.passwords.hash(&SecretString::from(p)).await?),
        None if service => None,
        None => return Err(Reject::Internal),
    };
    let new = NewUser {
        email,
        name,
        role,
        password_hash: hash,
        active: true,
        email_verified: true,
        now: now(),
    };
    let mut event = crate::audit::changes::user_created("admin", &new);
    if service {
        event = event.change("kind", None::<&str>, "service");
    }
    let event = event.build();
    let mut user = match state.store.create_user(new, &[event]).await {
        Ok(u) => u,
        Err(StoreError::Conflict) => {
            return Err(Reject::Conflict(
                "A user with this email already exists".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if service {
        state.store.set_user_kind(user.id, "service").await?;
        user.kind = "service".into();
    }
    if let Some(names) = groups.filter(|g| !g.is_empty()) {
        let source = crate::groups::LOCAL;
        if let Some(u) = crate::accounts::groups::set(state, user.id, source, &names, None).await? {
            user = u;
        }
    }
    Ok(user)
}

async fn live_user(state: &State, uid: i64) -> Result<User, Reject> {
    match state.store.user_by_id(uid).await? {
        Some(u) if u.deleted_at.is_none() => Ok(u),
        _ => Err(Reject::NotFound),
    }
}

pub async fn get(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, Reject> {
    let uid = user_id(&raw)?;
    if uid != id.user.id && id.user.role != ADMIN_ROLE {
        return Err(Reject::Forbidden("You may only view your own profile"));
    }
    Ok(Json(user_envelope(&live_user(&state, uid).await?)))
}

pub async fn update(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(raw): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, Reject> {
    let uid = user_id(&raw)?;
    require_admin(&id)?;
    Ok(Json(user_envelope(
        &update_from(&state, &id, uid, &body).await?,
    )))
}

/// Changes user `uid` by the fields of `PATCH /api/nuxt-users/:id` (the API's JSON, or the
/// console's form as the same object), as admin `by`.
pub async fn update_from(
    state: &State,
    by: &Identity,
    uid: i64,
    body: &Map<String, Value>,
) -> Result<User, Reject> {
    if uid == by.user.id && (body.contains_key("role") || body.contains_key("active")) {
        return Err(Reject::Forbidden(
            "You cannot change your own role or active status",
        ));
    }
    let mut f = Fields::new(body);
    f.only(
        &["name", "email", "role", "active", "mfa", "groups"],
        &["password", "id"],
    );
    let groups = f.groups("groups");
    let reset_mfa = match body.get("mfa") {
        None => false,
        Some(serde_json::Value::String(s)) if s == "reset" => true,
        Some(_) => {
            f.error("mfa", "can only be \"reset\"");
            false
        }
    };
    let changes = UserChanges {
        name: name_field(&mut f, "name", false),
        email: if body.contains_key("email") {
            f.email("email")
        } else {
            None
        },
        role: f.opt_string("role").map(|r| r.trim().to_string()),
        active: f.opt_bool("active"),
        picture: None,
    };
    if changes.role.as_deref() == Some("") {
        f.error("role", "must not be empty");
    }
    f.finish_400()?;
    let mut user = apply(
        state,
        uid,
        &changes,
        Reject::Conflict("A user with this email already exists".into()),
    )
    .await?;
    if let Some(names) = groups {
        let source = crate::groups::LOCAL;
        if let Some(u) = crate::accounts::groups::set(state, uid, source, &names, None).await? {
            user = u;
        }
    }
    if reset_mfa {
        crate::accounts::mfa::reset(state, uid).await?;
    }
    Ok(user)
}

/// Stores the changes and makes them count at once: cache, and sessions if deactivated.
pub async fn apply(
    state: &State,
    uid: i64,
    changes: &UserChanges,
    taken_email: Reject,
) -> Result<User, Reject> {
    let user = match state
        .store
        .update_user(
            uid,
            changes,
            now(),
            Some(&crate::audit::changes::of_user(uid)),
        )
        .await
    {
        Ok(Guarded::Done(u)) => u,
        Ok(Guarded::NotFound) => return Err(Reject::NotFound),
        Ok(Guarded::LastAdmin) => {
            return Err(Reject::Conflict(
                "The last active admin cannot be demoted or deactivated".into(),
            ))
        }
        Err(StoreError::Conflict) => return Err(taken_email),
        Err(e) => return Err(e.into()),
    };
    state.user_changed(&user);
    if !user.active {
        state.end_user_sessions(uid, None, "deactivate").await?;
    }
    Ok(user)
}

pub async fn delete(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, Reject> {
    let uid = user_id(&raw)?;
    require_admin(&id)?;
    remove(&state, uid).await?;
    Ok(Json(json!({ "success": true })))
}

/// Deletes user `uid` (soft or hard as configured) and ends their sessions at once.
pub async fn remove(state: &State, uid: i64) -> Result<(), Reject> {
    match state
        .store
        .delete_user(
            uid,
            state.config().hard_delete,
            now(),
            &[crate::audit::Event::new(crate::audit::kinds::USER_DELETED)
                .target_user(uid)
                .reason(if state.config().hard_delete {
                    "hard"
                } else {
                    "soft"
                })
                .build()],
        )
        .await?
    {
        Guarded::Done(()) => {}
        Guarded::NotFound => return Err(Reject::NotFound),
        Guarded::LastAdmin => {
            return Err(Reject::Conflict(
                "The last active admin cannot be deleted".into(),
            ))
        }
    }
    // The cached user turns inactive first, so every session of theirs fails at once.
    if let Some(cached) = state.auth.cache.user(uid) {
        let mut gone = (*cached).clone();
        gone.active = false;
        state.auth.cache.put_user(gone);
    }
    state.end_user_sessions(uid, None, "delete").await?;
    Ok(())
}

pub async fn list(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    page(&state, &id, &q, false).await
}

pub async fn inactive(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    page(&state, &id, &q, true).await
}

async fn page(
    state: &State,
    id: &Identity,
    q: &HashMap<String, String>,
    only_inactive: bool,
) -> Result<Json<Value>, Reject> {
    require_admin(id)?;
    let number = |key: &str, default: i64, max: i64| -> Result<i64, Reject> {
        match q.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    Reject::BadRequest(format!("{key} must be a whole number from 1 to {max}"))
                }),
        }
    };
    let page = number("page", 1, 1_000_000)?;
    let limit = number("limit", 20, 100)?;
    let (users, total) = state
        .store
        .list_users_page(only_inactive, (page - 1) * limit, limit)
        .await?;
    let total_pages = (total + limit - 1) / limit;
    Ok(Json(json!({
        "users": users.iter().map(NuxtUser::from).collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": total_pages,
            "hasNext": page < total_pages,
            "hasPrev": page > 1,
        }
    })))
}
