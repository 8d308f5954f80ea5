//! The console's users: search and filters, a user's page (details, groups by source,
//! sessions, factors, keys, their latest events), create, edit, delete, a reset link, and
//! removing factors or sessions. Changes go through the API's own functions
//! (`control::api::users`), so the checks and audit events are the same.

use super::{admin, done, form, fresh, notice, page, page_number, refused, Admin};
use crate::control::api::users::{create_from, remove, update_from, ADMIN_ROLE};
use crate::error::Reject;
use crate::state::State;
use crate::store::{AuditQuery, User, UserSearch};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use minijinja::context;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const PER_PAGE: i64 = 25;
const KINDS: &[&str] = &["user", "service", "directory"];

/// The list's filters as the query gives them; a value the list does not know is an error.
fn search(q: &HashMap<String, String>) -> Result<UserSearch, String> {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let active = match get("active") {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => return Err("Active must be yes or no.".into()),
    };
    let kind = match get("kind") {
        Some(k) if !KINDS.contains(&k) => {
            return Err("Kind must be user, service or directory.".into())
        }
        k => k.map(str::to_string),
    };
    let long = |v: Option<&str>| v.is_some_and(|v| v.chars().count() > 200);
    if long(get("q")) || long(get("role")) || long(get("group")) {
        return Err("A search term is at most 200 characters.".into());
    }
    Ok(UserSearch {
        text: get("q").map(str::to_string),
        role: get("role").map(str::to_string),
        group: get("group").map(str::to_string),
        active,
        kind,
    })
}

fn row(u: &User) -> minijinja::Value {
    context! {
        id => u.id, email => u.email, name => u.name, role => u.role, active => u.active,
        kind => u.kind, groups => u.groups.0,
        created => crate::control::web::views::rfc3339(u.created_at),
    }
}

async fn show_list(
    state: &State,
    headers: &HeaderMap,
    a: &Admin,
    q: &HashMap<String, String>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (number, offset) = page_number(q, PER_PAGE);
    let (filters, error, status) = match search(q) {
        Ok(f) => (f, error, status),
        Err(e) => (UserSearch::default(), Some(e), StatusCode::BAD_REQUEST),
    };
    let (users, total) = match state.store.search_users(&filters, offset, PER_PAGE).await {
        Ok(found) => found,
        Err(e) => return Reject::from(e).into_response(),
    };
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    // The filters again, for the links to the pages before and after.
    let keep: String = ["q", "role", "group", "active", "kind"]
        .iter()
        .filter_map(|k| q.get(*k).filter(|v| !v.is_empty()).map(|v| (k, v)))
        .map(|(k, v)| format!("&{k}={}", crate::redirect::escape_query(v)))
        .collect();
    page(
        state,
        headers,
        a,
        "admin_users.html",
        status,
        context! {
            section => "users", users => users.iter().map(row).collect::<Vec<_>>(), total,
            page => number, pages, keep, notice => notice(q), error,
            q => q.get("q"), role => q.get("role"), group => q.get("group"),
            active => q.get("active"), kind => q.get("kind"), kinds => KINDS,
        },
    )
}

/// `GET {console}`: the users list is the console's first page.
pub async fn home(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = super::base(&state);
    listed(&state, &q, &headers, &here).await
}

pub async fn list(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!("{}/users", super::base(&state));
    listed(&state, &q, &headers, &here).await
}

async fn listed(
    state: &State,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    here: &str,
) -> Response {
    match admin(state, headers, here).await {
        Ok(a) => show_list(state, headers, &a, q, StatusCode::OK, None).await,
        Err(r) => r,
    }
}

/// Names separated by commas or spaces, as the API's `groups` array.
fn groups_field(raw: &str) -> Value {
    let mut names: Vec<&str> = raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    json!(names)
}

/// `POST {console}/users`: a new user (or service account) from the create form.
pub async fn create(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let here = format!("{}/users", super::base(&state));
    let (a, f) = match form(&state, &headers, &body, &here).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let field = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or("");
    let mut obj = Map::new();
    obj.insert("email".into(), json!(field("email")));
    obj.insert("name".into(), json!(field("name")));
    if !field("role").is_empty() {
        obj.insert("role".into(), json!(field("role")));
    }
    let service = field("kind") == "service";
    obj.insert(
        "kind".into(),
        json!(if service { "service" } else { "user" }),
    );
    if !service {
        // Not trimmed: a password is taken as typed.
        obj.insert(
            "password".into(),
            json!(f.get("password").cloned().unwrap_or_default()),
        );
    }
    obj.insert("groups".into(), groups_field(field("groups")));
    match create_from(&state, &obj).await {
        Ok(u) => done(&format!("{}/users/{}", a.base, u.id), "created"),
        Err(r) => {
            let (status, msg) = refused(&r);
            show_list(&state, &headers, &a, &HashMap::new(), status, Some(msg)).await
        }
    }
}

fn uid(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0)
}

async fn live(state: &State, raw: &str) -> Result<Option<User>, Reject> {
    let Some(id) = uid(raw) else {
        return Ok(None);
    };
    Ok(state
        .store
        .user_by_id(id)
        .await?
        .filter(|u| u.deleted_at.is_none()))
}

async fn show_user(
    state: &State,
    headers: &HeaderMap,
    a: &Admin,
    raw: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Response {
    let user = match live(state, raw).await {
        Ok(Some(u)) => u,
        Ok(None) => return not_found(state, headers, a),
        Err(r) => return r.into_response(),
    };
    let details = async {
        let groups = state.store.user_groups(user.id).await?;
        let sessions = crate::control::web::views::sessions_of(state, user.id, None).await?;
        let factors = crate::accounts::mfa::status(state, user.id).await?;
        let keys = state.store.api_keys(user.id).await?;
        let apps = crate::accounts::oidc_apps::of_user(state, user.id).await?;
        let events = state
            .store
            .audit_page(&AuditQuery {
                user: Some(user.id.to_string()),
                limit: 20,
                ..Default::default()
            })
            .await?;
        Ok::<_, Reject>((groups, sessions, factors, keys, apps, events))
    };
    let (groups, sessions, factors, keys, apps, events) = match details.await {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let rfc = crate::control::web::views::rfc3339;
    let local: Vec<&str> = groups
        .iter()
        .filter(|g| g.source == crate::groups::LOCAL)
        .map(|g| g.name.as_str())
        .collect();
    page(
        state,
        headers,
        a,
        "admin_user.html",
        status,
        context! {
            section => "users", notice, error,
            user => row(&user), verified => user.email_verified,
            is_me => user.id == a.id.user.id,
            is_admin => user.role == ADMIN_ROLE,
            local_groups => local.join(", "),
            groups => groups.iter().map(|g| context! { name => g.name, source => g.source }).collect::<Vec<_>>(),
            sessions,
            totp => factors.totp, recovery_left => factors.recovery_left,
            passkeys => factors.passkeys.iter().map(|p| context! {
                name => p.name, created => rfc(p.created_at),
                last_used => p.last_used_at.map(rfc),
            }).collect::<Vec<_>>(),
            keys => keys.iter().map(|k| context! {
                id => k.id, name => k.name, prefix => k.prefix, scopes => k.scopes,
                created => rfc(k.created_at), expires => k.expires_at.map(rfc),
                last_used => k.last_used_at.map(rfc),
            }).collect::<Vec<_>>(),
            events => events.iter().map(super::audit::row).collect::<Vec<_>>(),
            apps,
            reachable => user.reachable_by_email(),
        },
    )
}

/// The user's page again, saying why the action was refused.
async fn refused_here(
    state: &State,
    headers: &HeaderMap,
    a: &Admin,
    raw: &str,
    r: &Reject,
) -> Response {
    let (status, msg) = refused(r);
    show_user(state, headers, a, raw, status, None, Some(msg)).await
}

fn not_found(state: &State, headers: &HeaderMap, a: &Admin) -> Response {
    page(
        state,
        headers,
        a,
        "admin_message.html",
        StatusCode::NOT_FOUND,
        context! {
            title => "No such user", text => "That user does not exist or was deleted.",
            link => format!("{}/users", a.base), link_text => "All users",
        },
    )
}

pub async fn detail(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let here = format!(
        "{}/users/{}",
        super::base(&state),
        crate::redirect::escape_query(&raw)
    );
    match admin(&state, &headers, &here).await {
        Ok(a) => show_user(&state, &headers, &a, &raw, StatusCode::OK, notice(&q), None).await,
        Err(r) => r,
    }
}

/// The user of a form posted to `{console}/users/{id}…`, with the admin and the fields.
async fn user_form(
    state: &State,
    headers: &HeaderMap,
    raw: &str,
    body: &[u8],
) -> Result<(Admin, User, HashMap<String, String>, String), Response> {
    let here = format!(
        "{}/users/{}",
        super::base(state),
        crate::redirect::escape_query(raw)
    );
    let (a, f) = form(state, headers, body, &here).await?;
    match live(state, raw).await {
        Ok(Some(u)) => Ok((a, u, f, here)),
        Ok(None) => Err(not_found(state, headers, &a)),
        Err(r) => Err(r.into_response()),
    }
}

/// `POST {console}/users/{id}`: name, email, role, local groups and active, as changed.
/// Deactivating or changing a role needs a fresh sign-in.
pub async fn edit(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (a, user, f, here) = match user_form(&state, &headers, &raw, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let field = |k: &str| f.get(k).map(|v| v.trim().to_string());
    let mut obj = Map::new();
    for (k, current) in [("name", &user.name), ("email", &user.email)] {
        if let Some(v) = field(k).filter(|v| v != current) {
            obj.insert(k.into(), json!(v));
        }
    }
    let me = user.id == a.id.user.id;
    let mut drastic = false;
    if !me {
        if let Some(r) = field("role").filter(|r| *r != user.role) {
            obj.insert("role".into(), json!(r));
            drastic = true;
        }
        // A checkbox: absent when unticked.
        let active = f.contains_key("active");
        if active != user.active {
            obj.insert("active".into(), json!(active));
            drastic |= !active;
        }
    }
    if let Some(g) = f.get("groups") {
        obj.insert("groups".into(), groups_field(g));
    }
    if drastic {
        if let Err(r) = fresh(&state, &headers, &a, &here).await {
            return r;
        }
    }
    match update_from(&state, &a.id, user.id, &obj).await {
        Ok(_) => done(&here, "saved"),
        Err(r) => refused_here(&state, &headers, &a, &raw, &r).await,
    }
}

pub async fn delete(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (a, user, _, here) = match user_form(&state, &headers, &raw, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if user.id == a.id.user.id {
        let why = Reject::Forbidden("You cannot delete your own account here");
        return refused_here(&state, &headers, &a, &raw, &why).await;
    }
    if let Err(r) = fresh(&state, &headers, &a, &here).await {
        return r;
    }
    match remove(&state, user.id).await {
        Ok(()) => done(&format!("{}/users", a.base), "deleted"),
        Err(r) => refused_here(&state, &headers, &a, &raw, &r).await,
    }
}

/// `POST {console}/users/{id}/reset`: mails the user a reset link (recorded with the admin
/// as the one who asked).
pub async fn send_reset(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, user, _, here) = match user_form(&state, &headers, &raw, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let event = crate::audit::Event::new(crate::audit::kinds::PASSWORD_RESET_REQUESTED).here();
    match crate::accounts::recovery::send_reset(&state, &user.email, event).await {
        Ok(()) => done(&here, "reset-sent"),
        Err(e) => Reject::from(e).into_response(),
    }
}

/// `POST {console}/users/{id}/factors`: every second factor removed, sessions ended.
pub async fn remove_factors(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (a, user, _, here) = match user_form(&state, &headers, &raw, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = fresh(&state, &headers, &a, &here).await {
        return r;
    }
    match crate::accounts::mfa::reset(&state, user.id).await {
        Ok(_) => done(&here, "factors-removed"),
        Err(r) => r.into_response(),
    }
}

/// `POST {console}/users/{id}/sessions` with `session` (one of theirs) or `all`.
pub async fn revoke_sessions(
    S(state): S<Arc<State>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (a, user, f, here) = match user_form(&state, &headers, &raw, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = fresh(&state, &headers, &a, &here).await {
        return r;
    }
    if f.contains_key("all") {
        return match state.end_user_sessions(user.id, None, "admin").await {
            Ok(_) => done(&here, "sessions-revoked"),
            Err(r) => r.into_response(),
        };
    }
    let sid = f.get("session").and_then(|s| uuid::Uuid::parse_str(s).ok());
    // Only a live session of this user: an id from elsewhere is "not found".
    let theirs = match sid {
        Some(sid) => match state.store.session(&sid.to_string()).await {
            Ok(s) => s
                .filter(|s| s.user_id == user.id && s.revoked_at.is_none())
                .map(|_| sid),
            Err(e) => return Reject::from(e).into_response(),
        },
        None => None,
    };
    let Some(sid) = theirs else {
        let why = Some("That session is not one of this user's.".into());
        let status = StatusCode::NOT_FOUND;
        return show_user(&state, &headers, &a, &raw, status, None, why).await;
    };
    match state.end_session_by_id(sid, "admin").await {
        Ok(()) => done(&here, "session-revoked"),
        Err(r) => r.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_are_read_or_named_as_wrong() {
        let s = search(&q(&[
            ("q", " ann "),
            ("active", "no"),
            ("kind", "service"),
            ("role", ""),
        ]))
        .unwrap();
        assert_eq!(s.text.as_deref(), Some("ann"));
        assert_eq!(
            (s.active, s.kind.as_deref(), s.role),
            (Some(false), Some("service"), None)
        );
        assert!(search(&q(&[("active", "maybe")])).is_err());
        assert!(search(&q(&[("kind", "robot")])).is_err());
        assert!(search(&q(&[("q", &"x".repeat(201))])).is_err());
    }

    #[test]
    fn groups_are_split_sorted_and_unique() {
        assert_eq!(groups_field("ops, eng eng,,"), json!(["eng", "ops"]));
        assert_eq!(groups_field("  "), json!([]));
    }
}
