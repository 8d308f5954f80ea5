//! Magic links: a one-use sign-in link mailed to an address that may sign in by email.

use super::links::link;
use crate::auth::one_time::{self, Purpose};
use crate::error::Reject;
use crate::mail::Kind;
use crate::state::State;
use std::sync::Arc;
use std::time::Duration;

pub const MAGIC_TTL: Duration = Duration::from_secs(600);

/// Throttles per address, then mails the link in the background (after the caller has
/// answered, so the timing says nothing about whether the address has an account). The
/// per-client limit is the caller's.
pub fn request_link(state: &Arc<State>, email: String, back: Option<String>) -> Result<(), Reject> {
    super::login::mail_rate_limit(state, &email, "magic_link")?;
    let st = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&st, &email, back.as_deref()).await {
            tracing::error!(error = %e, "magic link not prepared");
        }
    });
    Ok(())
}

async fn send(
    state: &State,
    email: &str,
    back: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(());
    };
    if !user.reachable_by_email() {
        return Ok(());
    }
    let token =
        one_time::issue(state.store.as_ref(), user.id, Purpose::MagicLink, MAGIC_TTL).await?;
    let page = state
        .config()
        .api
        .magic_page
        .clone()
        .unwrap_or_else(|| "/magic-link".into());
    let mut query = vec![("token", token.as_str())];
    if let Some(b) = back {
        query.push(("returnTo", b));
    }
    let url = link(&state.config(), &page, &query);
    state
        .mailer
        .send(Kind::MagicLink, &user.email, &user.name, &url, MAGIC_TTL);
    Ok(())
}
