//! The event types: stable codes an auditor's queries and alerts rely on. Each is written in
//! one place, where its action happens; README "Audit trail" lists them with their fields.

pub const LOGIN_SUCCEEDED: &str = "authn.login.succeeded";
pub const LOGIN_FAILED: &str = "authn.login.failed";
pub const MFA_FAILED: &str = "authn.mfa.failed";
pub const BACKOFF_APPLIED: &str = "authn.backoff.applied";
pub const SESSION_CREATED: &str = "session.created";
pub const SESSION_REVOKED: &str = "session.revoked";
pub const PASSWORD_CHANGED: &str = "credential.password.changed";
pub const PASSWORD_RESET_REQUESTED: &str = "credential.password.reset_requested";
pub const PASSWORD_RESET_COMPLETED: &str = "credential.password.reset_completed";
pub const EMAIL_CHANGED: &str = "credential.email.changed";
pub const TOTP_ENROLLED: &str = "credential.totp.enrolled";
pub const TOTP_REMOVED: &str = "credential.totp.removed";
pub const PASSKEY_REGISTERED: &str = "credential.passkey.registered";
pub const PASSKEY_REMOVED: &str = "credential.passkey.removed";
pub const RECOVERY_CODES_GENERATED: &str = "credential.recovery_codes.generated";
pub const RECOVERY_CODE_USED: &str = "credential.recovery_codes.used";
pub const API_KEY_CREATED: &str = "credential.api_key.created";
pub const API_KEY_REVOKED: &str = "credential.api_key.revoked";
pub const OAUTH_LINKED: &str = "identity.oauth.linked";
pub const USER_CREATED: &str = "user.created";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DEACTIVATED: &str = "user.deactivated";
pub const USER_REACTIVATED: &str = "user.reactivated";
pub const USER_DELETED: &str = "user.deleted";
pub const ROLE_CHANGED: &str = "user.role.changed";
pub const GROUPS_CHANGED: &str = "user.groups.changed";
pub const AUTHZ_DENIED: &str = "authz.denied";
pub const CONFIG_RELOADED: &str = "config.reloaded";
pub const SYSTEM_STARTED: &str = "system.started";
pub const SYSTEM_STOPPED: &str = "system.stopped";
pub const RETENTION_PURGED: &str = "audit.retention_purged";
pub const BACKOFF_CLEARED: &str = "authn.backoff.cleared";
pub const OIDC_AUTHORIZED: &str = "oidc.authorized";
pub const OIDC_CONSENT_GRANTED: &str = "oidc.consent.granted";
pub const OIDC_CONSENT_REVOKED: &str = "oidc.consent.revoked";
pub const OIDC_TOKENS_ISSUED: &str = "oidc.tokens.issued";
pub const OIDC_REFRESH_REUSED: &str = "oidc.refresh.reused";
pub const OIDC_CODE_REUSED: &str = "oidc.code.reused";
pub const OIDC_LOGOUT_SENT: &str = "oidc.logout.sent";
pub const OIDC_LOGOUT_FAILED: &str = "oidc.logout.failed";

/// Every type, for the query's `type` filter and the docs.
pub const ALL: &[&str] = &[
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
    MFA_FAILED,
    BACKOFF_APPLIED,
    BACKOFF_CLEARED,
    SESSION_CREATED,
    SESSION_REVOKED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    PASSWORD_RESET_COMPLETED,
    EMAIL_CHANGED,
    TOTP_ENROLLED,
    TOTP_REMOVED,
    PASSKEY_REGISTERED,
    PASSKEY_REMOVED,
    RECOVERY_CODES_GENERATED,
    RECOVERY_CODE_USED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    OAUTH_LINKED,
    USER_CREATED,
    USER_UPDATED,
    USER_DEACTIVATED,
    USER_REACTIVATED,
    USER_DELETED,
    ROLE_CHANGED,
    GROUPS_CHANGED,
    AUTHZ_DENIED,
    CONFIG_RELOADED,
    SYSTEM_STARTED,
    SYSTEM_STOPPED,
    RETENTION_PURGED,
    OIDC_AUTHORIZED,
    OIDC_CONSENT_GRANTED,
    OIDC_CONSENT_REVOKED,
    OIDC_TOKENS_ISSUED,
    OIDC_REFRESH_REUSED,
    OIDC_CODE_REUSED,
    OIDC_LOGOUT_SENT,
    OIDC_LOGOUT_FAILED,
];

/// Whether `filter` names a type, or a prefix of some ending in `.` (`authn.`).
pub fn known_filter(filter: &str) -> bool {
    if filter.ends_with('.') {
        ALL.iter().any(|k| k.starts_with(filter))
    } else {
        ALL.contains(&filter)
    }
}

/// The types a user's own activity shows (the account page and `/api/auth/audit/me`).
pub fn own_activity(kind: &str) -> bool {
    kind.starts_with("authn.")
        || kind.starts_with("session.")
        || kind.starts_with("credential.")
        || kind.starts_with("identity.")
        || kind.starts_with("user.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for k in ALL {
            assert!(seen.insert(*k), "{k} twice");
            assert!(
                k.split('.').count() >= 2
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{k}"
            );
        }
        assert!(known_filter("authn.") && known_filter("credential.api_key."));
        assert!(
            known_filter("user.created") && !known_filter("user.create") && !known_filter("x.")
        );
    }
}
