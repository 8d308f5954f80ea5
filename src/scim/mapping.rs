//! What a SCIM User's JSON (RFC 7643 §4.1) means for a gateway user: its email, name,
//! active flag, external id and role. Read the same way from POST, PUT and a patched
//! resource, so each path maps alike.

use serde_json::Value;

/// A user as the identity provider describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// From `userName` when it is an address, else the primary (or only) email. The provider
    /// vouches for it, so it is stored verified.
    pub email: String,
    pub name: String,
    pub active: bool,
    pub external_id: Option<String>,
    /// The value at `scim.role_attribute`, when configured and present.
    pub role: Option<String>,
}

/// Why a representation cannot be a user: a 400 `invalidValue` with this detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Reads `v`; `role_attribute` is a path such as `title` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeType`.
pub fn user(v: &Value, role_attribute: Option<&str>) -> Result<Provisioned, Invalid> {
    let bad = |d: &str| Invalid(d.to_string());
    let obj = v
        .as_object()
        .ok_or_else(|| bad("A User is a JSON object"))?;
    let get = |name: &str| super::attr(obj, name);
    // RFC 7643 §4.1.1: userName is required, a non-empty string.
    let user_name = match get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(bad("userName is required and must be a non-empty string")),
    };
    let email = if looks_like_email(&user_name) {
        user_name.clone()
    } else {
        primary_email(get("emails"))
            .ok_or_else(|| bad("userName is not an email address and no email is given"))?
    };
    let name = display(get("name"), get("displayName")).unwrap_or_else(|| user_name.clone());
    let active = match get("active") {
        None | Some(Value::Null) => true,
        Some(v) => boolean(v).ok_or_else(|| bad("active must be true or false"))?,
    };
    let external_id = match get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("externalId must be a string")),
    };
    let role = match role_attribute {
        None => None,
        Some(path) => match at(v, path) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => return Err(Invalid(format!("{path} must be a string"))),
        },
    };
    Ok(Provisioned {
        email,
        name,
        active,
        external_id,
        role,
    })
}

/// A gateway user as a SCIM User (RFC 7643 §4.1), with `meta` (§3.1) and the groups it is in
/// (`(id, displayName)`, read-only here: membership changes go through /Groups).
pub fn user_json(
    u: &crate::store::User,
    external_id: Option<&str>,
    groups: &[(String, String)],
    base: &str,
) -> Value {
    let mut v = serde_json::json!({
        "schemas": [super::discovery::USER],
        "id": u.id.to_string(),
        "userName": u.email,
        "displayName": u.name,
        "name": { "formatted": u.name },
        "active": u.active && u.deleted_at.is_none(),
        "emails": [{ "value": u.email, "type": "work", "primary": true }],
        "groups": groups
            .iter()
            .map(|(id, name)| serde_json::json!({
                "value": id,
                "display": name,
                "$ref": format!("{base}/Groups/{id}"),
            }))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": crate::clock::rfc3339(u.created_at),
            "lastModified": crate::clock::rfc3339(u.updated_at),
            "location": format!("{base}/Users/{}", u.id),
        },
    });
    if let Some(x) = external_id {
        v["externalId"] = x.into();
    }
    v
}

/// A boolean, or the strings Entra ID sends for one (`"True"`, `"False"`, any case).
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn looks_like_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace))
}

/// The email marked `primary`, else the first one (RFC 7643 §2.4: at most one is primary).
fn primary_email(emails: Option<&Value>) -> Option<String> {
    let list = emails?.as_array()?;
    let value = |e: &Value| {
        e.get("value")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| looks_like_email(s))
            .map(str::to_string)
    };
    list.iter()
        .filter(|e| e.get("primary").and_then(boolean) == Some(true))
        .find_map(value)
        .or_else(|| list.iter().find_map(value))
}

/// `name.formatted`, else `givenName familyName`, else `displayName`.
fn display(name: Option<&Value>, display_name: Option<&Value>) -> Option<String> {
    let part = |k: &str| {
        name.and_then(|n| n.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(f) = part("formatted") {
        return Some(f.to_string());
    }
    let joined = [part("givenName"), part("familyName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return Some(joined);
    }
    display_name
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The value at an attribute path: `attr`, `attr.sub`, or `urn:…:attr` in an extension.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let (scope, rest) = match path.get(..4) {
        Some(h) if h.eq_ignore_ascii_case("urn:") => {
            let cut = path.rfind(':')?;
            (ci(v, &path[..cut])?, &path[cut + 1..])
        }
        _ => (v, path),
    };
    match rest.split_once('.') {
        Some((a, s)) => ci(ci(scope, a)?, s),
        None => ci(scope, rest),
    }
}

fn ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    super::attr(v.as_object()?, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn okta_and_entra_creates_map_to_a_user() {
        // Okta's create request (its SCIM 2.0 guide).
        let okta = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": { "givenName": "Test", "familyName": "User" },
            "emails": [{ "primary": true, "value": "test.user@okta.local", "type": "work" }],
            "displayName": "Test User",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        });
        assert_eq!(
            user(&okta, None),
            Ok(Provisioned {
                email: "test.user@okta.local".into(),
                name: "Test User".into(),
                active: true,
                external_id: Some("00ujl29u0le5T6Aj10h7".into()),
                role: None,
            })
        );
        // Entra ID's: a string boolean and the enterprise extension as the role.
        let entra = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
            "active": "False",
            "emails": [{ "primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com" }],
            "name": { "formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName" },
            ENTERPRISE: { "employeeType": "admin", "department": "Sales" }
        });
        let u = user(&entra, Some(&format!("{ENTERPRISE}:employeeType"))).unwrap();
        assert_eq!(
            u.email,
            "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com"
        );
        assert_eq!(u.name, "givenName familyName");
        assert!(!u.active);
        assert_eq!(u.role.as_deref(), Some("admin"));
    }

    #[test]
    fn a_user_name_that_is_no_address_takes_the_primary_email() {
        let v = json!({
            "userName": "bjensen",
            "emails": [
                { "value": "other@example.com" },
                { "value": "bjensen@example.com", "primary": "True" }
            ],
            "displayName": "Babs"
        });
        let u = user(&v, Some("title")).unwrap();
        assert_eq!(
            (u.email.as_str(), u.name.as_str(), u.role),
            ("bjensen@example.com", "Babs", None)
        );
        let v = json!({ "userName": "bjensen", "emails": [{ "value": "x@example.com" }] });
        assert_eq!(
            user(&v, None).unwrap().email,
            "x@example.com",
            "no primary: the first"
        );
        // The name falls back to userName.
        assert_eq!(
            user(&json!({ "userName": "a@b.test" }), None).unwrap().name,
            "a@b.test"
        );
    }

    #[test]
    fn what_cannot_be_a_user_is_refused() {
        for v in [
            json!([]),
            json!({}),
            json!({ "userName": "" }),
            json!({ "userName": 7 }),
            json!({ "userName": "bjensen" }),
            json!({ "userName": "bjensen", "emails": [{ "value": "not an address" }] }),
            json!({ "userName": "a@b.test", "active": "maybe" }),
            json!({ "userName": "a@b.test", "active": 1 }),
            json!({ "userName": "a@b.test", "externalId": 5 }),
            json!({ "userName": "a@b.test", "title": ["boss"] }),
        ] {
            assert!(user(&v, Some("title")).is_err(), "{v}");
        }
    }

    #[test]
    fn a_user_reads_back_as_what_was_provisioned() {
        let u = crate::store::User {
            id: 7,
            email: "b@x.test".into(),
            name: "Barbara Jensen".into(),
            role: "user".into(),
            active: true,
            password_hash: None,
            created_at: 1_700_000_000,
            updated_at: 1_700_000_060,
            deleted_at: None,
            picture: None,
            email_verified: true,
            pending_email: None,
            kind: "user".into(),
            groups: Default::default(),
        };
        let v = user_json(
            &u,
            Some("00u1"),
            &[("g1".into(), "Eng".into())],
            "https://gw.test/scim/v2",
        );
        assert_eq!(v["id"], "7");
        assert_eq!(v["meta"]["location"], "https://gw.test/scim/v2/Users/7");
        assert_eq!(v["meta"]["created"], "2023-11-14T22:13:20Z");
        assert_eq!(v["groups"][0]["$ref"], "https://gw.test/scim/v2/Groups/g1");
        // What is written reads back the same through the mapping (POST, then GET, then PUT).
        let back = user(&v, None).unwrap();
        assert_eq!(
            back,
            Provisioned {
                email: "b@x.test".into(),
                name: "Barbara Jensen".into(),
                active: true,
                external_id: Some("00u1".into()),
                role: None,
            }
        );
        let soft_deleted = crate::store::User {
            deleted_at: Some(1),
            ..u
        };
        assert_eq!(user_json(&soft_deleted, None, &[], "b")["active"], false);
        assert!(user_json(&soft_deleted, None, &[], "b")
            .get("externalId")
            .is_none());
    }

    #[test]
    fn booleans_in_any_spelling_entra_sends() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!("False"), Some(false)),
            (json!("TRUE"), Some(true)),
            (json!("no"), None),
            (json!(0), None),
        ] {
            assert_eq!(boolean(&v), want, "{v}");
        }
    }
}
