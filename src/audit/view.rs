//! An event as JSON, one shape for the API, the JSON-lines output and the console: nested
//! `actor`, `target`, `client`, `request`, `changes` as an object, `ts` in RFC 3339 (UTC).

use crate::store::AuditRow;
use serde_json::{json, Value};

/// RFC 3339 in UTC, to the millisecond.
pub fn rfc3339_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

pub fn json(r: &AuditRow) -> Value {
    let changes = r
        .changes
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok());
    json!({
        "id": r.id,
        "seq": r.seq,
        "ts": rfc3339_ms(r.ts),
        "type": r.kind,
        "outcome": r.outcome,
        "reason": r.reason,
        "actor": {"type": r.actor_type, "id": r.actor_id, "email": r.actor_email},
        "target": r.target_type.as_ref().map(|t| json!({"type": t, "id": r.target_id})),
        "client": {"ip": r.client_ip, "user_agent": r.user_agent},
        "request": {"id": r.request_id, "method": r.method, "host": r.host, "path": r.path},
        "changes": changes,
        "instance": r.instance,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_millisecond() {
        assert_eq!(rfc3339_ms(1_764_931_200_123), "2025-12-05T10:40:00.123Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }
}
