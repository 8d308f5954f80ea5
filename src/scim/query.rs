//! A list's page (RFC 7644 §3.4.2.4) and which attributes come back (§3.4.2.5).

use serde_json::{Map, Value};

/// A page of a list: the store's offset and limit, and the `startIndex` to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
    pub start_index: u64,
}

/// Why a query parameter is refused: a 400 `invalidValue` with this detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// §3.4.2.4: `startIndex` is 1-based, below 1 read as 1; `count` below 0 is 0, above
/// `max_results` is `max_results`, absent is `max_results`.
pub fn page(
    start_index: Option<&str>,
    count: Option<&str>,
    max_results: u32,
) -> Result<Page, Invalid> {
    let int = |name: &str, v: Option<&str>| -> Result<Option<i64>, Invalid> {
        v.map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| Invalid(format!("{name} must be an integer")))
        })
        .transpose()
    };
    let start = int("startIndex", start_index)?.unwrap_or(1).max(1) as u64;
    let limit = int("count", count)?
        .unwrap_or(i64::from(max_results))
        .clamp(0, i64::from(max_results)) as u64;
    Ok(Page {
        offset: start - 1,
        limit,
        start_index: start,
    })
}

/// Attributes returned whatever is asked (RFC 7643 §3.1, §7 "returned: always").
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// Keeps only `attributes` (plus the ones always returned), or drops `excluded` (never
/// those): comma-separated names, with or without a schema URN, `attr` or `attr.sub`.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let names = |list: &str| -> Vec<(String, Option<String>)> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                // `urn:…:User:name.givenName` → `name.givenName` (core attributes only).
                let s = match s.get(..4) {
                    Some(h) if h.eq_ignore_ascii_case("urn:") => {
                        s.rsplit_once(':').map_or(s, |(_, a)| a)
                    }
                    _ => s,
                };
                match s.split_once('.') {
                    Some((a, sub)) => (a.to_ascii_lowercase(), Some(sub.to_ascii_lowercase())),
                    None => (s.to_ascii_lowercase(), None),
                }
            })
            .collect()
    };
    let always = |k: &str| ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k));
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        let keys: Vec<String> = obj.keys().cloned().collect();
        for k in keys {
            let lower = k.to_ascii_lowercase();
            let subs: Vec<&Option<String>> = wanted
                .iter()
                .filter(|(a, _)| *a == lower)
                .map(|(_, s)| s)
                .collect();
            if always(&k) {
                continue;
            }
            if subs.is_empty() {
                obj.remove(&k);
            } else if subs.iter().all(|s| s.is_some()) {
                // Only some sub-attributes were asked for.
                let keep: Vec<&str> = subs.iter().filter_map(|s| s.as_deref()).collect();
                if let Some(v) = obj.get_mut(&k) {
                    retain_subs(v, |k| keep.iter().any(|s| s.eq_ignore_ascii_case(k)));
                }
            }
        }
    } else if let Some(list) = excluded {
        for (a, sub) in names(list) {
            let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case(&a)).cloned() else {
                continue;
            };
            match sub {
                _ if always(&k) => {}
                None => {
                    obj.remove(&k);
                }
                Some(s) => {
                    if let Some(v) = obj.get_mut(&k) {
                        retain_subs(v, |k| !k.eq_ignore_ascii_case(&s));
                    }
                }
            }
        }
    }
}

/// Keeps the sub-attributes `keep` says yes to, of a complex value or of each value of a
/// multi-valued one.
fn retain_subs(v: &mut Value, keep: impl Fn(&str) -> bool) {
    let only = |m: &mut Map<String, Value>| m.retain(|k, _| keep(k));
    match v {
        Value::Object(m) => only(m),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(only),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_follow_rfc_7644_3_4_2_4() {
        let p = |s: Option<&str>, c: Option<&str>| page(s, c, 100);
        assert_eq!(
            p(None, None),
            Ok(Page {
                offset: 0,
                limit: 100,
                start_index: 1
            })
        );
        assert_eq!(
            p(Some("11"), Some("10")),
            Ok(Page {
                offset: 10,
                limit: 10,
                start_index: 11
            })
        );
        // Below 1 is 1; a negative count is 0; more than maxResults is maxResults.
        assert_eq!(
            p(Some("0"), Some("-5")),
            Ok(Page {
                offset: 0,
                limit: 0,
                start_index: 1
            })
        );
        assert_eq!(
            p(Some("-3"), Some("1000")),
            Ok(Page {
                offset: 0,
                limit: 100,
                start_index: 1
            })
        );
        assert!(p(Some("x"), None).is_err());
        assert!(p(None, Some("1.5")).is_err());
        assert!(p(Some("99999999999999999999"), None).is_err());
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "7",
            "userName": "b@x.test",
            "name": { "givenName": "B", "familyName": "J" },
            "emails": [{ "value": "b@x.test", "type": "work" }],
            "meta": { "resourceType": "User" }
        })
    }

    #[test]
    fn attributes_keep_what_is_asked_and_what_is_always_returned() {
        // RFC 7644 §3.4.2.5, RFC 7643 §7: id and schemas are always returned.
        let mut u = user();
        project(&mut u, Some("userName,name.givenName"), None);
        assert_eq!(
            u,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "7",
                "userName": "b@x.test",
                "name": { "givenName": "B" }
            })
        );
        let mut u = user();
        project(
            &mut u,
            Some("urn:ietf:params:scim:schemas:core:2.0:User:USERNAME"),
            None,
        );
        assert_eq!(u["userName"], "b@x.test");
        assert!(u.get("emails").is_none());
    }

    #[test]
    fn excluded_attributes_drop_all_but_what_is_always_returned() {
        // Okta's group look-up: excludedAttributes=members.
        let mut g = json!({ "schemas": ["g"], "id": "1", "displayName": "Eng", "members": [{ "value": "7" }] });
        project(&mut g, None, Some("members"));
        assert_eq!(
            g,
            json!({ "schemas": ["g"], "id": "1", "displayName": "Eng" })
        );
        let mut u = user();
        project(&mut u, None, Some("id, emails.type, meta"));
        assert_eq!(u["id"], "7", "never excluded");
        assert_eq!(u["emails"], json!([{ "value": "b@x.test" }]));
        assert!(u.get("meta").is_none());
    }
}
