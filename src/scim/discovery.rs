//! What the server says of itself (RFC 7644 §4, RFC 7643 §5–6) and the shape of its errors
//! (RFC 7644 §3.12). Each says exactly what is supported: PATCH yes; bulk, sort, ETags and
//! password changes no; filters yes, up to `max_results` per page; Bearer tokens only.

use serde_json::{json, Value};

pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// An error body: `status` is a string (§3.12), `scimType` only where the RFC names one.
pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut v = json!({ "schemas": [ERROR], "status": status.to_string(), "detail": detail });
    if let Some(t) = scim_type {
        v["scimType"] = t.into();
    }
    v
}

/// `/ServiceProviderConfig` (RFC 7643 §5); `base` is the SCIM base URL.
pub fn service_provider_config(base: &str, max_results: u32) -> Value {
    json!({
        "schemas": [SPC],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "Authorization: Bearer with a Portcullis API key that holds the scope scim",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
    })
}

/// `/ResourceTypes` (RFC 7643 §6): User (with the enterprise extension) and Group.
pub fn resource_types(base: &str) -> Vec<Value> {
    let one = |id: &str, endpoint: &str, schema: &str, extensions: Value| {
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "schema": schema,
            "schemaExtensions": extensions,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}") }
        })
    };
    vec![
        one(
            "User",
            "/Users",
            USER,
            json!([{ "schema": ENTERPRISE_USER, "required": false }]),
        ),
        one("Group", "/Groups", GROUP, json!([])),
    ]
}

/// A list response (RFC 7644 §3.4.2): `start_index` is 1-based.
pub fn list(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// One attribute's definition (RFC 7643 §7).
struct Attr {
    name: String,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    subs: Vec<Attr>,
}

impl Attr {
    fn new(name: impl Into<String>, kind: &'static str) -> Attr {
        Attr {
            name: name.into(),
            kind,
            multi: false,
            required: false,
            case_exact: false,
            mutability: "readWrite",
            uniqueness: "none",
            subs: vec![],
        }
    }
    fn multi(mut self) -> Attr {
        self.multi = true;
        self
    }
    fn required(mut self) -> Attr {
        self.required = true;
        self
    }
    fn exact(mut self) -> Attr {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: &'static str) -> Attr {
        self.mutability = m;
        self
    }
    fn unique(mut self) -> Attr {
        self.uniqueness = "server";
        self
    }
    fn subs(mut self, subs: Vec<Attr>) -> Attr {
        self.kind = "complex";
        self.subs = subs;
        self
    }
    fn json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": "default",
            "uniqueness": self.uniqueness,
        });
        if !self.subs.is_empty() {
            v["subAttributes"] = self.subs.iter().map(Attr::json).collect();
        }
        v
    }
}

/// `/Schemas` (RFC 7643 §7): the attributes this server keeps, no others. The role attribute
/// (`scim.role_attribute`, a core name or `urn:…:enterprise:2.0:User:<name>`) is listed where
/// it lives.
pub fn schemas(base: &str, role_attribute: Option<&str>) -> Vec<Value> {
    let n = ENTERPRISE_USER.len();
    let (core_role, enterprise_role) = match role_attribute {
        // `get` rather than slicing: a config value need not split at a char boundary there.
        Some(p) => match (p.get(..n), p.get(n..n + 1), p.get(n + 1..)) {
            (Some(h), Some(":"), Some(rest))
                if h.eq_ignore_ascii_case(ENTERPRISE_USER) && !rest.is_empty() =>
            {
                (None, Some(rest))
            }
            _ => (Some(p), None),
        },
        None => (None, None),
    };
    let mut user = vec![
        Attr::new("userName", "string").required().unique(),
        Attr::new("name", "complex").subs(vec![
            Attr::new("formatted", "string"),
            Attr::new("givenName", "string"),
            Attr::new("familyName", "string"),
        ]),
        Attr::new("displayName", "string"),
        Attr::new("active", "boolean"),
        Attr::new("emails", "complex").multi().subs(vec![
            Attr::new("value", "string"),
            Attr::new("type", "string"),
            Attr::new("primary", "boolean"),
        ]),
        Attr::new("groups", "complex")
            .multi()
            .mutability("readOnly")
            .subs(vec![
                Attr::new("value", "string").exact().mutability("readOnly"),
                Attr::new("display", "string").mutability("readOnly"),
            ]),
        Attr::new("externalId", "string").exact(),
    ];
    if let Some(r) = core_role.filter(|r| !r.contains('.')) {
        user.push(Attr::new(r, "string"));
    }
    let group = vec![
        Attr::new("displayName", "string").required(),
        Attr::new("members", "complex").multi().subs(vec![
            Attr::new("value", "string").exact().mutability("immutable"),
            Attr::new("display", "string").mutability("readOnly"),
        ]),
        Attr::new("externalId", "string").exact(),
    ];
    let enterprise: Vec<Attr> = enterprise_role
        .map(|r| Attr::new(r, "string"))
        .into_iter()
        .collect();
    let schema = |id: &str, name: &str, attrs: &[Attr]| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id,
            "name": name,
            "attributes": attrs.iter().map(Attr::json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") }
        })
    };
    vec![
        schema(USER, "User", &user),
        schema(GROUP, "Group", &group),
        schema(ENTERPRISE_USER, "EnterpriseUser", &enterprise),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_rfc_shape() {
        // RFC 7644 §3.12: status is a string; scimType only when given.
        let e = error(400, Some("invalidFilter"), "no");
        assert_eq!(e["schemas"], json!([ERROR]));
        assert_eq!(e["status"], "400");
        assert_eq!(e["scimType"], "invalidFilter");
        assert!(error(401, None, "who").get("scimType").is_none());
    }

    #[test]
    fn the_config_says_exactly_what_is_supported() {
        let c = service_provider_config("https://gw.test/scim/v2", 200);
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(c["bulk"]["supported"], false);
        assert_eq!(c["filter"], json!({ "supported": true, "maxResults": 200 }));
        for no in ["changePassword", "sort", "etag"] {
            assert_eq!(c[no]["supported"], false, "{no}");
        }
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        let types = resource_types("https://gw.test/scim/v2");
        assert_eq!(types.len(), 2);
        assert_eq!(types[0]["endpoint"], "/Users");
        assert_eq!(types[0]["schemaExtensions"][0]["schema"], ENTERPRISE_USER);
        assert_eq!(
            types[1]["meta"]["location"],
            "https://gw.test/scim/v2/ResourceTypes/Group"
        );
    }

    #[test]
    fn schemas_list_the_attributes_kept_and_the_role_where_it_lives() {
        let names = |s: &Value| -> Vec<String> {
            s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string())
                .collect()
        };
        let s = schemas("https://gw.test/scim/v2", None);
        assert_eq!(s.len(), 3);
        assert_eq!(
            names(&s[0]),
            [
                "userName",
                "name",
                "displayName",
                "active",
                "emails",
                "groups",
                "externalId"
            ]
        );
        assert_eq!(s[0]["attributes"][0]["uniqueness"], "server");
        assert_eq!(s[0]["attributes"][0]["required"], true);
        assert_eq!(names(&s[1]), ["displayName", "members", "externalId"]);
        assert!(names(&s[2]).is_empty());
        let s = schemas("b", Some(&format!("{ENTERPRISE_USER}:employeeType")));
        assert_eq!(names(&s[2]), ["employeeType"]);
        let s = schemas("b", Some("title"));
        assert!(names(&s[0]).contains(&"title".to_string()));
        // Not a char boundary where the extension's URN would end: no panic.
        let odd = format!("{}é{}", &ENTERPRISE_USER[..ENTERPRISE_USER.len() - 1], "x");
        assert_eq!(schemas("b", Some(&odd)).len(), 3);
    }

    #[test]
    fn a_list_counts_its_page_and_the_total() {
        // RFC 7644 §3.4.2: totalResults is every match; itemsPerPage this page's.
        let l = list(vec![json!({"id": "1"}), json!({"id": "2"})], 10, 3);
        assert_eq!(
            (
                l["totalResults"].as_u64(),
                l["itemsPerPage"].as_u64(),
                l["startIndex"].as_u64()
            ),
            (Some(10), Some(2), Some(3))
        );
        assert_eq!(l["schemas"], json!([LIST]));
    }
}
