//! The admin console at `pages.admin_path` (default `/account/admin`, beside the account page
//! so it never shadows an app's own `/admin`): users, their sessions and factors, every API
//! key, the audit trail and the backoffs in force. Server-rendered like the other pages, for
//! admins only, with the same session cookie and CSRF tokens; what cannot be undone needs a
//! sign-in within `tokens.fresh_for`. Each action goes through the same functions as the API,
//! so it leaves the same audit events, with the admin as actor.

pub mod apps;
pub mod audit;
pub mod backoffs;
pub mod keys;
pub mod users;

use crate::auth::Identity;
use crate::control::web::page::{csrf_ok, form_fields, render};
use crate::control::Mount;
use crate::error::Reject;
use crate::state::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use minijinja::{context, Value};
use std::collections::HashMap;

/// The console's sections, for its navigation.
const SECTIONS: &[(&str, &str)] = &[
    ("users", "Users"),
    ("keys", "API keys"),
    ("apps", "Apps"),
    ("audit", "Audit trail"),
    ("backoffs", "Backoffs"),
];

/// A signed-in admin and where the console is mounted.
pub struct Admin {
    pub id: Identity,
    pub base: String,
}

fn base(state: &State) -> String {
    state.config().pages.admin_path.clone().unwrap_or_default()
}

/// The signed-in admin, or the answer instead: the sign-in page for nobody, 403 for others.
pub async fn admin(state: &State, headers: &HeaderMap, here: &str) -> Result<Admin, Response> {
    let Some(id) = crate::control::web::page::session(state, headers).await else {
        return Err(crate::control::web::page::to_sign_in(state, here));
    };
    if id.user.role != crate::control::api::users::ADMIN_ROLE {
        return Err(message(
            state,
            headers,
            StatusCode::FORBIDDEN,
            "Admins only",
            "The admin console is for administrators. Your account page is where you manage your own account.",
            state.config().api.account_page.as_deref(),
        ));
    }
    Ok(Admin {
        id,
        base: base(state),
    })
}

/// A submitted form of an admin, its CSRF token checked.
pub async fn form(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
    here: &str,
) -> Result<(Admin, HashMap<String, String>), Response> {
    let a = admin(state, headers, here).await?;
    let f = form_fields(body);
    if !csrf_ok(headers, f.get("csrf").map(String::as_str)) {
        return Err(message(
            state,
            headers,
            StatusCode::FORBIDDEN,
            "This page expired",
            "The form was older than your browser's token. Go back, reload the page and try again.",
            Some(here),
        ));
    }
    Ok((a, f))
}

/// For what cannot be undone: `Ok` when the admin signed in within `tokens.fresh_for`, else
/// the page that asks them to sign in again and come back to `here`.
pub async fn fresh(
    state: &State,
    headers: &HeaderMap,
    a: &Admin,
    here: &str,
) -> Result<(), Response> {
    match crate::accounts::sessions::signed_in_lately(state, &a.id).await {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(r) => return Err(r.into_response()),
    }
    let window = state.config().tokens.fresh_for.as_secs() as i64;
    let login = state.config().pages.login_path.clone().unwrap_or_default();
    let again = format!(
        "{login}?prompt=login&returnTo={}",
        crate::redirect::escape_query(here)
    );
    Err(page(
        state,
        headers,
        a,
        "admin_message.html",
        StatusCode::FORBIDDEN,
        context! {
            title => "Sign in again",
            text => format!("This action needs a sign-in in the last {} minutes. Sign in again, then repeat it.", window / 60),
            link => again, link_text => "Sign in again",
        },
    ))
}

/// Renders a console page with the navigation; `section` marks where the admin is.
pub fn page(
    state: &State,
    headers: &HeaderMap,
    a: &Admin,
    template: &str,
    status: StatusCode,
    ctx: Value,
) -> Response {
    let nav: Vec<Value> = SECTIONS
        .iter()
        .map(|(s, label)| context! { href => format!("{}/{s}", a.base), label, id => s })
        .collect();
    render(
        &state.config(),
        headers,
        template,
        status,
        context! {
            ..ctx,
            ..context! {
                admin_base => a.base, nav, me => a.id.user.email,
                account => state.config().api.account_page,
            }
        },
    )
}

/// A page with only a message (errors before the admin is known, expired forms).
fn message(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<&str>,
) -> Response {
    render(
        &state.config(),
        headers,
        "admin_message.html",
        status,
        context! { title, text, link, link_text => "Back" },
    )
}

/// Done: back to `to` with a notice (303, so a reload does not post again).
pub fn done(to: &str, notice: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{to}{sep}done={notice}"))],
    )
        .into_response()
}

/// The notice a `done=` code stands for.
pub fn notice(q: &HashMap<String, String>) -> Option<&'static str> {
    Some(match q.get("done")?.as_str() {
        "created" => "The user is created.",
        "saved" => "The changes are saved.",
        "deleted" => "The user is deleted.",
        "reset-sent" => "A reset link is on its way, if the account can be reached by mail.",
        "factors-removed" => "Every second factor is removed and the user's sessions ended.",
        "session-revoked" => "The session is signed out.",
        "sessions-revoked" => "Every session of the user is signed out.",
        "key-revoked" => "The API key is revoked.",
        "app-revoked" => "The app's access is revoked; it is told over the back channel.",
        "backoff-cleared" => "The backoff is cleared.",
        _ => return None,
    })
}

/// A refused action shown on the page it came from: the reason, with its status.
pub fn refused(r: &Reject) -> (StatusCode, String) {
    (r.status(), r.message())
}

/// Page `n` (1-based) of `q`, and the offset for `per_page`.
pub fn page_number(q: &HashMap<String, String>, per_page: i64) -> (i64, i64) {
    let n = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|n| (1..=1_000_000).contains(n))
        .unwrap_or(1);
    (n, (n - 1) * per_page)
}

/// The console's routes under `base`.
pub fn mount(m: &mut Mount, state: &State) {
    use crate::control::openapi::{Answer as A, Body as B, Op};
    use axum::routing::{get, post};
    use http::Method as M;
    let Some(p) = state.config().pages.admin_path.clone() else {
        return;
    };
    let get_op = |s| Op::new(M::GET, "Admin console", s).answer(A::Html);
    let post_op = |s| {
        Op::new(M::POST, "Admin console", s)
            .body(B::Form)
            .answer(A::Redirect)
    };
    m.add(
        &Some(p.clone()),
        get(users::home),
        &[get_op("Console home")],
    );
    m.add(
        &Some(format!("{p}/users")),
        get(users::list).post(users::create),
        &[get_op("Users"), post_op("Create a user")],
    );
    m.add(
        &Some(format!("{p}/users/{{id}}")),
        get(users::detail).post(users::edit),
        &[get_op("A user"), post_op("Change a user")],
    );
    for (suffix, handler, summary) in [
        ("delete", post(users::delete), "Delete a user"),
        ("reset", post(users::send_reset), "Mail a user a reset link"),
        (
            "factors",
            post(users::remove_factors),
            "Remove a user's second factors",
        ),
        (
            "sessions",
            post(users::revoke_sessions),
            "Sign out a user's sessions",
        ),
    ] {
        m.add(
            &Some(format!("{p}/users/{{id}}/{suffix}")),
            handler,
            &[post_op(summary)],
        );
    }
    m.add(
        &Some(format!("{p}/keys")),
        get(keys::list),
        &[get_op("API keys")],
    );
    m.add(
        &Some(format!("{p}/keys/revoke")),
        post(keys::revoke),
        &[post_op("Revoke an API key")],
    );
    m.add(
        &Some(format!("{p}/apps")),
        get(apps::list),
        &[get_op("Apps and their grants")],
    );
    m.add(
        &Some(format!("{p}/apps/revoke")),
        post(apps::revoke),
        &[post_op("Revoke an app's grant")],
    );
    m.add(
        &Some(format!("{p}/audit")),
        get(audit::list),
        &[get_op("Audit trail")],
    );
    m.add(
        &Some(format!("{p}/audit/{{id}}")),
        get(audit::detail),
        &[get_op("An audit event")],
    );
    m.add(
        &Some(format!("{p}/backoffs")),
        get(backoffs::list).post(backoffs::clear),
        &[get_op("Backoffs in force"), post_op("Clear a backoff")],
    );
}
