//! The console's audit trail: the event list with the API's filters (type, actor, target,
//! address, time), newest first a page at a time, and each event in full.

use super::{admin, page};
use crate::audit::{query, view};
use crate::error::Reject;
use crate::state::State;
use crate::store::AuditRow;
use axum::extract::{Path, Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

const PER_PAGE: i64 = 50;

/// One line of a list of events.
pub fn row(r: &AuditRow) -> minijinja::Value {
    context! {
        id => r.id, seq => r.seq, ts => view::rfc3339_ms(r.ts), kind => r.kind,
        failed => r.outcome != "success", reason => r.reason,
        actor => r.actor_email.clone().or_else(|| r.actor_id.clone()).unwrap_or_else(|| r.actor_type.clone()),
        actor_type => r.actor_type,
        target => r.target_type.as_ref().map(|t| format!("{t}:{}", r.target_id.as_deref().unwrap_or(""))),
        ip => r.client_ip,
    }
}

pub async fn list(
    S(state): S<Arc<State>>,
    Query(mut q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/audit", super::base(&state));
    let a = match admin(&state, &headers, &here).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // The form sends every field; an empty one is no filter.
    q.retain(|_, v| !v.trim().is_empty());
    q.insert("limit".into(), PER_PAGE.to_string());
    let (rows, error, status) = match query::parse(&q) {
        Ok(filters) => match state.store.audit_page(&filters).await {
            Ok(rows) => (rows, None, StatusCode::OK),
            Err(e) => return Reject::from(e).into_response(),
        },
        Err(errs) => {
            let msg = errs
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            (Vec::new(), Some(msg), StatusCode::BAD_REQUEST)
        }
    };
    let next = query::next_cursor(&rows, PER_PAGE);
    let keep: String = ["type", "actor", "target", "ip", "since", "until"]
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .map(|v| format!("&{k}={}", crate::redirect::escape_query(v)))
        })
        .collect();
    let value = |k: &str| q.get(k).cloned().unwrap_or_default();
    page(
        &state,
        &headers,
        &a,
        "admin_audit.html",
        status,
        context! {
            section => "audit", error, next, keep,
            events => rows.iter().map(row).collect::<Vec<_>>(),
            type_ => value("type"), actor => value("actor"), target => value("target"),
            ip => value("ip"), since => value("since"), until => value("until"),
            kinds => crate::audit::kinds::ALL,
        },
    )
}

/// `GET {console}/audit/{id}`: one event with every field, its hashes included.
pub async fn detail(
    S(state): S<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/audit", super::base(&state));
    let a = match admin(&state, &headers, &here).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let found = if uuid::Uuid::parse_str(&id).is_ok() {
        match state.store.audit_event(&id).await {
            Ok(r) => r,
            Err(e) => return Reject::from(e).into_response(),
        }
    } else {
        None
    };
    let Some(r) = found else {
        return page(
            &state,
            &headers,
            &a,
            "admin_message.html",
            StatusCode::NOT_FOUND,
            context! {
                title => "No such event", text => "There is no event with that id (or it was purged by audit.retention).",
                link => here, link_text => "The audit trail",
            },
        );
    };
    let json = view::json(&r);
    page(
        &state,
        &headers,
        &a,
        "admin_event.html",
        StatusCode::OK,
        context! {
            section => "audit", event => row(&r),
            full => serde_json::to_string_pretty(&json).unwrap_or_default(),
        },
    )
}
