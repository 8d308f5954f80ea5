//! Storage of the audit trail: a table the gateway only appends to (the migrations' triggers
//! refuse `UPDATE` and `DELETE` outside the retention purge), each row chained to the one
//! before it: `hash = SHA-256(prev_hash ‖ canonical JSON of the row)`. Every append first
//! takes the one-row `audit_head` (a write lock on SQLite, a row lock on PostgreSQL), so the
//! processes and instances sharing a database append one at a time, in `seq` order, with no
//! gaps. An event of an account change is appended in the change's own transaction.

use super::StoreResult;
use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append: everything but its place in the chain (`seq`, `prev_hash`, `hash`),
/// which the append gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    /// Unix milliseconds, UTC.
    pub ts: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    /// Without the query string.
    pub path: Option<String>,
    /// JSON `{field: {from, to}}` of allow-listed fields.
    pub changes: Option<String>,
    pub instance: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub ts: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub changes: Option<String>,
    pub instance: String,
    pub prev_hash: String,
    pub hash: String,
}

pub(super) const AUDIT_COLS: &str = "seq, id, ts, type, outcome, reason, actor_type, actor_id, actor_email, \
     target_type, target_id, client_ip, user_agent, request_id, method, host, path, changes, instance, prev_hash, hash";

/// The row as hashed: every column but `hash`, in this order, as JSON (serde writes a struct's
/// fields in declaration order, so the text is the same on every machine and version).
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    id: &'a str,
    ts: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    outcome: &'a str,
    reason: Option<&'a str>,
    actor_type: &'a str,
    actor_id: Option<&'a str>,
    actor_email: Option<&'a str>,
    target_type: Option<&'a str>,
    target_id: Option<&'a str>,
    client_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    method: Option<&'a str>,
    host: Option<&'a str>,
    path: Option<&'a str>,
    changes: Option<&'a str>,
    instance: &'a str,
    prev_hash: &'a str,
}

impl AuditRow {
    /// The row `e` becomes at `seq` after `prev_hash`, hash included.
    pub fn chained(e: &NewEvent, seq: i64, prev_hash: &str) -> AuditRow {
        let mut row = AuditRow {
            seq,
            id: e.id.clone(),
            ts: e.ts,
            kind: e.kind.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            actor_type: e.actor_type.clone(),
            actor_id: e.actor_id.clone(),
            actor_email: e.actor_email.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            client_ip: e.client_ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            method: e.method.clone(),
            host: e.host.clone(),
            path: e.path.clone(),
            changes: e.changes.clone(),
            instance: e.instance.clone(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        row.hash = row.computed_hash();
        row
    }

    /// The canonical JSON of the row (all but `hash`).
    pub fn canonical(&self) -> String {
        let c = Canonical {
            seq: self.seq,
            id: &self.id,
            ts: self.ts,
            kind: &self.kind,
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            actor_type: &self.actor_type,
            actor_id: self.actor_id.as_deref(),
            actor_email: self.actor_email.as_deref(),
            target_type: self.target_type.as_deref(),
            target_id: self.target_id.as_deref(),
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: self.request_id.as_deref(),
            method: self.method.as_deref(),
            host: self.host.as_deref(),
            path: self.path.as_deref(),
            changes: self.changes.as_deref(),
            instance: &self.instance,
            prev_hash: &self.prev_hash,
        };
        // A struct of strings and integers always serialises.
        serde_json::to_string(&c).unwrap_or_default()
    }

    /// `SHA-256(prev_hash ‖ canonical JSON)`, hex.
    pub fn computed_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(self.canonical().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `events` for a user just created: a `user` target without an id is this user.
pub fn for_new_user(events: &[NewEvent], id: i64) -> Vec<NewEvent> {
    events
        .iter()
        .cloned()
        .map(|mut e| {
            if e.target_type.as_deref() == Some("user") && e.target_id.is_none() {
                e.target_id = Some(id.to_string());
            }
            e
        })
        .collect()
}

/// A copy of `template` for each session of `ids` ended, naming it in `changes`.
pub fn per_session(template: &NewEvent, ids: &[String]) -> Vec<NewEvent> {
    ids.iter()
        .map(|id| NewEvent {
            id: uuid::Uuid::new_v4().to_string(),
            changes: Some(serde_json::json!({"session": {"from": id, "to": null}}).to_string()),
            ..template.clone()
        })
        .collect()
}

/// What the admin's event list asks for. Every filter is optional; newest first, from
/// `before_seq` (the cursor) down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// An exact type, or a prefix ending in `.` (`authn.`).
    pub kind: Option<String>,
    /// A user id (`actor_id`), or an address (`actor_email`).
    pub actor: Option<String>,
    pub actor_is_email: bool,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until: Option<i64>,
    pub before_seq: Option<i64>,
    pub limit: i64,
    /// Events of one user: as actor or as target (the account page's own events).
    pub user: Option<String>,
}

#[async_trait]
pub trait AuditStore {
    /// Appends events in their own transaction (the request path's queue).
    async fn append_audit(&self, events: &[NewEvent]) -> StoreResult<()>;
    /// Newest first, as `q` filters.
    async fn audit_page(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRow>>;
    /// Up to `limit` rows after `after_seq`, in order: verification reads the chain so.
    async fn audit_rows_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    async fn audit_event(&self, id: &str) -> StoreResult<Option<AuditRow>>;
    /// The head: the last `seq` appended and its hash.
    async fn audit_head(&self) -> StoreResult<(i64, String)>;
    /// Deletes the oldest events, those up to the newest one older than `before_ms` (a prefix
    /// of the chain, so it stays whole), then appends `record` with what was purged and the
    /// new first row's `prev_hash` in its `changes`. How many rows went.
    async fn purge_audit(&self, before_ms: i64, record: NewEvent) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> NewEvent {
        NewEvent {
            id: "e-1".into(),
            ts: 1_000,
            kind: "user.created".into(),
            outcome: "success".into(),
            actor_type: "system".into(),
            instance: "i".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_hash_covers_the_row_and_the_one_before() {
        let a = AuditRow::chained(&event(), 1, GENESIS);
        assert_eq!(a.hash, a.computed_hash());
        assert_eq!(a.hash.len(), 64);
        let b = AuditRow::chained(&event(), 2, &a.hash);
        assert_ne!(a.hash, b.hash, "seq and prev_hash are hashed");
        // Any column changed changes the hash, null and empty included.
        let mut c = a.clone();
        c.reason = Some(String::new());
        assert_ne!(c.computed_hash(), a.hash);
        let mut d = a.clone();
        d.changes = Some("{}".into());
        assert_ne!(d.computed_hash(), a.hash);
        let mut e = a.clone();
        e.prev_hash = "1".repeat(64);
        assert_ne!(e.computed_hash(), a.hash);
    }

    #[test]
    fn the_canonical_form_is_fixed() {
        let a = AuditRow::chained(&event(), 1, GENESIS);
        assert_eq!(
            a.canonical(),
            format!(
                "{{\"seq\":1,\"id\":\"e-1\",\"ts\":1000,\"type\":\"user.created\",\"outcome\":\"success\",\"reason\":null,\"actor_type\":\"system\",\"actor_id\":null,\"actor_email\":null,\"target_type\":null,\"target_id\":null,\"client_ip\":null,\"user_agent\":null,\"request_id\":null,\"method\":null,\"host\":null,\"path\":null,\"changes\":null,\"instance\":\"i\",\"prev_hash\":\"{GENESIS}\"}}"
            )
        );
    }
}
