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
