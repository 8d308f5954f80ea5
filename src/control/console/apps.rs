//! The console's apps: every OpenID client with its live grants (who, which scopes, last use),
//! and revoking one: the same revocation as the account page's, with its back-channel logout.

use super::{admin, done, form, fresh, notice, page, refused};
use crate::error::Reject;
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

/// Grants shown per client.
const PER_CLIENT: i64 = 100;

async fn show(
    state: &State,
    headers: &HeaderMap,
    a: &super::Admin,
    q: &HashMap<String, String>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let op = state.config().oidc_provider.clone();
    let mut clients = Vec::new();
    for c in op.iter().flat_map(|op| op.clients.values()) {
        let grants = match crate::accounts::oidc_apps::of_client(state, &c.id, PER_CLIENT).await {
            Ok(g) => g,
            Err(r) => return r.into_response(),
        };
        let mut rows = Vec::new();
        for (g, user_id) in grants {
            let email = match state.store.user_by_id(user_id).await {
                Ok(u) => u.map(|u| u.email).unwrap_or_default(),
                Err(e) => return Reject::from(e).into_response(),
            };
            rows.push(context! { user_id, email, ..minijinja::Value::from_serialize(&g) });
        }
        clients.push(context! {
            id => c.id, name => c.name, public => c.is_public(),
            redirects => c.redirect_uris.len(), grants => rows,
        });
    }
    page(
        state,
        headers,
        a,
        "admin_apps.html",
        status,
        context! { section => "apps", notice => notice(q), error, enabled => op.is_some(), clients },
    )
}

pub async fn list(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/apps", super::base(&state));
    match admin(&state, &headers, &here).await {
        Ok(a) => show(&state, &headers, &a, &q, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

/// `POST {console}/apps/revoke` with the grant's `id` (from this page or a user's), back here.
pub async fn revoke(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let here = format!("{}/apps", super::base(&state));
    let (a, f) = match form(&state, &headers, &body, &here).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = fresh(&state, &headers, &a, &here).await {
        return r;
    }
    let id = f.get("id").map(String::as_str).unwrap_or("");
    match crate::accounts::oidc_apps::revoke(&state, id, None).await {
        Ok(true) => done(&here, "app-revoked"),
        Ok(false) => {
            let (status, msg) = refused(&Reject::NotFound);
            show(&state, &headers, &a, &HashMap::new(), status, Some(msg)).await
        }
        Err(r) => r.into_response(),
    }
}
