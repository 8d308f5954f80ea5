//! Groups, by source: the admin's own (`local`) and each identity provider's, read from its
//! claims at every sign-in. A source replaces only its own; a change reaches this instance's
//! cached sessions at once and other instances through the store (the change feed, or the
//! poll of changed users).

use crate::error::Reject;
use crate::state::State;
use crate::store::{now, User};
use serde_json::{Map, Value};

/// Replaces the groups `source` gives the user with `names` (already a valid, sorted set);
/// the user as now stored when that changed anything, `None` otherwise. `by`: the system
/// that changes them (a provider's sign-in), else the request's caller (an admin).
pub async fn set(
    state: &State,
    user_id: i64,
    source: &str,
    names: &[String],
    by: Option<&str>,
) -> Result<Option<User>, Reject> {
    if !state
        .store
        .set_groups(
            user_id,
            source,
            names,
            now(),
            Some(&crate::audit::changes::of_groups(user_id, source, by)),
        )
        .await?
    {
        return Ok(None);
    }
    let user = state.store.user_by_id(user_id).await?;
    if let Some(u) = &user {
        state.user_changed(u);
    }
    Ok(user)
}

/// The groups a provider's claims name at `pointer` (a string or a list of strings). Names
/// outside the group alphabet are left out, saying so in the log; a missing claim is no group.
pub fn from_claims(provider: &str, pointer: &str, claims: &Map<String, Value>) -> Vec<String> {
    let found = crate::config::pointer::resolve(claims, &crate::config::pointer::tokens(pointer));
    let names: Vec<&str> = match found {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            tracing::warn!(
                provider,
                claim = pointer,
                "the groups claim is neither a string nor a list of strings; no groups taken"
            );
            Vec::new()
        }
    };
    let (good, bad): (Vec<&str>, Vec<&str>) =
        names.into_iter().partition(|n| crate::groups::valid(n));
    if !bad.is_empty() {
        tracing::warn!(
            provider,
            claim = pointer,
            left_out = bad.len(),
            "group names outside A-Z a-z 0-9 . _ : @ / - (at most 64 characters) were left out"
        );
    }
    let mut out: Vec<String> = good.into_iter().map(str::to_string).collect();
    out.sort();
    out.dedup();
    out.truncate(crate::groups::MAX_PER_SOURCE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pointer_reaches_nested_claims_strings_and_lists() {
        let c = json!({
            "groups": ["eng", "ops", "eng"],
            "realm_access": {"roles": ["editor", "offline access"]},
            "team": "blue",
            "odd": 3,
        });
        let c = c.as_object().unwrap();
        assert_eq!(from_claims("p", "/groups", c), ["eng", "ops"]);
        assert_eq!(
            from_claims("p", "/realm_access/roles", c),
            ["editor"],
            "a name with a space is left out"
        );
        assert_eq!(from_claims("p", "/team", c), ["blue"]);
        assert!(from_claims("p", "/odd", c).is_empty());
        assert!(from_claims("p", "/missing/x", c).is_empty());
    }
}
