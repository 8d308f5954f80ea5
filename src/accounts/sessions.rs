//! Session lifecycle: start, renew, revoke. Every change goes to the store *and* the cache at
//! once, so a revoked token is refused by the very next request on any route.

use crate::audit::{kinds, Event};
use crate::auth::{Amr, CachedUser, Identity, SessionEntry};
use crate::error::Reject;
use crate::metrics;
use crate::request::ClientInfo;
use crate::state::State;
use crate::store::{now, NewSession, User};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A session just started: its first token, id, and that token's lifetime in seconds.
#[derive(Debug, Clone)]
pub struct Started {
    pub token: String,
    pub session_id: Uuid,
    pub expires_in: u64,
}

impl State {
    fn lifetime(&self, remember: bool) -> std::time::Duration {
        let t = &self.config().tokens;
        let lifetime = if remember {
            t.expiration_long
        } else {
            t.expiration
        };
        t.max_session_age.map_or(lifetime, |max| lifetime.min(max))
    }

    /// Creates a session for `user` and returns its signed token.
    pub async fn start_session(
        &self,
        user: &User,
        remember: bool,
        client: &ClientInfo,
        amr: Amr,
    ) -> Result<String, Reject> {
        Ok(self
            .start_session_with(user, remember, client, &Map::new(), None, amr)
            .await?
            .token)
    }

    /// Like [`start_session`](Self::start_session), with extra token claims, and a session that
    /// may outlive its first token (`session_expires_at`, for sessions kept alive by refresh).
    pub async fn start_session_with(
        &self,
        user: &User,
        remember: bool,
        client: &ClientInfo,
        extra: &Map<String, Value>,
        session_expires_at: Option<i64>,
        amr: Amr,
    ) -> Result<Started, Reject> {
        // The directory just checked a password; any other way in asks it first.
        let current;
        let user = if user.is_directory() && !amr.has(Amr::PWD) {
            current = super::directory::still_there(self, user).await?;
            &current
        } else {
            user
        };
        let lifetime = self.lifetime(remember);
        let (sid, jti) = (Uuid::new_v4(), Uuid::new_v4());
        let claims = self.auth.keys.claims(
            user.id,
            &sid.to_string(),
            &user.role,
            &jti.to_string(),
            lifetime,
        );
        let token = self
            .auth
            .keys
            .sign_with(&claims, extra)
            .map_err(|_| Reject::Internal)?;
        let expires_at = session_expires_at
            .unwrap_or(claims.exp as i64)
            .max(claims.exp as i64);
        let signed_in = Event::new(kinds::LOGIN_SUCCEEDED)
            .by_user(user.id, &user.email)
            .target_user(user.id)
            .client(client)
            .reason(amr.to_string());
        let created = signed_in.clone().with_kind(kinds::SESSION_CREATED).change(
            "session",
            None::<String>,
            sid.to_string(),
        );
        let session = self
            .store
            .create_session(
                NewSession {
                    id: sid.to_string(),
                    user_id: user.id,
                    token_id: jti.to_string(),
                    now: now(),
                    expires_at,
                    remember,
                    user_agent: client
                        .user_agent
                        .as_ref()
                        .map(|ua| ua.chars().take(512).collect()),
                    ip: client.ip.map(|ip| ip.to_string()),
                    amr: amr.to_string(),
                },
                &[signed_in.build(), created.build()],
            )
            .await?
            // The user was deactivated between the password check and now.
            .ok_or(Reject::Forbidden("This account is deactivated"))?;
        self.auth.cache.fill_user(CachedUser::from(user));
        self.auth.cache.put_session(
            sid,
            SessionEntry {
                user_id: user.id,
                token_id: jti,
                expires_at: session.expires_at,
                remember,
                revoked: false,
                amr,
            },
        );
        Ok(Started {
            token,
            session_id: sid,
            expires_in: lifetime.as_secs(),
        })
    }

    /// A fresh access token for a live session (same session and token id), extending the
    /// session to `session_expires_at`. For refresh: earlier access tokens stay valid until
    /// their own expiry.
    pub async fn reissue(
        &self,
        sid: Uuid,
        user_id: i64,
        extra: &Map<String, Value>,
        session_expires_at: i64,
    ) -> Result<(String, u64), Reject> {
        let dead = || Reject::Unauthenticated {
            invalid_token: true,
            message: "Invalid or expired refresh token",
        };
        let session = self
            .store
            .session(&sid.to_string())
            .await?
            .ok_or_else(dead)?;
        let user = match self.store.user_by_id(user_id).await? {
            Some(u) if u.active && u.deleted_at.is_none() && session.user_id == user_id => u,
            _ => return Err(dead()),
        };
        let lifetime = self.lifetime(session.remember);
        let claims = self.auth.keys.claims(
            user.id,
            &session.id,
            &user.role,
            &session.token_id,
            lifetime,
        );
        let expires_at = session_expires_at.max(claims.exp as i64);
        // Same token id, a later expiry; conditional like every renewal, so a revocation
        // that lands first wins.
        if !self
            .store
            .renew_session(
                &session.id,
                &session.token_id,
                &session.token_id,
                expires_at,
                now(),
            )
            .await?
        {
            return Err(dead());
        }
        let token = self
            .auth
            .keys
            .sign_with(&claims, extra)
            .map_err(|_| Reject::Internal)?;
        self.auth.cache.fill_user(CachedUser::from(&user));
        let token_id = Uuid::parse_str(&session.token_id).unwrap_or_default();
        self.auth.cache.renew(
            sid,
            token_id,
            SessionEntry {
                user_id: user.id,
                token_id,
                expires_at,
                remember: session.remember,
                revoked: false,
                amr: Amr::parse(&session.amr),
            },
        );
        Ok((token, lifetime.as_secs()))
    }

    /// Ends a session known only by id (refresh-token reuse, OAuth logout); `reason` for
    /// the audit trail.
    pub async fn end_session_by_id(&self, sid: Uuid, reason: &str) -> Result<(), Reject> {
        let owner = self
            .store
            .session(&sid.to_string())
            .await?
            .map(|s| s.user_id);
        let mut event = Event::new(kinds::SESSION_REVOKED)
            .change("session", sid.to_string(), None::<String>)
            .reason(reason);
        if let Some(uid) = owner {
            event = event.target_user(uid);
        }
        self.store
            .revoke_session(&sid.to_string(), now(), &[event.build()])
            .await?;
        let fallback_expiry = now() + self.config().tokens.expiration_long.as_secs() as i64;
        self.auth.cache.revoke(sid, fallback_expiry);
        metrics::revoked("logout", 1);
        Ok(())
    }

    /// Issues a new token for the same session and lifetime class; the old token dies now.
    pub async fn renew_session(&self, id: &Identity) -> Result<String, Reject> {
        let remember = id.session.remember;
        let mut lifetime = self.lifetime(remember);
        // However often it is renewed, a session ends `max_session_age` after its sign-in.
        if let Some(max) = self.config().tokens.max_session_age {
            let created = self
                .store
                .session(&id.session_id.to_string())
                .await?
                .map_or(0, |s| s.created_at);
            let left = (created + max.as_secs() as i64 - now()).max(0) as u64;
            if left == 0 {
                return Err(Reject::Unauthenticated {
                    invalid_token: true,
                    message: "This session has reached its maximum age; sign in again",
                });
            }
            lifetime = lifetime.min(std::time::Duration::from_secs(left));
        }
        let jti = Uuid::new_v4();
        let claims = self.auth.keys.claims(
            id.user.id,
            &id.session_id.to_string(),
            &id.user.role,
            &jti.to_string(),
            lifetime,
        );
        let token = self.auth.keys.sign(&claims).map_err(|_| Reject::Internal)?;
        let renewed = self
            .store
            .renew_session(
                &id.session_id.to_string(),
                &id.session.token_id.to_string(),
                &jti.to_string(),
                claims.exp as i64,
                now(),
            )
            .await?;
        if !renewed {
            // Revoked meanwhile, or this token was already renewed by a concurrent call.
            return Err(Reject::Unauthenticated {
                invalid_token: true,
                message: "This session has ended",
            });
        }
        self.auth.cache.renew(
            id.session_id,
            id.session.token_id,
            SessionEntry {
                token_id: jti,
                expires_at: claims.exp as i64,
                ..id.session
            },
        );
        metrics::revoked("renew", 1);
        Ok(token)
    }

    /// Signs the caller's own session out.
    pub async fn end_session(&self, id: &Identity) -> Result<bool, Reject> {
        let event = Event::new(kinds::SESSION_REVOKED)
            .by_user(id.user.id, &id.user.email)
            .target_user(id.user.id)
            .change("session", id.session_id.to_string(), None::<String>)
            .reason("logout")
            .build();
        let revoked = self
            .store
            .revoke_session(&id.session_id.to_string(), now(), &[event])
            .await?;
        self.auth.cache.revoke(id.session_id, id.session.expires_at);
        metrics::revoked("logout", 1);
        Ok(revoked)
    }

    /// Revokes a user's sessions, keeping `keep` if given; returns how many were revoked.
    pub async fn end_user_sessions(
        &self,
        user_id: i64,
        keep: Option<Uuid>,
        cause: &'static str,
    ) -> Result<usize, Reject> {
        let keep_s = keep.map(|k| k.to_string());
        let event = Event::new(kinds::SESSION_REVOKED)
            .target_user(user_id)
            .reason(cause)
            .build();
        let ids = self
            .store
            .revoke_user_sessions(user_id, keep_s.as_deref(), now(), Some(&event))
            .await?;
        let fallback_expiry = now() + self.config().tokens.expiration_long.as_secs() as i64;
        for id in &ids {
            if let Ok(sid) = Uuid::parse_str(id) {
                self.auth.cache.revoke(sid, fallback_expiry);
            }
        }
        metrics::revoked(cause, ids.len());
        Ok(ids.len())
    }

    /// Publishes a changed user to the cache so every session sees it on its next request.
    pub fn user_changed(&self, user: &User) {
        self.auth.cache.put_user(CachedUser::from(user));
    }
}

/// Ends one of the caller's own sessions; false when it is not theirs or not live.
pub async fn end_own(state: &State, id: &crate::auth::Identity, raw: &str) -> Result<bool, Reject> {
    let Ok(sid) = Uuid::parse_str(raw) else {
        return Ok(false);
    };
    match state.store.session(&sid.to_string()).await? {
        Some(s) if s.user_id == id.user.id && s.revoked_at.is_none() => {
            state.store.revoke_refresh_family(&s.id, now()).await?;
            state.end_session_by_id(sid, "logout").await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether the caller signed in within `tokens.fresh_for` (what a password change without
/// the current password, or an admin's destructive action, asks for).
pub async fn signed_in_lately(state: &State, id: &crate::auth::Identity) -> Result<bool, Reject> {
    let signed_in = state
        .store
        .session(&id.session_id.to_string())
        .await?
        .map_or(0, |s| s.created_at);
    Ok(now() - signed_in <= state.config().tokens.fresh_for.as_secs() as i64)
}
