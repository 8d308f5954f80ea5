//! `GET /api/auth/audit` (admins: the trail, filtered, newest first, a page at a time) and
//! `GET /api/auth/audit/me` (a user's own security events: their sign-ins, sessions,
//! credentials and changes to their account, whoever made them).

use super::users::require_admin;
use crate::audit::{query, view};
use crate::control::web::extract::Auth;
use crate::error::Reject;
use crate::state::State;
use crate::store::{AuditQuery, AuditRow};
use axum::extract::{Query, State as S};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// A page of events and the cursor of the next (`null` at the end).
fn page(rows: &[AuditRow], limit: i64) -> Value {
    let next = query::next_cursor(rows, limit).map(|seq| seq.to_string());
    json!({
        "events": rows.iter().map(view::json).collect::<Vec<_>>(),
        "nextCursor": next,
    })
}

pub async fn list(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    require_admin(&id)?;
    let filters = query::parse(&q).map_err(Reject::Invalid)?;
    let rows = state.store.audit_page(&filters).await?;
    Ok(Json(page(&rows, filters.limit)))
}

pub async fn me(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Reject> {
    // Only paging here: the events are the caller's, whatever else is asked.
    let mut errs = std::collections::BTreeMap::new();
    for k in q
        .keys()
        .filter(|k| !["cursor", "limit"].contains(&k.as_str()))
    {
        errs.insert(k.clone(), "is not a filter of this list".to_string());
    }
    if !errs.is_empty() {
        return Err(Reject::Invalid(errs));
    }
    let mut filters: AuditQuery = query::parse(&q).map_err(Reject::Invalid)?;
    filters.user = Some(id.user.id.to_string());
    let rows = state.store.audit_page(&filters).await?;
    Ok(Json(page(&rows, filters.limit)))
}
