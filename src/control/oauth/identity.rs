//! From a provider's verified profile to a local user: by issuer + subject; else by a verified
//! email when linking is allowed; else a new user when sign-up is allowed.

use crate::config::Provider;
use crate::state::State;
use crate::store::{now, NewUser, StoreError, User};
use serde_json::{Map, Value};

/// What the provider vouched for, after ID-token verification.
#[derive(Debug, Clone)]
pub struct Profile {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// Every claim seen (ID token, then userinfo), for custom-claim mapping.
    pub raw: Map<String, Value>,
}

#[derive(Debug)]
pub enum Refusal {
    Inactive,
    SignupClosed,
    EmailTaken,
    NoEmail,
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// `identity.oauth.linked`: `provider`'s account now signs user `id` in.
fn linked(p: &Provider, id: i64, how: &str) -> crate::store::NewEvent {
    crate::audit::Event::new(crate::audit::kinds::OAUTH_LINKED)
        .by_system(&format!("oauth:{}", p.name))
        .target_user(id)
        .reason(how)
        .change("provider", None::<&str>, &p.name)
        .build()
}

pub async fn resolve(state: &State, p: &Provider, prof: &Profile) -> Result<User, Refusal> {
    let store = &state.store;
    if let Some(uid) = store.identity_user(&prof.issuer, &prof.subject).await? {
        return match store.user_by_id(uid).await? {
            Some(mut u) if u.active && u.deleted_at.is_none() => {
                // The provider now vouches for the address this account was created with.
                let same = prof
                    .email
                    .as_deref()
                    .and_then(crate::auth::policy::normalize_email);
                if !u.email_verified && prof.email_verified && same.as_deref() == Some(&u.email) {
                    store.set_email_verified(u.id, now()).await?;
                    u.email_verified = true;
                }
                Ok(u)
            }
            _ => Err(Refusal::Inactive),
        };
    }
    let email = prof
        .email
        .as_deref()
        .and_then(crate::auth::policy::normalize_email)
        .ok_or(Refusal::NoEmail)?;
    if let Some(existing) = store.user_by_email(&email).await? {
        // Only a provider-verified email may claim an existing account, only if allowed, and
        // only an account whose own address was proven: one created by another provider's
        // unverified sign-in belongs to whoever made it, not to the address.
        if !(state.config().oauth.link_by_verified_email
            && prof.email_verified
            && existing.email_verified
            && !existing.is_service())
        {
            return Err(Refusal::EmailTaken);
        }
        if !existing.active || existing.deleted_at.is_some() {
            return Err(Refusal::Inactive);
        }
        store
            .link_identity(
                &prof.issuer,
                &prof.subject,
                existing.id,
                &p.name,
                now(),
                &[linked(p, existing.id, "verified_email")],
            )
            .await?;
        return Ok(existing);
    }
    if !state.config().oauth.allow_signup {
        return Err(Refusal::SignupClosed);
    }
    let new_user = NewUser {
        email: email.clone(),
        name: prof.name.clone().unwrap_or_else(|| email.clone()),
        role: p.role.clone(),
        password_hash: None,
        active: true,
        // An address the provider did not vouch for opens no email flow on this account.
        email_verified: prof.email_verified,
        now: now(),
    };
    let event =
        crate::audit::changes::user_created(&format!("oauth:{}", p.name), &new_user).build();
    let user = store.create_user(new_user, &[event]).await?;
    store
        .link_identity(
            &prof.issuer,
            &prof.subject,
            user.id,
            &p.name,
            now(),
            &[linked(p, user.id, "signup")],
        )
        .await?;
    Ok(user)
}

/// The claims the access token carries beyond the core ones: provider, profile, custom.
pub fn token_claims(p: &Provider, prof: &Profile, user: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("provider".into(), Value::String(p.name.clone()));
    m.insert("name".into(), Value::String(user.name.clone()));
    m.insert("email".into(), Value::String(user.email.clone()));
    if let Some(pic) = &prof.picture {
        m.insert("picture".into(), Value::String(pic.clone()));
    }
    for (k, src) in &p.claims {
        let v = match src {
            crate::config::ClaimSource::Static(v) => Some(v.clone()),
            crate::config::ClaimSource::From(claim) => prof.raw.get(claim).cloned(),
        };
        if let Some(v) = v {
            m.insert(k.clone(), v);
        }
    }
    m
}
