//! Storage for second factors: TOTP secrets (sealed), recovery-code hashes, passkeys, and the
//! short flows (second-step tokens, WebAuthn challenges) that any instance may finish.

use super::{NewEvent, StoreResult};

/// Makes the audit events of removing a user's factors from what they had: whether TOTP was
/// on, and their passkeys' ids.
pub type FactorEvents = dyn Fn(bool, &[String]) -> Vec<NewEvent> + Send + Sync;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpRow {
    /// Sealed; see `mfa::seal`.
    pub secret: String,
    pub enabled: bool,
    pub last_step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: i64,
    pub user_handle: String,
    /// base64url of the WebAuthn credential id.
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON (public key, counter).
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowRow {
    pub purpose: String,
    pub user_id: Option<i64>,
    pub data: String,
    pub expires_at: i64,
}

#[async_trait]
pub trait MfaStore {
    async fn totp(&self, user_id: i64) -> StoreResult<Option<TotpRow>>;
    /// Stores a secret waiting for its first code; false when TOTP is already enabled.
    async fn put_pending_totp(&self, user_id: i64, secret: &str, now: i64) -> StoreResult<bool>;
    /// Turns a pending secret on at `step` and replaces the recovery codes, in one
    /// transaction; false when it was not pending.
    async fn enable_totp(
        &self,
        user_id: i64,
        step: i64,
        code_hashes: &[String],
        audit: &[NewEvent],
    ) -> StoreResult<bool>;
    /// Accepts time step `step` once: false when it (or a later one) was used already.
    async fn use_totp_step(&self, user_id: i64, step: i64) -> StoreResult<bool>;
    async fn delete_totp(&self, user_id: i64, audit: &[NewEvent]) -> StoreResult<()>;
    async fn replace_recovery_codes(
        &self,
        user_id: i64,
        code_hashes: &[String],
        audit: &[NewEvent],
    ) -> StoreResult<()>;
    /// Consumes an unused code once (`audit` appended only then).
    async fn use_recovery_code(
        &self,
        user_id: i64,
        code_hash: &str,
        now: i64,
        audit: &[NewEvent],
    ) -> StoreResult<bool>;
    async fn recovery_codes_left(&self, user_id: i64) -> StoreResult<i64>;
    /// `Conflict` when the credential id is registered already (to anyone).
    async fn add_passkey(&self, row: &PasskeyRow, audit: &[NewEvent]) -> StoreResult<()>;
    async fn passkeys(&self, user_id: i64) -> StoreResult<Vec<PasskeyRow>>;
    async fn passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<PasskeyRow>>;
    /// Stores the credential's new state (counter) after a sign-in.
    async fn passkey_used(&self, id: &str, passkey: &str, now: i64) -> StoreResult<()>;
    /// `audit` appended only when it was there.
    async fn delete_passkey(&self, user_id: i64, id: &str, audit: &[NewEvent])
        -> StoreResult<bool>;
    /// Removes every factor of a user (TOTP, recovery codes, passkeys, flows); `audit`
    /// makes the events from what there was: (TOTP on, passkey ids).
    async fn reset_mfa(&self, user_id: i64, audit: Option<&FactorEvents>) -> StoreResult<()>;
    async fn put_flow(
        &self,
        flow_hash: &str,
        purpose: &str,
        user_id: Option<i64>,
        data: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// A live flow, left in place.
    async fn flow(&self, flow_hash: &str, purpose: &str, now: i64) -> StoreResult<Option<FlowRow>>;
    /// Removes and returns a live flow: of two concurrent takes one gets it.
    async fn take_flow(
        &self,
        flow_hash: &str,
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<FlowRow>>;
    /// Deletes expired flows; how many.
    async fn purge_flows(&self, now: i64) -> StoreResult<u64>;
}
