//! The account page: name, avatar, every device the user is signed in on with a button to sign
//! it out, and sign-out. Plain forms with CSRF tokens; no JavaScript needed.

use super::{csrf_ok, render};
use crate::accounts::avatar::store_avatar;
use crate::accounts::sessions::end_own;
use crate::auth::Identity;
use crate::control::web::views::describe;
use crate::error::Reject;
use crate::state::State;

use axum::body::Bytes;
use axum::extract::{Query, State as S};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use minijinja::context;
use std::collections::HashMap;
use std::sync::Arc;

fn base(state: &State) -> String {
    state.config().api.account_page.clone().unwrap_or_default()
}

/// The signed-in user, or the way to the sign-in page and back here.
async fn signed_in(state: &State, headers: &HeaderMap) -> Result<Identity, Response> {
    super::session(state, headers)
        .await
        .ok_or_else(|| super::to_sign_in(state, &base(state)))
}

fn back(state: &State, done: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{}?done={done}", base(state)))],
    )
        .into_response()
}

async fn show(
    state: &State,
    headers: &HeaderMap,
    id: &Identity,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let user = match state.store.user_by_id(id.user.id).await {
        Ok(Some(u)) => u,
        _ => return Reject::Internal.into_response(),
    };
    let sessions = match describe(state, id).await {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let logout = format!(
        "{}/logout",
        state.config().api.auth.as_deref().unwrap_or("/api/auth")
    );
    let keys = match state.store.api_keys(user.id).await {
        Ok(keys) => keys
            .iter()
            .map(|k| {
                context! {
                    id => k.id, name => k.name, prefix => k.prefix, scopes => k.scopes,
                    created => crate::control::web::views::rfc3339(k.created_at),
                    expires => k.expires_at.map(crate::control::web::views::rfc3339),
                    last_used => k.last_used_at.map(crate::control::web::views::rfc3339),
                }
            })
            .collect::<Vec<_>>(),
        Err(e) => return Reject::from(e).into_response(),
    };
    let security = match crate::accounts::mfa::status(state, user.id).await {
        Ok(st) => context! {
            totp => st.totp,
            totp_available => state.config().mfa.totp,
            recovery_left => st.recovery_left,
            passkeys => st.passkeys.iter().map(|p| context! {
                id => p.id, name => p.name,
                created => crate::control::web::views::rfc3339(p.created_at),
                last_used => p.last_used_at.map(crate::control::web::views::rfc3339),
            }).collect::<Vec<_>>(),
        },
        Err(r) => return r.into_response(),
    };
    let apps = match crate::accounts::oidc_apps::of_user(state, user.id).await {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let activity = match super::activity::recent(state, user.id).await {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    render(
        &state.config(),
        headers,
        "account.html",
        status,
        context! {
            name => user.name, email => user.email, picture => user.picture, sessions,
            notice, error, base => base(state), logout, security, keys, activity, apps,
            admin => (user.role == crate::auth::ADMIN_ROLE)
                .then(|| state.config().pages.admin_path.clone()).flatten(),
        },
    )
}

/// The form's CSRF token did not match: show the page again with a fresh one.
async fn expired(state: &State, headers: &HeaderMap, id: &Identity) -> Response {
    show(
        state,
        headers,
        id,
        StatusCode::FORBIDDEN,
        None,
        Some("This page expired; please try again."),
    )
    .await
}

pub async fn page(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let id = match signed_in(&state, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let notice = match q.get("done").map(String::as_str) {
        Some("name") => Some("Your name is saved."),
        Some("avatar") => Some("Your avatar is saved."),
        Some("session") => Some("That device is signed out."),
        Some("totp-off") => Some("The authenticator app is turned off."),
        Some("passkey-removed") => Some("The passkey is removed."),
        Some("key-revoked") => Some("The API key is revoked."),
        Some("app-revoked") => Some("The app no longer has access."),
        _ => None,
    };
    show(&state, &headers, &id, StatusCode::OK, notice, None).await
}

pub async fn rename(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let id = match signed_in(&state, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let f = super::form_fields(&body);
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return expired(&state, &headers, &id).await;
    }
    let name = f
        .get("name")
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    if crate::auth::policy::check_name(&name).is_err() {
        return show(
            &state,
            &headers,
            &id,
            StatusCode::BAD_REQUEST,
            None,
            Some("Enter a name of at most 200 characters."),
        )
        .await;
    }
    match crate::accounts::profile::rename(&state, id.user.id, name).await {
        Ok(Some(_)) => back(&state, "name"),
        Ok(None) => Reject::NotFound.into_response(),
        Err(r) => r.into_response(),
    }
}

pub async fn avatar(
    S(state): S<Arc<State>>,
    headers: HeaderMap,
    upload: Result<crate::control::web::extract::Upload, Reject>,
) -> Response {
    let mut multipart = match upload {
        Ok(u) => u.0,
        Err(r) => return r.into_response(),
    };
    let id = match signed_in(&state, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let (mut csrf, mut image) = (None, None);
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.ok(),
            Some("avatar") => image = field.bytes().await.ok(),
            _ => {}
        }
    }
    if !csrf_ok(&headers, csrf.as_deref()) {
        return expired(&state, &headers, &id).await;
    }
    let Some(image) = image else {
        return show(
            &state,
            &headers,
            &id,
            StatusCode::BAD_REQUEST,
            None,
            Some("Choose an image to upload."),
        )
        .await;
    };
    match store_avatar(&state, id.user.id, image.to_vec()).await {
        Ok(_) => back(&state, "avatar"),
        Err(r) => {
            let why = match &r {
                Reject::PayloadTooLarge(_) => "That image is too large.".to_string(),
                other => format!("That file was refused: {}.", other.message().to_lowercase()),
            };
            show(&state, &headers, &id, r.status(), None, Some(&why)).await
        }
    }
}

pub async fn end_session(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let id = match signed_in(&state, &headers).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let f = super::form_fields(&body);
    if !csrf_ok(&headers, f.get("csrf").map(String::as_str)) {
        return expired(&state, &headers, &id).await;
    }
    match end_own(&state, &id, f.get("id").map(String::as_str).unwrap_or("")).await {
        Ok(true) => back(&state, "session"),
        Ok(false) => {
            show(
                &state,
                &headers,
                &id,
                StatusCode::NOT_FOUND,
                None,
                Some("That device is not signed in."),
            )
            .await
        }
        Err(r) => r.into_response(),
    }
}

/// The signed-in user's form, its CSRF checked: `Err` is the page to answer instead.
async fn form(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Identity, crate::store::User, HashMap<String, String>), Response> {
    let id = signed_in(state, headers).await?;
    let f = super::form_fields(body);
    if !csrf_ok(headers, f.get("csrf").map(String::as_str)) {
        return Err(expired(state, headers, &id).await);
    }
    match state.store.user_by_id(id.user.id).await {
        Ok(Some(u)) => Ok((id, u, f)),
        _ => Err(Reject::Internal.into_response()),
    }
}

async fn refused(state: &State, headers: &HeaderMap, id: &Identity, r: Reject) -> Response {
    let msg = match &r {
        Reject::RateLimited { retry_after_secs } => {
            format!("Too many wrong codes; try again in {retry_after_secs} s.")
        }
        other => other.message(),
    };
    show(state, headers, id, r.status(), None, Some(&msg)).await
}

/// `POST …/mfa/totp`: a new secret to scan, waiting for its first code.
pub async fn totp_setup(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, _) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match crate::accounts::mfa::setup_totp(&state, &user).await {
        Ok(s) => render(
            &state.config(),
            &headers,
            "mfa_setup.html",
            StatusCode::OK,
            context! {
                enroll => false, mfa_token => "", return_to => base(&state),
                action => format!("{}/mfa/totp/enable", base(&state)),
                qr_svg => s.qr_svg, secret => s.secret,
            },
        ),
        Err(r) => refused(&state, &headers, &id, r).await,
    }
}

/// `POST …/mfa/totp/enable`: the first code; the recovery codes, once.
pub async fn totp_enable(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let code = f.get("code").map(String::as_str).unwrap_or("");
    match crate::accounts::mfa::enable_totp(&state, &user, code).await {
        Ok(codes) => super::mfa::recovery_codes(&state, &headers, &codes, &base(&state)),
        Err(r) => refused(&state, &headers, &id, r).await,
    }
}

/// `POST …/mfa/totp/disable` with a current code.
pub async fn totp_disable(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let code = f.get("code").map(String::as_str).unwrap_or("");
    match crate::accounts::mfa::disable_totp(&state, &user, code).await {
        Ok(()) => back(&state, "totp-off"),
        Err(r) => refused(&state, &headers, &id, r).await,
    }
}

/// `POST …/mfa/recovery-codes`: a new set, proved by a TOTP code (or, with passkeys only, by
/// a session that signed in with one).
pub async fn recovery_codes(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let proved = async {
        let st = crate::accounts::mfa::status(&state, user.id).await?;
        if st.totp {
            let code = f.get("code").map(String::as_str).unwrap_or("");
            crate::accounts::mfa::check_totp(&state, &user, code).await
        } else if st.any() && id.session.amr.second_factor() {
            Ok(())
        } else {
            Err(Reject::BadRequest(
                "Sign in with your passkey first, then make new codes".into(),
            ))
        }
    };
    if let Err(r) = proved.await {
        return refused(&state, &headers, &id, r).await;
    }
    match crate::accounts::mfa::new_recovery_codes(&state, &user).await {
        Ok(codes) => super::mfa::recovery_codes(&state, &headers, &codes, &base(&state)),
        Err(r) => r.into_response(),
    }
}

/// `POST …/passkeys/delete` with the passkey's `id`.
pub async fn passkey_remove(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let pk = f.get("id").map(String::as_str).unwrap_or("");
    match crate::accounts::passkeys::remove(&state, &user, pk).await {
        Ok(true) => back(&state, "passkey-removed"),
        Ok(false) => refused(&state, &headers, &id, Reject::NotFound).await,
        Err(r) => r.into_response(),
    }
}

/// `POST …/api-keys`: a new key of the signed-in user, shown once with a copy button.
pub async fn key_create(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = f.get("name").map(|n| n.trim()).unwrap_or("");
    let scopes = crate::auth::api_keys::scopes(f.get("scopes").map(String::as_str).unwrap_or(""));
    let expires = match f.get("expires").map(|e| e.trim()).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => match crate::config::parse_duration(e) {
            Ok(d) if d.as_secs() >= 60 => Some(d),
            _ => {
                let why = Reject::BadRequest("Expires after must be a duration like 90d.".into());
                return refused(&state, &headers, &id, why).await;
            }
        },
    };
    match crate::accounts::api_keys::create(&state, &user, name, &scopes, expires).await {
        // Shown once: `render` marks every page `no-store` already.
        Ok((_, key)) => render(
            &state.config(),
            &headers,
            "api_key_created.html",
            StatusCode::OK,
            context! { key, next => base(&state) },
        ),
        Err(r) => refused(&state, &headers, &id, r).await,
    }
}

/// `POST …/api-keys/revoke` with the key's `id`.
pub async fn key_revoke(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let key = f.get("id").map(String::as_str).unwrap_or("");
    match crate::accounts::api_keys::revoke(&state, key, Some(user.id)).await {
        Ok(true) => back(&state, "key-revoked"),
        Ok(false) => refused(&state, &headers, &id, Reject::NotFound).await,
        Err(r) => r.into_response(),
    }
}

/// `POST …/apps/revoke` with the grant's `id`: the app's tokens end, it is told over the back
/// channel, and its next sign-in asks for consent again.
pub async fn app_revoke(S(state): S<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let (id, user, f) = match form(&state, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let grant = f.get("id").map(String::as_str).unwrap_or("");
    match crate::accounts::oidc_apps::revoke(&state, grant, Some(user.id)).await {
        Ok(true) => back(&state, "app-revoked"),
        Ok(false) => refused(&state, &headers, &id, Reject::NotFound).await,
        Err(r) => r.into_response(),
    }
}
