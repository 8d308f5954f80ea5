//! The event list's filters as a request gives them (`type`, `actor`, `target`, `ip`, `since`,
//! `until`, `cursor`, `limit`), checked one by one: a bad one is named, never ignored.

use crate::store::AuditQuery;
use std::collections::{BTreeMap, HashMap};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The filters, or a message per bad one.
pub fn parse(q: &HashMap<String, String>) -> Result<AuditQuery, BTreeMap<String, String>> {
    let mut errs = BTreeMap::new();
    let mut out = AuditQuery {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    for k in q.keys() {
        if ![
            "type", "actor", "target", "ip", "since", "until", "cursor", "limit",
        ]
        .contains(&k.as_str())
        {
            errs.insert(k.clone(), "is not a filter of this list".into());
        }
    }
    if let Some(t) = get("type") {
        if super::kinds::known_filter(t) {
            out.kind = Some(t.to_string());
        } else {
            errs.insert(
                "type".into(),
                "must be an event type, or a prefix of some ending in '.' (authn.)".into(),
            );
        }
    }
    if let Some(a) = get("actor") {
        if a.contains('@') {
            out.actor = Some(a.to_ascii_lowercase());
            out.actor_is_email = true;
        } else if a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            out.actor = Some(a.to_string());
        } else {
            errs.insert(
                "actor".into(),
                "must be a user id, an API key id or an email address".into(),
            );
        }
    }
    if let Some(t) = get("target") {
        let (kind, id) = match t.split_once(':') {
            Some((k, id)) => (Some(k), id),
            None => (None, t),
        };
        let kind_ok = kind.is_none_or(|k| ["user", "route", "session"].contains(&k));
        if kind_ok && !id.is_empty() && id.len() <= 128 {
            out.target_type = kind.map(str::to_string);
            out.target_id = Some(id.to_string());
        } else {
            errs.insert(
                "target".into(),
                "must be an id, or type:id with a type of user or route".into(),
            );
        }
    }
    if let Some(ip) = get("ip") {
        match ip.parse::<std::net::IpAddr>() {
            Ok(a) => out.ip = Some(a.to_string()),
            Err(_) => {
                errs.insert("ip".into(), "must be an IP address".into());
            }
        }
    }
    for (k, slot) in [("since", &mut out.since), ("until", &mut out.until)] {
        if let Some(v) = get(k) {
            match v.parse::<jiff::Timestamp>() {
                Ok(t) => *slot = Some(t.as_millisecond()),
                Err(_) => {
                    errs.insert(
                        k.into(),
                        "must be an RFC 3339 time (2026-12-05T10:00:00Z)".into(),
                    );
                }
            }
        }
    }
    if let Some(c) = get("cursor") {
        match c.parse::<i64>() {
            Ok(n) if n > 0 => out.before_seq = Some(n),
            _ => {
                errs.insert("cursor".into(), "must be a cursor this list gave".into());
            }
        }
    }
    if let Some(l) = get("limit") {
        match l.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => out.limit = n,
            _ => {
                errs.insert(
                    "limit".into(),
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                );
            }
        }
    }
    if let (Some(s), Some(u)) = (out.since, out.until) {
        if s >= u {
            errs.insert("until".into(), "must be after since".into());
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// The cursor of the page after `rows` (a page of `limit` asked for): the last row's `seq`
/// when the page was full, `None` at the end.
pub fn next_cursor(rows: &[crate::store::AuditRow], limit: i64) -> Option<i64> {
    if rows.len() as i64 == limit {
        rows.last().map(|r| r.seq)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_are_read_and_bad_ones_named() {
        let ok = parse(&q(&[
            ("type", "authn."),
            ("actor", "Ann@Example.test"),
            ("target", "user:12"),
            ("ip", "::1"),
            ("since", "2026-12-05T10:00:00Z"),
            ("until", "2026-12-06T10:00:00+01:00"),
            ("cursor", "99"),
            ("limit", "10"),
        ]))
        .unwrap();
        assert_eq!(ok.kind.as_deref(), Some("authn."));
        assert_eq!(
            (ok.actor.as_deref(), ok.actor_is_email),
            (Some("ann@example.test"), true)
        );
        assert_eq!(
            (ok.target_type.as_deref(), ok.target_id.as_deref()),
            (Some("user"), Some("12"))
        );
        assert_eq!(ok.ip.as_deref(), Some("::1"));
        assert_eq!(ok.since, Some(1_796_464_800_000));
        assert_eq!((ok.before_seq, ok.limit), (Some(99), 10));
        assert_eq!(parse(&q(&[])).unwrap().limit, DEFAULT_LIMIT);
        let bad = parse(&q(&[
            ("type", "authn"),
            ("actor", "a b"),
            ("target", "group:x"),
            ("ip", "999.1.1.1"),
            ("since", "yesterday"),
            ("cursor", "-1"),
            ("limit", "501"),
            ("sort", "asc"),
        ]))
        .unwrap_err();
        for k in [
            "type", "actor", "target", "ip", "since", "cursor", "limit", "sort",
        ] {
            assert!(bad.contains_key(k), "{k}: {bad:?}");
        }
        let order = parse(&q(&[
            ("since", "2026-12-06T00:00:00Z"),
            ("until", "2026-12-05T00:00:00Z"),
        ]))
        .unwrap_err();
        assert!(order.contains_key("until"));
    }
}
