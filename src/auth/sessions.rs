//! Session lifecycle: start, renew, revoke. Every change goes to the store *and* the cache at
//! once, so a revoked token is refused by the very next request on any route.

use super::authenticate::Identity;
use super::cache::{CachedUser, SessionEntry};
use crate::error::Reject;
use crate::metrics;
use crate::state::State;
use crate::store::{now, NewSession, User};
use uuid::Uuid;

/// Who is logging in from where, for the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

impl State {
    fn lifetime(&self, remember: bool) -> std::time::Duration {
        if remember {
            self.config.tokens.expiration_long
        } else {
            self.config.tokens.expiration
        }
    }

    /// Creates a session for `user` and returns its signed token.
    pub async fn start_session(
        &self,
        user: &User,
        remember: bool,
        client: &ClientInfo,
    ) -> Result<String, Reject> {
        let lifetime = self.lifetime(remember);
        let (sid, jti) = (Uuid::new_v4(), Uuid::new_v4());
        let claims = self.auth.keys.claims(
            user.id,
            &sid.to_string(),
            &user.role,
            &jti.to_string(),
            lifetime,
        );
        let token = self.auth.keys.sign(&claims).map_err(|_| Reject::Internal)?;
        let session = self
            .store
            .create_session(NewSession {
                id: sid.to_string(),
                user_id: user.id,
                token_id: jti.to_string(),
                now: now(),
                expires_at: claims.exp as i64,
                remember,
                user_agent: client
                    .user_agent
                    .as_ref()
                    .map(|ua| ua.chars().take(512).collect()),
                ip: client.ip.map(|ip| ip.to_string()),
            })
            .await?;
        self.auth.cache.put_user(CachedUser::from(user));
        self.auth.cache.put_session(
            sid,
            SessionEntry {
                user_id: user.id,
                token_id: jti,
                expires_at: session.expires_at,
                remember,
                revoked: false,
            },
        );
        Ok(token)
    }

    /// Issues a new token for the same session and lifetime class; the old token dies now.
    pub async fn renew_session(&self, id: &Identity) -> Result<String, Reject> {
        let remember = id.session.remember;
        let jti = Uuid::new_v4();
        let claims = self.auth.keys.claims(
            id.user.id,
            &id.session_id.to_string(),
            &id.user.role,
            &jti.to_string(),
            self.lifetime(remember),
        );
        let token = self.auth.keys.sign(&claims).map_err(|_| Reject::Internal)?;
        let renewed = self
            .store
            .renew_session(
                &id.session_id.to_string(),
                &jti.to_string(),
                claims.exp as i64,
                now(),
            )
            .await?;
        if !renewed {
            return Err(Reject::Unauthenticated {
                invalid_token: true,
                message: "This session has ended",
            });
        }
        self.auth.cache.put_session(
            id.session_id,
            SessionEntry {
                token_id: jti,
                expires_at: claims.exp as i64,
                ..id.session
            },
        );
        metrics::revoked("renew", 1);
        Ok(token)
    }

    pub async fn end_session(&self, id: &Identity) -> Result<bool, Reject> {
        let revoked = self
            .store
            .revoke_session(&id.session_id.to_string(), now())
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
        let ids = self
            .store
            .revoke_user_sessions(user_id, keep_s.as_deref(), now())
            .await?;
        let fallback_expiry = now() + self.config.tokens.expiration_long.as_secs() as i64;
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
