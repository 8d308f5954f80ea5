//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON, before the mapping reads it back:
//! `add`, `replace` and `remove`, with and without `path`, attribute paths with a schema URN
//! (`urn:…:enterprise:2.0:User:department`) and value-filter paths
//! (`emails[type eq "work"].value`, `members[value eq "…"]`). Operation names and attribute
//! names are case-insensitive (Entra ID sends `Replace`, `Add`; RFC 7643 §2.1). Either every
//! operation applies or none does: the caller keeps the original on an error.

use super::attr;
use scim_proto::filter::ScimComplexFilter;
use serde_json::{Map, Value};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A refusal, by its RFC 7644 §3.12 `scimType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    InvalidSyntax(String),
    InvalidPath(String),
    NoTarget(String),
    InvalidValue(String),
}

impl PatchError {
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidSyntax(_) => "invalidSyntax",
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::InvalidValue(_) => "invalidValue",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            PatchError::InvalidSyntax(d)
            | PatchError::InvalidPath(d)
            | PatchError::NoTarget(d)
            | PatchError::InvalidValue(d) => d,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// A parsed `path` (RFC 7644 §3.5.2, `PATH = attrPath / valuePath [subAttr]`).
#[derive(Debug)]
struct Path {
    /// The extension schema the attribute lives under, if the path names one.
    urn: Option<String>,
    attr: String,
    filter: Option<ScimComplexFilter>,
    sub: Option<String>,
}

/// Applies the PatchOp `body` to `resource`.
pub fn apply(resource: &Value, body: &Value) -> Result<Value, PatchError> {
    let syntax = |d: &str| PatchError::InvalidSyntax(d.to_string());
    let body = body
        .as_object()
        .ok_or_else(|| syntax("The body is not a JSON object"))?;
    let schemas = attr(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_OP))) {
        return Err(syntax(
            "schemas must name urn:ietf:params:scim:api:messages:2.0:PatchOp",
        ));
    }
    let ops = attr(body, "Operations")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| syntax("Operations must be a non-empty array"))?;
    let mut out = resource.clone();
    for o in ops {
        let o = o
            .as_object()
            .ok_or_else(|| syntax("An operation is not an object"))?;
        let op = match attr(o, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            Some(s) if s == "add" => Op::Add,
            Some(s) if s == "replace" => Op::Replace,
            Some(s) if s == "remove" => Op::Remove,
            _ => return Err(syntax("op must be add, replace or remove")),
        };
        let path = match attr(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(parse_path(p)?),
            Some(_) => return Err(PatchError::InvalidPath("path must be a string".into())),
        };
        let value = attr(o, "value");
        let target = out
            .as_object_mut()
            .ok_or_else(|| syntax("The resource is not an object"))?;
        match (op, path, value) {
            (Op::Remove, None, _) => {
                return Err(PatchError::NoTarget(
                    "remove needs a path (§3.5.2.2)".into(),
                ))
            }
            (Op::Remove, Some(p), _) => remove(target, &p)?,
            (_, _, None) => return Err(PatchError::InvalidValue("value is missing".into())),
            // §3.5.2.1 / §3.5.2.3 without a path: the value is an object of attributes.
            (op, None, Some(Value::Object(attrs))) => {
                for (k, v) in attrs {
                    match v {
                        // An extension's attributes under its schema URN, as a whole object.
                        Value::Object(ext) if is_urn(k) => {
                            for (a, x) in ext {
                                let mut p = parse_path(a)?;
                                p.urn = Some(k.clone());
                                set(target, &p, x, op)?;
                            }
                        }
                        _ => set(target, &parse_path(k)?, v, op)?,
                    }
                }
            }
            (_, None, Some(_)) => {
                return Err(PatchError::InvalidValue(
                    "Without a path, value must be an object of attributes".into(),
                ))
            }
            (op, Some(p), Some(v)) => set(target, &p, v, op)?,
        }
    }
    Ok(out)
}

/// The key of `m` spelling `name` (any case), or `name` itself for a new one.
fn key_ci(m: &Map<String, Value>, name: &str) -> String {
    m.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|h| h.eq_ignore_ascii_case("urn:"))
}

fn parse_path(p: &str) -> Result<Path, PatchError> {
    let bad = || PatchError::InvalidPath(format!("{p:?} is not a SCIM attribute path"));
    if p.len() > super::filter::MAX_LEN {
        return Err(bad());
    }
    // A schema URN ends at the last ':' before the attribute (RFC 7644 §3.10).
    let (urn, rest) = match is_urn(p) {
        true => {
            let before = p.find('[').unwrap_or(p.len());
            let at = p[..before].rfind(':').ok_or_else(bad)?;
            (Some(p[..at].to_string()), &p[at + 1..])
        }
        false => (None, p),
    };
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest.rfind(']').filter(|c| *c > open).ok_or_else(bad)?;
            let inner = &rest[open + 1..close];
            super::filter::bounded(inner).map_err(|_| bad())?;
            let f: ScimComplexFilter = inner.parse().map_err(|_| bad())?;
            let tail = &rest[close + 1..];
            let tail = match tail.strip_prefix('.') {
                Some(t) => Some(t),
                None if tail.is_empty() => None,
                None => return Err(bad()),
            };
            (&rest[..open], Some(f), tail)
        }
        None => match rest.split_once('.') {
            Some((a, s)) => (a, None, Some(s)),
            None => (rest, None, None),
        },
    };
    let name_ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !name_ok(head) || !tail.is_none_or(name_ok) {
        return Err(bad());
    }
    Ok(Path {
        urn,
        attr: head.to_string(),
        filter,
        sub: tail.map(str::to_string),
    })
}

/// The object an attribute of `p` lives in: the resource, or its extension's object.
fn container<'a>(
    target: &'a mut Map<String, Value>,
    p: &Path,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(urn) = &p.urn else {
        return Some(target);
    };
    let key = key_ci(target, urn);
    if !target.contains_key(&key) {
        if !create {
            return None;
        }
        target.insert(key.clone(), Value::Object(Map::new()));
    }
    target.get_mut(&key)?.as_object_mut()
}

fn set(target: &mut Map<String, Value>, p: &Path, v: &Value, op: Op) -> Result<(), PatchError> {
    let m = container(target, p, true)
        .ok_or_else(|| PatchError::InvalidPath("The extension is not an object".into()))?;
    let key = key_ci(m, &p.attr);
    match (&p.filter, &p.sub) {
        (None, None) => {
            match (op, m.get_mut(&key), v) {
                // §3.5.2.1: add to a multi-valued attribute appends, leaving out duplicates.
                (Op::Add, Some(Value::Array(have)), Value::Array(more)) => {
                    for x in more {
                        if !have.contains(x) {
                            have.push(x.clone());
                        }
                    }
                }
                // Add to a complex attribute merges its sub-attributes.
                (Op::Add, Some(Value::Object(have)), Value::Object(more)) => {
                    for (k, x) in more {
                        let k = key_ci(have, k);
                        have.insert(k, x.clone());
                    }
                }
                _ => {
                    m.insert(key, v.clone());
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let entry = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let obj = entry.as_object_mut().ok_or_else(|| {
                PatchError::InvalidPath(format!("{} has no sub-attributes", p.attr))
            })?;
            let k = key_ci(obj, sub);
            obj.insert(k, v.clone());
            Ok(())
        }
        (Some(f), sub) => {
            let entry = m.entry(key).or_insert_with(|| Value::Array(vec![]));
            let items = entry.as_array_mut().ok_or_else(|| {
                PatchError::InvalidPath(format!("{} is not multi-valued", p.attr))
            })?;
            let mut hit = false;
            for item in items.iter_mut().filter(|i| matches(i, f)) {
                hit = true;
                match (sub, item.as_object_mut()) {
                    (Some(s), Some(obj)) => {
                        let k = key_ci(obj, s);
                        obj.insert(k, v.clone());
                    }
                    _ => *item = v.clone(),
                }
            }
            if hit {
                return Ok(());
            }
            // Nothing matched: Entra ID's `emails[type eq "work"].value` on a user without a
            // work address means "add one"; that needs the filter to be an `eq` to copy.
            match (sub, f) {
                (Some(s), ScimComplexFilter::Equal(a, want)) => {
                    let mut obj = Map::new();
                    obj.insert(a.clone(), want.clone());
                    obj.insert(s.clone(), v.clone());
                    items.push(Value::Object(obj));
                    Ok(())
                }
                _ => Err(PatchError::NoTarget(format!(
                    "No value of {} matches the filter",
                    p.attr
                ))),
            }
        }
    }
}

fn remove(target: &mut Map<String, Value>, p: &Path) -> Result<(), PatchError> {
    let Some(m) = container(target, p, false) else {
        return Ok(());
    };
    let key = key_ci(m, &p.attr);
    match (&p.filter, &p.sub) {
        (None, None) => {
            m.remove(&key);
        }
        (None, Some(sub)) => {
            if let Some(Value::Object(obj)) = m.get_mut(&key) {
                let k = key_ci(obj, sub);
                obj.remove(&k);
            }
        }
        (Some(f), sub) => {
            if let Some(Value::Array(items)) = m.get_mut(&key) {
                match sub {
                    None => items.retain(|i| !matches(i, f)),
                    Some(s) => {
                        for item in items.iter_mut().filter(|i| matches(i, f)) {
                            if let Some(obj) = item.as_object_mut() {
                                let k = key_ci(obj, s);
                                obj.remove(&k);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether a value of a multi-valued attribute passes a value filter. Strings compare
/// case-insensitively (the sub-attributes filtered on in practice, `type`, `value`, are not
/// `caseExact`).
fn matches(item: &Value, f: &ScimComplexFilter) -> bool {
    use ScimComplexFilter as F;
    let field = |name: &str| item.as_object().and_then(|o| attr(o, name));
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let cmp = |name: &str, want: &Value, test: fn(&str, &str) -> bool| match (
        field(name).and_then(text),
        text(want),
    ) {
        (Some(have), Some(want)) => test(&have, &want),
        _ => false,
    };
    match f {
        F::Or(a, b) => matches(item, a) || matches(item, b),
        F::And(a, b) => matches(item, a) && matches(item, b),
        F::Not(a) => !matches(item, a),
        F::Present(name) => field(name).is_some_and(|v| !v.is_null()),
        F::Equal(n, v) => cmp(n, v, |a, b| a == b),
        F::NotEqual(n, v) => !cmp(n, v, |a, b| a == b),
        F::Contains(n, v) => cmp(n, v, |a, b| a.contains(b)),
        F::StartsWith(n, v) => cmp(n, v, |a, b| a.starts_with(b)),
        F::EndsWith(n, v) => cmp(n, v, |a, b| a.ends_with(b)),
        F::Greater(..) | F::Less(..) | F::GreaterOrEqual(..) | F::LessOrEqual(..) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(ops: Value) -> Value {
        json!({ "schemas": [PATCH_OP], "Operations": ops })
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bjensen@example.com",
            "active": true,
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "emails": [{ "value": "bjensen@example.com", "type": "work", "primary": true }]
        })
    }

    #[test]
    fn entra_id_sequences_apply() {
        // Entra ID's deactivation: capitalised op, a string boolean (read by the mapping).
        let out = apply(
            &user(),
            &patch(json!([{ "op": "Replace", "path": "active", "value": "False" }])),
        )
        .unwrap();
        assert_eq!(out["active"], "False");
        // Entra ID's attribute update by value-filter path, and its Add of an extension
        // attribute by URN path.
        let out = apply(
            &user(),
            &patch(json!([
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com" },
                { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour Operations" },
                { "op": "Replace", "path": "name.familyName", "value": "Jensen-Smith" }
            ])),
        )
        .unwrap();
        assert_eq!(out["emails"][0]["value"], "barbara@example.com");
        assert_eq!(
            out["emails"][0]["primary"], true,
            "the rest of the value is kept"
        );
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Tour Operations"
        );
        assert_eq!(
            out["name"],
            json!({ "givenName": "Barbara", "familyName": "Jensen-Smith" })
        );
        // A filter that matches nothing, under add: a value is made from the filter's eq.
        let out = apply(&user(), &patch(json!([{ "op": "Add", "path": "emails[type eq \"home\"].value", "value": "b@home.test" }]))).unwrap();
        assert_eq!(
            out["emails"][1],
            json!({ "type": "home", "value": "b@home.test" })
        );
    }

    #[test]
    fn okta_sequences_apply() {
        // Okta's deactivation: no path, an object of attributes (RFC 7644 §3.5.2.3).
        let out = apply(
            &user(),
            &patch(json!([{ "op": "replace", "value": { "active": false } }])),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        // An extension's attributes as one object under its URN, without a path.
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let out = apply(&user(), &patch(json!([{ "op": "add", "value": { ext: { "employeeNumber": "701984" }, "title": "Tour Guide" } }]))).unwrap();
        assert_eq!(out[ext], json!({ "employeeNumber": "701984" }));
        assert_eq!(out["title"], "Tour Guide");
        // Okta's group push: members added (duplicates left out), then removed by filter.
        let group = json!({ "displayName": "Eng", "members": [{ "value": "1" }] });
        let out = apply(&group, &patch(json!([{ "op": "add", "path": "members", "value": [{ "value": "1" }, { "value": "2" }] }]))).unwrap();
        assert_eq!(out["members"], json!([{ "value": "1" }, { "value": "2" }]));
        let out = apply(
            &out,
            &patch(json!([{ "op": "remove", "path": "members[value eq \"1\"]" }])),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{ "value": "2" }]));
        let out = apply(
            &out,
            &patch(
                json!([{ "op": "replace", "value": { "id": "g1", "displayName": "Engineering" } }]),
            ),
        )
        .unwrap();
        assert_eq!(out["displayName"], "Engineering");
    }

    #[test]
    fn attribute_names_are_case_insensitive_and_keep_their_spelling() {
        // RFC 7643 §2.1.
        let out = apply(
            &user(),
            &patch(json!([{ "op": "REPLACE", "path": "USERNAME", "value": "b@x.test" }])),
        )
        .unwrap();
        assert_eq!(out["userName"], "b@x.test");
        assert!(out.get("USERNAME").is_none());
    }

    #[test]
    fn remove_takes_values_and_attributes() {
        let out = apply(
            &user(),
            &patch(json!([{ "op": "remove", "path": "name.givenName" }])),
        )
        .unwrap();
        assert_eq!(out["name"], json!({ "familyName": "Jensen" }));
        let out = apply(
            &user(),
            &patch(json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }])),
        )
        .unwrap();
        assert_eq!(out["emails"], json!([]));
        let out = apply(
            &user(),
            &patch(json!([{ "op": "remove", "path": "emails" }])),
        )
        .unwrap();
        assert!(out.get("emails").is_none());
        // Removing what is not there changes nothing.
        let out = apply(
            &user(),
            &patch(json!([{ "op": "remove", "path": "title" }])),
        )
        .unwrap();
        assert_eq!(out, user());
    }

    #[test]
    fn malformed_requests_are_refused_by_their_scim_type() {
        let t = |body: Value| apply(&user(), &body).unwrap_err().scim_type();
        // RFC 7644 §3.12.
        assert_eq!(t(json!({ "Operations": [] })), "invalidSyntax");
        assert_eq!(t(json!({ "schemas": [PATCH_OP] })), "invalidSyntax");
        assert_eq!(t(json!([1])), "invalidSyntax");
        assert_eq!(
            t(patch(json!([{ "op": "move", "path": "x", "value": 1 }]))),
            "invalidSyntax"
        );
        assert_eq!(t(patch(json!([{ "op": "remove" }]))), "noTarget");
        assert_eq!(
            t(patch(json!([{ "op": "add", "path": "title" }]))),
            "invalidValue"
        );
        assert_eq!(
            t(patch(json!([{ "op": "add", "value": "x" }]))),
            "invalidValue"
        );
        for path in [
            "",
            "1abc",
            "emails[type eq",
            "emails[type eq \"w\"]x",
            "a.b.c",
            "emails[nonsense]",
        ] {
            assert_eq!(
                t(patch(json!([{ "op": "add", "path": path, "value": 1 }]))),
                "invalidPath",
                "{path:?}"
            );
        }
        assert_eq!(
            t(patch(
                json!([{ "op": "replace", "path": "emails[type ne \"work\"].value", "value": "x" }])
            )),
            "noTarget"
        );
        // A failing operation leaves nothing half-applied: the caller's resource is untouched
        // and no partial result is returned.
        let before = user();
        let body = patch(json!([
            { "op": "replace", "path": "active", "value": false },
            { "op": "remove" }
        ]));
        assert!(apply(&before, &body).is_err());
        assert_eq!(before, user());
    }
}
