//! `GET /api/auth/sessions` (the caller's live sessions, devices parsed from the user agent)
//! and `DELETE /api/auth/sessions/{id}` (sign one of them out, on the proxy path at once).

use super::extract::Auth;
use super::views::rfc3339;
use crate::error::Reject;
use crate::state::State;
use crate::store::now;
use axum::extract::{Path, State as S};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

pub async fn list(S(state): S<Arc<State>>, Auth(id): Auth) -> Result<Json<Value>, Reject> {
    Ok(Json(json!({ "sessions": describe(&state, &id).await? })))
}

/// The caller's live sessions as shown to people: device, times, which one is this.
pub async fn describe(state: &State, id: &crate::auth::Identity) -> Result<Vec<Value>, Reject> {
    let parser = woothee::parser::Parser::new();
    let rows = state.store.list_sessions(id.user.id, now()).await?;
    Ok(rows
        .iter()
        .map(|s| {
            let uuid = Uuid::parse_str(&s.id).unwrap_or_default();
            // The store lags by up to a batch; memory knows the latest.
            let last_seen = state
                .auth
                .cache
                .last_seen(&uuid)
                .unwrap_or(0)
                .max(s.last_seen_at);
            let ua = s.user_agent.as_deref().and_then(|u| parser.parse(u));
            let with_version = |name: &str, version: &str| match (name, version) {
                ("UNKNOWN", _) => None,
                (n, "UNKNOWN") | (n, "") => Some(n.to_string()),
                (n, v) => Some(format!("{n} {v}")),
            };
            json!({
                "id": s.id,
                "createdAt": rfc3339(s.created_at),
                "lastSeenAt": rfc3339(last_seen),
                "expiresAt": rfc3339(s.expires_at),
                "ip": s.ip,
                "userAgent": s.user_agent,
                "browser": ua.as_ref().and_then(|u| with_version(u.name, u.version)),
                "os": ua.as_ref().and_then(|u| with_version(u.os, &u.os_version)),
                "device": ua.as_ref().map(|u| u.category).filter(|c| *c != "UNKNOWN"),
                "isCurrent": uuid == id.session_id,
            })
        })
        .collect())
}

/// Ends one of the caller's own sessions; false when it is not theirs or not live.
pub async fn end_own(state: &State, id: &crate::auth::Identity, raw: &str) -> Result<bool, Reject> {
    let Ok(sid) = Uuid::parse_str(raw) else {
        return Ok(false);
    };
    match state.store.session(&sid.to_string()).await? {
        Some(s) if s.user_id == id.user.id && s.revoked_at.is_none() => {
            state.store.revoke_refresh_family(&s.id, now()).await?;
            state.end_session_by_id(sid).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Another user's session, or an unknown one, is simply not found.
pub async fn revoke(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, Reject> {
    if end_own(&state, &id, &raw).await? {
        Ok(Json(json!({ "success": true })))
    } else {
        Err(Reject::NotFound)
    }
}
