//! Back-Channel Logout 1.0 (§2.5): the logouts owed (queued by the store in the transaction
//! that ended a session) are claimed by whichever instance asks first, signed and POSTed to
//! each client's `backchannel_logout_uri`, off every request path. A client that does not
//! answer 200/204 is tried again with a growing pause, and given up on after `MAX_ATTEMPTS`.

use super::claims;
use crate::config::OidcProvider;
use crate::store::oidc::Logout;
use crate::store::Store;
use std::time::Duration;

pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claim holds before another instance may take the logout over.
const CLAIM: i64 = 30;
const BATCH: i64 = 20;

/// What one logout came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// Tried again at the given time.
    Retry(i64, String),
    GivenUp(String),
    /// The client has no back-channel URI (or is gone): nothing to send.
    Nothing,
}

/// The pause before attempt `n + 1`: 5 s, 10 s, 20 s, … at most 10 minutes.
pub fn backoff(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 7)).min(600)
}

/// Sends the logouts due now; how many were delivered.
pub async fn send_due(
    store: &dyn Store,
    audit: &crate::audit::Sink,
    op: &OidcProvider,
    provider: &super::Provider,
    now: i64,
) -> crate::store::StoreResult<usize> {
    let due = store.claim_logouts(now, now + CLAIM, BATCH).await?;
    let mut delivered = 0;
    for l in due {
        let outcome = send(op, provider, &l, now).await;
        crate::metrics::oidc_logout(&outcome);
        match &outcome {
            Sent::Delivered => {
                delivered += 1;
                store.logout_sent(l.id, now).await?;
            }
            Sent::Nothing => store.logout_sent(l.id, now).await?,
            Sent::Retry(at, why) => store.logout_failed(l.id, now, Some(*at), why).await?,
            Sent::GivenUp(why) => store.logout_failed(l.id, now, None, why).await?,
        }
        record(audit, &l, &outcome);
    }
    Ok(delivered)
}

fn record(audit: &crate::audit::Sink, l: &Logout, outcome: &Sent) {
    use crate::audit::{kinds, Event};
    let event = match outcome {
        Sent::Delivered => Event::new(kinds::OIDC_LOGOUT_SENT),
        Sent::GivenUp(why) => Event::new(kinds::OIDC_LOGOUT_FAILED).failed(why),
        _ => return,
    };
    let event = event.by_system("oidc").target_user(l.user_id).change(
        "client",
        None::<String>,
        l.client_id.clone(),
    );
    audit.record(event);
}

async fn send(op: &OidcProvider, provider: &super::Provider, l: &Logout, now: i64) -> Sent {
    let Some(client) = op.clients.get(&l.client_id) else {
        return Sent::Nothing;
    };
    let Some(uri) = &client.backchannel_logout_uri else {
        return Sent::Nothing;
    };
    let subject = claims::subject(client, l.user_id, &provider.pairwise_salt());
    let body = claims::logout_token(&op.issuer, &client.id, &subject, &l.session_id, now);
    let Some(token) = provider.keys().sign(claims::LOGOUT_TYP, &body) else {
        return Sent::GivenUp("the logout token could not be signed".into());
    };
    let r = provider
        .http
        .post(uri)
        .timeout(Duration::from_secs(5))
        .form(&[("logout_token", token)])
        .send()
        .await;
    let why = match r {
        Ok(r) if r.status().as_u16() == 200 || r.status().as_u16() == 204 => {
            return Sent::Delivered
        }
        Ok(r) => format!("answered {}", r.status().as_u16()),
        Err(e) if e.is_timeout() => "no answer within 5 s".into(),
        Err(_) => "could not be reached".into(),
    };
    if l.attempts + 1 >= MAX_ATTEMPTS {
        Sent::GivenUp(why)
    } else {
        Sent::Retry(now + backoff(l.attempts), why)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pause_grows_and_is_capped() {
        let pauses: Vec<i64> = (0..9).map(super::backoff).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }
}
