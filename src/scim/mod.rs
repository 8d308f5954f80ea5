//! SCIM 2.0 provisioning (RFC 7643 / RFC 7644), with no HTTP in it: what a request asks of
//! the store, decided by plain functions. Issue #35; the endpoints come with the store's side.

pub mod discovery;
pub mod filter;
pub mod mapping;
pub mod patch;
pub mod query;

use serde_json::{Map, Value};

/// The attribute of `m` named `name` in any case (RFC 7643 §2.1: names are case-insensitive).
pub(crate) fn attr<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}
