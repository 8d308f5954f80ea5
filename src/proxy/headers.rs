//! Removing request headers by a rule on their names, in one pass over the names: a removal
//! by name parses and hashes the name even when it is absent, so looking up each of a list
//! of names cost more than reading the few a request has.

use pingora::http::RequestHeader;

/// Removes every header whose (lower-case) name `doomed` picks.
pub fn remove_where(req: &mut RequestHeader, doomed: impl Fn(&str) -> bool) {
    let names: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|k| doomed(k.as_str()))
        .cloned()
        .collect();
    for name in names {
        req.remove_header(&name);
    }
}
