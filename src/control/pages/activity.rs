//! The account page's "Recent activity": the user's own sign-ins (with the address and device
//! they came from) and changes to their factors and keys, read from the audit trail.

use crate::audit::kinds;
use crate::control::web::views::device;
use crate::error::Reject;
use crate::state::State;
use crate::store::AuditQuery;
use minijinja::{context, Value};

/// How many events the page shows.
const SHOWN: usize = 10;

/// What the page says an event was, for the kinds it shows; `None` for the rest.
pub fn headline(kind: &str) -> Option<&'static str> {
    Some(match kind {
        kinds::LOGIN_SUCCEEDED => "Signed in",
        kinds::LOGIN_FAILED => "Sign-in refused",
        kinds::MFA_FAILED => "Second-step code refused",
        kinds::PASSWORD_CHANGED => "Password changed",
        kinds::PASSWORD_RESET_REQUESTED => "Password reset link asked for",
        kinds::PASSWORD_RESET_COMPLETED => "Password reset",
        kinds::EMAIL_CHANGED => "Email address changed",
        kinds::TOTP_ENROLLED => "Authenticator app turned on",
        kinds::TOTP_REMOVED => "Authenticator app turned off",
        kinds::PASSKEY_REGISTERED => "Passkey added",
        kinds::PASSKEY_REMOVED => "Passkey removed",
        kinds::RECOVERY_CODES_GENERATED => "New recovery codes made",
        kinds::RECOVERY_CODE_USED => "Recovery code used",
        kinds::API_KEY_CREATED => "API key created",
        kinds::API_KEY_REVOKED => "API key revoked",
        kinds::OAUTH_LINKED => "Sign-in provider linked",
        _ => return None,
    })
}

/// The user's latest events of the kinds above, newest first, ready for the template.
pub async fn recent(state: &State, uid: i64) -> Result<Vec<Value>, Reject> {
    let rows = state
        .store
        .audit_page(&AuditQuery {
            user: Some(uid.to_string()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r, headline(&r.kind)?)))
        .take(SHOWN)
        .map(|(r, what)| {
            let (browser, os, _) = device(r.user_agent.as_deref());
            let by_admin =
                r.actor_type == "admin" && r.actor_id.as_deref() != Some(&uid.to_string());
            context! {
                what, kind => r.kind, failed => r.outcome != "success",
                when => crate::audit::view::rfc3339_ms(r.ts),
                ip => r.client_ip, browser, os,
                by => by_admin.then(|| r.actor_email.clone()).flatten(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_kind_it_names_is_a_known_type() {
        for k in kinds::ALL {
            if headline(k).is_some() {
                assert!(kinds::own_activity(k), "{k}");
            }
        }
        assert!(headline(kinds::AUTHZ_DENIED).is_none());
    }
}
